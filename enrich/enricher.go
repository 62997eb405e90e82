package enrich

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/internal/bus"
)

// Enricher turns raw advisories into enriched ones.
type Enricher struct {
	vendors *Vendors
	now     func() time.Time
}

// New builds an Enricher over the embedded vendor table.
func New(vendors *Vendors) *Enricher {
	return &Enricher{vendors: vendors, now: time.Now}
}

// Enrich adds CVE ids found anywhere in the advisory and its canonical
// vendors: from product vendor fields first, then the source's vendor hint,
// then the free text.
func (e *Enricher) Enrich(a advisory.Advisory) advisory.Advisory {
	a.CVEs = advisory.MergeCVEs(a.CVEs, advisory.ExtractCVEs(a.Title, a.Summary))
	en := &advisory.Enrichment{Vendors: []advisory.VendorRef{}, EnrichedAt: e.now().UTC()}
	seen := map[string]bool{}
	add := func(v Vendor, alias, field string) {
		if seen[v.ID] {
			return
		}
		seen[v.ID] = true
		en.Vendors = append(en.Vendors, advisory.VendorRef{ID: v.ID, Name: v.Name, MatchedAs: alias, Field: field})
	}
	for _, p := range a.Products {
		if v, alias, ok := e.vendors.Resolve(p.Vendor); ok {
			add(v, alias, "product list")
		}
	}
	for _, m := range e.vendors.Find(a.VendorHint) {
		add(m.Vendor, m.Alias, "category")
	}
	for _, m := range e.vendors.Find(a.Title) {
		add(m.Vendor, m.Alias, "title")
	}
	for _, m := range e.vendors.Find(a.Summary) {
		add(m.Vendor, m.Alias, "summary")
	}
	a.Enrichment = en
	return a
}

// Run consumes raw advisories and publishes enriched ones until ctx ends.
func (e *Enricher) Run(ctx context.Context, b *bus.Bus, log *slog.Logger) error {
	spec := bus.ConsumerSpec{Stream: bus.StreamAdvisories, Durable: "enrich", Stage: "enrich", Filter: []string{bus.SubjectRaw + ".>"}}
	return b.Consume(ctx, spec, func(ctx context.Context, m jetstream.Msg) error {
		var a advisory.Advisory
		if err := json.Unmarshal(m.Data(), &a); err != nil {
			return fmt.Errorf("enrich: decode %s: %w", m.Subject(), err)
		}
		if err := bus.ValidToken(a.Source); err != nil || a.ID == "" {
			return fmt.Errorf("enrich: advisory on %s has no usable source/id (%q/%q)", m.Subject(), a.Source, a.ID)
		}
		out := e.Enrich(a)
		// Raw and enriched share the ADVISORIES stream, and with it the
		// de-duplication window: the enriched id must differ from the raw one.
		if _, err := b.Publish(ctx, bus.Enriched(out.Source), "enriched/"+out.MsgID(), out, map[string]string{bus.HeaderSource: out.Source}); err != nil {
			return bus.Retry(err, 2*time.Second)
		}
		log.Debug("enriched", "advisory", out.Key(), "vendors", out.VendorIDs(), "cves", out.CVEs)
		return nil
	})
}
