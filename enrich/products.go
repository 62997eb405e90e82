package enrich

import (
	"slices"
	"sort"
	"strings"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/feeds/nvd"
)

// ProductKey is "vendor-id/normalised product".
func ProductKey(vendorID, normProduct string) string { return vendorID + "/" + normProduct }

// NormalizeProduct normalises a product name and removes a leading vendor
// name ("Philips IntelliVue MX40" -> "intellivue mx40"); model numbers stay.
func (v *Vendors) NormalizeProduct(name string, vendor *Vendor) string {
	n := Normalize(name)
	if vendor == nil {
		return n
	}
	// The longest vendor alias that prefixes the name goes.
	names, ok := v.prefixes[vendor.ID]
	if !ok {
		names = vendor.normalizedNames() // a vendor not from this table
	}
	for _, na := range names {
		if len(n) > len(na) && n[len(na)] == ' ' && strings.HasPrefix(n, na) {
			return n[len(na)+1:]
		}
	}
	return n
}

// normalizedNames are the vendor's names normalised, longest first.
func (vd *Vendor) normalizedNames() []string {
	var out []string
	for _, a := range vd.names() {
		if na := Normalize(a); na != "" && !slices.Contains(out, na) {
			out = append(out, na)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

func (vd *Vendor) names() []string {
	out := make([]string, 0, 2+len(vd.Aliases)+len(vd.Former)+len(vd.FieldOnly))
	out = append(out, vd.Name, vd.ID)
	out = append(out, vd.Aliases...)
	out = append(out, vd.Former...)
	return append(out, vd.FieldOnly...)
}

// stopWords end a product name read from free text.
var stopWords = map[string]bool{
	"and": true, "or": true, "for": true, "in": true, "on": true, "with": true, "of": true, "the": true, "a": true, "an": true,
	"to": true, "through": true, "via": true, "by": true, "from": true, "before": true, "prior": true, "versions": true,
	"version": true, "vulnerability": true, "vulnerabilities": true, "multiple": true, "affected": true, "improper": true,
	"use": true, "uses": true, "is": true, "are": true, "contains": true, "allows": true, "could": true, "may": true,
	"und": true, "et": true, "en": true, "y": true, "e": true, "der": true, "die": true, "des": true, "du": true, "de": true,
	"la": true, "le": true, "les": true, "het": true, "van": true, "del": true, "di": true, "il": true, "security": true,
	"update": true, "updates": true, "advisory": true, "flaw": true, "flaws": true, "issue": true, "issues": true,
}

// maxProductTokens bounds a product name read from free text.
const maxProductTokens = 4

// productKeys lists the advisory's products as keys: structured products
// (CSAF, CVE 5, KEV, CPE) when there are any, else names read from the
// title right after a vendor name, up to a separator or a stop word.
func (e *Enricher) productKeys(a *advisory.Advisory) {
	en := a.Enrichment
	seen := map[string]bool{}
	add := func(vendorID, norm string) {
		if norm == "" || vendorID == "" {
			return
		}
		k := ProductKey(vendorID, norm)
		if !seen[k] {
			seen[k] = true
			en.ProductKeys = append(en.ProductKeys, k)
		}
	}
	var primary *Vendor
	if en.VendorID != "" {
		primary = e.vendors.byID[en.VendorID]
	}
	for _, p := range a.Products {
		if p.Vendor == "" && p.CPE != "" {
			// A CSAF product known only by its CPE: cpe:2.3:h:vendor:product:...
			if c, ok := nvd.ParseCPE(p.CPE); ok {
				p.Vendor, p.Name = c.Vendor, c.Product
			}
		}
		vendor := primary
		if r, ok := e.vendors.Resolve(p.Vendor); ok {
			vendor = r.Vendor
		} else if p.Vendor != "" && len(en.Vendors) > 1 {
			continue // an unknown vendor among several: do not guess
		}
		if vendor != nil {
			add(vendor.ID, e.vendors.NormalizeProduct(p.Name, vendor))
		}
	}
	if len(en.ProductKeys) > 0 {
		sort.Strings(en.ProductKeys)
		return
	}
	// Free text: each separator-delimited segment of the title.
	for _, seg := range strings.FieldsFunc(a.Title, func(r rune) bool {
		return r == ':' || r == ';' || r == ',' || r == '(' || r == ')' || r == '|' || r == '–' || r == '—'
	}) {
		norm := Normalize(seg)
		toks := tokens(norm)
		for _, m := range e.vendors.Find(norm) {
			var name []string
			for _, t := range toks[m.End:] {
				if stopWords[t] || len(name) == maxProductTokens {
					break
				}
				name = append(name, t)
			}
			add(m.Vendor.ID, strings.Join(name, " "))
		}
	}
	sort.Strings(en.ProductKeys)
}
