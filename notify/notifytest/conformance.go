package notifytest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/vigilhealth/vigil/match"
	"github.com/vigilhealth/vigil/notify"
)

// Message is what a receiver got, reduced to what the suite compares.
type Message struct {
	Text   string // every human-readable string of it, decoded
	ID     string // what a reply refers to (Slack ts, Message-ID, delivery id)
	Thread string // what it replies to; "" for a new thread
}

// Harness connects the suite to one notifier and its receiver.
type Harness struct {
	Notifier notify.Notifier
	Tenant   match.Tenant // reaches the receiver
	Messages func() []Message
	// FailNext makes the receiver fail the next n requests, in a way that
	// heals (rate limit, 4xx SMTP reply, 503) or that does not (unknown
	// channel, 5xx SMTP reply, 404).
	FailNext func(n int, heals bool)
	// Threads: updates of an alert reply to its first message.
	Threads bool
	// Secrets must never appear in an error.
	Secrets []string
	// CheckHostile inspects the message of an alert titled HostileTitle
	// for injected markup or headers (nil: the channel carries data only).
	CheckHostile func(t *testing.T, m Message)
}

// Conformance runs the behaviour every notifier must show; newHarness
// gives each subtest a fresh receiver.
func Conformance(t *testing.T, newHarness func(t *testing.T) Harness) {
	ctx := context.Background()
	t.Run("configured", func(t *testing.T) {
		h := newHarness(t)
		if !h.Notifier.Configured(h.Tenant) {
			t.Fatal("not configured for a tenant with the channel")
		}
		if h.Notifier.Configured(match.Tenant{ID: "bare", Name: "No channels"}) {
			t.Fatal("configured for a tenant without channels")
		}
	})
	t.Run("delivers once with the facts", func(t *testing.T) {
		h := newHarness(t)
		a := Alert("GE HealthCare CARESCAPE B450: Improper Authentication")
		if retry, err := h.Notifier.Notify(ctx, h.Tenant, a); err != nil || retry {
			t.Fatalf("Notify: retry=%v err=%v", retry, err)
		}
		ms := h.Messages()
		if len(ms) != 1 {
			t.Fatalf("%d messages, want 1", len(ms))
		}
		for _, want := range []string{"CARESCAPE B450", "MON-ICU-01", "MON-ICU-03", "CVE-2026-31001", "P1"} {
			if !strings.Contains(ms[0].Text, want) {
				t.Errorf("message lacks %q:\n%s", want, ms[0].Text)
			}
		}
	})
	t.Run("hostile text stays text", func(t *testing.T) {
		h := newHarness(t)
		if _, err := h.Notifier.Notify(ctx, h.Tenant, Alert(HostileTitle)); err != nil {
			t.Fatal(err)
		}
		ms := h.Messages()
		if len(ms) != 1 {
			t.Fatalf("%d messages, want 1", len(ms))
		}
		if !strings.Contains(ms[0].Text, "Infusion pump flaw") {
			t.Errorf("the title is missing:\n%s", ms[0].Text)
		}
		if h.CheckHostile != nil {
			h.CheckHostile(t, ms[0])
		}
	})
	t.Run("failure that heals is retried", func(t *testing.T) {
		h := newHarness(t)
		h.FailNext(1, true)
		a := Alert("Baxter Sigma Spectrum: hard-coded credentials")
		retry, err := h.Notifier.Notify(ctx, h.Tenant, a)
		if err == nil || !retry {
			t.Fatalf("first Notify: retry=%v err=%v, want a retryable error", retry, err)
		}
		checkSecrets(t, h, err)
		if retry, err := h.Notifier.Notify(ctx, h.Tenant, a); err != nil || retry {
			t.Fatalf("second Notify: retry=%v err=%v", retry, err)
		}
		if n := len(h.Messages()); n != 1 {
			t.Fatalf("%d messages, want exactly 1", n)
		}
	})
	t.Run("failure that does not heal is permanent", func(t *testing.T) {
		h := newHarness(t)
		h.FailNext(1, false)
		retry, err := h.Notifier.Notify(ctx, h.Tenant, Alert("Philips IntelliVue: XSS"))
		if err == nil || retry {
			t.Fatalf("Notify: retry=%v err=%v, want a permanent error", retry, err)
		}
		checkSecrets(t, h, err)
	})
	t.Run("updates continue the thread", func(t *testing.T) {
		h := newHarness(t)
		a := Alert("Medtronic MiniMed: unencrypted radio")
		if _, err := h.Notifier.Notify(ctx, h.Tenant, a); err != nil {
			t.Fatal(err)
		}
		up := *a
		up.Revision, up.Changes = "2", []string{"fix released"}
		if _, err := h.Notifier.Notify(ctx, h.Tenant, &up); err != nil {
			t.Fatal(err)
		}
		ms := h.Messages()
		if len(ms) != 2 {
			t.Fatalf("%d messages, want 2", len(ms))
		}
		if !strings.Contains(ms[1].Text, "fix released") {
			t.Errorf("the update does not say what changed:\n%s", ms[1].Text)
		}
		if h.Threads && (ms[1].Thread == "" || ms[1].Thread != ms[0].ID) {
			t.Errorf("update replies to %q, want the first message %q", ms[1].Thread, ms[0].ID)
		}
		if ms[0].Thread != "" {
			t.Errorf("the first message replies to %q", ms[0].Thread)
		}
	})
	t.Run("a group is one message", func(t *testing.T) {
		h := newHarness(t)
		g := &notify.Group{Kind: notify.GroupWindow}
		for i := range 25 {
			a := Alert(fmt.Sprintf("Advisory number %02d", i))
			a.ID = fmt.Sprintf("A-%016d", i)
			a.Priority = []string{"P2", "P3", "P4"}[i%3]
			g.Alerts = append(g.Alerts, a)
		}
		if retry, err := h.Notifier.NotifyGroup(ctx, h.Tenant, g); err != nil || retry {
			t.Fatalf("NotifyGroup: retry=%v err=%v", retry, err)
		}
		ms := h.Messages()
		if len(ms) != 1 {
			t.Fatalf("%d messages, want 1", len(ms))
		}
		for _, want := range []string{"25 alerts", "Advisory number 00", "Advisory number 19", "9 P2"} {
			if !strings.Contains(ms[0].Text, want) {
				t.Errorf("group message lacks %q:\n%.2000s", want, ms[0].Text)
			}
		}
	})
}

func checkSecrets(t *testing.T, h Harness, err error) {
	t.Helper()
	for _, s := range h.Secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains a secret", err)
		}
	}
}

// MemThreads keeps threads in memory.
type MemThreads struct {
	mu sync.Mutex
	m  map[string]string
}

// Get implements notify.Threads.
func (m *MemThreads) Get(_ context.Context, key string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.m[key], nil
}

// Put implements notify.Threads.
func (m *MemThreads) Put(_ context.Context, key, value string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = map[string]string{}
	}
	m.m[key] = value
	return nil
}
