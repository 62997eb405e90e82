package rss

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var fetched = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

func parseFile(t *testing.T, path string) ([]advisoryView, []error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	advs, itemErrs, err := Parse("fixture", f, fetched)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	var out []advisoryView
	for _, a := range advs {
		out = append(out, advisoryView{a.ID, a.Title, a.CVEs, a.Summary, a.Published, a.Revision, a.URL})
	}
	return out, itemErrs
}

type advisoryView struct {
	ID, Title string
	CVEs      []string
	Summary   string
	Published time.Time
	Revision  string
	URL       string
}

func TestParseRSS(t *testing.T) {
	advs, itemErrs := parseFile(t, "testdata/medical.rss.xml")
	if len(advs) != 3 {
		t.Fatalf("got %d advisories, want 3", len(advs))
	}
	if len(itemErrs) != 1 || !errors.Is(itemErrs[0], ErrNoItemIdentity) || !strings.Contains(itemErrs[0].Error(), "feed fixture: item 4") {
		t.Fatalf("item errors %v: want one naming the feed and item 4", itemErrs)
	}
	ge := advs[0]
	if ge.ID != "EHC-2026-0101" || !reflect.DeepEqual(ge.CVEs, []string{"CVE-2026-31001", "CVE-2026-31002"}) {
		t.Fatalf("GE advisory: %+v", ge)
	}
	if strings.Contains(ge.Summary, "<") || !strings.Contains(ge.Summary, "prior to 2.1") {
		t.Fatalf("summary not cleaned: %q", ge.Summary)
	}
	if !ge.Published.Equal(time.Date(2026, 11, 10, 14, 0, 0, 0, time.UTC)) {
		t.Fatalf("published %v", ge.Published)
	}
	if advs[1].Title != "Baxter Sigma Spectrum Infusion System & WBM: Cleartext Transmission" {
		t.Fatalf("entity not decoded in title: %q", advs[1].Title)
	}
	if advs[2].ID != "https://cert.example-health.org/advisories/EHC-2026-0103" || len(advs[2].CVEs) != 0 {
		t.Fatalf("item without guid should be identified by its link: %+v", advs[2])
	}
}

func TestParseAtomUsesUpdatedAsRevision(t *testing.T) {
	advs, _ := parseFile(t, "testdata/bulletins.atom")
	if len(advs) != 1 {
		t.Fatalf("got %d advisories", len(advs))
	}
	a := advs[0]
	if a.Revision != "2026-11-15T10:00:00Z" || a.URL != "https://health-cert.example/bulletins/2026-044" {
		t.Fatalf("atom entry: %+v", a)
	}
	if !reflect.DeepEqual(a.CVEs, []string{"CVE-2026-40404"}) || !strings.Contains(a.Summary, "EC40 & EC80") {
		t.Fatalf("atom entry content: %+v", a)
	}
}

func TestRevisionFollowsContent(t *testing.T) {
	doc := func(desc string) string {
		return `<rss version="2.0"><channel><title>x</title><item><title>T</title><guid>g1</guid><description>` + desc + `</description></item></channel></rss>`
	}
	a1, _, err := Parse("s", strings.NewReader(doc("first")), fetched)
	if err != nil {
		t.Fatal(err)
	}
	a2, _, _ := Parse("s", strings.NewReader(doc("first")), fetched.Add(time.Hour))
	a3, _, _ := Parse("s", strings.NewReader(doc("edited")), fetched)
	if a1[0].Revision != a2[0].Revision {
		t.Fatal("same content, different revision")
	}
	if a1[0].Revision == a3[0].Revision {
		t.Fatal("edited content kept its revision")
	}
}

func TestMalformedFeedNamesSource(t *testing.T) {
	f, err := os.Open("testdata/truncated.rss.xml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, _, err = Parse("cert-example", f, fetched)
	if err == nil || !strings.Contains(err.Error(), "feed cert-example") {
		t.Fatalf("err = %v, want one naming the source", err)
	}
	_, _, err = Parse("cert-example", strings.NewReader("this is not a feed"), fetched)
	if err == nil {
		t.Fatal("plain text parsed as a feed")
	}
}

// TestCorpusFeeds parses the real feeds in ../shared/corpus: every item
// becomes an advisory and every CVE id in the raw text is extracted.
func TestCorpusFeeds(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "corpus", "feeds")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Skipf("corpus not present: %v", err)
	}
	for _, e := range entries {
		t.Run(e.Name(), func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			advs, itemErrs, err := Parse("corpus", strings.NewReader(string(raw)), fetched)
			if err != nil {
				t.Fatal(err)
			}
			if len(advs) == 0 || len(itemErrs) != 0 {
				t.Fatalf("%d advisories, item errors %v", len(advs), itemErrs)
			}
			found := map[string]bool{}
			for _, a := range advs {
				for _, c := range a.CVEs {
					found[c] = true
				}
			}
			for _, c := range extractAll(string(raw)) {
				if !found[c] {
					t.Errorf("%s in the raw feed is in no advisory", c)
				}
			}
			t.Logf("%d advisories, %d distinct CVEs", len(advs), len(found))
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/medical.rss.xml", "testdata/bulletins.atom", "testdata/truncated.rss.xml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		advs, _, err := Parse("fuzz", strings.NewReader(string(data)), fetched)
		if err != nil {
			return
		}
		for _, a := range advs {
			if a.ID == "" || a.Revision == "" || a.Source != "fuzz" {
				t.Fatalf("advisory without identity: %+v", a)
			}
		}
	})
}
