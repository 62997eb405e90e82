package cve5

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

var fetched = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

func TestParseRecord(t *testing.T) {
	data, err := os.ReadFile("testdata/record.json")
	if err != nil {
		t.Fatal(err)
	}
	advs, _, err := Parse("cve", data, fetched)
	if err != nil {
		t.Fatal(err)
	}
	a := advs[0]
	if a.ID != "CVE-2026-70001" || a.Revision != "2026-11-15T12:30:00.000Z" || a.Severity.Score != 8.8 || a.Severity.CVSSVersion != "3.1" {
		t.Fatalf("advisory %+v severity %+v", a, a.Severity)
	}
	if len(a.Vulnerabilities[0].Scores) != 2 || a.Vulnerabilities[0].CWEs[0] != "CWE-798" {
		t.Fatalf("vulnerability %+v", a.Vulnerabilities[0])
	}
	want := [][]string{{"known_affected", ">=3.0 <3.4.2", "<=2.9"}, {"known_not_affected", "=3.4.2"}, {"known_affected", "*"}}
	if len(a.Products) != 3 {
		t.Fatalf("products %+v", a.Products)
	}
	for i, w := range want {
		p := a.Products[i]
		if p.Status != w[0] || !reflect.DeepEqual(p.Versions, w[1:]) {
			t.Errorf("product %d = %+v, want %v", i, p, w)
		}
	}
}

func TestArrayAndRejected(t *testing.T) {
	rec, _ := os.ReadFile("testdata/record.json")
	rejected := strings.Replace(string(rec), `"PUBLISHED"`, `"REJECTED"`, 1)
	advs, itemErrs, err := Parse("cve", []byte("["+string(rec)+","+rejected+"]"), fetched)
	if err != nil || len(advs) != 1 || len(itemErrs) != 1 || !errors.Is(itemErrs[0], ErrRejected) {
		t.Fatalf("advs %d errs %v err %v", len(advs), itemErrs, err)
	}
	if _, _, err := Parse("cve", []byte(rejected), fetched); !errors.Is(err, ErrRejected) {
		t.Fatalf("single rejected: %v", err)
	}
	if _, _, err := Parse("cve", []byte(`{"x":1}`), fetched); !errors.Is(err, ErrNotCVE5) {
		t.Fatalf("not a record: %v", err)
	}
}
