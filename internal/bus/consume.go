package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Handler processes one message. Returning nil acks it; an error made with
// Retry naks it with a delay; any other error is permanent: the message goes
// to the stage's dead-letter subject and is terminated.
type Handler func(ctx context.Context, m jetstream.Msg) error

// RetryError marks an error as worth retrying after Delay.
type RetryError struct {
	Err   error
	Delay time.Duration
}

func (e *RetryError) Error() string { return e.Err.Error() }
func (e *RetryError) Unwrap() error { return e.Err }

// Retry marks err as transient: the message is redelivered after delay.
func Retry(err error, delay time.Duration) error {
	if err == nil {
		return nil
	}
	return &RetryError{Err: err, Delay: delay}
}

// ConsumerSpec names a durable pull consumer. Instances of a role that use the
// same Durable share the work.
type ConsumerSpec struct {
	Stream        string
	Durable       string
	Stage         string // names the dead-letter subject
	Filter        []string
	MaxAckPending int
	// MaxDeliver overrides the bus default; -1 redelivers forever (the store
	// waits out a ClickHouse outage rather than drop rows).
	MaxDeliver int
}

func (b *Bus) consumer(ctx context.Context, spec ConsumerSpec) (jetstream.Consumer, error) {
	cfg := jetstream.ConsumerConfig{
		Durable:       spec.Durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       b.opts.AckWait,
		MaxDeliver:    b.opts.MaxDeliver,
		MaxAckPending: spec.MaxAckPending,
	}
	if spec.MaxDeliver != 0 {
		cfg.MaxDeliver = spec.MaxDeliver
	}
	if len(spec.Filter) == 1 {
		cfg.FilterSubject = spec.Filter[0]
	} else {
		cfg.FilterSubjects = spec.Filter
	}
	c, err := b.JS.CreateOrUpdateConsumer(ctx, spec.Stream, cfg)
	if err != nil {
		return nil, fmt.Errorf("bus: consumer %s on %s: %w", spec.Durable, spec.Stream, err)
	}
	return c, nil
}

// Consume runs h on every message of the durable consumer until ctx ends, then
// stops pulling, lets the messages already received finish, and returns.
func (b *Bus) Consume(ctx context.Context, spec ConsumerSpec, h Handler) error {
	// Work in flight at shutdown gets up to AckWait to finish, so it is acked
	// rather than redelivered.
	work := context.WithoutCancel(ctx)
	return b.ConsumeManual(ctx, spec, func(m jetstream.Msg) {
		hctx, cancel := context.WithTimeout(work, b.opts.AckWait)
		defer cancel()
		b.Settle(hctx, spec, m, h(hctx, m))
	})
}

// ConsumeParallel is Consume with up to workers handlers at a time.
// Messages with the same key (e.g. a tenant) are handled one after another
// in stream order; different keys run side by side, each on whichever
// worker is free (see lanes). It returns once ctx has ended and every
// received message has been handled and settled.
func (b *Bus) ConsumeParallel(ctx context.Context, spec ConsumerSpec, workers int, key func(jetstream.Msg) string, h Handler) error {
	if workers <= 1 {
		return b.Consume(ctx, spec, h)
	}
	work := context.WithoutCancel(ctx)
	// The queue takes what arrives without blocking the consumer
	// (JetStream's MaxAckPending bounds it), so every waiting message is
	// in it, where keepAlive sees it.
	q := newLanes()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				km, ok := q.take()
				if !ok {
					return
				}
				hctx, cancel := context.WithTimeout(work, b.opts.AckWait)
				b.Settle(hctx, spec, km.m, h(hctx, km.m))
				cancel()
				q.done(km.key)
			}
		}()
	}
	// A message waits behind earlier ones of its key; a burst for one key
	// can wait longer than AckWait, and JetStream would deliver it again
	// meanwhile. Waiting messages are told in progress.
	stop := make(chan struct{})
	go q.keepAlive(b.opts.AckWait/2, stop)
	err := b.ConsumeManual(ctx, spec, func(m jetstream.Msg) { q.push(m, key(m)) })
	q.close()
	wg.Wait()
	close(stop)
	return err
}

// AdvisoryKey is "source/id" of an advisory message (raw or enriched), from
// its message id: the key that keeps one advisory's revisions in order when
// advisories are handled side by side.
func AdvisoryKey(m jetstream.Msg) string {
	id := strings.TrimPrefix(m.Headers().Get(jetstream.MsgIDHeader), "enriched/")
	if i := strings.LastIndexByte(id, '/'); i > 0 {
		return id[:i]
	}
	return id
}

// ConsumeManual hands every message to f, which must ack, nak or Settle it.
// It returns once ctx has ended and every received message has been handed.
func (b *Bus) ConsumeManual(ctx context.Context, spec ConsumerSpec, f func(jetstream.Msg)) error {
	c, err := b.consumer(ctx, spec)
	if err != nil {
		return err
	}
	cc, err := c.Consume(f, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		if !errors.Is(err, jetstream.ErrNoHeartbeat) && !errors.Is(err, nats.ErrConnectionClosed) {
			b.log.Debug("consumer", "durable", spec.Durable, "err", err)
		}
	}))
	if err != nil {
		return fmt.Errorf("bus: consume %s: %w", spec.Durable, err)
	}
	<-ctx.Done()
	cc.Drain()
	select {
	case <-cc.Closed():
	case <-time.After(b.opts.AckWait + 5*time.Second):
		cc.Stop()
	}
	return nil
}

// Settle acks, naks or dead-letters m according to err (see Handler). A
// retryable error is retried until the consumer's MaxDeliver (never given up
// when it is -1); the retry is logged at warn on deliveries 1, 2, 4, 8...
// and at debug otherwise, so an outage does not flood the log.
func (b *Bus) Settle(ctx context.Context, spec ConsumerSpec, m jetstream.Msg, err error) {
	stage := spec.Stage
	if err == nil {
		if aerr := m.Ack(); aerr != nil {
			b.log.Warn("ack failed; message will be redelivered", "stage", stage, "subject", m.Subject(), "err", aerr)
		}
		return
	}
	var delivered uint64 = 1
	if md, merr := m.Metadata(); merr == nil {
		delivered = md.NumDelivered
	}
	var re *RetryError
	maxDeliver := b.opts.MaxDeliver
	if spec.MaxDeliver != 0 {
		maxDeliver = spec.MaxDeliver
	}
	if errors.As(err, &re) && (maxDeliver < 0 || delivered < uint64(maxDeliver)) {
		level := slog.LevelDebug
		if delivered&(delivered-1) == 0 {
			level = slog.LevelWarn
		}
		b.log.Log(ctx, level, "retrying message", "stage", stage, "subject", m.Subject(), "delivery", delivered, "in", re.Delay, "err", err)
		_ = m.NakWithDelay(re.Delay)
		return
	}
	if re != nil {
		err = fmt.Errorf("gave up after %d deliveries: %w", delivered, err)
	}
	b.log.Error("message dead-lettered", "stage", stage, "subject", m.Subject(), "err", err)
	if dlErr := b.deadLetter(ctx, stage, m, err); dlErr != nil {
		// Without a dead letter the message must not be dropped: leave it.
		b.log.Error("dead letter failed; message left for redelivery", "stage", stage, "err", dlErr)
		_ = m.NakWithDelay(b.opts.AckWait)
		return
	}
	_ = m.TermWithReason(oneLine(err.Error(), 200))
}

func (b *Bus) deadLetter(ctx context.Context, stage string, m jetstream.Msg, cause error) error {
	dl := nats.NewMsg(DeadLetter(stage))
	dl.Data = m.Data()
	for k, vs := range m.Headers() {
		if k == jetstream.MsgIDHeader {
			continue
		}
		for _, v := range vs {
			dl.Header.Add(k, v)
		}
	}
	dl.Header.Set(HeaderStage, stage)
	dl.Header.Set(HeaderOrigSubj, m.Subject())
	dl.Header.Set(HeaderError, oneLine(cause.Error(), 1000))
	id := stage + "/" + m.Subject()
	if md, err := m.Metadata(); err == nil {
		id += "/" + strconv.FormatUint(md.Sequence.Stream, 10)
	}
	_, err := b.JS.PublishMsg(ctx, dl, jetstream.WithMsgID(id))
	return err
}

// PublishDeadLetter dead-letters data that is not (or no longer) a
// message of a stream: e.g. alerts a notifier failed to deliver from a
// group after their messages were acked. id de-duplicates.
func (b *Bus) PublishDeadLetter(ctx context.Context, stage, origSubject, id string, data []byte, headers map[string]string, cause error) error {
	dl := nats.NewMsg(DeadLetter(stage))
	dl.Data = data
	for k, v := range headers {
		dl.Header.Set(k, v)
	}
	dl.Header.Set(HeaderStage, stage)
	dl.Header.Set(HeaderOrigSubj, origSubject)
	dl.Header.Set(HeaderError, oneLine(cause.Error(), 1000))
	_, err := b.JS.PublishMsg(ctx, dl, jetstream.WithMsgID(stage+"/"+id))
	return err
}

func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		s = s[:max]
	}
	return s
}
