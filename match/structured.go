package match

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/enrich"
	"github.com/vigilhealth/vigil/feeds/nvd"
)

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
	confidence string // set when matched
	matched    bool
	excluded   bool // this product shows the asset not affected
	strong     bool // ... by a fixed / not-affected status that covers its version
}

// assetMatch words the winning evidence; the reasons are shared by the
// group's members (capacity capped, so an append copies).
func (ev *evidence) assetMatch(c *indexed) AssetMatch {
	base := ev.j.nameReasons(c, ev.rule)
	reasons := make([]string, len(base), len(base)+2)
	copy(reasons, base)
	_, why := checkRanges(ev.j.ranges, ev.j.ix.field(c, fVersion), true)
	reasons = append(reasons, why)
	switch st := ev.j.p.Status; {
	case st == advisory.StatusUnderInvestigation:
		reasons = append(reasons, "status under investigation")
	case st != "":
		reasons = append(reasons, "status "+st)
	}
	return AssetMatch{Rule: ev.rule, Confidence: ev.confidence, Reasons: reasons[:len(reasons):len(reasons)]}
}

// matchStructured matches the advisory's product list: each product's
// vendor and name (or model number, or CPE), its version ranges and its
// status. Evidence is judged per group; the best evidence of each group
// decides for its members in tenants cleared for the advisory.
func (ix *Index) matchStructured(adv *advisory.Advisory, cleared func(int32) bool) *hits {
	best := map[*group]int{} // group -> index in evs
	var evs []evidence
	var gs []*group
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
		j := newProductJudge(ix, p, alias)
		for _, cand := range candidates(ix, va, name, p, pcpe) {
			ev := j.judge(&cand.g.c, cand.rule)
			if i, seen := best[cand.g]; !seen {
				best[cand.g] = len(evs)
				evs = append(evs, ev)
				gs = append(gs, cand.g)
			} else if better(ev, evs[i]) {
				evs[i] = ev
			}
		}
	}
	res := &hits{gs: gs}
	n := 0
	for i, g := range gs {
		if evs[i].matched || evs[i].excluded {
			n += len(g.runs)
		}
	}
	res.spans = make([]span, 0, n)
	for i, g := range gs {
		ev := &evs[i]
		if !ev.matched && !ev.excluded {
			continue
		}
		tmpl := int32(-1)
		if ev.matched {
			tmpl = res.addTemplate(ev.confidence, AssetMatch{})
			res.srcs = append(res.srcs, wording{at: tmpl, ev: *ev, c: &g.c})
		}
		res.addGroup(g, int32(i), tmpl, cleared)
	}
	return res
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

// productJudge compares assets with one advisory product; it parses the
// product's ranges once and remembers verdicts and wording per asset
// version and name, since many assets of many tenants share them.
type productJudge struct {
	ix       *Index
	p        advisory.Product
	alias    string
	ranges   []parsedRange
	verdicts map[uint32]RangeVerdict // by the version's string table position
	names    map[nameKey][]string    // made when the first alert is worded
}

type nameKey struct{ vendor, product, model, rule string }

type parsedRange struct {
	r    Range
	ok   bool
	expr string
}

func newProductJudge(ix *Index, p advisory.Product, alias string) *productJudge {
	versions := p.Versions
	if v := nameVersion(p.Name); v != "" && (len(versions) == 0 || (len(versions) == 1 && versions[0] == "*")) {
		versions = []string{v} // "IntelliSpace Portal 7.0.x": the name carries the range
	}
	j := &productJudge{ix: ix, p: p, alias: alias, verdicts: make(map[uint32]RangeVerdict, 8)}
	j.ranges = make([]parsedRange, 0, len(versions))
	for _, e := range versions {
		r, ok := cachedRange(e)
		j.ranges = append(j.ranges, parsedRange{r: r, ok: ok, expr: e})
	}
	return j
}

// verdict checks the version at a string table position.
func (j *productJudge) verdict(version uint32) RangeVerdict {
	if v, ok := j.verdicts[version]; ok {
		return v
	}
	v, _ := checkRanges(j.ranges, j.ix.str(version), false)
	j.verdicts[version] = v
	return v
}

// nameReasons words the vendor and product part of the explanation.
func (j *productJudge) nameReasons(c *indexed, rule string) []string {
	key := nameKey{j.ix.field(c, fVendor), j.ix.field(c, fProduct), j.ix.field(c, fModel), rule}
	if r, ok := j.names[key]; ok {
		return r
	}
	if j.names == nil {
		j.names = map[nameKey][]string{}
	}
	p := j.p
	reasons := []string{fmt.Sprintf("vendor %q = %q (%s)", j.ix.field(c, fVendor), j.alias, j.ix.str(c.vendor))}
	switch rule {
	case "product":
		reasons = append(reasons, fmt.Sprintf("product %q = %q in the advisory's product list", j.ix.field(c, fProduct), p.Name))
	case "product-prefix":
		reasons = append(reasons, fmt.Sprintf("product %q ~ %q (one name extends the other)", j.ix.field(c, fProduct), p.Name))
	case "model":
		reasons = append(reasons, fmt.Sprintf("model %q in advisory product %q", j.ix.field(c, fModel), p.Name))
	case "cpe":
		reasons = append(reasons, fmt.Sprintf("CPE %s matches %s", j.ix.field(c, fCPE), p.CPE))
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
	verdict := j.verdict(c.f[fVersion])
	fixedOrNot := p.Status == advisory.StatusFixed || p.Status == advisory.StatusNotAffected
	switch {
	case fixedOrNot && verdict != InRange:
		return evidence{}
	case !fixedOrNot && verdict == OutOfRange:
		return evidence{excluded: true} // only the asset id is needed
	}
	ev := evidence{j: j, rule: rule}
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
// range containing it is enough) and, with word, says why: matching
// words only the evidence that wins.
func checkRanges(rs []parsedRange, version string, word bool) (RangeVerdict, string) {
	if len(rs) == 0 {
		return Unknown, "advisory gives no version for this product"
	}
	out, why := OutOfRange, ""
	for _, pr := range rs {
		if !pr.ok {
			out = Unknown
			if word {
				why = fmt.Sprintf("version range %q not understood: asset kept as possible", pr.expr)
			}
			continue
		}
		var v RangeVerdict
		var w string
		if word {
			v, w = pr.r.Check(version)
		} else {
			v = pr.r.verdict(version)
		}
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

// rangeCache remembers parsed range expressions: advisories repeat a few
// thousand of them ("< 2.1", "*", "vers:generic/<4.2") endlessly. Ranges
// are not changed after parsing, so sharing them is safe.
var (
	rangeCache  sync.Map // expr -> cachedParse
	rangeCached atomic.Int32
)

const rangeCacheMax = 50000

type cachedParse struct {
	r  Range
	ok bool
}

func cachedRange(expr string) (Range, bool) {
	if v, ok := rangeCache.Load(expr); ok {
		c := v.(cachedParse)
		return c.r, c.ok
	}
	r, ok := ParseRange(expr)
	if rangeCached.Load() < rangeCacheMax {
		if _, loaded := rangeCache.LoadOrStore(expr, cachedParse{r, ok}); !loaded {
			rangeCached.Add(1)
		}
	}
	return r, ok
}
