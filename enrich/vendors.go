// Package enrich adds what the matcher needs to an advisory: canonical
// vendors (whatever the spelling) and the CVE ids it mentions.
package enrich

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode"
)

// Vendor is a canonical vendor with the names it is known by.
type Vendor struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Aliases []string `json:"aliases"`
}

//go:embed vendors.json
var vendorsJSON []byte

// Vendors resolves vendor names and finds vendors in free text.
type Vendors struct {
	byID    map[string]Vendor
	byAlias map[string]aliasRef // normalised alias -> vendor
	// aliases sorted longest first, so "siemens healthineers" wins over "siemens".
	ordered []string
}

type aliasRef struct {
	vendorID string
	alias    string
}

// LoadVendors reads the embedded vendor table.
func LoadVendors() (*Vendors, error) {
	var list []Vendor
	if err := json.Unmarshal(vendorsJSON, &list); err != nil {
		return nil, fmt.Errorf("vendors.json: %w", err)
	}
	v := &Vendors{byID: map[string]Vendor{}, byAlias: map[string]aliasRef{}}
	for i, vd := range list {
		if vd.ID == "" || vd.Name == "" {
			return nil, fmt.Errorf("vendors.json: entry %d: id and name are required", i)
		}
		if _, dup := v.byID[vd.ID]; dup {
			return nil, fmt.Errorf("vendors.json: entry %d: duplicate id %q", i, vd.ID)
		}
		v.byID[vd.ID] = vd
		for _, a := range append([]string{vd.Name, vd.ID}, vd.Aliases...) {
			n := Normalize(a)
			if n == "" {
				continue
			}
			if prev, ok := v.byAlias[n]; ok && prev.vendorID != vd.ID {
				return nil, fmt.Errorf("vendors.json: alias %q of %s already names %s", a, vd.ID, prev.vendorID)
			}
			v.byAlias[n] = aliasRef{vd.ID, a}
		}
	}
	for n := range v.byAlias {
		v.ordered = append(v.ordered, n)
	}
	sort.Slice(v.ordered, func(i, j int) bool {
		if len(v.ordered[i]) != len(v.ordered[j]) {
			return len(v.ordered[i]) > len(v.ordered[j])
		}
		return v.ordered[i] < v.ordered[j]
	})
	return v, nil
}

// MustLoadVendors is LoadVendors for the embedded table, which tests keep valid.
func MustLoadVendors() *Vendors {
	v, err := LoadVendors()
	if err != nil {
		panic(err)
	}
	return v
}

// Get returns a vendor by canonical id.
func (v *Vendors) Get(id string) (Vendor, bool) {
	vd, ok := v.byID[id]
	return vd, ok
}

// Resolve returns the vendor a name means, and the alias it matched.
func (v *Vendors) Resolve(name string) (Vendor, string, bool) {
	r, ok := v.byAlias[Normalize(name)]
	if !ok {
		return Vendor{}, "", false
	}
	return v.byID[r.vendorID], r.alias, true
}

// Mention is a vendor found in text.
type Mention struct {
	Vendor Vendor
	Alias  string // the alias as written in the table
	Text   string // the text it was found in, normalised
}

// Find returns the vendors mentioned in text, each once, longest alias first
// so that a longer name hides the shorter one it contains.
func (v *Vendors) Find(text string) []Mention {
	norm := " " + Normalize(text) + " "
	var out []Mention
	seen := map[string]bool{}
	for _, a := range v.ordered {
		idx := strings.Index(norm, " "+a+" ")
		if idx < 0 {
			continue
		}
		r := v.byAlias[a]
		// Blank the match so "siemens" does not also count inside
		// "siemens healthineers".
		norm = norm[:idx+1] + strings.Repeat("#", len(a)) + norm[idx+1+len(a):]
		if seen[r.vendorID] {
			continue
		}
		seen[r.vendorID] = true
		out = append(out, Mention{Vendor: v.byID[r.vendorID], Alias: r.alias, Text: a})
	}
	return out
}

var legalSuffixes = map[string]bool{
	"inc": true, "incorporated": true, "corp": true, "corporation": true, "co": true, "company": true,
	"gmbh": true, "ag": true, "kg": true, "kgaa": true, "se": true, "ltd": true, "limited": true, "llc": true,
	"plc": true, "sa": true, "s a": true, "nv": true, "bv": true, "spa": true, "srl": true, "sas": true, "ab": true, "oy": true, "as": true,
}

// Normalize lower-cases, folds common diacritics, turns punctuation into
// spaces and drops trailing legal suffixes: "B. Braun Melsungen AG" and
// "b braun melsungen" are equal.
func Normalize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r == 'ä':
			b.WriteString("ae")
		case r == 'ö':
			b.WriteString("oe")
		case r == 'ü':
			b.WriteString("ue")
		case r == 'é' || r == 'è' || r == 'ê':
			b.WriteRune('e')
		case r == '&':
			b.WriteString(" and ")
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		default:
			b.WriteRune(' ')
		}
	}
	f := strings.Fields(b.String())
	for len(f) > 1 && legalSuffixes[f[len(f)-1]] {
		f = f[:len(f)-1]
	}
	return strings.Join(f, " ")
}
