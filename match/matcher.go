package match

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/enrich"
	"github.com/vigilhealth/vigil/internal/bus"
	"github.com/vigilhealth/vigil/internal/pool"
	"github.com/vigilhealth/vigil/internal/wire"
)

// Matcher consumes enriched advisories and publishes alerts. Its index
// follows the tenants bucket and the inventories store: a change applies
// without a restart.
type Matcher struct {
	bus     *bus.Bus
	vendors *enrich.Vendors
	log     *slog.Logger
	index   atomic.Pointer[Index]
	now     func() time.Time
	// retroWindow is how far back a changed inventory is matched.
	retroWindow time.Duration
	// alerts runs the alerts of every advisory being matched.
	alerts *pool.Pool
}

// DefaultRetroWindow is two years.
const DefaultRetroWindow = 2 * 365 * 24 * time.Hour

// SetRetroWindow changes how far back retro-matching looks (0 turns it off).
func (m *Matcher) SetRetroWindow(d time.Duration) { m.retroWindow = d }

// NewMatcher builds a matcher; Run loads the index before consuming.
func NewMatcher(b *bus.Bus, vendors *enrich.Vendors, log *slog.Logger) *Matcher {
	return &Matcher{bus: b, vendors: vendors, log: log, now: time.Now, retroWindow: DefaultRetroWindow,
		alerts: pool.New(Workers * AlertWorkers)}
}

// Index is the index in use.
func (m *Matcher) Index() *Index { return m.index.Load() }

// Reload rebuilds the index from the bus.
func (m *Matcher) Reload(ctx context.Context) error {
	tenants, err := ListTenants(ctx, m.bus)
	if err != nil {
		return fmt.Errorf("match: load tenants: %w", err)
	}
	inv := map[string][]Asset{}
	intern := Interner{}
	for _, t := range tenants {
		assets, err := GetInventory(ctx, m.bus, t.ID)
		if err != nil {
			return fmt.Errorf("match: %w", err)
		}
		intern.Assets(assets)
		inv[t.ID] = assets
	}
	digests := map[string]string{}
	for _, t := range tenants {
		digests[t.ID] = tenantDigest(t, inv[t.ID])
	}
	ix := UpdateIndex(m.index.Load(), m.vendors, tenants, inv, digests)
	m.index.Store(ix)
	for tenant, ids := range ix.Unresolved {
		m.log.Warn("assets with an unknown vendor cannot match", "tenant", tenant, "assets", len(ids), "first", ids[0])
	}
	m.log.Info("match index loaded", "tenants", ix.Tenants(), "assets", ix.Assets())
	if m.retroWindow > 0 {
		if ids := m.retroTargets(ctx, tenants, digests); len(ids) > 0 {
			last := m.handedSoFar(ctx)
			go func() {
				if err := m.retroMatch(ctx, last, ids, tenants, inv, digests); err != nil && ctx.Err() == nil {
					m.log.Error("retro-match failed; it runs again at the next change or restart", "err", err)
				}
			}()
		}
	}
	return nil
}

// publishAlert publishes one alert revision.
func (m *Matcher) publishAlert(ctx context.Context, a *Alert) error {
	hdr := map[string]string{bus.HeaderTenant: a.Tenant, bus.HeaderSource: a.Advisory.Source}
	if _, err := m.bus.Publish(ctx, bus.Alerts(a.Tenant), a.MsgID(), a, hdr); err != nil {
		return err
	}
	m.log.Info("alert", "tenant", a.Tenant, "alert", a.ID, "revision", a.Revision, "priority", a.Priority, "retro", a.Retro,
		"advisory", a.Advisory.Source+"/"+a.Advisory.ID, "assets", len(a.Assets), "confidence", a.Confidence, "changes", strings.Join(a.Changes, ", "))
	return nil
}

// Workers is how many advisories are matched at once. An advisory holds
// its worker until each of its alerts is revised and published, which for
// one that reaches hundreds of hospitals takes a few hundred milliseconds:
// at 4, a few such advisories kept every other one waiting (delivery p99
// at 1,000/s 215-306 ms against 182-237 ms at 16, in paired runs).
const Workers = 16

// Run loads the index, follows changes and matches until ctx ends.
func (m *Matcher) Run(ctx context.Context) error {
	if err := m.Reload(ctx); err != nil {
		return err
	}
	go m.follow(ctx)
	spec := bus.ConsumerSpec{Stream: bus.StreamAdvisories, Durable: "match", Stage: "match", Filter: []string{bus.SubjectEnriched + ".>"}}
	// Advisories are matched side by side (alert state is updated with
	// compare-and-set); one advisory's revisions stay in order.
	return m.bus.ConsumeParallel(ctx, spec, Workers, bus.AdvisoryKey, m.handle)
}

func (m *Matcher) handle(ctx context.Context, msg jetstream.Msg) error {
	var adv advisory.Advisory
	if err := wire.Unmarshal(msg.Data(), &adv); err != nil {
		return fmt.Errorf("match: decode %s: %w", msg.Subject(), err)
	}
	found := m.index.Load().Matches(&adv)
	now := m.now().UTC()
	// The first delivery of an advisory that opened its cluster makes only
	// new alerts: their state is not read. A redelivery reads it (this
	// advisory's earlier attempt may have stored some).
	fresh := adv.Enrichment != nil && adv.Enrichment.NewCluster
	if md, err := msg.Metadata(); err != nil || md.NumDelivered > 1 {
		fresh = false
	}
	// Each hospital's alert is its own lifecycle (its own key-value entry)
	// and its own message: they are revised and published side by side, so
	// an advisory that reaches many hospitals does not wait for each in
	// turn; each is built (its assets and their explanations) by the
	// worker that revises it. A failure does not cancel the others (none is
	// left between publish and commit); it retries the advisory, where the
	// alerts already stored are unchanged and not sent again.
	//
	// The workers are the matcher's pool, not a goroutine per alert: a new
	// goroutine grows its stack while it encodes the alert, which made
	// revising it 1.4-2 times as costly (BenchmarkAlertState).
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	limit := make(chan struct{}, AlertWorkers)
	for i := range found.Len() {
		limit <- struct{}{}
		wg.Add(1)
		m.alerts.Go(func() {
			defer func() { <-limit; wg.Done() }()
			a := found.Alert(i)
			a.CreatedAt = now
			if err := m.alert(ctx, &a, &adv, fresh); err != nil {
				mu.Lock()
				first = cmp.Or(first, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return first
}

// AlertWorkers bounds the alerts of one advisory revised at once. Each
// waits on two round trips (the publish, the state's compare-and-set), so
// an advisory reaching 300 hospitals went out in ~19 waves at 16; at 64 the
// delivery p99 at 1,000/s was lower in 5 of 6 paired runs (100-202 ms
// against 126-262) for the same CPU or less.
const AlertWorkers = 64

// alert revises one hospital's alert and publishes it when it changed and
// the hospital subscribes to it. It is published before its state is
// stored: a failed publish leaves the state as it was, and the retry
// publishes it.
func (m *Matcher) alert(ctx context.Context, a *Alert, adv *advisory.Advisory, fresh bool) error {
	next, err := prepare(ctx, m.bus.AlertState, a, false, fresh)
	if err != nil {
		return bus.Retry(fmt.Errorf("match: alert state: %w", err), 2*time.Second)
	}
	if next == nil {
		return nil
	}
	switch {
	case !next.publish:
		m.log.Debug("alert unchanged", "tenant", a.Tenant, "alert", a.ID, "advisory", adv.Key())
	case !m.index.Load().Subscribed(a, adv):
		m.log.Debug("alert not subscribed", "tenant", a.Tenant, "alert", a.ID, "priority", a.Priority)
	default:
		if err := m.publishAlert(ctx, a); err != nil {
			return bus.Retry(err, 2*time.Second)
		}
	}
	if err := next.commit(ctx, m.bus.AlertState); err != nil {
		return bus.Retry(err, 200*time.Millisecond)
	}
	return nil
}

// follow rebuilds the index when a tenant or inventory changes, coalescing
// bursts of changes.
func (m *Matcher) follow(ctx context.Context) {
	kw, err := m.bus.Tenants.WatchAll(ctx, jetstream.UpdatesOnly())
	if err != nil {
		m.log.Error("match: watch tenants", "err", err)
		return
	}
	ow, err := m.bus.Inventories.Watch(ctx, jetstream.UpdatesOnly())
	if err != nil {
		m.log.Error("match: watch inventories", "err", err)
		return
	}
	defer func() { _ = kw.Stop(); _ = ow.Stop() }()
	var pending <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-kw.Updates():
		case <-ow.Updates():
		case <-pending:
			pending = nil
			if err := m.Reload(ctx); err != nil && ctx.Err() == nil {
				m.log.Error("match: reload failed; keeping the previous index", "err", err)
			}
			continue
		}
		if pending == nil {
			pending = time.After(200 * time.Millisecond)
		}
	}
}
