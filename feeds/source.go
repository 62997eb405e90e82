// Package feeds is the catalogue of advisory sources and, in subpackages, one
// parser per format.
package feeds

import (
	_ "embed"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vigilhealth/vigil/internal/bus"
)

// Kinds of source.
const (
	KindRSS  = "rss"  // one RSS 2.0, Atom, RDF or JSON Feed document
	KindKEV  = "kev"  // the CISA KEV catalogue
	KindCVE5 = "cve5" // one CVE JSON 5 document (record or array)
	KindNVD  = "nvd"  // the NVD CVE API 2.0, polled by lastModified windows
	KindCSAF = "csaf" // a CSAF provider: provider-metadata.json URL or domain
)

// Kinds lists the kinds a source may have.
var Kinds = []string{KindRSS, KindKEV, KindCVE5, KindNVD, KindCSAF}

// Source is one feed Vigil polls.
type Source struct {
	Name      string        `json:"name"`
	Kind      string        `json:"kind"`
	URL       string        `json:"url"`
	Interval  time.Duration `json:"interval,omitempty"`
	Publisher string        `json:"publisher,omitempty"`
	Language  string        `json:"language,omitempty"`
	Disabled  bool          `json:"disabled,omitempty"`
	// Internal allows a URL on a loopback or private address.
	Internal bool `json:"internal,omitempty"`
}

// Validate names the field at fault.
func (s Source) Validate() error {
	if err := bus.ValidToken(s.Name); err != nil {
		return fmt.Errorf("source name: %w", err)
	}
	known := false
	for _, k := range Kinds {
		known = known || s.Kind == k
	}
	if !known {
		return fmt.Errorf("source %s: kind %q is not supported (supported: %s)", s.Name, s.Kind, strings.Join(Kinds, ", "))
	}
	if s.Kind == KindCSAF && !strings.Contains(s.URL, "/") && strings.Contains(s.URL, ".") {
		return nil // a provider's domain: well-known path, then security.txt
	}
	u, err := url.Parse(s.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("source %s: url %q is not an http(s) URL", s.Name, s.URL)
	}
	if s.Kind == KindCSAF && u.Scheme != "https" {
		return fmt.Errorf("source %s: url %q: CSAF providers are reached over https only", s.Name, s.URL)
	}
	if s.Interval != 0 && s.Interval < time.Second {
		return fmt.Errorf("source %s: interval %s is below 1s", s.Name, s.Interval)
	}
	return nil
}

//go:embed catalogue.yaml
var catalogueYAML []byte

type sourceFile struct {
	Sources []sourceEntry `yaml:"sources"`
}

// sourceEntry is a Source as written in YAML, where an override may leave
// fields out.
type sourceEntry struct {
	Name      string `yaml:"name"`
	Kind      string `yaml:"kind"`
	URL       string `yaml:"url"`
	Interval  string `yaml:"interval"`
	Publisher string `yaml:"publisher"`
	Language  string `yaml:"language"`
	Disabled  *bool  `yaml:"disabled"`
	Internal  *bool  `yaml:"internal"`
}

// Catalogue returns the built-in sources.
func Catalogue() ([]Source, error) {
	return merge(nil, catalogueYAML, "built-in catalogue")
}

// Load returns the built-in catalogue with the file at path applied on top:
// an entry with a known name overrides the fields it gives, a new name adds a
// source, `disabled: true` turns one off. An empty path gives the catalogue.
func Load(path string) ([]Source, error) {
	srcs, err := Catalogue()
	if err != nil {
		return nil, err
	}
	if path == "" {
		return srcs, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("feeds file: %w", err)
	}
	return merge(srcs, data, path)
}

// ParseSources reads a sources file on its own, without the catalogue.
func ParseSources(data []byte, name string) ([]Source, error) { return merge(nil, data, name) }

func merge(base []Source, data []byte, name string) ([]Source, error) {
	var f sourceFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	byName := map[string]*Source{}
	out := append([]Source(nil), base...)
	for i := range out {
		byName[out[i].Name] = &out[i]
	}
	for i, e := range f.Sources {
		where := fmt.Sprintf("%s: sources[%d]", name, i)
		s, known := byName[e.Name]
		if !known {
			s = &Source{Name: e.Name, Kind: KindRSS}
		}
		if e.Kind != "" {
			s.Kind = e.Kind
		}
		if e.URL != "" {
			s.URL = e.URL
		}
		if e.Interval != "" {
			d, err := time.ParseDuration(e.Interval)
			if err != nil {
				return nil, fmt.Errorf("%s (%s): interval: %w", where, e.Name, err)
			}
			s.Interval = d
		}
		if e.Publisher != "" {
			s.Publisher = e.Publisher
		}
		if e.Language != "" {
			s.Language = e.Language
		}
		if e.Disabled != nil {
			s.Disabled = *e.Disabled
		}
		if e.Internal != nil {
			s.Internal = *e.Internal
		}
		if err := s.Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if !known {
			out = append(out, *s)
			byName[s.Name] = &out[len(out)-1]
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Enabled filters out disabled sources.
func Enabled(srcs []Source) []Source {
	var out []Source
	for _, s := range srcs {
		if !s.Disabled {
			out = append(out, s)
		}
	}
	return out
}
