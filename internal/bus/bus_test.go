package bus_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vigilhealth/vigil/internal/bus"
	"github.com/vigilhealth/vigil/internal/testenv"
)

func TestPublishWithSameMsgIDIsStoredOnce(t *testing.T) {
	b := testenv.NATS(t)
	ctx := context.Background()
	for i, wantDup := range []bool{false, true} {
		dup, err := b.Publish(ctx, bus.Raw("demo"), "demo/ADV-1/1", map[string]int{"n": i}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if dup != wantDup {
			t.Fatalf("publish %d: dup=%v, want %v", i, dup, wantDup)
		}
	}
	s, err := b.JS.Stream(ctx, bus.StreamAdvisories)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("stream holds %d messages, want 1", info.State.Msgs)
	}
}

func TestDeclareIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		b, err := bus.Open(ctx, bus.Options{DataDir: dir, Listen: "127.0.0.1:-1"}, testenv.Logger(t))
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		if i == 0 {
			if _, err := b.Tenants.Put(ctx, "t1", []byte("{}")); err != nil {
				t.Fatal(err)
			}
		} else if _, err := b.Tenants.Get(ctx, "t1"); err != nil {
			t.Fatalf("second open lost the KV contents: %v", err)
		}
		b.Close()
	}
}

func TestConsumeAckRetryAndDeadLetter(t *testing.T) {
	b := testenv.NATS(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, id := range []string{"ok", "flaky", "poison"} {
		if _, err := b.Publish(ctx, bus.Alerts("t1"), id, map[string]string{"id": id}, map[string]string{bus.HeaderTenant: "t1"}); err != nil {
			t.Fatal(err)
		}
	}
	var flakyTries, handled atomic.Int32
	done := make(chan error, 1)
	go func() {
		done <- b.Consume(ctx, bus.ConsumerSpec{Stream: bus.StreamAlerts, Durable: "test", Stage: "test", Filter: []string{"alerts.>"}},
			func(_ context.Context, m jetstream.Msg) error {
				handled.Add(1)
				switch m.Headers().Get(jetstream.MsgIDHeader) {
				case "flaky":
					if flakyTries.Add(1) < 3 {
						return bus.Retry(errors.New("channel busy"), 10*time.Millisecond)
					}
				case "poison":
					return errors.New("cannot decode alert")
				}
				return nil
			})
	}()
	dls, err := b.JS.Stream(ctx, bus.StreamDeadLetters)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, 20*time.Millisecond, func() error {
		info, err := dls.Info(ctx)
		if err != nil {
			return err
		}
		if info.State.Msgs != 1 || flakyTries.Load() != 3 {
			return errors.New("waiting for one dead letter and three tries of the flaky message")
		}
		return nil
	})
	msg, err := dls.GetLastMsgForSubject(ctx, bus.DeadLetter("test"))
	if err != nil {
		t.Fatal(err)
	}
	if got := msg.Header.Get(bus.HeaderError); got != "cannot decode alert" {
		t.Fatalf("dead letter error header %q", got)
	}
	if msg.Header.Get(bus.HeaderTenant) != "t1" || msg.Header.Get(bus.HeaderOrigSubj) != "alerts.t1" {
		t.Fatalf("dead letter lost headers: %v", msg.Header)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// ok once, flaky three times, poison once: nothing redelivered after settling.
	if handled.Load() != 5 {
		t.Fatalf("handled %d deliveries, want 5", handled.Load())
	}
}

func TestValidToken(t *testing.T) {
	for _, ok := range []string{"cisa-icsma", "st_mary", "h1"} {
		if err := bus.ValidToken(ok); err != nil {
			t.Errorf("%q rejected: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a.b", "A", "has space", "-x", "x>"} {
		if bus.ValidToken(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// Messages of one key wait for each other in ConsumeParallel; a burst that
// waits longer than AckWait (2 s here) must not be delivered again.
func TestConsumeParallelBurstOfOneKeyIsHandledOnce(t *testing.T) {
	b := testenv.NATS(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const n = 150 // more than a worker's channel used to hold (64)
	for i := range n {
		if _, err := b.Publish(ctx, bus.Alerts("t1"), fmt.Sprintf("m%d", i), map[string]int{"i": i}, nil); err != nil {
			t.Fatal(err)
		}
	}
	var handled, redelivered atomic.Int32
	done := make(chan error, 1)
	go func() {
		done <- b.ConsumeParallel(ctx, bus.ConsumerSpec{Stream: bus.StreamAlerts, Durable: "burst", Stage: "test", Filter: []string{"alerts.>"}}, 4,
			func(jetstream.Msg) string { return "one key" },
			func(_ context.Context, m jetstream.Msg) error {
				handled.Add(1)
				if md, err := m.Metadata(); err == nil && md.NumDelivered > 1 {
					redelivered.Add(1)
				}
				time.Sleep(30 * time.Millisecond) // 150 × 30 ms: the last waits 4.5 s
				return nil
			})
	}()
	testenv.Eventually(t, 20*time.Second, 50*time.Millisecond, func() error {
		if handled.Load() < n {
			return errors.New("waiting for the burst")
		}
		return nil
	})
	time.Sleep(2500 * time.Millisecond) // room for a redelivery to show
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if handled.Load() != n || redelivered.Load() != 0 {
		t.Fatalf("handled %d (want %d), %d of them redelivered", handled.Load(), n, redelivered.Load())
	}
}
