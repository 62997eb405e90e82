package feeds

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// conformance lists each format's fixtures: every parser runs the same suite.
var conformance = map[string][]string{
	FormatRSS:  {"rss/testdata/medical.rss.xml", "rss/testdata/bulletins.atom"},
	FormatCSAF: {"csaf/testdata/infusion-pump.json"},
	FormatKEV:  {"kev/testdata/catalog.json"},
	FormatCVE5: {"cve5/testdata/record.json"},
	FormatNVD:  {"nvd/testdata/page.json"},
}

var cveID = regexp.MustCompile(`^CVE-\d{4}-\d{4,7}$`)

func TestConformance(t *testing.T) {
	fetched := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	for _, format := range Formats {
		for _, path := range conformance[format] {
			t.Run(format+"/"+filepath.Base(path), func(t *testing.T) {
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if got, err := Detect(data); err != nil || got != format {
					t.Fatalf("Detect = %q, %v; want %q", got, err, format)
				}
				res, err := Parse("auto", "conformance", data, fetched)
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Advisories) == 0 {
					t.Fatal("no advisories")
				}
				seen := map[string]bool{}
				for _, a := range res.Advisories {
					if a.Source != "conformance" || a.ID == "" || a.Revision == "" || a.Title == "" || a.Schema == 0 {
						t.Errorf("advisory without identity: %+v", a)
					}
					if a.Published.IsZero() || a.Updated.Before(a.Published) {
						t.Errorf("%s: published %v updated %v", a.ID, a.Published, a.Updated)
					}
					if seen[a.MsgID()] {
						t.Errorf("%s: twice in one document", a.MsgID())
					}
					seen[a.MsgID()] = true
					for _, c := range a.CVEs {
						if !cveID.MatchString(c) {
							t.Errorf("%s: malformed CVE id %q", a.ID, c)
						}
					}
					for _, p := range a.Products {
						if p.Name == "" {
							t.Errorf("%s: product without name: %+v", a.ID, p)
						}
					}
				}
				// Deterministic: parsing again gives the same revisions.
				again, _ := Parse(format, "conformance", data, fetched.Add(time.Hour))
				for i := range again.Advisories {
					if again.Advisories[i].MsgID() != res.Advisories[i].MsgID() {
						t.Errorf("revision changed between parses: %s vs %s", again.Advisories[i].MsgID(), res.Advisories[i].MsgID())
					}
				}
				// Truncated input is an error naming the source, never a panic.
				if _, err := Parse(format, "conformance", data[:len(data)/2], fetched); err == nil && format != FormatRSS {
					t.Error("half a document parsed without error")
				} else if err != nil && !strings.Contains(err.Error(), "conformance") {
					t.Errorf("error does not name the source: %v", err)
				}
				if _, err := Parse(format, "conformance", nil, fetched); err == nil {
					t.Error("empty input parsed without error")
				}
			})
		}
	}
}

func TestDetectUnknown(t *testing.T) {
	for _, in := range []string{"", "hello", `{"foo": 1}`, "\x00\x01"} {
		if _, err := Detect([]byte(in)); !errors.Is(err, ErrUnknownFormat) {
			t.Errorf("Detect(%q) err %v", in, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, paths := range conformance {
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Parse("auto", "fuzz", data, time.Unix(0, 0))
		if err != nil {
			return
		}
		for _, a := range res.Advisories {
			if a.ID == "" || a.Revision == "" {
				t.Fatalf("%s advisory without identity: %+v", res.Format, a)
			}
		}
	})
}
