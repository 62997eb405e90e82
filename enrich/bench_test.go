package enrich

import (
	"testing"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/feeds"
)

// typical is a mix of real advisories: CSAF documents (long summaries,
// product trees) and feed items (a title and a paragraph).
func typical(b *testing.B) []advisory.Advisory {
	var out []advisory.Advisory
	out = append(out, corpusAdvisories(b, "csaf/icsma/*.json", feeds.FormatCSAF)...)
	items := corpusAdvisories(b, "feeds/siemens-productcert-advisories-2025-03-13.atom", feeds.FormatRSS)
	if len(items) > 500 {
		items = items[:500]
	}
	return append(out, items...)
}

func BenchmarkEnrich(b *testing.B) {
	advs := typical(b)
	e := New(MustLoadVendors(), nil)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := e.Enrich(ctx, advs[i%len(advs)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "advisories/s")
}

func BenchmarkResolve(b *testing.B) {
	v := MustLoadVendors()
	names := []string{"GE Healthcare", "B. Braun Melsungen AG", "Becton, Dickinson and Company (BD)", "Dräger", "Acme Widgets Inc."}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		v.Resolve(names[i%len(names)])
	}
}

func BenchmarkFind(b *testing.B) {
	v := MustLoadVendors()
	text := Normalize("Siemens Healthineers syngo.via and GE HealthCare CARESCAPE B450 monitors on the hospital network of B. Braun pumps")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		v.Find(text)
	}
}
