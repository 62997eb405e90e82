package match

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/enrich"
)

// benchScale is tenants × assets per tenant; VIGIL_BENCH_TENANTS and
// VIGIL_BENCH_ASSETS change it (default 1,000 × 5,000 = 5 million).
func benchScale() (int, int) {
	t, a := 1000, 5000
	if v, err := strconv.Atoi(os.Getenv("VIGIL_BENCH_TENANTS")); err == nil {
		t = v
	}
	if v, err := strconv.Atoi(os.Getenv("VIGIL_BENCH_ASSETS")); err == nil {
		a = v
	}
	return t, a
}

// catalogue is a synthetic product catalogue over the real vendor table:
// 20 products per vendor, models and versions.
type product struct{ vendor, name, model string }

func catalogue(v *enrich.Vendors) []product {
	ids := []string{}
	for _, id := range []string{"ge-healthcare", "philips", "siemens-healthineers", "baxter", "bd", "medtronic", "b-braun", "fresenius",
		"draeger", "mindray", "nihon-kohden", "stryker", "zoll", "abbott", "boston-scientific", "roche", "beckman-coulter", "carestream",
		"canon-medical", "fujifilm", "agfa", "elekta", "icu-medical", "natus", "masimo", "olympus", "getinge", "hamilton-medical",
		"epic", "oracle-health", "meditech", "intersystems", "microsoft", "citrix", "fortinet", "ivanti", "vmware", "johnson-controls"} {
		if _, ok := v.Get(id); ok {
			ids = append(ids, id)
		}
	}
	var out []product
	for _, id := range ids {
		vd, _ := v.Get(id)
		for i := 0; i < 500; i++ {
			out = append(out, product{vendor: vd.Name, name: fmt.Sprintf("Series%d Device %c%d", i, 'A'+i%26, 100+i), model: fmt.Sprintf("M%d-%d", i, len(id))})
		}
	}
	return out
}

var benchVersions = []string{"1.0", "1.2.3", "2.0.2", "2.1", "3.4.1", "4.0", "4.2", "5.1.7"}

// benchInventories draws each hospital's assets. "uniform": every asset an
// independent draw from the whole catalogue (each hospital runs ~4,400 of
// the 19,000 products, so nearly every hospital has some product of any
// advisory: the worst case). "hospital": each hospital runs 300 product
// lines, popular ones more often (Zipf), with many units of a few lines and
// one to three versions per line, as real inventories look.
func benchInventories(tenants, assets int, cat []product, spread string) ([]Tenant, map[string][]Asset) {
	rng := rand.New(rand.NewPCG(1, 2))
	ts := make([]Tenant, tenants)
	inv := make(map[string][]Asset, tenants)
	popular := rand.NewZipf(rng, 1.1, 50, uint64(len(cat)-1))
	for i := range ts {
		ts[i] = Tenant{ID: "h" + strconv.Itoa(i), Name: "Hospital " + strconv.Itoa(i), TLPClearance: advisory.TLPAmber}
		list := make([]Asset, assets)
		var lines []product
		if spread == "hospital" {
			perm := rng.Perm(len(cat)) // hospitals differ in which products are popular with them
			for len(lines) < 300 {
				lines = append(lines, cat[perm[popular.Uint64()]])
			}
		}
		units := rand.NewZipf(rng, 1.2, 5, uint64(max(len(lines), 1)-1))
		for j := range list {
			var p product
			version := benchVersions[rng.IntN(len(benchVersions))]
			if spread == "hospital" {
				k := units.Uint64()
				p = lines[k]
				version = benchVersions[(int(k)+rng.IntN(3))%len(benchVersions)]
			} else {
				p = cat[rng.IntN(len(cat))]
			}
			list[j] = Asset{ID: "A" + strconv.Itoa(j), Vendor: p.vendor, Product: p.name, Model: p.model,
				Version: version, Criticality: High, Zone: ZoneClinical}
		}
		inv[ts[i].ID] = list
	}
	return ts, inv
}

func heapMB() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / (1 << 20)
}

// BenchmarkIndex builds the index over tenants × assets, then matches
// advisories of 10 products each; it reports build time, the index's heap,
// and the median match time.
func BenchmarkIndex(b *testing.B) {
	for _, spread := range []string{"hospital", "uniform"} {
		b.Run(spread, func(b *testing.B) { benchIndex(b, spread) })
	}
}

func benchIndex(b *testing.B, spread string) {
	tenants, assets := benchScale()
	vendors := enrich.MustLoadVendors()
	cat := catalogue(vendors)
	ts, inv := benchInventories(tenants, assets, cat, spread)
	before := heapMB()
	start := time.Now()
	digests := map[string]string{}
	for _, t := range ts {
		digests[t.ID] = tenantDigest(t, inv[t.ID])
	}
	ix := UpdateIndex(nil, vendors, ts, inv, digests)
	build := time.Since(start)
	indexMB := heapMB() - before
	// One hospital re-applies its inventory: the others' work is reused.
	changed := ts[0].ID
	inv[changed] = append([]Asset(nil), inv[changed][:len(inv[changed])-1]...)
	digests[changed] = tenantDigest(ts[0], inv[changed])
	start = time.Now()
	ix = UpdateIndex(ix, vendors, ts, inv, digests)
	update := time.Since(start)
	// The index keeps its own compact records: like the matcher, which
	// loads the inventories only to build it, the benchmark lets them go.
	inv = nil
	runtime.GC()

	e := enrich.New(vendors, nil)
	rng := rand.New(rand.NewPCG(3, 4))
	var advs []advisory.Advisory
	for i := 0; i < 200; i++ {
		a := advisory.Advisory{Source: "bench", ID: "ADV-" + strconv.Itoa(i), Revision: "1", Title: "Synthetic advisory", CVEs: []string{fmt.Sprintf("CVE-2026-%05d", i)}}
		for k := 0; k < 10; k++ {
			p := cat[rng.IntN(len(cat))]
			a.Products = append(a.Products, advisory.Product{Vendor: p.vendor, Name: p.name, Versions: []string{"<2.1"}, Status: advisory.StatusAffected})
		}
		out, _, _ := e.Enrich(ctx(), a)
		advs = append(advs, out)
	}
	// Matching decides which hospitals' assets an advisory affects, with
	// each alert's priority and confidence (Matches); building the alerts
	// makes each asset's copy and explanation (Alerts), which the matcher
	// does in its per-alert workers. Both are timed.
	var decide, full []time.Duration
	matched, alerted, excluded := 0, 0, 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a := &advs[i%len(advs)]
		t0 := time.Now()
		m := ix.Matches(a)
		t1 := time.Now()
		alerts := m.Alerts()
		t2 := time.Now()
		decide, full = append(decide, t1.Sub(t0)), append(full, t2.Sub(t0))
		for _, al := range alerts {
			matched += len(al.Assets)
			excluded += len(al.Excluded)
			if len(al.Assets) > 0 {
				alerted++
			}
		}
	}
	median := func(ts []time.Duration) float64 {
		slices.Sort(ts)
		return float64(ts[len(ts)/2].Nanoseconds()) / 1e3
	}
	b.ReportMetric(build.Seconds(), "build-s")
	b.ReportMetric(update.Seconds(), "update-one-tenant-s")
	b.ReportMetric(indexMB, "index-MB")
	b.ReportMetric(before, "inventory-MB")
	b.ReportMetric(median(decide), "match-median-µs")
	b.ReportMetric(median(full), "match+alerts-median-µs")
	b.ReportMetric(float64(matched)/float64(b.N), "assets/advisory")
	b.ReportMetric(float64(alerted)/float64(b.N), "hospitals/advisory")
	b.ReportMetric(float64(excluded)/float64(b.N), "not-affected/advisory")
}

func ctx() context.Context { return context.Background() }
