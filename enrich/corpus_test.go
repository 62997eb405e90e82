package enrich

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/feeds"
)

func corpusAdvisories(t testing.TB, glob, format string) []advisory.Advisory {
	files, _ := filepath.Glob(filepath.Join("..", "..", "shared", "corpus", glob))
	if len(files) == 0 {
		t.Skipf("corpus not present (%s)", glob)
	}
	var out []advisory.Advisory
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		res, err := feeds.Parse(format, "corpus", data, time.Now())
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, res.Advisories...)
	}
	return out
}

// TestCorpusMedicalAdvisories: every ICSMA document gets a medical vendor
// id and a device category (not general IT).
func TestCorpusMedicalAdvisories(t *testing.T) {
	e := New(MustLoadVendors(), nil)
	advs := corpusAdvisories(t, "csaf/icsma/*.json", feeds.FormatCSAF)
	var scores []int
	for _, a := range advs {
		out := enrichOne(t, e, a)
		en := out.Enrichment
		vd, ok := e.vendors.Get(en.VendorID)
		if !ok || !vd.Healthcare() {
			t.Errorf("%s %q: vendor %q (%v)", a.ID, a.Title, en.VendorID, productVendors(a))
		}
		if len(en.Categories) == 0 || en.Categories[0].ID == CatGeneralIT {
			t.Errorf("%s %q: no device category: %+v", a.ID, a.Title, en.Categories)
		}
		scores = append(scores, en.Relevance.Score)
	}
	sort.Ints(scores)
	t.Logf("%d ICSMA advisories: relevance min %d, median %d", len(scores), scores[0], scores[len(scores)/2])
	if scores[0] < 70 {
		t.Errorf("lowest ICSMA relevance %d", scores[0])
	}
}

// TestCorpusNonMedicalScoreLower: industrial and IT advisories score
// clearly below the medical ones.
func TestCorpusNonMedicalScoreLower(t *testing.T) {
	e := New(MustLoadVendors(), nil)
	var nonMedical []advisory.Advisory
	nonMedical = append(nonMedical, corpusAdvisories(t, "csaf/vendor/*.json", feeds.FormatCSAF)...)
	nonMedical = append(nonMedical, corpusAdvisories(t, "feeds/siemens-productcert-advisories-2025-03-13.atom", feeds.FormatRSS)...)
	var high []string
	total := 0
	for _, a := range nonMedical {
		out := enrichOne(t, e, a)
		s := out.Enrichment.Relevance.Score
		total += s
		if s >= 50 {
			high = append(high, a.Title+": "+strings.Join(out.Enrichment.Relevance.Reasons, "; "))
		}
	}
	mean := float64(total) / float64(len(nonMedical))
	t.Logf("%d non-medical advisories: mean relevance %.1f, %d at 50 or more", len(nonMedical), mean, len(high))
	if mean > 30 || float64(len(high)) > 0.02*float64(len(nonMedical)) {
		t.Errorf("non-medical advisories score too high (mean %.1f); at 50+:\n%s", mean, strings.Join(high, "\n"))
	}
}

func productVendors(a advisory.Advisory) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range a.Products {
		if !seen[p.Vendor] {
			seen[p.Vendor] = true
			out = append(out, p.Vendor)
		}
	}
	return out
}
