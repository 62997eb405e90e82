package match

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vigilhealth/vigil/advisory"
)

// benchAlert is an alert as the bench's fan-out makes them: 13 assets of
// two products, each with its reasons.
func benchAlert() Alert {
	why := func(product, version string) []string {
		return []string{`vendor "GE HealthCare" = "GE HealthCare" (ge-healthcare)`,
			`product "` + product + `" = "` + product + `" in the advisory's product list`,
			"version " + version + ` in "vers:generic/<2.1"`, "status known_affected"}
	}
	a := Alert{Schema: AlertSchema, ID: "A-3f0c2a9e1b7d", Tenant: "h17", ClusterID: "C-9a8b7c6d5e4f", Priority: "P2", Confidence: Exact,
		Advisory: AdvisoryRef{Source: "cisa-icsma", ID: "ICSMA-26-101-01", Revision: "3", Title: "GE HealthCare CARESCAPE patient monitors",
			URL: "https://example.org/advisories/icsma-26-101-01", Published: time.Date(2026, 4, 11, 0, 0, 0, 0, time.UTC),
			FetchedAt: time.Date(2026, 4, 11, 0, 5, 0, 0, time.UTC), CVEs: []string{"CVE-2026-1001", "CVE-2026-1002"},
			Severity: &advisory.Severity{Score: 8.1}, PatientSafety: true, Relevance: 3, VendorID: "ge-healthcare"},
		CreatedAt: time.Date(2026, 4, 11, 0, 5, 1, 0, time.UTC)}
	for i := range 13 {
		product, version := "CARESCAPE B450", "2.0.2"
		if i%4 == 0 {
			product, version = "CARESCAPE B650", "1.2.3"
		}
		a.Assets = append(a.Assets, AssetMatch{Asset: &Asset{ID: fmt.Sprintf("MON-%03d", i), Vendor: "GE HealthCare", Product: product,
			Version: version, Criticality: LifeCritical, Location: "ICU 2", Zone: ZoneClinical, Owner: "biomed"},
			Confidence: Exact, Rule: "product", Reasons: why(product, version)})
	}
	return a
}

// BenchmarkAlertState revises a new 13-asset alert and encodes its state
// (what the matcher does for each alert before it publishes it), in the
// caller's goroutine and, as the matcher ran its alerts until stop 17, in a
// goroutine of its own per alert, whose stack grows while it encodes.
func BenchmarkAlertState(b *testing.B) {
	ctx := context.Background()
	proto := benchAlert()
	run := func() {
		a := proto
		a.Assets = append([]AssetMatch(nil), proto.Assets...)
		if _, err := prepare(ctx, nil, &a, false, true); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("inline", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			run()
		}
	})
	b.Run("goroutine-per-alert", func(b *testing.B) {
		b.ReportAllocs()
		done := make(chan struct{})
		for b.Loop() {
			go func() {
				run()
				done <- struct{}{}
			}()
			<-done
		}
	})
}
