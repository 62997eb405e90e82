package enrich

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/internal/bus"
	"github.com/vigilhealth/vigil/internal/wire"
)

// Enricher turns raw advisories into enriched ones.
type Enricher struct {
	vendors *Vendors
	lex     map[string]lexEntry
	lexMax  int
	state   State
	now     func() time.Time
}

// New builds an Enricher over the vendor table and a state (nil: in memory).
func New(vendors *Vendors, state State) *Enricher {
	if state == nil {
		state = NewMemState()
	}
	lex, max := buildLexicon()
	return &Enricher{vendors: vendors, lex: lex, lexMax: max, state: state, now: time.Now}
}

// maxSummary bounds the text scanned per advisory; the start of a summary
// names what it is about.
const maxSummary = 4000

// Enrich adds vendors, product keys, categories, relevance, patient safety,
// severity checks, KEV status and the cluster. When the advisory is a KEV
// entry whose CVE is new to KEV, escalate holds the other advisories with
// that CVE, re-enriched as a new revision, so their alerts escalate.
func (e *Enricher) Enrich(ctx context.Context, a advisory.Advisory) (out advisory.Advisory, escalate []advisory.Advisory, err error) {
	raw := a
	a.CVEs = advisory.MergeCVEs(a.CVEs, advisory.ExtractCVEs(a.Title, a.Summary))
	en := &advisory.Enrichment{Vendors: []advisory.VendorRef{}, ProductKeys: []string{}, Categories: []advisory.Category{}, EnrichedAt: e.now().UTC()}
	a.Enrichment = en

	summary := a.Summary
	if len(summary) > maxSummary {
		summary = summary[:maxSummary]
	}
	var buf [1024]byte
	title := string(normalizeAppend(buf[:0], a.Title, false))
	sum := string(normalizeAppend(buf[:0], summary, false))

	e.vendorsOf(&a, title, sum)
	e.productKeys(&a)
	sig := e.scan(&a, title, sum)
	e.relevance(&a, sig)
	en.Notes = checkSeverity(&a)

	if a.KEVEntry != nil {
		for _, c := range a.CVEs {
			added, err := e.state.AddKEV(ctx, c, a.KEVEntry.DateAdded)
			if err != nil {
				return a, nil, fmt.Errorf("kev state: %w", err)
			}
			if added {
				more, err := e.escalate(ctx, c, a.Source)
				if err != nil {
					return a, nil, err
				}
				escalate = append(escalate, more...)
			}
		}
	}
	// Remembered before KEV is looked up: a KEV entry for one of its CVEs
	// is either seen by the lookup or, arriving after it, finds this
	// advisory remembered and escalates it. Looked up first, an entry
	// arriving between the two would do neither.
	if err := e.state.Remember(ctx, &raw); err != nil {
		return a, nil, fmt.Errorf("advisory state: %w", err)
	}
	if err := e.markKEV(ctx, &a); err != nil {
		return a, nil, err
	}
	if en.ClusterID, en.NewCluster, err = e.cluster(ctx, &a); err != nil {
		return a, nil, fmt.Errorf("cluster state: %w", err)
	}
	return a, escalate, nil
}

// markKEV flags the advisory when one of its CVEs is in KEV.
func (e *Enricher) markKEV(ctx context.Context, a *advisory.Advisory) error {
	for _, c := range a.CVEs {
		date, ok, err := e.state.KEV(ctx, c)
		if err != nil {
			return fmt.Errorf("kev state: %w", err)
		}
		if ok {
			a.KEV = true
			if d := a.Enrichment.KEVDateAdded; d == "" || date < d {
				a.Enrichment.KEVDateAdded = date
			}
		}
	}
	return nil
}

// escalate re-enriches the remembered advisories carrying a CVE that just
// entered KEV, as new revisions.
func (e *Enricher) escalate(ctx context.Context, cve, kevSource string) ([]advisory.Advisory, error) {
	others, err := e.state.WithCVE(ctx, cve)
	if err != nil {
		return nil, fmt.Errorf("advisory state: %w", err)
	}
	var out []advisory.Advisory
	for _, o := range others {
		if o.Source == kevSource || o.KEV {
			continue
		}
		date, _, _ := e.state.KEV(ctx, cve)
		o.Revision += "+kev." + date
		re, _, err := e.Enrich(ctx, o)
		if err != nil {
			return nil, err
		}
		out = append(out, re)
	}
	return out, nil
}

// cluster finds or starts the cluster: by any CVE id, by this advisory's
// own URL, or by a reference to another advisory's URL.
func (e *Enricher) cluster(ctx context.Context, a *advisory.Advisory) (string, bool, error) {
	cves := append([]string(nil), a.CVEs...)
	sort.Strings(cves)
	var lookup, own []string
	for _, c := range cves {
		lookup = append(lookup, "cve."+c)
		own = append(own, "cve."+c)
	}
	if a.URL != "" {
		lookup = append(lookup, refKey(a.URL))
		own = append(own, refKey(a.URL))
	}
	for _, r := range a.References {
		lookup = append(lookup, refKey(r))
	}
	proposal := "VC-"
	if len(cves) > 0 {
		proposal += cves[0]
	} else {
		h := sha256.Sum256([]byte(a.Key()))
		proposal += hex.EncodeToString(h[:8])
	}
	return e.state.Cluster(ctx, lookup, own, proposal)
}

func (e *Enricher) vendorsOf(a *advisory.Advisory, title, sum string) {
	en := a.Enrichment
	seen := map[string]bool{}
	add := func(r Resolution, field string) {
		if seen[r.Vendor.ID] {
			return
		}
		seen[r.Vendor.ID] = true
		en.Vendors = append(en.Vendors, advisory.VendorRef{ID: r.Vendor.ID, Name: r.Vendor.Name, Kind: r.Vendor.Kind,
			MatchedAs: r.Alias, Field: field, Former: r.Former})
	}
	for _, p := range a.Products {
		if r, ok := e.vendors.Resolve(p.Vendor); ok {
			add(r, "product list")
		}
	}
	for _, m := range e.vendors.Find(title) {
		add(m.Resolution, "title")
	}
	if a.VendorHint != "" {
		if r, ok := e.vendors.Resolve(a.VendorHint); ok {
			add(r, "vendor hint")
		} else {
			for _, m := range e.vendors.Find(Normalize(a.VendorHint)) {
				add(m.Resolution, "vendor hint")
			}
		}
	}
	for _, m := range e.vendors.Find(sum) {
		add(m.Resolution, "summary")
	}
	// The main vendor is the first healthcare vendor named, else the first:
	// "Silex Technology SX-500 or GE Healthcare MobileLink" is GE's.
	for _, v := range en.Vendors {
		if v.Kind == KindMedical || v.Kind == KindHealthIT {
			en.VendorID = v.ID
			break
		}
	}
	if en.VendorID == "" && len(en.Vendors) > 0 {
		en.VendorID = en.Vendors[0].ID
	}
}

// Run consumes raw advisories and publishes enriched ones until ctx ends.
// Workers is how many advisories are enriched at once. An advisory waits
// on ~10 key-value round trips (KEV, clusters, the CVE index), so most of
// its time is not CPU: at 4, enrichment was where a 1,000/s load queued
// (p50 141 ms from publish to delivery; 59 ms at 16). At 16 it still fell
// behind while fan-out bursts took the cores and each round trip waited
// longer (publish -> enriched p99 114-193 ms); at 48, 21-81 ms.
const Workers = 48

func (e *Enricher) Run(ctx context.Context, b *bus.Bus, log *slog.Logger) error {
	spec := bus.ConsumerSpec{Stream: bus.StreamAdvisories, Durable: "enrich", Stage: "enrich", Filter: []string{bus.SubjectRaw + ".>"}}
	// Advisories are enriched side by side (their shared state is updated
	// with compare-and-set); one advisory's revisions stay in order.
	return b.ConsumeParallel(ctx, spec, Workers, bus.AdvisoryKey, func(ctx context.Context, m jetstream.Msg) error {
		var a advisory.Advisory
		if err := wire.Unmarshal(m.Data(), &a); err != nil {
			return fmt.Errorf("enrich: decode %s: %w", m.Subject(), err)
		}
		if err := bus.ValidToken(a.Source); err != nil || a.ID == "" {
			return fmt.Errorf("enrich: advisory on %s has no usable source/id (%q/%q)", m.Subject(), a.Source, a.ID)
		}
		out, escalate, err := e.Enrich(ctx, a)
		if err != nil {
			return bus.Retry(err, 2*time.Second)
		}
		for _, adv := range append([]advisory.Advisory{out}, escalate...) {
			// Raw and enriched share the ADVISORIES stream, and with it the
			// de-duplication window: the enriched id must differ from the raw one.
			if _, err := b.Publish(ctx, bus.Enriched(adv.Source), "enriched/"+adv.MsgID(), adv, map[string]string{bus.HeaderSource: adv.Source}); err != nil {
				return bus.Retry(err, 2*time.Second)
			}
		}
		if len(escalate) > 0 {
			log.Info("CVE entered KEV: advisories re-enriched", "kev", out.Key(), "advisories", len(escalate))
		}
		log.Debug("enriched", "advisory", out.Key(), "vendor", out.Enrichment.VendorID, "relevance", out.Enrichment.Relevance.Score,
			"cluster", out.Enrichment.ClusterID, "cves", strings.Join(out.CVEs, ","))
		return nil
	})
}
