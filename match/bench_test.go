package match

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
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

func benchInventories(tenants, assets int, cat []product) ([]Tenant, map[string][]Asset) {
	rng := rand.New(rand.NewPCG(1, 2))
	ts := make([]Tenant, tenants)
	inv := make(map[string][]Asset, tenants)
	versions := []string{"1.0", "1.2.3", "2.0.2", "2.1", "3.4.1", "4.0", "4.2", "5.1.7"}
	for i := range ts {
		ts[i] = Tenant{ID: "h" + strconv.Itoa(i), Name: "Hospital " + strconv.Itoa(i), TLPClearance: advisory.TLPAmber}
		list := make([]Asset, assets)
		for j := range list {
			p := cat[rng.IntN(len(cat))]
			list[j] = Asset{ID: "A" + strconv.Itoa(j), Vendor: p.vendor, Product: p.name, Model: p.model,
				Version: versions[rng.IntN(len(versions))], Criticality: High, Zone: ZoneClinical}
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
	tenants, assets := benchScale()
	vendors := enrich.MustLoadVendors()
	cat := catalogue(vendors)
	ts, inv := benchInventories(tenants, assets, cat)
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
	var times []time.Duration
	matched := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a := &advs[i%len(advs)]
		t0 := time.Now()
		alerts := ix.Match(a)
		times = append(times, time.Since(t0))
		for _, al := range alerts {
			matched += len(al.Assets)
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	b.ReportMetric(build.Seconds(), "build-s")
	b.ReportMetric(update.Seconds(), "update-one-tenant-s")
	b.ReportMetric(indexMB, "index-MB")
	b.ReportMetric(before, "inventory-MB")
	b.ReportMetric(float64(times[len(times)/2].Microseconds()), "match-median-µs")
	b.ReportMetric(float64(matched)/float64(b.N), "assets/advisory")
	runtime.KeepAlive(inv)
}

func ctx() context.Context { return context.Background() }
