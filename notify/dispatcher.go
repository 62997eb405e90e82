package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vigilhealth/vigil/internal/bus"
	"github.com/vigilhealth/vigil/internal/pool"
	"github.com/vigilhealth/vigil/internal/wire"
	"github.com/vigilhealth/vigil/match"
)

// Dispatcher consumes alerts and hands each to the tenant's channels: P1
// at once, others after the tenant's grouping window or in its digest, all
// paced per tenant and channel (see router.go).
type Dispatcher struct {
	bus       *bus.Bus
	notifiers []Notifier
	redact    Redactor
	log       *slog.Logger
	now       func() time.Time
	limit     *limiter
	tick      time.Duration
	held      heldState
	tenants   tenantCache
	side      *pool.Pool // the second round trip of sideBySide
}

// NewDispatcher builds a dispatcher over the given notifiers, with the
// default channel rates.
func NewDispatcher(b *bus.Bus, notifiers []Notifier, redact Redactor, log *slog.Logger) *Dispatcher {
	rates, _ := ParseRates(DefaultRates)
	return &Dispatcher{bus: b, notifiers: notifiers, redact: redact, log: log, now: time.Now, limit: newLimiter(rates),
		tick: time.Second, held: heldState{retryAt: map[string]time.Time{}}, side: pool.New(Workers)}
}

// SetRates replaces the channel rates (see ParseRates).
func (d *Dispatcher) SetRates(r map[string]Rate) { d.limit = newLimiter(r) }

// SetClock replaces the clock (tests of windows and digests).
func (d *Dispatcher) SetClock(now func() time.Time) { d.now = now }

// SetTick sets how often held alerts are checked (default 1s).
func (d *Dispatcher) SetTick(t time.Duration) { d.tick = t }

// Run delivers alerts until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) error {
	go d.tenants.follow(ctx, d.bus)
	go d.flushLoop(ctx)
	// A channel outage must not lose alerts: retryable failures are retried
	// (backoff capped at 5 min) for as long as it lasts; only permanent
	// failures go to the dead letters.
	spec := bus.ConsumerSpec{Stream: bus.StreamAlerts, Durable: "notify", Stage: "notify", Filter: []string{bus.SubjectAlerts + ".>"}, MaxDeliver: -1,
		MaxAckPending: 1000}
	// Tenants are served side by side; one tenant's alerts stay in order.
	return d.bus.ConsumeParallel(ctx, spec, Workers, func(m jetstream.Msg) string { return m.Subject() }, d.handle)
}

// Workers is how many tenants' alerts are handled at once. An alert waits
// on ~5 round trips (delivery key, pending entry, the channel, its
// records) for little CPU, and an advisory's alerts arrive together, one
// per tenant: at 16 the dispatcher was where a fan-out burst queued. 64
// lowered the delivery p99 at 1,000/s from 307-326 to 183-277 ms (with
// enrich at 48 workers); 128 did not lower it further.
const Workers = 64

// DeliveryKey identifies (tenant, alert, revision, channel) in the KV bucket.
func DeliveryKey(a *match.Alert, channel string) string {
	h := sha256.Sum256([]byte(a.Revision))
	return a.Tenant + "." + a.ID + "." + hex.EncodeToString(h[:8]) + "." + channel
}

func (d *Dispatcher) handle(ctx context.Context, msg jetstream.Msg) error {
	a, err := match.DecodeAlert(msg.Data())
	if err != nil {
		return fmt.Errorf("notify: decode %s: %w", msg.Subject(), err)
	}
	attempt := 1
	if md, err := msg.Metadata(); err == nil {
		attempt = int(md.NumDelivered)
	}
	log := d.log.With("tenant", a.Tenant, "alert", a.ID)
	t, err := d.tenants.get(ctx, d.bus, a.Tenant)
	if errors.Is(err, bus.ErrNotFound) {
		return fmt.Errorf("notify: alert %s: tenant %q does not exist", a.ID, a.Tenant)
	}
	if err != nil {
		return bus.Retry(fmt.Errorf("notify: tenant %s: %w", a.Tenant, err), 2*time.Second)
	}
	// Retro alerts reach the tenant through one digest; only P1 goes alone.
	if a.Retro && !a.Digest && a.Priority != "P1" {
		for _, n := range d.notifiers {
			if n.Configured(t) {
				rec := d.record(&a, n.Channel(), attempt)
				rec.Status = StatusBatched
				d.publishRecord(ctx, rec, log)
			}
		}
		return nil
	}
	redact := d.redact.With(t.Channels.Secrets()...)
	var retryErr error
	var wait time.Duration
	sent := 0
	for _, n := range d.notifiers {
		ch := n.Channel()
		if !n.Configured(t) || !routed(&a, ch) {
			continue
		}
		sent++
		key := DeliveryKey(&a, ch)
		// Two reads side by side: whether the channel already confirmed this
		// revision (before a crash or retry), and whether an older revision
		// waits in a group, to be superseded if this one is sent now. A
		// first revision seen for the first time has no older one: only the
		// first read is made.
		var sentBefore, waiting bool
		delivered := func() { _, err := d.bus.Delivered.Get(ctx, key); sentBefore = err == nil }
		if a.Revision == "1" && attempt == 1 {
			delivered()
		} else {
			d.sideBySide(delivered, func() { waiting = d.heldWaiting(ctx, &a, ch) })
		}
		if sentBefore {
			continue
		}
		now := d.now()
		kind, due, hold := holdFor(t, &a, now)
		if !hold && !d.limit.allow(t.ID, ch, now) {
			kind, due, hold = kindPaced, now, true // over the channel's rate: joins the next message
		}
		if hold {
			if err := d.enqueue(ctx, &a, ch, kind, due); err != nil {
				retryErr = fmt.Errorf("hold for %s: %w", kind, err)
				continue
			}
			rec := d.record(&a, ch, attempt)
			rec.Status, rec.Detail = StatusQueued, "held: "+kind+" until "+due.UTC().Format(time.TimeOnly)
			d.publishRecord(ctx, rec, log)
			continue
		}
		if waiting {
			d.dropHeld(ctx, &a, ch) // an older revision waiting in a group is superseded
		}
		retry, err := n.Notify(ctx, t, &a)
		err = redact.Error(err)
		rec := d.record(&a, ch, attempt)
		switch {
		case err == nil:
			// Recorded before the alert is acked: a redelivery will not resend.
			// The key and the delivery record are written side by side.
			rec.Status = StatusDelivered
			d.sideBySide(func() {
				if _, perr := d.bus.Delivered.Put(ctx, key, []byte(rec.At.Format(time.RFC3339Nano))); perr != nil {
					log.Error("delivered but not recorded; a redelivery may resend", "channel", ch, "err", perr)
				}
			}, func() { d.publishRecord(ctx, rec, log) })
			log.Info("delivered", "channel", ch, "priority", a.Priority, "latency_ms", rec.LatencyMS)
			continue
		case retry:
			rec.Status, rec.Error = StatusRetrying, err.Error()
			retryErr = err
			var ra *RetryAfterError
			if errors.As(err, &ra) && ra.After > wait {
				wait = ra.After
			}
		default:
			// Dead-lettered now, and keyed like a delivery, so that a retry
			// for another channel does not try this one again.
			rec.Status, rec.Error = StatusFailed, err.Error()
			log.Error("delivery failed permanently", "channel", ch, "err", err)
			if derr := d.deadLetter(ctx, &a, ch, err); derr != nil {
				retryErr = fmt.Errorf("dead letter: %w", derr)
			} else if _, perr := d.bus.Delivered.Put(ctx, key, []byte("failed "+rec.At.Format(time.RFC3339Nano))); perr != nil {
				log.Warn("permanent failure not recorded; a redelivery may try again", "channel", ch, "err", perr)
			}
		}
		d.publishRecord(ctx, rec, log)
	}
	if sent == 0 {
		log.Warn("alert not delivered", "err", errNoChannel)
	}
	if retryErr != nil {
		return bus.Retry(fmt.Errorf("notify: %w", retryErr), max(wait, backoff(attempt)))
	}
	return nil
}

// deadLetter publishes an alert a channel refused for good, with the
// reason and the channel; `vigil deliveries failed` lists them.
func (d *Dispatcher) deadLetter(ctx context.Context, a *match.Alert, channel string, cause error) error {
	data, err := wire.Marshal(a)
	if err != nil {
		return err
	}
	id := fmt.Sprintf("%s/%s/%s/%s", a.Tenant, a.ID, a.Revision, channel)
	return d.bus.PublishDeadLetter(ctx, "notify", bus.Alerts(a.Tenant), id, data,
		map[string]string{bus.HeaderTenant: a.Tenant, HeaderChannel: channel}, fmt.Errorf("notify: %w", cause))
}

// routed reports whether the tenant's subscriptions send the alert to the
// channel.
func routed(a *match.Alert, channel string) bool {
	return len(a.Channels) == 0 || slices.Contains(a.Channels, channel)
}

func (d *Dispatcher) record(a *match.Alert, channel string, attempt int) Delivery {
	now := d.now().UTC()
	rec := Delivery{
		Schema: DeliverySchema, Tenant: a.Tenant, AlertID: a.ID, Revision: a.Revision, Channel: channel,
		Attempt: attempt, Priority: a.Priority, Title: a.Advisory.Title, Assets: a.AssetIDs(), At: now,
	}
	if !a.Advisory.FetchedAt.IsZero() {
		rec.LatencyMS = now.Sub(a.Advisory.FetchedAt).Milliseconds()
	}
	return rec
}

func (d *Dispatcher) publishRecord(ctx context.Context, rec Delivery, log *slog.Logger) {
	id := fmt.Sprintf("%s/%s/%s/%s/%d/%s", rec.Tenant, rec.AlertID, rec.Revision, rec.Channel, rec.Attempt, rec.Status)
	if _, err := d.bus.Publish(ctx, bus.Deliveries(rec.Tenant), id, rec, map[string]string{bus.HeaderTenant: rec.Tenant}); err != nil {
		log.Warn("delivery record not published", "err", err)
	}
}

// backoff is exponential in the attempt with ±20% jitter, from 1s to 5min.
func backoff(attempt int) time.Duration {
	d := time.Second
	for i := 1; i < attempt && d < 5*time.Minute; i++ {
		d *= 2
	}
	d = min(d, 5*time.Minute)
	return d + time.Duration((rand.Float64()*0.4-0.2)*float64(d))
}

// sideBySide runs f and g at once and returns when both have: two round
// trips to the bus cost the time of one. g runs on the dispatcher's pool:
// a goroutine of its own would grow its stack encoding a delivery record
// each time (see internal/pool).
func (d *Dispatcher) sideBySide(f, g func()) {
	done := make(chan struct{})
	d.side.Go(func() {
		defer close(done)
		g()
	})
	f()
	<-done
}
