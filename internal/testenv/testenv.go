// Package testenv gives tests the real components Vigil runs against: an
// embedded NATS server, a ClickHouse server, an SMTP server and a Slack Web
// API server, each private to the test and cleaned up after it.
package testenv

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/vigilhealth/vigil/internal/bus"
	"github.com/vigilhealth/vigil/internal/sink"
)

// CI reports whether the tests run in CI, where a missing component fails
// the test instead of skipping it.
func CI() bool { return os.Getenv("CI") == "true" }

// Unavailable skips the test, or fails it under CI=true.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if CI() {
		t.Fatalf("CI=true and a required component is missing: "+format, args...)
	}
	t.Skipf(format, args...)
}

// Logger writes to the test log (only shown on failure or with -v).
func Logger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// NATS starts an embedded JetStream server on a random port with its store in
// a temporary directory and returns a Bus connected to it.
func NATS(t testing.TB) *bus.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := bus.Open(ctx, bus.Options{
		DataDir: t.TempDir(), Listen: "127.0.0.1:-1",
		AckWait: 2 * time.Second, MaxDeliver: 5,
	}, Logger(t))
	if err != nil {
		t.Fatalf("embedded NATS: %v", err)
	}
	t.Cleanup(b.Close)
	return b
}

// SMTP starts an SMTP server in the test process with STARTTLS.
func SMTP(t testing.TB, o sink.SMTPOptions) *sink.SMTP {
	t.Helper()
	s, err := sink.StartSMTP(o)
	if err != nil {
		t.Fatalf("smtp server: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Slack starts a Slack Web API server accepting token.
func Slack(t testing.TB, token string) *sink.Slack {
	t.Helper()
	s := sink.StartSlack(token)
	t.Cleanup(s.Close)
	return s
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers: a log sink that
// a test searches afterwards.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Webhook starts a webhook receiver verifying signatures with secret.
func Webhook(t testing.TB, secret string) *sink.Webhook {
	t.Helper()
	w := sink.StartWebhook(secret)
	t.Cleanup(w.Close)
	return w
}

// Eventually polls f every tick until it returns nil or wait has passed, then
// fails with f's last error.
func Eventually(t testing.TB, wait, tick time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(wait)
	var err error
	for {
		if err = f(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %s: %v", wait, err)
		}
		time.Sleep(tick)
	}
}

// StreamMsgs is the number of messages a stream holds.
func StreamMsgs(t testing.TB, b *bus.Bus, stream string) uint64 {
	t.Helper()
	s, err := b.JS.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}
