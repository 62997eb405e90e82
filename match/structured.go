package match

import (
	"fmt"
	"sort"
	"strings"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/enrich"
	"github.com/vigilhealth/vigil/feeds/nvd"
)

// vendorAssets indexes one vendor's assets (of every tenant) by the first
// token of the normalised product, by model and by CPE product.
type vendorAssets struct {
	byFirst map[string][]*indexed
	byModel map[string][]*indexed
	byCPE   map[string][]*indexed
}

func newVendorAssets(list []*indexed) *vendorAssets {
	va := &vendorAssets{byFirst: map[string][]*indexed{}, byModel: map[string][]*indexed{}, byCPE: map[string][]*indexed{}}
	for _, c := range list {
		if f, _, _ := strings.Cut(c.product, " "); f != "" {
			va.byFirst[f] = append(va.byFirst[f], c)
		}
		if c.model != "" {
			va.byModel[c.model] = append(va.byModel[c.model], c)
		}
		if c.cpe.product != "" {
			va.byCPE[c.cpe.product] = append(va.byCPE[c.cpe.product], c)
		}
	}
	return va
}

// cpeName is the vendor and product of a CPE 2.3 name, normalised.
type cpeName struct{ vendor, product string }

func parseCPEName(s string) cpeName {
	c, ok := nvd.ParseCPE(s)
	if !ok {
		return cpeName{}
	}
	return cpeName{vendor: enrich.Normalize(c.Vendor), product: enrich.Normalize(c.Product)}
}

// matches applies CPE wildcard semantics: "*" (ANY) matches anything.
func (c cpeName) matches(o cpeName) bool {
	eq := func(a, b string) bool { return a == b || a == "" || b == "" }
	return c.product != "" && o.product != "" && eq(c.vendor, o.vendor) && eq(c.product, o.product)
}

func hasStructuredProducts(adv *advisory.Advisory) bool {
	for _, p := range adv.Products {
		if p.Name != "" || p.CPE != "" {
			return true
		}
	}
	return false
}

// evidence is what one advisory product says about one asset.
// evidence is small on purpose: the AssetMatch and its wording are built
// only for the winning evidence of each asset.
type evidence struct {
	j          *productJudge
	rule       string
	why        string
	confidence string // set when matched
	matched    bool
	excluded   bool // this product shows the asset not affected
	strong     bool // ... by a fixed / not-affected status that covers its version
}

// assetMatch words the winning evidence.
func (ev *evidence) assetMatch(c *indexed) AssetMatch {
	base := ev.j.nameReasons(c, ev.rule)
	reasons := make([]string, len(base), len(base)+2)
	copy(reasons, base)
	reasons = append(reasons, ev.why)
	switch st := ev.j.p.Status; {
	case st == advisory.StatusUnderInvestigation:
		reasons = append(reasons, "status under investigation")
	case st != "":
		reasons = append(reasons, "status "+st)
	}
	return AssetMatch{Asset: *c.asset, Rule: ev.rule, Confidence: ev.confidence, Reasons: reasons}
}

// matchStructured matches the advisory's product list: each product's
// vendor and name (or model number, or CPE), its version ranges and its
// status.
func (ix *Index) matchStructured(adv *advisory.Advisory) (map[string][]AssetMatch, map[string][]string) {
	best := map[*indexed]int{} // asset -> index in evs
	var evs []evidence
	cleared := map[string]bool{}
	isCleared := func(tenant string) bool {
		ok, seen := cleared[tenant]
		if !seen {
			t := ix.tenants[tenant]
			ok = t.Cleared(adv.TLP)
			cleared[tenant] = ok
		}
		return ok
	}
	for _, p := range adv.Products {
		vendorID, alias := ix.productVendor(adv, p)
		va := ix.structured[vendorID]
		if va == nil {
			continue
		}
		pv := ix.vendors
		vd, _ := pv.Get(vendorID)
		name := pv.NormalizeProduct(p.Name, &vd)
		pcpe := parseCPEName(p.CPE)
		j := newProductJudge(p, alias)
		for _, cand := range candidates(va, name, p, pcpe) {
			c := cand.c
			if !isCleared(c.tenant) {
				continue
			}
			ev := j.judge(c, cand.rule)
			if i, seen := best[c]; !seen {
				best[c] = len(evs)
				evs = append(evs, ev)
			} else if better(ev, evs[i]) {
				evs[i] = ev
			}
		}
	}
	byTenant := map[string][]AssetMatch{}
	excluded := map[string][]string{}
	for c, i := range best {
		ev := &evs[i]
		switch {
		case ev.matched:
			byTenant[c.tenant] = append(byTenant[c.tenant], ev.assetMatch(c))
		case ev.excluded:
			excluded[c.tenant] = append(excluded[c.tenant], c.asset.ID)
		}
	}
	for t := range excluded {
		sort.Strings(excluded[t])
	}
	return byTenant, excluded
}

// better orders evidence: a fixed/not-affected status covering the version
// beats everything but an exact match; then matches by confidence.
func better(a, b evidence) bool {
	switch {
	case a.strong && !(b.matched && b.confidence == Exact):
		return !b.strong
	case b.strong && !(a.matched && a.confidence == Exact):
		return false
	case a.matched && !b.matched:
		return true
	case a.matched && b.matched:
		return rank(a.confidence) > rank(b.confidence)
	case a.excluded && !b.matched && !b.excluded:
		return true // some evidence beats none
	}
	return false
}

// productVendor resolves a product's vendor, falling back on the
// advisory's main vendor when the product names none.
func (ix *Index) productVendor(adv *advisory.Advisory, p advisory.Product) (string, string) {
	if r, ok := ix.vendors.Resolve(p.Vendor); ok {
		return r.Vendor.ID, r.Alias
	}
	if p.Vendor == "" && adv.Enrichment.VendorID != "" {
		for _, v := range adv.Enrichment.Vendors {
			if v.ID == adv.Enrichment.VendorID {
				return v.ID, v.MatchedAs
			}
		}
	}
	if c := parseCPEName(p.CPE); c.vendor != "" {
		if r, ok := ix.vendors.Resolve(c.vendor); ok {
			return r.Vendor.ID, r.Alias
		}
	}
	// An unknown spelling in an advisory about one vendor is that vendor.
	if len(adv.Enrichment.Vendors) == 1 {
		v := adv.Enrichment.Vendors[0]
		return v.ID, v.MatchedAs
	}
	return "", ""
}

// candidates finds the assets a product may be, with the rule that found
// each: same normalised name, one name a token prefix of the other, model
// number, or CPE.
type candidate struct {
	c    *indexed
	rule string
}

func candidates(va *vendorAssets, name string, p advisory.Product, pcpe cpeName) []candidate {
	var out []candidate
	var byName map[*indexed]bool // only built when a second rule may repeat an asset
	compact := strings.ReplaceAll(name, " ", "")
	if first, _, _ := strings.Cut(name, " "); first != "" {
		for _, c := range va.byFirst[first] {
			switch {
			case c.product == name || (len(c.product) != len(name) && strings.ReplaceAll(c.product, " ", "") == compact): // "EC 40" is "EC40"
				out = append(out, candidate{c, "product"})
			case strings.HasPrefix(name, c.product+" ") || strings.HasPrefix(c.product, name+" "):
				out = append(out, candidate{c, "product-prefix"})
			}
		}
	}
	seen := func(c *indexed) bool {
		if byName == nil {
			byName = make(map[*indexed]bool, len(out))
			for _, o := range out {
				byName[o.c] = true
			}
		}
		return byName[c]
	}
	models := make([]string, 0, len(p.Models)+4)
	for _, m := range p.Models {
		models = append(models, enrich.Normalize(m))
	}
	for _, tok := range strings.Fields(name) {
		if len(tok) >= 3 && strings.ContainsAny(tok, "0123456789") {
			models = append(models, tok)
		}
	}
	for _, m := range models {
		for _, c := range va.byModel[m] {
			if !seen(c) {
				byName[c] = true
				out = append(out, candidate{c, "model"})
			}
		}
	}
	if pcpe.product != "" {
		for _, c := range va.byCPE[pcpe.product] {
			if c.cpe.matches(pcpe) && !seen(c) {
				byName[c] = true
				out = append(out, candidate{c, "cpe"})
			}
		}
	}
	return out
}

// productJudge compares assets with one advisory product; it parses the
// product's ranges once and remembers verdicts and wording per asset
// version and name, since many assets of many tenants share them.
type productJudge struct {
	p        advisory.Product
	alias    string
	ranges   []parsedRange
	verdicts map[string]verdictWhy
	names    map[nameKey][]string
}

type nameKey struct{ vendor, product, model, rule string }

type parsedRange struct {
	r    Range
	ok   bool
	expr string
}

type verdictWhy struct {
	v   RangeVerdict
	why string
}

func newProductJudge(p advisory.Product, alias string) *productJudge {
	versions := p.Versions
	if v := nameVersion(p.Name); v != "" && (len(versions) == 0 || (len(versions) == 1 && versions[0] == "*")) {
		versions = []string{v} // "IntelliSpace Portal 7.0.x": the name carries the range
	}
	j := &productJudge{p: p, alias: alias, verdicts: map[string]verdictWhy{}, names: map[nameKey][]string{}}
	for _, e := range versions {
		r, ok := ParseRange(e)
		j.ranges = append(j.ranges, parsedRange{r: r, ok: ok, expr: e})
	}
	return j
}

func (j *productJudge) verdict(version string) (RangeVerdict, string) {
	if vw, ok := j.verdicts[version]; ok {
		return vw.v, vw.why
	}
	v, why := checkRanges(j.ranges, version)
	j.verdicts[version] = verdictWhy{v, why}
	return v, why
}

// nameReasons words the vendor and product part of the explanation.
func (j *productJudge) nameReasons(c *indexed, rule string) []string {
	key := nameKey{c.asset.Vendor, c.asset.Product, c.asset.Model, rule}
	if r, ok := j.names[key]; ok {
		return r
	}
	p := j.p
	reasons := []string{fmt.Sprintf("vendor %q = %q (%s)", c.asset.Vendor, j.alias, c.vendor.ID)}
	switch rule {
	case "product":
		reasons = append(reasons, fmt.Sprintf("product %q = %q in the advisory's product list", c.asset.Product, p.Name))
	case "product-prefix":
		reasons = append(reasons, fmt.Sprintf("product %q ~ %q (one name extends the other)", c.asset.Product, p.Name))
	case "model":
		reasons = append(reasons, fmt.Sprintf("model %q in advisory product %q", c.asset.Model, p.Name))
	case "cpe":
		reasons = append(reasons, fmt.Sprintf("CPE %s matches %s", c.asset.CPE, p.CPE))
	}
	j.names[key] = reasons
	return reasons
}

// judge compares one asset with the product: name rule, versions, status.
func (j *productJudge) judge(c *indexed, rule string) evidence {
	p := j.p
	if p.Status == "" {
		return evidence{} // listed in the product tree, no statement about it
	}
	verdict, why := j.verdict(c.asset.Version)
	fixedOrNot := p.Status == advisory.StatusFixed || p.Status == advisory.StatusNotAffected
	switch {
	case fixedOrNot && verdict != InRange:
		return evidence{}
	case !fixedOrNot && verdict == OutOfRange:
		return evidence{excluded: true} // only the asset id is needed
	}
	ev := evidence{j: j, rule: rule, why: why}
	if fixedOrNot {
		ev.excluded, ev.strong = true, true
		return ev
	}
	ev.matched, ev.confidence = true, Possible
	if verdict == InRange && p.Status != advisory.StatusUnderInvestigation {
		ev.confidence = Exact
		if rule == "model" || rule == "product-prefix" {
			ev.confidence = Probable
		}
	}
	return ev
}

// checkRanges checks an asset version against a product's ranges (any
// range containing it is enough).
func checkRanges(rs []parsedRange, version string) (RangeVerdict, string) {
	if len(rs) == 0 {
		return Unknown, "advisory gives no version for this product"
	}
	out, why := OutOfRange, ""
	for _, pr := range rs {
		if !pr.ok {
			out, why = Unknown, fmt.Sprintf("version range %q not understood: asset kept as possible", pr.expr)
			continue
		}
		v, w := pr.r.Check(version)
		switch v {
		case InRange:
			return InRange, w
		case Unknown:
			out, why = Unknown, w
		default:
			if out == OutOfRange {
				why = w
			}
		}
	}
	return out, why
}

// nameVersion returns a version range at the end of a product name
// ("IntelliSpace Portal 7.0.x", "Alaris PC unit 9.19"), or "".
func nameVersion(name string) string {
	f := strings.Fields(name)
	if len(f) < 2 {
		return ""
	}
	last := f[len(f)-1]
	if last[0] < '0' || last[0] > '9' || !strings.ContainsAny(last, ".") {
		return "" // a model number ("EC40", "8015") is not a version
	}
	if _, ok := ParseRange(last); !ok {
		return ""
	}
	return last
}
