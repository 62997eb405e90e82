package pool

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Tasks run at most size at once, on goroutines that stay for the next
// task and leave when idle.
func TestPoolBoundsReusesAndLeaves(t *testing.T) {
	p := New(3)
	p.idle = 200 * time.Millisecond
	before := runtime.NumGoroutine()

	var running, most, done atomic.Int32
	var wg sync.WaitGroup
	release := make(chan struct{})
	go func() { // all three busy: let them go, the rest queued behind them
		for running.Load() < 3 {
			time.Sleep(time.Millisecond)
		}
		close(release)
	}()
	for range 9 {
		wg.Add(1)
		p.Go(func() {
			defer wg.Done()
			n := running.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			<-release
			running.Add(-1)
			done.Add(1)
		})
	}
	wg.Wait()
	if most.Load() != 3 || done.Load() != 9 {
		t.Fatalf("ran %d tasks, at most %d at once; want 9, 3", done.Load(), most.Load())
	}

	// One task after another: the goroutines that ran the first ones run them.
	for range 50 {
		ch := make(chan struct{})
		p.Go(func() { close(ch) })
		<-ch
	}
	if n := p.started.Load(); n != 3 {
		t.Errorf("%d goroutines started for 59 tasks; want the pool's 3", n)
	}

	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine() - before; n > 0 {
		t.Errorf("%d goroutines still there after %v idle", n, p.idle)
	}
}
