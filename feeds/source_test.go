package feeds

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCatalogueIsValid(t *testing.T) {
	srcs, err := Catalogue()
	if err != nil {
		t.Fatal(err)
	}
	if len(srcs) < 3 {
		t.Fatalf("catalogue has %d sources", len(srcs))
	}
	for _, s := range srcs {
		if s.Publisher == "" || s.Language == "" || s.Interval < time.Minute || s.Internal {
			t.Errorf("source %s incomplete or too eager: %+v", s.Name, s)
		}
	}
}

func TestFeedsFileOverridesAddsAndDisables(t *testing.T) {
	p := filepath.Join(t.TempDir(), "feeds.yaml")
	body := `sources:
  - name: cisa-ics
    interval: 30m
  - name: cert-fr-avis
    disabled: true
  - name: hospital-intranet
    url: http://10.0.0.5/advisories.rss
    internal: true
`
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	srcs, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]Source{}
	for _, s := range srcs {
		by[s.Name] = s
	}
	if by["cisa-ics"].Interval != 30*time.Minute || by["cisa-ics"].URL == "" {
		t.Errorf("override lost fields: %+v", by["cisa-ics"])
	}
	if !by["cert-fr-avis"].Disabled {
		t.Error("not disabled")
	}
	if s := by["hospital-intranet"]; s.Kind != KindRSS || !s.Internal {
		t.Errorf("added source %+v", s)
	}
	if len(Enabled(srcs)) != len(srcs)-1 {
		t.Error("Enabled kept the disabled source")
	}
}

func TestFeedsFileErrorsNameTheEntry(t *testing.T) {
	tests := map[string]string{
		"sources:\n  - name: Bad Name\n    url: https://x.example/\n":          "sources[0]",
		"sources:\n  - name: ok\n    url: ftp://x.example/\n":                  "not an http(s) URL",
		"sources:\n  - name: ok\n    url: https://x/\n    interval: 5\n":       "interval",
		"sources:\n  - name: ok\n    kind: osv\n    url: https://x/\n":         `kind "osv"`,
		"sources:\n  - name: ok\n    kind: csaf\n    url: http://x.example/\n": "https only",
		"sources: [": "feeds.yaml",
	}
	for body, want := range tests {
		_, err := ParseSources([]byte(body), "feeds.yaml")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) err = %v, want %q", body, err, want)
		}
	}
}
