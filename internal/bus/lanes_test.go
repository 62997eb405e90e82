package bus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vigilhealth/vigil/internal/bus"
	"github.com/vigilhealth/vigil/internal/testenv"
)

// A burst of distinct keys is spread over every free worker: with 16
// workers, 16 tenants' alerts all run at once. (Workers chosen by a hash
// of the key leave some idle while others queue two or more: 16 keys over
// 16 hashed workers almost never land one per worker.)
func TestConsumeParallelRunsDistinctKeysOnEveryFreeWorker(t *testing.T) {
	b := testenv.NATS(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const workers = 16
	for i := range workers {
		if _, err := b.Publish(ctx, bus.Alerts(fmt.Sprintf("t%d", i)), fmt.Sprintf("m%d", i), map[string]int{"i": i}, nil); err != nil {
			t.Fatal(err)
		}
	}
	var running, most atomic.Int32
	all := make(chan struct{})
	var once sync.Once
	done := make(chan error, 1)
	go func() {
		done <- b.ConsumeParallel(ctx, bus.ConsumerSpec{Stream: bus.StreamAlerts, Durable: "spread", Stage: "test", Filter: []string{"alerts.>"}}, workers,
			func(m jetstream.Msg) string { return m.Subject() },
			func(context.Context, jetstream.Msg) error {
				n := running.Add(1)
				defer running.Add(-1)
				for {
					if m := most.Load(); n <= m || most.CompareAndSwap(m, n) {
						break
					}
				}
				if n == workers {
					once.Do(func() { close(all) })
				}
				select { // each handler holds its worker until all 16 run at once
				case <-all:
				case <-time.After(3 * time.Second):
				}
				return nil
			})
	}()
	select {
	case <-all:
	case <-time.After(10 * time.Second):
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if most.Load() != workers {
		t.Fatalf("at most %d of %d distinct keys ran at once on %d workers", most.Load(), workers, workers)
	}
}

// Messages of one key run one at a time and in stream order, however many
// workers are free and however the keys interleave.
func TestConsumeParallelKeepsEachKeyInOrder(t *testing.T) {
	b := testenv.NATS(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const keys, each = 12, 20
	for i := range each {
		for k := range keys {
			if _, err := b.Publish(ctx, bus.Alerts(fmt.Sprintf("t%d", k)), fmt.Sprintf("t%d/%d", k, i), map[string]int{"i": i}, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	var mu sync.Mutex
	seen := map[string][]int{}
	busy := map[string]bool{}
	var overlaps, handled atomic.Int32
	done := make(chan error, 1)
	go func() {
		done <- b.ConsumeParallel(ctx, bus.ConsumerSpec{Stream: bus.StreamAlerts, Durable: "order", Stage: "test", Filter: []string{"alerts.>"}}, 8,
			func(m jetstream.Msg) string { return m.Subject() },
			func(_ context.Context, m jetstream.Msg) error {
				var v struct{ I int }
				if err := json.Unmarshal(m.Data(), &v); err != nil {
					return err
				}
				mu.Lock()
				if busy[m.Subject()] {
					overlaps.Add(1)
				}
				busy[m.Subject()] = true
				mu.Unlock()
				time.Sleep(time.Millisecond)
				mu.Lock()
				busy[m.Subject()] = false
				seen[m.Subject()] = append(seen[m.Subject()], v.I)
				mu.Unlock()
				handled.Add(1)
				return nil
			})
	}()
	testenv.Eventually(t, 20*time.Second, 20*time.Millisecond, func() error {
		if n := handled.Load(); n < keys*each {
			return fmt.Errorf("%d of %d handled", n, keys*each)
		}
		return nil
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if overlaps.Load() != 0 {
		t.Errorf("%d messages ran while another of their key was running", overlaps.Load())
	}
	for k := range keys {
		got := seen[bus.Alerts(fmt.Sprintf("t%d", k))]
		if len(got) != each {
			t.Errorf("key t%d: %d messages handled, want %d", k, len(got), each)
			continue
		}
		for i, v := range got {
			if v != i {
				t.Errorf("key t%d handled out of order: %v", k, got)
				break
			}
		}
	}
}
