package wire_test

import (
	"context"
	"encoding/json"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/enrich"
	"github.com/vigilhealth/vigil/feeds"
	"github.com/vigilhealth/vigil/internal/wire"
	"github.com/vigilhealth/vigil/match"
)

// sample is an alert with every kind of field the stages exchange: nested
// structs, pointers, slices, maps, omitempty and omitzero times.
func sample() match.Alert {
	at := time.Date(2026, 11, 22, 13, 4, 5, 123456789, time.UTC)
	score := 9.8
	return match.Alert{
		Schema: match.AlertSchema, ID: "A-0123456789abcdef", Tenant: "st-example", Revision: "2", ClusterID: "CVE-2026-0001",
		Changes: []string{"fix released"}, Priority: "P1", Confidence: match.Exact,
		Advisory: match.AdvisoryRef{Source: "cisa-icsma", ID: "ICSMA-26-001-01", Revision: "1.1", Title: "Infusion pump \u00e9 <b>&</b>",
			Published: at, FetchedAt: at, CVEs: []string{"CVE-2026-0001"}, KEV: true,
			Severity: &advisory.Severity{CVSSVersion: "3.1", Score: score, Vector: "CVSS:3.1/AV:N"}, PatientSafety: true, Relevance: 90},
		Assets: []match.AssetMatch{{Asset: &match.Asset{ID: "pump-1", Vendor: "BD", Product: "Alaris", Version: "12.1", Tags: []string{"icu"}},
			Confidence: match.Exact, Rule: "product", Reasons: []string{"vendor BD", "version 12.1 < 12.3"}}},
		FixAvailable: true, CreatedAt: at, OpenedAt: at.Add(-time.Hour), KEVAt: at,
	}
}

func TestWireWritesWhatEncodingJSONWrites(t *testing.T) {
	a := sample()
	got, err := wire.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("wire.Marshal differs from encoding/json:\n got %s\nwant %s", got, want)
	}
	var back match.Alert
	if err := wire.Unmarshal(want, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, a) {
		t.Fatalf("round trip changed the alert:\n got %+v\nwant %+v", back, a)
	}
	if !back.FixedAt.IsZero() {
		t.Fatalf("fixed_at omitted (omitzero) but decoded as %v", back.FixedAt)
	}
}

func TestWireRejectsMalformedJSON(t *testing.T) {
	var a match.Alert
	for _, bad := range []string{`{"id":`, `{"assets":[{"asset":1}]}`, `not json`} {
		if err := wire.Unmarshal([]byte(bad), &a); err == nil {
			t.Errorf("%q decoded without error", bad)
		}
	}
}

// An enriched advisory parsed from a CSAF fixture reads back identical, and
// both codecs write the same bytes.
func TestWireRoundTripsAnEnrichedAdvisory(t *testing.T) {
	data, err := os.ReadFile("../../feeds/csaf/testdata/infusion-pump.json")
	if err != nil {
		t.Fatal(err)
	}
	res, err := feeds.Parse("csaf", "vendor-csaf", data, time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC))
	if err != nil || len(res.Advisories) == 0 {
		t.Fatalf("parse fixture: %v (%d advisories)", err, len(res.Advisories))
	}
	e := enrich.New(enrich.MustLoadVendors(), enrich.NewMemState())
	adv, _, err := e.Enrich(context.Background(), res.Advisories[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(adv.Products) == 0 || adv.Enrichment == nil {
		t.Fatalf("fixture advisory has no products or enrichment: %+v", adv)
	}
	want, _ := json.Marshal(adv)
	got, err := wire.Marshal(adv)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("wire.Marshal differs from encoding/json:\n got %s\nwant %s", got, want)
	}
	var back, ref advisory.Advisory
	if err := wire.Unmarshal(want, &back); err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal(want, &ref)
	if !reflect.DeepEqual(back, ref) {
		t.Fatalf("wire.Unmarshal differs from encoding/json:\n got %+v\nwant %+v", back, ref)
	}
}
