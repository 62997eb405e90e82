package match

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/enrich"
)

func loadInventory(t *testing.T) Inventory {
	t.Helper()
	f, err := os.Open("testdata/inventory.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	inv, err := ParseCSV("inventory.csv", f)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func TestParseCSVReportsBadRowsAndKeepsTheRest(t *testing.T) {
	inv := loadInventory(t)
	if len(inv.Assets) != 4 {
		t.Fatalf("loaded %d assets, want 4", len(inv.Assets))
	}
	want := []struct {
		line  int
		field string
		cause error
	}{{6, "criticality", ErrBadValue}, {7, "id", ErrRequired}, {8, "id", ErrDuplicate}}
	if len(inv.Errors) != len(want) {
		t.Fatalf("errors %v", inv.Errors)
	}
	for i, w := range want {
		var re *RowError
		if !errors.As(inv.Errors[i], &re) || re.Line != w.line || re.Field != w.field || !errors.Is(re, w.cause) {
			t.Errorf("error %d = %v, want line %d field %s", i, inv.Errors[i], w.line, w.field)
		}
		if !strings.HasPrefix(inv.Errors[i].Error(), "inventory.csv:") {
			t.Errorf("error does not name the file: %v", inv.Errors[i])
		}
	}
	if len(inv.Warnings) != 1 || !strings.Contains(inv.Warnings[0], `"colour"`) {
		t.Fatalf("warnings %v", inv.Warnings)
	}
	if inv.Assets[0].Zone != ZoneClinical || inv.Assets[0].Owner != "biomed@example-hospital.org" {
		t.Fatalf("columns out of order misread: %+v", inv.Assets[0])
	}
}

func TestParseCSVMissingRequiredColumn(t *testing.T) {
	_, err := ParseCSV("x.csv", strings.NewReader("id,product\n1,pump\n"))
	if err == nil || !strings.Contains(err.Error(), `x.csv:1: required column "vendor"`) {
		t.Fatalf("err = %v", err)
	}
}

func demoIndex(t *testing.T) *Index {
	inv := loadInventory(t)
	tenants := []Tenant{{ID: "st-example", Name: "St Example", TLPClearance: advisory.TLPGreen}}
	return BuildIndex(enrich.MustLoadVendors(), tenants, map[string][]Asset{"st-example": inv.Assets})
}

func enriched(title, summary string) *advisory.Advisory {
	a, _, err := enrich.New(enrich.MustLoadVendors(), nil).Enrich(context.Background(), advisory.Advisory{Source: "test", ID: title, Revision: "1", Title: title, Summary: summary})
	if err != nil {
		panic(err)
	}
	return &a
}

// b450Advisory is a bulletin on GE HealthCare CARESCAPE B450 firmware
// before 2.1.
func b450Advisory() *advisory.Advisory {
	return enriched("GE HealthCare CARESCAPE B450 Patient Monitor: Improper Authentication",
		"Affected: CARESCAPE B450 firmware versions prior to 2.1. CVE-2026-31001")
}

// digestsOf is what the matcher computes to reuse unchanged tenants.
func digestsOf(tenants []Tenant, inv map[string][]Asset) map[string]string {
	d := map[string]string{}
	for _, t := range tenants {
		d[t.ID] = tenantDigest(t, inv[t.ID])
	}
	return d
}

func TestMatchExplainsVersionComparison(t *testing.T) {
	ix := demoIndex(t)
	alerts := ix.Match(b450Advisory())
	if len(alerts) != 1 {
		t.Fatalf("%d alerts", len(alerts))
	}
	a := alerts[0]
	// MON-ICU-02 runs 2.1.0, the fixed version: it must not be reported.
	if len(a.Assets) != 1 || a.Assets[0].Asset.ID != "MON-ICU-01" {
		t.Fatalf("assets %v", a.AssetIDs())
	}
	reasons := strings.Join(a.Assets[0].Reasons, "; ")
	for _, want := range []string{`vendor "GE Healthcare" = "GE HealthCare"`, `product "CARESCAPE B450"`, "version 2.0.2 < 2.1"} {
		if !strings.Contains(reasons, want) {
			t.Errorf("reasons %q lack %q", reasons, want)
		}
	}
	if a.Confidence != Exact || a.Priority != "P2" || a.ClusterID != "VC-CVE-2026-31001" || a.ID != AlertID("st-example", a.ClusterID) ||
		len(a.Excluded) != 1 || a.Excluded[0] != "MON-ICU-02" {
		t.Fatalf("alert %+v", a)
	}
}

func TestMatchUnknownVersionIsPossible(t *testing.T) {
	alerts := demoIndex(t).Match(enriched("Baxter Sigma Spectrum Infusion System: Cleartext Transmission", "v8 and prior"))
	if len(alerts) != 1 || alerts[0].Assets[0].Asset.ID != "PUMP-ONC-07" || alerts[0].Confidence != Possible {
		t.Fatalf("alerts %+v", alerts)
	}
	if !strings.Contains(strings.Join(alerts[0].Assets[0].Reasons, ";"), "asset version unknown") {
		t.Fatalf("reasons %v", alerts[0].Assets[0].Reasons)
	}
}

func TestNoAlertWithoutVendorAndProduct(t *testing.T) {
	ix := demoIndex(t)
	for _, adv := range []*advisory.Advisory{
		enriched("Generic office suite update", "Monthly patch roll-up"),
		enriched("GE HealthCare Vivid ultrasound: weak password", "Vivid T8 prior to 3.0"), // vendor only
		enriched("Philips CARESCAPE lookalike", "CARESCAPE B450 by another vendor"),        // product only
	} {
		if alerts := ix.Match(adv); len(alerts) != 0 {
			t.Errorf("%q matched: %+v", adv.Title, alerts)
		}
	}
}

func TestTLPClearance(t *testing.T) {
	ix := demoIndex(t)
	adv := enriched("GE HealthCare CARESCAPE B450", "prior to 2.1")
	adv.TLP = advisory.TLPAmber
	if alerts := ix.Match(adv); len(alerts) != 0 {
		t.Fatal("TLP:AMBER advisory reached a GREEN-cleared tenant")
	}
	// Tenants of different clearances, by product list and by text.
	inv := loadInventory(t).Assets
	ix = BuildIndex(enrich.MustLoadVendors(), []Tenant{{ID: "amber", Name: "A", TLPClearance: advisory.TLPAmber}, {ID: "green", Name: "G", TLPClearance: advisory.TLPGreen}},
		map[string][]Asset{"amber": inv, "green": inv})
	structured := *adv
	structured.Products = []advisory.Product{{Vendor: "GE HealthCare", Name: "CARESCAPE B450", Versions: []string{"<2.1"}, Status: advisory.StatusAffected}}
	for _, a := range []*advisory.Advisory{adv, &structured} {
		for tlp, want := range map[advisory.TLP]string{"": "amber green", advisory.TLPGreen: "amber green", advisory.TLPAmber: "amber", advisory.TLPRed: "", "PURPLE": ""} {
			a.TLP = tlp
			var got []string
			for _, al := range ix.Match(a) {
				got = append(got, al.Tenant)
			}
			if strings.Join(got, " ") != want {
				t.Errorf("TLP %q, products %d: alerts for %q, want %q", tlp, len(a.Products), got, want)
			}
		}
	}
}

func TestTenantValidationNamesField(t *testing.T) {
	tests := map[string]string{
		"id: Bad Id\nname: x\n": "field id",
		"id: h1\n":              "field name",
		"id: h1\nname: x\ntlp_clearance: purple\n":                                                                          "field tlp_clearance",
		"id: h1\nname: x\nchannels:\n  email:\n    to: [nobody]\n":                                                          "channels.email.to[0]",
		"id: h1\nname: x\nchanels: {}\n":                                                                                    "chanels",
		"id: h1\nname: x\nchannels:\n  slack:\n    channel: \"\"\n":                                                         "channels.slack",
		"id: h1\nname: x\nchannels:\n  webhook:\n    url: ftp://x\n    secret: 0123456789abcdef\n":                          "channels.webhook.url",
		"id: h1\nname: x\nchannels:\n  webhook:\n    url: https://soc.example/hook\n    secret: short\n":                    "channels.webhook.secret",
		"id: h1\nname: x\nchannels:\n  slack:\n    webhook_url: \"not a url\"\n":                                            "channels.slack.webhook_url",
		"id: h1\nname: x\nchannels:\n  email:\n    to: [a@b.example]\nsubscriptions:\n  - name: s\n    channels: [slack]\n": "subscriptions[0].channels[0]",
		"id: h1\nname: x\ndelivery:\n  group_window: soon\n":                                                                "delivery.group_window",
		"id: h1\nname: x\ndelivery:\n  digest:\n    priorities: [P1]\n":                                                     "delivery.digest.priorities[0]",
		"id: h1\nname: x\ndelivery:\n  digest:\n    every: weekly\n":                                                        "delivery.digest.every",
	}
	for doc, want := range tests {
		_, err := ParseTenant("tenant.yaml", []byte(doc))
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "tenant.yaml") {
			t.Errorf("ParseTenant(%q) err = %v, want it to name %q", doc, err, want)
		}
	}
}

func TestUpdateIndexReusesUnchangedTenants(t *testing.T) {
	vendors := enrich.MustLoadVendors()
	tenants := []Tenant{{ID: "a", Name: "A", TLPClearance: "GREEN"}, {ID: "b", Name: "B", TLPClearance: "GREEN"}}
	inv := map[string][]Asset{
		"a": {{ID: "1", Vendor: "GE Healthcare", Product: "CARESCAPE B450", Version: "2.0"}},
		"b": {{ID: "1", Vendor: "Philips", Product: "IntelliVue MX40", Version: "B.01"}},
	}
	first := UpdateIndex(nil, vendors, tenants, inv, digestsOf(tenants, inv))
	inv["b"] = append(inv["b"], Asset{ID: "2", Vendor: "Baxter", Product: "Sigma Spectrum", Version: "8"})
	second := UpdateIndex(first, vendors, tenants, inv, digestsOf(tenants, inv))
	if second.perTenant["a"] != first.perTenant["a"] {
		t.Error("unchanged tenant a was indexed again")
	}
	if len(second.perTenant["b"].entries) != 2 || second.Assets() != 3 || len(second.byVendor["baxter"]) != 1 {
		t.Fatalf("changed tenant b not picked up: %d entries, %d assets", len(second.perTenant["b"].entries), second.Assets())
	}
}

// The index keeps assets as pointer-free entries; an alert gives back every
// field as the inventory had it, also for a tenant reused by a later build
// (whose entries keep their positions in the string table the later build
// added to).
func TestAlertAssetsKeepEveryInventoryField(t *testing.T) {
	vendors := enrich.MustLoadVendors()
	tenants := []Tenant{{ID: "a", Name: "A", TLPClearance: "GREEN"}, {ID: "b", Name: "B", TLPClearance: "GREEN"}}
	full := Asset{ID: "MON-7", Vendor: "GE Healthcare", Product: "CARESCAPE B450", Model: "B450-X", Version: "2.0.2",
		Category: "patient-monitor", Criticality: LifeCritical, Location: "ICU 3", Zone: ZoneInternet, Owner: "biomed@example.org",
		CPE: "cpe:2.3:h:gehealthcare:carescape_b450:-:*:*:*:*:*:*:*", PURL: "pkg:generic/ge/carescape-b450@2.0.2", Tags: []string{"icu", "leased"}}
	inv := map[string][]Asset{
		"a": {full, {ID: "MON-8", Vendor: "GE Healthcare", Product: "CARESCAPE B450", Version: "2.0.2", Criticality: Low}},
		"b": {{ID: "1", Vendor: "Philips", Product: "IntelliVue MX40", Version: "B.01"}},
	}
	adv := b450Advisory()
	check := func(ix *Index) {
		t.Helper()
		alerts := ix.Match(adv)
		if len(alerts) != 1 || alerts[0].Tenant != "a" || len(alerts[0].Assets) != 2 {
			t.Fatalf("alerts %+v", alerts)
		}
		if got := *alerts[0].Assets[0].Asset; !reflect.DeepEqual(got, full) {
			t.Fatalf("asset in the alert\n got %+v\nwant %+v", got, full)
		}
		if got := alerts[0].Assets[1].Asset; got.ID != "MON-8" || got.Criticality != Low || got.Tags != nil || got.Model != "" {
			t.Fatalf("second asset %+v", got)
		}
		if alerts[0].Priority != "P1" { // life-critical and internet-exposed, read from the record
			t.Fatalf("priority %s", alerts[0].Priority)
		}
	}
	first := UpdateIndex(nil, vendors, tenants, inv, digestsOf(tenants, inv))
	check(first)
	inv["b"] = append(inv["b"], Asset{ID: "2", Vendor: "Baxter", Product: "Sigma Spectrum", Version: "8", Location: "ICU 3"})
	second := UpdateIndex(first, vendors, tenants, inv, digestsOf(tenants, inv))
	if second.perTenant["a"] != first.perTenant["a"] || second.perTenant["b"] == first.perTenant["b"] {
		t.Fatal("tenant a was indexed again, or b was not: the reuse is not tested")
	}
	check(second)
}

// A build appends to the string table the index in use reads: matching
// side by side with builds (run under -race) sees the same alerts
// throughout.
func TestMatchDuringUpdatesSeesAStableIndex(t *testing.T) {
	vendors := enrich.MustLoadVendors()
	tenants := []Tenant{{ID: "a", Name: "A", TLPClearance: "GREEN"}, {ID: "b", Name: "B", TLPClearance: "GREEN"}}
	inv := map[string][]Asset{
		"a": {{ID: "MON-1", Vendor: "GE Healthcare", Product: "CARESCAPE B450", Version: "2.0.2", Location: "ICU 1", Owner: "biomed@a.example"}},
		"b": {{ID: "P-1", Vendor: "Philips", Product: "IntelliVue MX40", Version: "B.01"}},
	}
	adv := b450Advisory()
	var cur atomic.Pointer[Index]
	cur.Store(UpdateIndex(nil, vendors, tenants, inv, digestsOf(tenants, inv)))
	want := *cur.Load().Match(adv)[0].Assets[0].Asset
	done := make(chan struct{})
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				alerts := cur.Load().Match(adv)
				if len(alerts) != 1 || !reflect.DeepEqual(*alerts[0].Assets[0].Asset, want) {
					errs <- fmt.Errorf("alerts %+v", alerts)
					return
				}
			}
		}()
	}
	for i := range 50 {
		// Hospital b changes each time: new strings go into the table.
		inv["b"] = append(inv["b"], Asset{ID: fmt.Sprintf("P-%d", i+2), Vendor: "Philips", Product: "IntelliVue MX40",
			Version: fmt.Sprintf("B.%02d", i), Location: fmt.Sprintf("Ward %d", i)})
		cur.Store(UpdateIndex(cur.Load(), vendors, tenants, inv, digestsOf(tenants, inv)))
	}
	close(done)
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := cur.Load().Assets(); n != 52 {
		t.Fatalf("%d assets after the updates, want 52", n)
	}
}
