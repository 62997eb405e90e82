package nvd

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

var fetched = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

func TestParsePage(t *testing.T) {
	data, err := os.ReadFile("testdata/page.json")
	if err != nil {
		t.Fatal(err)
	}
	advs, page, itemErrs, err := Parse("nvd", data, fetched)
	if err != nil || len(itemErrs) != 0 {
		t.Fatal(err, itemErrs)
	}
	if page.Next() != 2 || (Page{StartIndex: 2, ResultsPerPage: 2, TotalResults: 3}).Next() != -1 {
		t.Fatalf("paging %+v next %d", page, page.Next())
	}
	a := advs[0]
	if a.ID != "CVE-2026-60001" || a.Revision != "2026-11-18T09:00:00.133" || !a.KEV || a.Severity.Score != 9.8 {
		t.Fatalf("advisory %+v", a)
	}
	if a.Title != "CVE-2026-60001: Example PACS Server before 8.2 allows unauthenticated DICOM C-STORE" {
		t.Fatalf("title %q", a.Title)
	}
	if len(a.Products) != 1 {
		t.Fatalf("the non-vulnerable platform became a product: %+v", a.Products)
	}
	p := a.Products[0]
	if p.Vendor != "example imaging" || p.Name != "pacs server" || !reflect.DeepEqual(p.Versions, []string{">=7.0 <8.2", "=6.5"}) {
		t.Fatalf("product %+v", p)
	}
	if b := advs[1]; b.Summary != `A patient portal \& scheduler flaw.` || b.Products[0].Name != "portal & scheduler" || b.Severity != nil {
		t.Fatalf("second %+v", b)
	}
}

func TestParseCPE(t *testing.T) {
	c, ok := ParseCPE(`cpe:2.3:a:themeisle:wp_maintenance_mode_\&_coming_soon:*:*:*:*:*:wordpress:*:*`)
	if !ok || c.Vendor != "themeisle" || c.Product != "wp maintenance mode & coming soon" || c.Version != "*" {
		t.Fatalf("%+v", c)
	}
	if _, ok := ParseCPE("cpe:/a:old:format"); ok {
		t.Fatal("CPE 2.2 accepted")
	}
}

func TestCorpusPages(t *testing.T) {
	for _, f := range []string{"nvd-api-2.0-cves-page.json", "nvd-api-2.0-single-entry.json"} {
		data, err := os.ReadFile("../../../shared/corpus/nvd/" + f)
		if err != nil {
			t.Skipf("corpus not present: %v", err)
		}
		advs, _, itemErrs, err := Parse("nvd", data, fetched)
		if err != nil || len(itemErrs) != 0 {
			t.Fatal(f, err, itemErrs)
		}
		if n := strings.Count(string(data), `"lastModified"`); len(advs) != n {
			t.Fatalf("%s: %d advisories from %d CVEs", f, len(advs), n)
		}
		for _, a := range advs {
			if a.Severity == nil && strings.Contains(string(data), a.ID+`"`) && strings.Contains(string(data), "cvssMetric") && len(advs) == 1 {
				t.Errorf("%s: %s lost its score", f, a.ID)
			}
		}
	}
}
