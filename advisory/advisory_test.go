package advisory

import (
	"reflect"
	"testing"
)

func TestExtractCVEs(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"none", []string{"no identifiers here"}, []string{}},
		{"mixed case and duplicates", []string{"cve-2024-1234 and CVE-2024-1234; CVE-2023-45678"}, []string{"CVE-2023-45678", "CVE-2024-1234"}},
		{"seven digit sequence", []string{"(CVE-2021-1234567)"}, []string{"CVE-2021-1234567"}},
		{"too short is not an id", []string{"CVE-2021-123"}, []string{}},
		{"across texts", []string{"CVE-2020-0001", "see CVE-2019-9999"}, []string{"CVE-2019-9999", "CVE-2020-0001"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ExtractCVEs(tt.in...)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ExtractCVEs(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestContentRevisionStable(t *testing.T) {
	a := ContentRevision("title", "body")
	if a != ContentRevision("title", "body") {
		t.Fatal("same content gave different revisions")
	}
	if a == ContentRevision("titleb", "ody") {
		t.Fatal("part boundaries are not part of the hash")
	}
}

func TestIdentity(t *testing.T) {
	a := Advisory{Source: "cisa-icsma", ID: "ICSMA-24-001-01", Revision: "2"}
	if a.Key() != "cisa-icsma/ICSMA-24-001-01" || a.MsgID() != "cisa-icsma/ICSMA-24-001-01/2" {
		t.Fatalf("key %q msgid %q", a.Key(), a.MsgID())
	}
}
