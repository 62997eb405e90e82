package match

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/internal/bus"
	"github.com/vigilhealth/vigil/internal/wire"
)

// retroKey records, per tenant, the tenant and inventory version last
// matched against history.
func retroKey(tenant string) string { return "_retro." + tenant }

func tenantDigest(t Tenant, assets []Asset) string {
	h := sha256.New()
	_ = json.NewEncoder(h).Encode(t)
	_ = json.NewEncoder(h).Encode(assets)
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// handedSoFar is the last stream sequence the live consumer has been
// handed: history up to it was matched with the index before a change, and
// everything after reaches the live consumer with the new one. Read right
// after the new index is in place (0 before the consumer exists: then the
// live consumer sees all history itself).
func (m *Matcher) handedSoFar(ctx context.Context) uint64 {
	s, err := m.bus.JS.Stream(ctx, bus.StreamAdvisories)
	if err != nil {
		return 0
	}
	c, err := s.Consumer(ctx, "match")
	if err != nil {
		return 0
	}
	info, err := c.Info(ctx)
	if err != nil {
		return 0
	}
	return info.Delivered.Stream
}

// retroTargets lists the tenants whose definition or inventory changed
// since they were last matched against history (a new tenant included).
func (m *Matcher) retroTargets(ctx context.Context, tenants []Tenant, digests map[string]string) []string {
	var out []string
	for _, t := range tenants {
		d := digests[t.ID]
		e, err := m.bus.AlertState.Get(ctx, retroKey(t.ID))
		if err == nil && string(e.Value()) == d {
			continue
		}
		if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			m.log.Warn("retro-match state", "tenant", t.ID, "err", err)
			continue
		}
		out = append(out, t.ID)
	}
	return out
}

// retroMatch matches the tenants' inventories against the enriched
// advisories of the retro window that were on the bus when it started
// (the live consumer handles what comes after). Alerts that are new or
// changed are published marked retro, and each tenant gets one digest.
func (m *Matcher) retroMatch(ctx context.Context, last uint64, ids []string, tenants []Tenant, inv map[string][]Asset, digests map[string]string) error {
	var sel []Tenant
	sub := map[string][]Asset{}
	for _, t := range tenants {
		for _, id := range ids {
			if t.ID == id {
				sel = append(sel, t)
				sub[id] = inv[id]
			}
		}
	}
	ix := BuildIndex(m.vendors, sel, sub)
	s, err := m.bus.JS.Stream(ctx, bus.StreamAdvisories)
	if err != nil {
		return err
	}
	found := map[string][]Alert{}
	if last > 0 {
		start := m.now().Add(-m.retroWindow)
		cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{bus.SubjectEnriched + ".>"},
			DeliverPolicy:  jetstream.DeliverByStartTimePolicy, OptStartTime: &start,
		})
		if err != nil {
			return fmt.Errorf("retro-match: %w", err)
		}
		if found, err = m.replay(ctx, cons, last, ix); err != nil {
			return err
		}
	}
	for _, t := range sel {
		alerts := found[t.ID]
		if len(alerts) > 0 {
			for i := range alerts {
				if err := m.publishAlert(ctx, &alerts[i]); err != nil {
					return err
				}
			}
			d := digest(t.ID, alerts, m.now())
			if err := m.publishAlert(ctx, &d); err != nil {
				return err
			}
			for i := range alerts {
				if err := markPublished(ctx, m.bus.AlertState, t.ID, alerts[i].ID); err != nil {
					m.log.Warn("retro-match: alert published, its state still says unpublished", "tenant", t.ID, "alert", alerts[i].ID, "err", err)
				}
			}
		}
		m.log.Info("retro-match done", "tenant", t.ID, "alerts", len(alerts), "window", m.retroWindow)
		if _, err := m.bus.AlertState.Put(ctx, retroKey(t.ID), []byte(digests[t.ID])); err != nil {
			return err
		}
	}
	return nil
}

// replay runs the history through the index and keeps, per tenant, the
// alerts whose lifecycle changed.
func (m *Matcher) replay(ctx context.Context, cons jetstream.Consumer, last uint64, ix *Index) (map[string][]Alert, error) {
	found := map[string][]Alert{}
	byID := map[string]int{}
	for {
		batch, err := cons.FetchNoWait(500)
		if err != nil {
			return nil, fmt.Errorf("retro-match: %w", err)
		}
		n, done := 0, false
		for msg := range batch.Messages() {
			n++
			md, err := msg.Metadata()
			if err != nil || md.Sequence.Stream > last {
				done = true
				continue
			}
			var adv advisory.Advisory
			if wire.Unmarshal(msg.Data(), &adv) != nil {
				continue
			}
			for _, a := range ix.Match(&adv) {
				a.CreatedAt, a.Retro = m.now().UTC(), true
				changed, err := revise(ctx, m.bus.AlertState, &a, true)
				if err != nil || !changed || !ix.Subscribed(&a, &adv) {
					continue
				}
				key := a.Tenant + "." + a.ID
				if i, ok := byID[key]; ok {
					found[a.Tenant][i] = a // a later revision of the same alert
				} else {
					byID[key] = len(found[a.Tenant])
					found[a.Tenant] = append(found[a.Tenant], a)
				}
			}
			if md.Sequence.Stream == last {
				done = true
			}
		}
		if done || n == 0 {
			return found, nil
		}
	}
}

// digest summarises a tenant's retro alerts in one alert, so that a new
// inventory brings one message, not a flood.
func digest(tenant string, alerts []Alert, now time.Time) Alert {
	sort.Slice(alerts, func(i, j int) bool { return alerts[i].Priority < alerts[j].Priority })
	var lines []string
	seen := map[string]bool{}
	var assets []AssetMatch
	for _, a := range alerts {
		lines = append(lines, fmt.Sprintf("%s %s (%d asset(s))", a.Priority, a.Advisory.Title, len(a.Assets)))
		for _, m := range a.Assets {
			if !seen[m.Asset.ID] && len(assets) < 50 {
				seen[m.Asset.ID] = true
				assets = append(assets, m)
			}
		}
	}
	h := sha256.Sum256([]byte(tenant + now.Format(time.RFC3339Nano)))
	return Alert{
		Schema: AlertSchema, ID: "R-" + hex.EncodeToString(h[:8]), Tenant: tenant, Revision: "1", Retro: true, Digest: true,
		Priority: alerts[0].Priority, Confidence: alerts[0].Confidence, Assets: assets, CreatedAt: now.UTC(), OpenedAt: now.UTC(),
		Advisory: AdvisoryRef{Source: "vigil", ID: "retro-match", Revision: "1", Published: now.UTC(), FetchedAt: now.UTC(),
			Title:   fmt.Sprintf("Retro-match: %d open advisories affect your inventory", len(alerts)),
			Summary: strings.Join(lines, "\n"), CVEs: []string{}},
	}
}
