package match

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/enrich"
	"github.com/vigilhealth/vigil/feeds"
)

func csafFixture(t *testing.T) advisory.Advisory {
	t.Helper()
	data, err := os.ReadFile("../feeds/csaf/testdata/infusion-pump.json")
	if err != nil {
		t.Fatal(err)
	}
	res, err := feeds.Parse("csaf", "vendor-csaf", data, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	a, _, err := enrich.New(enrich.MustLoadVendors(), nil).Enrich(context.Background(), res.Advisories[0])
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestStructuredMatchingHonoursRangesAndStatus(t *testing.T) {
	vendors := enrich.MustLoadVendors()
	// The fixture's vendor is fictional: make it known for this test.
	assets := []Asset{
		{ID: "PUMP-41", Vendor: "Example Infusion GmbH", Product: "FlowMaster 3000", Version: "4.1"},
		{ID: "PUMP-42", Vendor: "Example Infusion GmbH", Product: "FlowMaster 3000", Version: "4.2"},
		{ID: "PUMP-X", Vendor: "Example Infusion GmbH", Product: "FlowMaster 3000", Version: "build unknown"},
		{ID: "PUMP-MODEL", Vendor: "Example Infusion GmbH", Product: "Ward pump", Model: "FM-3000", Version: "4.0"},
		{ID: "LITE", Vendor: "Example Infusion GmbH", Product: "FlowMaster Lite", Version: "1.0"},
		{ID: "DLM", Vendor: "Example Infusion GmbH", Product: "Dose Library Manager", Version: "7.0"},
		{ID: "DLM-NEW", Vendor: "Example Infusion GmbH", Product: "Dose Library Manager", Version: "7.2"},
		{ID: "OTHER", Vendor: "Example Infusion GmbH", Product: "FlowMaster Cloud", Version: "1.0"},
	}
	v, err := vendorsWith(vendors, `{"id": "example-infusion", "name": "Example Infusion GmbH", "kind": "medical", "aliases": [], "former": [], "field_only": []}`)
	if err != nil {
		t.Fatal(err)
	}
	ix := BuildIndex(v, []Tenant{{ID: "h1", Name: "H1", TLPClearance: "GREEN"}}, map[string][]Asset{"h1": assets})
	adv := csafFixture(t)
	adv.Enrichment.VendorID = "example-infusion"
	alerts := ix.Match(&adv)
	if len(alerts) != 1 {
		t.Fatalf("%d alerts", len(alerts))
	}
	got := map[string]string{}
	for _, m := range alerts[0].Assets {
		got[m.Asset.ID] = m.Confidence + ": " + strings.Join(m.Reasons, "; ")
	}
	want := map[string]string{
		"PUMP-41":    "exact",
		"PUMP-X":     "possible",
		"PUMP-MODEL": "probable",
		"LITE":       "exact",
		"DLM":        "probable",
	}
	for id, conf := range want {
		if !strings.HasPrefix(got[id], conf+":") {
			t.Errorf("%s: got %q, want %s", id, got[id], conf)
		}
	}
	for _, id := range []string{"PUMP-42", "DLM-NEW", "OTHER"} {
		if _, ok := got[id]; ok {
			t.Errorf("%s matched: %s", id, got[id])
		}
	}
	if !strings.Contains(got["PUMP-41"], `version 4.1 in "<4.2"`) || !strings.Contains(got["PUMP-41"], "status known_affected") {
		t.Errorf("explanation %q", got["PUMP-41"])
	}
	if ex := strings.Join(alerts[0].Excluded, ","); ex != "DLM-NEW,PUMP-42" {
		t.Errorf("excluded %q", ex)
	}
}

func vendorsWith(_ *enrich.Vendors, entry string) (*enrich.Vendors, error) {
	return enrich.LoadVendorsWith([]byte("[" + entry + "]"))
}
