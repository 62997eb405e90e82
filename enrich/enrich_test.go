package enrich

import (
	"reflect"
	"testing"

	"github.com/vigilhealth/vigil/advisory"
)

func TestNormalize(t *testing.T) {
	tests := map[string]string{
		"B. Braun Melsungen AG":              "b braun melsungen",
		"GE HealthCare":                      "ge healthcare",
		"Dräger":                             "draeger",
		"Becton, Dickinson and Company (BD)": "becton dickinson and company bd",
		"Becton Dickinson & Co":              "becton dickinson and",
		"Philips Medical Systems, Inc.":      "philips medical systems",
	}
	for in, want := range tests {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestResolveSpellings(t *testing.T) {
	v := MustLoadVendors()
	tests := map[string]string{
		"GE Healthcare":               "ge-healthcare",
		"General Electric Healthcare": "ge-healthcare",
		"GE HEALTHCARE":               "ge-healthcare",
		"B. Braun Melsungen AG":       "b-braun",
		"B Braun Medical Inc.":        "b-braun",
		"Draeger":                     "draeger",
		"Dräger":                      "draeger",
		"Becton Dickinson":            "bd",
		"Welch Allyn":                 "baxter",
	}
	for name, want := range tests {
		got, _, ok := v.Resolve(name)
		if !ok || got.ID != want {
			t.Errorf("Resolve(%q) = %q (%v), want %q", name, got.ID, ok, want)
		}
	}
	if _, _, ok := v.Resolve("Acme Widgets"); ok {
		t.Error("unknown vendor resolved")
	}
}

func TestFindPrefersLongestAlias(t *testing.T) {
	v := MustLoadVendors()
	got := v.Find("Siemens Healthineers syngo.via and a Siemens SIMATIC PLC")
	var ids []string
	for _, m := range got {
		ids = append(ids, m.Vendor.ID)
	}
	if !reflect.DeepEqual(ids, []string{"siemens-healthineers", "siemens"}) {
		t.Fatalf("Find = %v", ids)
	}
	if got := v.Find("Siemens Healthineers syngo.via"); len(got) != 1 {
		t.Fatalf("the shorter alias counted inside the longer one: %+v", got)
	}
	if got := v.Find("Generic office suite update"); len(got) != 0 {
		t.Fatalf("found vendors in a generic text: %+v", got)
	}
}

func TestEnrichRecordsWhereVendorWasFound(t *testing.T) {
	e := New(MustLoadVendors())
	a := e.Enrich(advisory.Advisory{
		Source: "s", ID: "1",
		Title:    "GE HealthCare CARESCAPE B450: CVE-2026-31001",
		Summary:  "Also affects Philips IntelliVue (CVE-2026-31002).",
		Products: []advisory.Product{{Vendor: "General Electric Healthcare", Name: "CARESCAPE B450"}},
	})
	if !reflect.DeepEqual(a.CVEs, []string{"CVE-2026-31001", "CVE-2026-31002"}) {
		t.Fatalf("CVEs %v", a.CVEs)
	}
	want := []advisory.VendorRef{
		{ID: "ge-healthcare", Name: "GE HealthCare", MatchedAs: "General Electric Healthcare", Field: "product list"},
		{ID: "philips", Name: "Philips", MatchedAs: "Philips", Field: "summary"},
	}
	if !reflect.DeepEqual(a.Enrichment.Vendors, want) {
		t.Fatalf("vendors %+v", a.Enrichment.Vendors)
	}
}
