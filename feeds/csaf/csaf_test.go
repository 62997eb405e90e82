package csaf

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vigilhealth/vigil/advisory"
)

var fetched = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

func parseFile(t testing.TB, path string) advisory.Advisory {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Parse("fixture", data, fetched)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return a
}

func TestParseFixture(t *testing.T) {
	a := parseFile(t, "testdata/infusion-pump.json")
	if a.ID != "VHC-2026-0042" || a.Revision != "2" || a.Status != "final" || a.TLP != advisory.TLPClear {
		t.Fatalf("tracking: %+v", a)
	}
	if !a.Published.Equal(time.Date(2026, 10, 1, 8, 0, 0, 0, time.UTC)) || !a.Updated.Equal(time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)) {
		t.Fatalf("dates %v %v", a.Published, a.Updated)
	}
	if a.URL != "https://health-cert.example/csaf/vhc-2026-0042.json" {
		t.Fatalf("self url %q", a.URL)
	}
	if !reflect.DeepEqual(a.CVEs, []string{"CVE-2026-50001", "CVE-2026-50002"}) {
		t.Fatalf("cves %v", a.CVEs)
	}
	if a.Severity == nil || a.Severity.Score != 9.1 || a.Severity.CVSSVersion != "3.1" {
		t.Fatalf("severity %+v", a.Severity)
	}
	got := map[string]advisory.Product{}
	for _, p := range a.Products {
		got[p.ID+"/"+p.Status] = p
	}
	want := map[string]advisory.Product{
		"VP-1/known_affected":     {ID: "VP-1", Vendor: "Example Infusion GmbH", Name: "FlowMaster 3000", Versions: []string{"<4.2"}, Status: "known_affected", CVEs: []string{"CVE-2026-50001", "CVE-2026-50002"}, Models: []string{"FM-3000"}},
		"VP-2/fixed":              {ID: "VP-2", Vendor: "Example Infusion GmbH", Name: "FlowMaster 3000", Versions: []string{"=4.2"}, Status: "fixed", CVEs: []string{"CVE-2026-50001", "CVE-2026-50002"}, Models: []string{"FM-3000"}},
		"VP-3/known_not_affected": {ID: "VP-3", Vendor: "Example Infusion GmbH", Name: "FlowMaster Lite", Versions: []string{"*"}, Status: "known_not_affected", CVEs: []string{"CVE-2026-50001"}},
		"VP-3/known_affected":     {ID: "VP-3", Vendor: "Example Infusion GmbH", Name: "FlowMaster Lite", Versions: []string{"*"}, Status: "known_affected", CVEs: []string{"CVE-2026-50002"}},
		"VP-4/known_affected":     {ID: "VP-4", Vendor: "Example Infusion GmbH", Name: "Dose Library Manager (installed on Windows Server 2019)", Versions: []string{"<=7.1"}, Status: "known_affected", CVEs: []string{"CVE-2026-50002"}},
		"WS-2019/":                {ID: "WS-2019", Name: "Windows Server 2019"},
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || !reflect.DeepEqual(g, w) {
			t.Errorf("product %s:\n got %+v\nwant %+v", k, g, w)
		}
	}
	if len(a.Vulnerabilities) != 2 || a.Vulnerabilities[0].CWEs[0] != "CWE-306" {
		t.Fatalf("vulnerabilities %+v", a.Vulnerabilities)
	}
	rems := a.Vulnerabilities[0].Remediations
	if len(rems) != 2 || rems[0].Category != "vendor_fix" || !reflect.DeepEqual(rems[1].ProductIDs, []string{"VP-1", "VP-3"}) {
		t.Fatalf("remediations (group ids expanded) %+v", rems)
	}
}

func TestNotCSAFAndBrokenJSON(t *testing.T) {
	if _, err := Parse("s", []byte(`{"catalogVersion":"x"}`), fetched); err == nil || !strings.Contains(err.Error(), "not a CSAF document") {
		t.Fatalf("err %v", err)
	}
	_, err := Parse("s", []byte("{\n  \"document\": {\n    \"title\": 3\n  }\n}"), fetched)
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("type error without position: %v", err)
	}
	_, err = Parse("s", []byte("{\n \"document\": {,\n}"), fetched)
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("syntax error without position: %v", err)
	}
}

var cveRE = regexp.MustCompile(`"cve"\s*:\s*"(CVE-\d{4}-\d+)"`)
var nameRE = regexp.MustCompile(`"category"\s*:\s*"(vendor|product_name)",\s*"name"\s*:\s*"((?:[^"\\]|\\.)*)"`)

// TestCorpus parses every real CSAF document in ../shared/corpus: each
// parses, every vulnerability's CVE is extracted, and every vendor and
// product name of the product tree appears in the output.
func TestCorpus(t *testing.T) {
	files, _ := filepath.Glob("../../../shared/corpus/csaf/*/*.json")
	if len(files) == 0 {
		t.Skip("corpus not present")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		a, err := Parse("corpus", data, fetched)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		for _, m := range cveRE.FindAllStringSubmatch(string(data), -1) {
			if !contains(a.CVEs, m[1]) {
				t.Errorf("%s: %s not extracted", filepath.Base(f), m[1])
			}
		}
		var text strings.Builder
		for _, p := range a.Products {
			text.WriteString(p.Vendor + "\x00" + p.Name + "\x00")
		}
		for _, m := range nameRE.FindAllStringSubmatch(string(data), -1) {
			name := strings.TrimSpace(strings.ReplaceAll(m[2], `\"`, `"`))
			if !strings.Contains(text.String(), name) {
				t.Errorf("%s: %s %q not in output", filepath.Base(f), m[1], name)
			}
		}
		if a.ID == "" || a.Revision == "" || a.Published.IsZero() || len(a.Products) == 0 {
			t.Errorf("%s: incomplete: id %q rev %q published %v products %d", filepath.Base(f), a.ID, a.Revision, a.Published, len(a.Products))
		}
	}
	t.Logf("%d CSAF documents", len(files))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
