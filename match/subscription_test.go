package match

import (
	"context"
	"strings"
	"testing"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/enrich"
)

func TestSubscriptions(t *testing.T) {
	vendors := enrich.MustLoadVendors()
	inv := []Asset{
		{ID: "MON-1", Vendor: "GE Healthcare", Product: "CARESCAPE B450", Version: "2.0", Criticality: LifeCritical, Zone: ZoneClinical},
		{ID: "WIN-1", Vendor: "Microsoft", Product: "Windows", Version: "10", Criticality: Low, Zone: ZoneIsolated},
	}
	advs := []advisory.Advisory{
		{Source: "s", ID: "ge", Revision: "1", Title: "GE HealthCare CARESCAPE B450 patient monitor alarm bypass", Summary: "Firmware prior to 2.1.", CVEs: []string{"CVE-2026-1"}},
		{Source: "s", ID: "win", Revision: "1", Title: "Microsoft Windows kernel flaw", CVEs: []string{"CVE-2026-2"}, KEV: true, KEVEntry: &advisory.KEVEntry{DateAdded: "2026-11-01"},
			Products: []advisory.Product{{Vendor: "Microsoft", Name: "Windows", Status: advisory.StatusAffected}}},
		{Source: "s", ID: "baxter", Revision: "1", Title: "Baxter Novum IQ infusion pump: dose limits bypass", CVEs: []string{"CVE-2026-3"}},
	}
	run := func(subs []Subscription) []string {
		t.Helper()
		tenant := Tenant{ID: "h1", Name: "H1", TLPClearance: "GREEN", Subscriptions: subs}
		if err := tenant.Validate(); err != nil {
			t.Fatal(err)
		}
		off := NewOffline(vendors, []Tenant{tenant}, map[string][]Asset{"h1": inv})
		e := enrich.New(vendors, nil)
		for _, a := range advs {
			out, _, err := e.Enrich(context.Background(), a)
			if err != nil {
				t.Fatal(err)
			}
			off.Add(&out)
		}
		var got []string
		for _, a := range off.Alerts() {
			tag := a.Advisory.ID
			if a.Watch {
				tag += "(watch)"
			}
			got = append(got, tag)
		}
		return got
	}
	tests := []struct {
		name string
		subs []Subscription
		want string
	}{
		{"no subscriptions: every asset alert", nil, "ge,win"},
		{"minimum priority", []Subscription{{Name: "urgent", MinPriority: "P2"}}, "ge"},
		{"KEV only", []Subscription{{Name: "kev", KEVOnly: true}}, "win"},
		{"vendor", []Subscription{{Name: "ms", Vendors: []string{"Microsoft Corporation"}}}, "win"},
		{"category", []Subscription{{Name: "monitors", Categories: []string{"patient-monitor"}}}, "ge"},
		{"keyword", []Subscription{{Name: "kernel", Keywords: []string{"KERNEL"}}}, "win"},
		{"vendor watch", []Subscription{{Name: "all", MinPriority: "P4"}, {Name: "pumps we buy", Vendors: []string{"Baxter"}, VendorWatch: true}}, "baxter(watch),ge,win"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(tt.subs)
			sortStrings(got)
			if strings.Join(got, ",") != tt.want {
				t.Fatalf("alerts %v, want %s", got, tt.want)
			}
		})
	}
}

func TestSubscriptionValidation(t *testing.T) {
	tests := map[string]string{
		"id: h1\nname: x\nsubscriptions:\n  - name: a\n    min_priority: P9\n":       "subscriptions[0]: min_priority",
		"id: h1\nname: x\nsubscriptions:\n  - name: a\n    categories: [toasters]\n": `categories[0]: "toasters"`,
		"id: h1\nname: x\nsubscriptions:\n  - min_priority: P1\n":                    "subscriptions[0]: name",
		"id: h1\nname: x\nsubscriptions:\n  - name: w\n    vendor_watch: true\n":     "vendor_watch: needs vendors",
		"id: h1\nname: x\nsubscriptions:\n  - name: a\n    min_prio: P1\n":           "min_prio",
	}
	for doc, want := range tests {
		if _, err := ParseTenant("tenant.yaml", []byte(doc)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want %q", doc, err, want)
		}
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
