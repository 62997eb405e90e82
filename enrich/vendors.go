// Package enrich tells what an advisory concerns and how much it matters to
// a hospital: canonical vendors (whatever the spelling), product keys,
// device categories, healthcare relevance and patient safety, severity
// from CVSS vectors, KEV status, and the cluster of advisories about one
// vulnerability.
package enrich

import (
	_ "embed"
	"encoding/json"
	"fmt"
)

// Vendor kinds.
const (
	KindMedical  = "medical"   // medical-device makers
	KindHealthIT = "health-it" // clinical and hospital software
	KindIT       = "it"        // general IT
	KindOT       = "ot"        // building, facility and industrial OT
)

// Vendor is a canonical vendor with the names it is known by.
type Vendor struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Kind    string   `json:"kind"`
	Aliases []string `json:"aliases"`
	// Former are former names and acquired companies, reported as such.
	Former []string `json:"former"`
	// FieldOnly are names too generic to look for in free text ("Axis",
	// "Progress"); they resolve only in vendor fields.
	FieldOnly []string `json:"field_only"`
	// Category is what the vendor mainly makes, used when an advisory
	// names no device category itself.
	Category string `json:"category,omitempty"`
}

// Healthcare reports whether the vendor makes medical devices or clinical IT.
func (v Vendor) Healthcare() bool { return v.Kind == KindMedical || v.Kind == KindHealthIT }

//go:embed vendors.json
var vendorsJSON []byte

// Vendors resolves vendor names and finds vendors in free text.
type Vendors struct {
	byID    map[string]*Vendor
	byAlias map[string]aliasRef // normalised alias -> vendor
	// maxTokens is the longest alias in tokens, bounding the text scan.
	maxTokens int
	// prefixes are each vendor's normalised names, the longest first: what
	// NormalizeProduct strips from a product name.
	prefixes map[string][]string
}

type aliasRef struct {
	vendor    *Vendor
	alias     string
	former    bool
	fieldOnly bool
}

// LoadVendors reads the embedded vendor table.
func LoadVendors() (*Vendors, error) { return parseVendors(vendorsJSON) }

func parseVendors(data []byte) (*Vendors, error) {
	var list []*Vendor
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("vendors.json: %w", err)
	}
	v := &Vendors{byID: map[string]*Vendor{}, byAlias: map[string]aliasRef{}, prefixes: map[string][]string{}}
	for i, vd := range list {
		if vd.ID == "" || vd.Name == "" {
			return nil, fmt.Errorf("vendors.json: entry %d: id and name are required", i)
		}
		switch vd.Kind {
		case KindMedical, KindHealthIT, KindIT, KindOT:
		default:
			return nil, fmt.Errorf("vendors.json: %s: kind %q is not medical, health-it, it or ot", vd.ID, vd.Kind)
		}
		if _, dup := v.byID[vd.ID]; dup {
			return nil, fmt.Errorf("vendors.json: entry %d: duplicate id %q", i, vd.ID)
		}
		v.byID[vd.ID] = vd
		v.prefixes[vd.ID] = vd.normalizedNames()
		add := func(a string, former, fieldOnly bool) error {
			n := Normalize(a)
			if n == "" {
				return nil
			}
			if prev, ok := v.byAlias[n]; ok {
				if prev.vendor.ID != vd.ID {
					return fmt.Errorf("vendors.json: %q of %s already names %s", a, vd.ID, prev.vendor.ID)
				}
				return nil // the first spelling (the display name) is the one reported
			}
			v.byAlias[n] = aliasRef{vendor: vd, alias: a, former: former, fieldOnly: fieldOnly}
			if t := len(tokens(n)); t > v.maxTokens {
				v.maxTokens = t
			}
			return nil
		}
		for _, a := range append([]string{vd.Name}, vd.Aliases...) {
			if err := add(a, false, false); err != nil {
				return nil, err
			}
		}
		for _, a := range vd.Former {
			if err := add(a, true, false); err != nil {
				return nil, err
			}
		}
		for _, a := range append([]string{vd.ID}, vd.FieldOnly...) {
			if _, ok := v.byAlias[Normalize(a)]; ok {
				continue // the id often equals a name already added
			}
			if err := add(a, false, true); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

// LoadVendorsWith reads the embedded table plus extra entries (a JSON
// array in the same format): for a site's own vendors, and for tests.
func LoadVendorsWith(extra []byte) (*Vendors, error) {
	var base, more []json.RawMessage
	if err := json.Unmarshal(vendorsJSON, &base); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(extra, &more); err != nil {
		return nil, fmt.Errorf("extra vendors: %w", err)
	}
	all, err := json.Marshal(append(base, more...))
	if err != nil {
		return nil, err
	}
	return parseVendors(all)
}

// MustLoadVendors is LoadVendors for the embedded table, which tests keep valid.
func MustLoadVendors() *Vendors {
	v, err := LoadVendors()
	if err != nil {
		panic(err)
	}
	return v
}

// Len is the number of vendors.
func (v *Vendors) Len() int { return len(v.byID) }

// Get returns a vendor by canonical id.
func (v *Vendors) Get(id string) (Vendor, bool) {
	vd, ok := v.byID[id]
	if !ok {
		return Vendor{}, false
	}
	return *vd, true
}

// Resolution is how a name resolved.
type Resolution struct {
	Vendor *Vendor
	Alias  string // the table's spelling that matched
	Former bool   // a former name or an acquired company
}

// Resolve returns the vendor a name means (case, punctuation, diacritics
// and legal suffixes ignored). It does not allocate for names up to 128
// bytes.
func (v *Vendors) Resolve(name string) (Resolution, bool) {
	var buf [128]byte
	n := normalizeAppend(buf[:0], name, true)
	r, ok := v.byAlias[string(n)]
	if !ok {
		return Resolution{}, false
	}
	return Resolution{Vendor: r.vendor, Alias: r.alias, Former: r.former}, true
}

// Mention is a vendor found in text.
type Mention struct {
	Resolution
	Start, End int // token positions in the normalised text
}

// Find returns the vendors mentioned in normalised text (see Normalize),
// each once, scanning token by token and preferring the longest alias at
// each position, so "siemens healthineers" is not also "siemens".
func (v *Vendors) Find(norm string) []Mention {
	var out []Mention
	var seen [8]*Vendor
	nseen := 0
	starts := tokenStarts(norm)
	for i := 0; i < len(starts); i++ {
		for n := min(v.maxTokens, len(starts)-i); n >= 1; n-- {
			end := len(norm)
			if i+n < len(starts) {
				end = starts[i+n] - 1
			}
			r, ok := v.byAlias[norm[starts[i]:end]]
			if !ok || r.fieldOnly {
				continue
			}
			dup := false
			for _, s := range seen[:nseen] {
				dup = dup || s == r.vendor
			}
			if !dup {
				out = append(out, Mention{Resolution: Resolution{Vendor: r.vendor, Alias: r.alias, Former: r.former}, Start: i, End: i + n})
				if nseen < len(seen) {
					seen[nseen] = r.vendor
					nseen++
				}
			}
			i += n - 1
			break
		}
	}
	return out
}

// tokenStarts returns the byte offset of each token of a normalised string.
func tokenStarts(norm string) []int {
	if norm == "" {
		return nil
	}
	starts := make([]int, 1, 32)
	for i := 0; i < len(norm); i++ {
		if norm[i] == ' ' {
			starts = append(starts, i+1)
		}
	}
	return starts
}
