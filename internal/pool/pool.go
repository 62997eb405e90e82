// Package pool runs short tasks on goroutines that outlive them.
//
// A goroutine starts with a small stack. One that encodes JSON (an alert,
// its state, a delivery record) grows it by copying it several times, and
// for a goroutine started per task that copying can cost as much as the
// encoding itself: revising and encoding an alert's state took 61 µs in a
// goroutine of its own against 31 µs in one that had run before, with the
// state encoded as until stop 17, and 32-38 against 23-26 µs as it is
// encoded now (match.BenchmarkAlertState). A pool's goroutines keep their
// grown stacks from task to task, and leave after a while without work.
package pool

import (
	"sync/atomic"
	"time"
)

// Idle is how long a goroutine of the pool waits for a task before it
// leaves.
const Idle = 10 * time.Second

// Pool runs tasks on at most size goroutines at once.
type Pool struct {
	jobs  chan func()
	slots chan struct{}
	idle  time.Duration
	// started counts the goroutines the pool has started.
	started atomic.Int64
}

// New makes a pool of at most size goroutines (at least 1).
func New(size int) *Pool {
	return &Pool{jobs: make(chan func()), slots: make(chan struct{}, max(size, 1)), idle: Idle}
}

// Go runs f on one of the pool's goroutines: an idle one, a new one while
// fewer than size run, or else the first to finish its task. It returns
// once f has started, not when it ends.
func (p *Pool) Go(f func()) {
	select {
	case p.jobs <- f:
		return
	default:
	}
	select {
	case p.jobs <- f:
	case p.slots <- struct{}{}:
		p.started.Add(1)
		go p.work(f)
	}
}

func (p *Pool) work(f func()) {
	defer func() { <-p.slots }()
	idle := time.NewTimer(p.idle)
	defer idle.Stop()
	for {
		f()
		idle.Reset(p.idle)
		select {
		case f = <-p.jobs:
		case <-idle.C:
			return
		}
	}
}
