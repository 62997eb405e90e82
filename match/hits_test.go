package match

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/enrich"
)

// byTenant orders spans by tenant, keeps the order of each tenant's, and
// counts the tenants.
func TestByTenantIsAStableOrderByTenant(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	var spans []span
	seen := map[int32]bool{}
	for i := range 3000 {
		ti := int32(rng.IntN(60))
		if ti%3 == 0 {
			continue // some tenants have no spans
		}
		spans = append(spans, span{ti: ti, g: int32(i)})
		seen[ti] = true
	}
	want := slices.Clone(spans)
	slices.SortStableFunc(want, func(a, b span) int { return int(a.ti - b.ti) })
	got, tenants := byTenant(spans, 60)
	if !slices.Equal(got, want) {
		t.Fatal("spans are not in tenant order, or equal tenants lost their order")
	}
	if tenants != len(seen) {
		t.Fatalf("byTenant counted %d tenants, the spans are of %d", tenants, len(seen))
	}
}

// addGroup cuts a group's members into one span per tenant, with the
// highest asset score of each, and leaves out tenants not cleared.
func TestAddGroupSpansPerTenant(t *testing.T) {
	g := &group{members: []member{{ti: 0, score: 1}, {ti: 0, score: 4}, {ti: 2, score: 2}, {ti: 5, score: 3}, {ti: 5, score: 0}, {ti: 5, score: 1}}}
	g.runs = appendRuns(nil, g.members)
	h := &hits{}
	h.addGroup(g, 7, 3, func(ti int32) bool { return ti != 2 })
	want := []span{{ti: 0, g: 7, from: 0, to: 2, tmpl: 3, score: 4}, {ti: 5, g: 7, from: 3, to: 6, tmpl: 3, score: 3}}
	if !slices.Equal(h.spans, want) {
		t.Fatalf("spans %+v, want %+v", h.spans, want)
	}
}

// The decision Matches makes (which tenants, how many assets, priority,
// confidence) is what the built alerts say: over random inventories where
// a tenant's assets of one advisory fall in several groups (products,
// versions, models), spread over the tenant's asset order.
func TestMatchesDecisionAgreesWithBuiltAlerts(t *testing.T) {
	vendors := enrich.MustLoadVendors()
	rng := rand.New(rand.NewPCG(11, 13))
	products := []string{"Alaris 8015", "Alaris 8100", "Infusomat Space", "Sigma Spectrum", "Medfusion 4000"}
	vendorOf := []string{"BD", "BD", "B. Braun", "Baxter", "ICU Medical"}
	versions := []string{"1.0", "2.0", "2.4", "3.1", "", "9.9"}
	crit := []string{LifeCritical, High, Medium, Low}
	zones := []string{ZoneInternet, ZoneClinical, ZoneIsolated}
	var tenants []Tenant
	inv := map[string][]Asset{}
	for i := range 12 {
		id := "h" + strconv.Itoa(i)
		tenants = append(tenants, Tenant{ID: id, TLPClearance: advisory.TLPAmber})
		for k := range 60 {
			p := rng.IntN(len(products))
			inv[id] = append(inv[id], Asset{ID: "A" + strconv.Itoa(rng.IntN(1000)) + "-" + strconv.Itoa(k), Vendor: vendorOf[p], Product: products[p],
				Version: versions[rng.IntN(len(versions))], Criticality: crit[rng.IntN(len(crit))], Zone: zones[rng.IntN(len(zones))]})
		}
	}
	ix := BuildIndex(vendors, tenants, inv)
	e := enrich.New(vendors, nil)
	checked := 0
	for n := range 20 {
		a := advisory.Advisory{Source: "test", ID: "ADV-" + strconv.Itoa(n), Revision: "1", Title: "Pump advisory", CVEs: []string{"CVE-2026-0" + strconv.Itoa(100+n)},
			Severity: &advisory.Severity{Score: float64(rng.IntN(11))}, KEV: n%3 == 0}
		for _, p := range rng.Perm(len(products))[:3] {
			a.Products = append(a.Products, advisory.Product{Vendor: vendorOf[p], Name: products[p], Versions: []string{"<3.0"}, Status: advisory.StatusAffected})
		}
		adv, _, err := e.Enrich(ctx(), a)
		if err != nil {
			t.Fatal(err)
		}
		m := ix.Matches(&adv)
		alerts := m.Alerts()
		if len(alerts) != m.Len() {
			t.Fatalf("%s: %d alerts built, %d decided", a.ID, len(alerts), m.Len())
		}
		for i, al := range alerts {
			assets, excluded := m.Counts(i)
			if al.Tenant != m.Tenant(i) || len(al.Assets) != assets || len(al.Excluded) != excluded {
				t.Fatalf("%s alert %d: built for %s with %d assets, %d excluded; decided %s, %d, %d",
					a.ID, i, al.Tenant, len(al.Assets), len(al.Excluded), m.Tenant(i), assets, excluded)
			}
			prio, conf, best := "P4", Possible, -1
			for k, am := range al.Assets {
				if k > 0 && al.Assets[k-1].Asset.ID >= am.Asset.ID {
					t.Fatalf("%s: assets of %s out of id order: %s then %s", a.ID, al.Tenant, al.Assets[k-1].Asset.ID, am.Asset.ID)
				}
				if p, s := priority(&al.Advisory, assetScore(am.Asset.Criticality, am.Asset.Zone), am.Confidence); s > best {
					best, prio = s, p
				}
				if rank(am.Confidence) > rank(conf) {
					conf = am.Confidence
				}
			}
			if !slices.IsSorted(al.Excluded) {
				t.Fatalf("%s: excluded ids of %s out of order: %v", a.ID, al.Tenant, al.Excluded)
			}
			if al.Priority != prio || al.Confidence != conf || m.Priority(i) != prio || m.Confidence(i) != conf {
				t.Fatalf("%s alert for %s: priority %s (decided %s), confidence %s (decided %s); its assets give %s, %s",
					a.ID, al.Tenant, al.Priority, m.Priority(i), al.Confidence, m.Confidence(i), prio, conf)
			}
			if len(al.Assets) > 1 {
				checked++
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d alerts with more than one asset: the test does not exercise merging spans", checked)
	}
}
