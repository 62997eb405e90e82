package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vigilhealth/vigil/internal/bus"
	"github.com/vigilhealth/vigil/internal/wire"
	"github.com/vigilhealth/vigil/match"
)

// Alerts that are not sent at once wait in the pending bucket, one entry
// per tenant, channel and alert (a newer revision replaces the waiting
// one), until their group is due; then one message per tenant and channel
// carries them all. The bucket survives restarts; an entry is claimed for a
// lease before sending, so two dispatchers never send it twice, and it is
// deleted only after the channel confirmed (delivery keys are recorded
// first, as for single alerts).

// Kinds of hold.
const (
	kindWindow = GroupWindow
	kindHourly = GroupHourly
	kindDaily  = GroupDaily
	kindPaced  = "paced" // over the channel's rate: sent with the next message allowed
)

const claimLease = 2 * time.Minute

type pending struct {
	Alert    match.Alert `json:"alert"`
	Channel  string      `json:"channel"`
	Kind     string      `json:"kind"`
	Since    time.Time   `json:"since"`
	Due      time.Time   `json:"due"`
	Attempts int         `json:"attempts,omitempty"`
	Claimed  time.Time   `json:"claimed,omitempty"` // lease end
}

type heldState struct {
	mu      sync.Mutex
	retryAt map[string]time.Time // tenant.channel -> no flush before
}

// holdFor decides whether an alert waits: never P1; digest priorities
// until the end of the period; others for the grouping window.
func holdFor(t match.Tenant, a *match.Alert, now time.Time) (string, time.Time, bool) {
	if a.Priority == "P1" {
		return "", time.Time{}, false
	}
	if period, ok := t.Delivery.DigestOf(a.Priority); ok {
		kind := kindHourly
		if period == 24*time.Hour {
			kind = kindDaily
		}
		return kind, now.UTC().Truncate(period).Add(period), true
	}
	if w := t.Delivery.Window(); w > 0 {
		return kindWindow, now.Add(w), true
	}
	return "", time.Time{}, false
}

func pendingKey(tenant, channel, alertID string) string {
	return tenant + "." + channel + "." + alertID
}

// enqueue holds an alert revision; an entry already waiting keeps its
// place (since, due) and takes the newer revision.
func (d *Dispatcher) enqueue(ctx context.Context, a *match.Alert, channel, kind string, due time.Time) error {
	key := pendingKey(a.Tenant, channel, a.ID)
	p := pending{Alert: *a, Channel: channel, Kind: kind, Since: d.now().UTC(), Due: due.UTC()}
	if e, err := d.bus.Pending.Get(ctx, key); err == nil {
		var old pending
		if wire.Unmarshal(e.Value(), &old) == nil {
			p.Since = old.Since
			if old.Due.Before(p.Due) {
				p.Due, p.Kind = old.Due, old.Kind
			}
		}
	}
	data, err := wire.Marshal(p)
	if err != nil {
		return err
	}
	_, err = d.bus.Pending.Put(ctx, key, data)
	return err
}

// heldWaiting reports whether an older revision of the alert waits in the
// pending bucket for the channel (an unreadable entry counts as not: the
// flush settles it).
func (d *Dispatcher) heldWaiting(ctx context.Context, a *match.Alert, channel string) bool {
	_, err := d.bus.Pending.Get(ctx, pendingKey(a.Tenant, channel, a.ID))
	return err == nil
}

// dropHeld removes a waiting older revision of an alert sent alone now.
// Callers look first (heldWaiting): a delete writes a marker to the bucket
// even when there is nothing to delete, and markers are what flushDue lists
// every tick.
func (d *Dispatcher) dropHeld(ctx context.Context, a *match.Alert, channel string) {
	key := pendingKey(a.Tenant, channel, a.ID)
	if err := d.bus.Pending.Delete(ctx, key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		d.log.Debug("pending entry not dropped", "alert", a.ID, "err", err)
	}
}

// markerPurge is how often the delete markers that sent groups leave in
// the pending bucket are removed (those older than a minute), so that the
// bucket, which flushDue lists every tick, holds only what waits.
const markerPurge = 10 * time.Minute

func (d *Dispatcher) flushLoop(ctx context.Context) {
	t := time.NewTicker(d.tick)
	defer t.Stop()
	purge := time.NewTicker(markerPurge)
	defer purge.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := d.flushDue(ctx); err != nil && ctx.Err() == nil {
				d.log.Warn("held alerts not checked; trying again", "err", err)
			}
		case <-purge.C:
			if err := d.purgeMarkers(ctx, time.Minute); err != nil && ctx.Err() == nil {
				d.log.Warn("delete markers of held alerts not purged", "err", err)
			}
		}
	}
}

// purgeMarkers removes the pending bucket's delete markers older than age
// (all of them when age is negative).
func (d *Dispatcher) purgeMarkers(ctx context.Context, age time.Duration) error {
	return d.bus.Pending.PurgeDeletes(ctx, jetstream.DeleteMarkersOlderThan(age))
}

type heldEntry struct {
	key string
	rev uint64
	p   pending
}

// flushDue sends every group with an entry that is due.
func (d *Dispatcher) flushDue(ctx context.Context) error {
	lister, err := d.bus.Pending.ListKeys(ctx)
	if err != nil {
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return nil
		}
		return err
	}
	groups := map[string][]heldEntry{}
	for key := range lister.Keys() {
		e, err := d.bus.Pending.Get(ctx, key)
		if err != nil {
			continue // deleted meanwhile
		}
		var p pending
		if err := wire.Unmarshal(e.Value(), &p); err != nil {
			d.log.Error("pending entry unreadable; dropped", "key", key, "err", err)
			_ = d.bus.Pending.Delete(ctx, key)
			continue
		}
		g := p.Alert.Tenant + "." + p.Channel
		groups[g] = append(groups[g], heldEntry{key: key, rev: e.Revision(), p: p})
	}
	now := d.now()
	for g, entries := range groups {
		d.held.mu.Lock()
		wait := now.Before(d.held.retryAt[g])
		d.held.mu.Unlock()
		if wait {
			continue
		}
		var due []heldEntry
		anyDue := false
		for _, e := range entries {
			anyDue = anyDue || !now.Before(e.p.Due)
		}
		if !anyDue {
			continue
		}
		for _, e := range entries {
			// With the group going out, window and paced alerts go along;
			// a digest waits for its own hour.
			if !now.Before(e.p.Due) || e.p.Kind == kindWindow || e.p.Kind == kindPaced {
				due = append(due, e)
			}
		}
		if !d.limit.allow(entries[0].p.Alert.Tenant, entries[0].p.Channel, now) {
			continue // the channel's rate: next tick
		}
		d.flushGroup(ctx, g, due)
	}
	return nil
}

// flushGroup claims the entries, sends them as one message and settles
// them.
func (d *Dispatcher) flushGroup(ctx context.Context, g string, entries []heldEntry) {
	now := d.now().UTC()
	var claimed []heldEntry
	for _, e := range entries {
		if e.p.Claimed.After(now) {
			continue // another dispatcher is sending it
		}
		if _, err := d.bus.Delivered.Get(ctx, DeliveryKey(&e.p.Alert, e.p.Channel)); err == nil {
			_ = d.bus.Pending.Delete(ctx, e.key, jetstream.LastRevision(e.rev)) // sent before a crash
			continue
		}
		e.p.Claimed, e.p.Attempts = now.Add(claimLease), e.p.Attempts+1
		data, _ := wire.Marshal(e.p)
		rev, err := d.bus.Pending.Update(ctx, e.key, data, e.rev)
		if err != nil {
			continue // changed meanwhile (a newer revision): the next tick sees it
		}
		e.rev = rev
		claimed = append(claimed, e)
	}
	if len(claimed) == 0 {
		return
	}
	first := claimed[0].p
	log := d.log.With("tenant", first.Alert.Tenant, "channel", first.Channel, "alerts", len(claimed))
	t, err := d.tenants.get(ctx, d.bus, first.Alert.Tenant)
	var n Notifier
	for _, c := range d.notifiers {
		if c.Channel() == first.Channel {
			n = c
		}
	}
	switch {
	case errors.Is(err, bus.ErrNotFound):
		err = fmt.Errorf("tenant %q no longer exists", first.Alert.Tenant)
		d.settle(ctx, claimed, err, false, log)
		return
	case err != nil:
		d.settle(ctx, claimed, err, true, log)
		return
	case n == nil || !n.Configured(t):
		d.settle(ctx, claimed, fmt.Errorf("channel %s is no longer configured for tenant %s", first.Channel, t.ID), false, log)
		return
	}
	sort.SliceStable(claimed, func(i, j int) bool {
		a, b := &claimed[i].p.Alert, &claimed[j].p.Alert
		if a.Priority != b.Priority {
			return a.Priority < b.Priority
		}
		return a.CreatedAt.Before(b.CreatedAt)
	})
	var retry bool
	if len(claimed) == 1 {
		retry, err = n.Notify(ctx, t, &claimed[0].p.Alert)
	} else {
		grp := &Group{Kind: kindWindow}
		for i := range claimed {
			grp.Alerts = append(grp.Alerts, &claimed[i].p.Alert)
			if k := claimed[i].p.Kind; k == kindHourly || k == kindDaily {
				grp.Kind = k
			}
		}
		retry, err = n.NotifyGroup(ctx, t, grp)
	}
	err = d.redact.With(t.Channels.Secrets()...).Error(err)
	if err == nil {
		log.Info("delivered as one message", "kind", claimed[0].p.Kind)
	}
	d.settle(ctx, claimed, err, retry, log)
	d.held.mu.Lock()
	if err != nil && retry {
		d.held.retryAt[g] = d.now().Add(backoff(claimed[0].p.Attempts))
	} else {
		delete(d.held.retryAt, g)
	}
	d.held.mu.Unlock()
}

// settle records the outcome for each alert: delivered (delivery key,
// then the entry deleted), retrying (claim released), or failed (dead
// letter with the reason, entry deleted).
func (d *Dispatcher) settle(ctx context.Context, entries []heldEntry, err error, retry bool, log *slog.Logger) {
	for _, e := range entries {
		a := &e.p.Alert
		rec := d.record(a, e.p.Channel, e.p.Attempts)
		rec.Detail = "sent with " + plural(len(entries), "alert") + " (" + e.p.Kind + ")"
		switch {
		case err == nil:
			if _, perr := d.bus.Delivered.Put(ctx, DeliveryKey(a, e.p.Channel), []byte(rec.At.Format(time.RFC3339Nano))); perr != nil {
				log.Error("delivered but not recorded; a restart may resend", "alert", a.ID, "err", perr)
			}
			rec.Status = StatusDelivered
			_ = d.bus.Pending.Delete(ctx, e.key, jetstream.LastRevision(e.rev))
		case retry:
			rec.Status, rec.Error = StatusRetrying, err.Error()
			e.p.Claimed = time.Time{}
			data, _ := wire.Marshal(e.p)
			_, _ = d.bus.Pending.Update(ctx, e.key, data, e.rev)
		default:
			rec.Status, rec.Error = StatusFailed, err.Error()
			if derr := d.deadLetter(ctx, a, e.p.Channel, err); derr != nil {
				log.Error("dead letter not published", "alert", a.ID, "err", derr)
			}
			_ = d.bus.Pending.Delete(ctx, e.key, jetstream.LastRevision(e.rev))
		}
		d.publishRecord(ctx, rec, log)
	}
	if err != nil && !retry {
		log.Error("group delivery failed permanently", "err", err)
	} else if err != nil {
		log.Warn("group delivery failed; retrying", "err", err)
	}
}

// HeaderChannel names the channel of a notify dead letter.
const HeaderChannel = "Vigil-Channel"

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, strings.TrimSuffix(what, "s"))
}
