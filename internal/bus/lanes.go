package bus

import (
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// lanes hands messages to a set of workers so that messages of one key run
// one after another, in the order they arrived, while any free worker takes
// the next message whose key is not running. A fixed worker per key (a
// hash of it) would let a burst of distinct keys pile up behind the few
// workers their hashes collide on while others idle: 300 alerts to 300
// tenants over 64 workers give the busiest worker ~10 of them instead of 5.
type lanes struct {
	mu      sync.Mutex
	cond    *sync.Cond
	ready   []keyedMsg            // messages whose key is not running, in arrival order
	behind  map[string][]keyedMsg // key running or ready → its messages waiting behind
	running int
	closed  bool
}

type keyedMsg struct {
	m   jetstream.Msg
	key string
}

func newLanes() *lanes {
	l := &lanes{behind: map[string][]keyedMsg{}}
	l.cond = sync.NewCond(&l.mu)
	return l
}

// push queues m under key without blocking.
func (l *lanes) push(m jetstream.Msg, key string) {
	l.mu.Lock()
	if waiting, busy := l.behind[key]; busy {
		l.behind[key] = append(waiting, keyedMsg{m, key})
		l.mu.Unlock()
		return
	}
	l.behind[key] = nil
	l.ready = append(l.ready, keyedMsg{m, key})
	l.mu.Unlock()
	l.cond.Signal()
}

// take waits for a message to handle; false once closed and nothing is
// left to run (a running message may still release one behind it).
func (l *lanes) take() (keyedMsg, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.ready) == 0 {
		if l.closed && l.running == 0 {
			return keyedMsg{}, false
		}
		l.cond.Wait()
	}
	km := l.ready[0]
	l.ready[0] = keyedMsg{}
	l.ready = l.ready[1:]
	l.running++
	return km, true
}

// done releases the next message of key, if one waits behind the one just
// handled.
func (l *lanes) done(key string) {
	l.mu.Lock()
	l.running--
	if waiting := l.behind[key]; len(waiting) > 0 {
		l.ready = append(l.ready, waiting[0])
		waiting[0] = keyedMsg{}
		l.behind[key] = waiting[1:]
		l.mu.Unlock()
		l.cond.Signal()
		return
	}
	delete(l.behind, key)
	last := l.closed && l.running == 0 && len(l.ready) == 0
	l.mu.Unlock()
	if last {
		l.cond.Broadcast()
	}
}

// close lets the workers leave once every queued message has been handled.
func (l *lanes) close() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.cond.Broadcast()
}

// keepAlive resets the ack timer of every waiting message each period, so
// that a message queued behind a long burst of its key is not delivered
// again meanwhile.
func (l *lanes) keepAlive(period time.Duration, stop <-chan struct{}) {
	if period <= 0 {
		return
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			l.mu.Lock()
			for _, km := range l.ready {
				_ = km.m.InProgress()
			}
			for _, waiting := range l.behind {
				for _, km := range waiting {
					_ = km.m.InProgress()
				}
			}
			l.mu.Unlock()
		}
	}
}
