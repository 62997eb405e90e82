package kev

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

var fetched = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

func TestParseCatalog(t *testing.T) {
	data, err := os.ReadFile("testdata/catalog.json")
	if err != nil {
		t.Fatal(err)
	}
	advs, itemErrs, err := Parse("cisa-kev", data, fetched)
	if err != nil {
		t.Fatal(err)
	}
	if len(advs) != 2 || len(itemErrs) != 1 || !strings.Contains(itemErrs[0].Error(), "vulnerabilities[2]") {
		t.Fatalf("%d advisories, errors %v", len(advs), itemErrs)
	}
	a := advs[0]
	if a.ID != "CVE-2026-50002" || !a.KEV || a.KEVEntry.DateAdded != "2026-11-19" || a.KEVEntry.DueDate != "2026-12-10" {
		t.Fatalf("entry %+v", a)
	}
	if p := a.Products[0]; p.Vendor != "Example Infusion" || p.Name != "FlowMaster 3000" || p.Status != "known_affected" {
		t.Fatalf("product %+v", p)
	}
	if len(a.References) != 2 || advs[1].KEVEntry.Ransomware != "Known" {
		t.Fatalf("references %v, ransomware %q", a.References, advs[1].KEVEntry.Ransomware)
	}
	// The same entry gives the same revision; a changed one a new revision.
	again, _, _ := Parse("cisa-kev", data, fetched.Add(time.Hour))
	if again[0].Revision != a.Revision {
		t.Fatal("revision not stable")
	}
	changed, _, _ := Parse("cisa-kev", []byte(strings.Replace(string(data), `"knownRansomwareCampaignUse": "Unknown"`, `"knownRansomwareCampaignUse": "Known"`, 1)), fetched)
	if changed[0].Revision == a.Revision {
		t.Fatal("changed entry kept its revision")
	}
}

func TestNotKEV(t *testing.T) {
	if _, _, err := Parse("s", []byte(`{"document":{}}`), fetched); !errors.Is(err, ErrNotKEV) {
		t.Fatalf("err %v", err)
	}
}

func TestCorpusCatalog(t *testing.T) {
	data, err := os.ReadFile("../../../shared/corpus/kev/known_exploited_vulnerabilities.json")
	if err != nil {
		t.Skipf("corpus not present: %v", err)
	}
	advs, itemErrs, err := Parse("cisa-kev", data, fetched)
	if err != nil || len(itemErrs) != 0 {
		t.Fatal(err, itemErrs)
	}
	if n := strings.Count(string(data), `"cveID"`); len(advs) != n {
		t.Fatalf("%d advisories from %d entries", len(advs), n)
	}
}
