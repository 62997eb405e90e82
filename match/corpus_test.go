package match

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/enrich"
	"github.com/vigilhealth/vigil/feeds"
)

// versionInside picks a version a range contains, or "".
func versionInside(r Range) string {
	if r.Any {
		return "1.0"
	}
	for _, alt := range r.alts {
		for _, c := range alt {
			var v string
			switch c.op {
			case "=", "<=", ">=":
				v = c.v
			case "<":
				v = stepVersion(c.v, -1)
			case "prefix":
				v = c.v + "0"
			}
			if v != "" {
				if got, _ := r.Check(v); got == InRange {
					return v
				}
			}
		}
	}
	return ""
}

// versionOutside picks a version past a range's upper bound, or "".
func versionOutside(r Range) string {
	for _, alt := range r.alts {
		for _, c := range alt {
			if c.op == "<" || c.op == "<=" || c.op == "=" {
				v := stepVersion(c.v, +1)
				if got, _ := r.Check(v); v != "" && got == OutOfRange {
					return v
				}
			}
		}
	}
	return ""
}

// stepVersion moves the last number of a version by delta ("2.1" -> "2.0").
func stepVersion(v string, delta int) string {
	end := len(v)
	for end > 0 && (v[end-1] < '0' || v[end-1] > '9') {
		end--
	}
	start := end
	for start > 0 && v[start-1] >= '0' && v[start-1] <= '9' {
		start--
	}
	if start == end {
		return ""
	}
	n, _ := strconv.Atoi(v[start:end])
	if n+delta < 0 {
		return ""
	}
	return v[:start] + strconv.Itoa(n+delta) + v[end:]
}

// TestCorpusPrecisionAndRecall builds an inventory from the real ICSMA
// advisories (an affected version of each affected product) with decoys
// (same vendor with another product; the same product at a version past the
// range; a look-alike model number) and measures the exact/probable alerts.
func TestCorpusPrecisionAndRecall(t *testing.T) {
	files, _ := filepath.Glob("../../shared/corpus/csaf/icsma/*.json")
	if len(files) == 0 {
		t.Skip("corpus not present")
	}
	vendors := enrich.MustLoadVendors()
	e := enrich.New(vendors, nil)
	var advs []advisory.Advisory
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		res, err := feeds.Parse(feeds.FormatCSAF, "cisa-csaf", data, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		a, _, err := e.Enrich(context.Background(), res.Advisories[0])
		if err != nil {
			t.Fatal(err)
		}
		advs = append(advs, a)
	}
	var assets []Asset
	positive := map[string]string{} // asset id -> advisory key it was made from
	decoy := map[string]bool{}
	names := map[string]bool{}                // every vendor/product of the corpus, normalised
	ranges := map[string][]advisory.Product{} // every affected entry per vendor/product
	for _, a := range advs {
		for _, p := range a.Products {
			if r, ok := vendors.Resolve(p.Vendor); ok {
				k := r.Vendor.ID + "/" + vendors.NormalizeProduct(p.Name, r.Vendor)
				names[k] = true
				if p.Status == advisory.StatusAffected {
					ranges[k] = append(ranges[k], p)
				}
			}
		}
	}
	// A decoy version must be outside every affected range of that product
	// in the whole corpus, or it is no decoy.
	affectedAnywhere := func(key, version string) bool {
		for _, p := range ranges[key] {
			exprs := p.Versions
			if nv := nameVersion(p.Name); nv != "" && len(exprs) == 1 && exprs[0] == "*" {
				exprs = []string{nv}
			}
			if v, _ := versionVerdict(exprs, version); v != OutOfRange {
				return true
			}
		}
		return false
	}
	// A look-alike that extends a real product name is a variant, not a decoy.
	extendsReal := func(vendorID, norm string) bool {
		for k := range names {
			if pfx := strings.TrimPrefix(k, vendorID+"/"); pfx != k && (strings.HasPrefix(norm, pfx+" ") || strings.HasPrefix(pfx, norm+" ")) {
				return true
			}
		}
		return false
	}
	n := 0
	for _, a := range advs {
		for _, p := range a.Products {
			if p.Status != advisory.StatusAffected || p.Name == "" || len(p.Versions) == 0 {
				continue
			}
			res, ok := vendors.Resolve(p.Vendor)
			if !ok {
				continue
			}
			expr := p.Versions[0]
			if nv := nameVersion(p.Name); nv != "" && expr == "*" {
				expr = nv // "Xeleris 3.0", all versions: the name carries the version, as the matcher reads it
			}
			r, ok := ParseRange(expr)
			if !ok {
				continue
			}
			v := versionInside(r)
			if v == "" {
				continue
			}
			n++
			id := fmt.Sprintf("G%04d", n)
			assets = append(assets, Asset{ID: id, Vendor: p.Vendor, Product: p.Name, Version: v})
			positive[id] = a.Key()
			d1 := fmt.Sprintf("D%04d-other", n)
			assets = append(assets, Asset{ID: d1, Vendor: p.Vendor, Product: "Facility Badge Printer " + strconv.Itoa(n), Version: v})
			decoy[d1] = true
			key := res.Vendor.ID + "/" + vendors.NormalizeProduct(p.Name, res.Vendor)
			if out := versionOutside(r); out != "" && !affectedAnywhere(key, out) {
				d2 := fmt.Sprintf("D%04d-fixed", n)
				assets = append(assets, Asset{ID: d2, Vendor: p.Vendor, Product: p.Name, Version: out})
				decoy[d2] = true
			}
			lookNorm := vendors.NormalizeProduct(lookAlike(p.Name), res.Vendor)
			if look := lookAlike(p.Name); look != "" && !names[res.Vendor.ID+"/"+lookNorm] && !extendsReal(res.Vendor.ID, lookNorm) {
				d3 := fmt.Sprintf("D%04d-alike", n)
				assets = append(assets, Asset{ID: d3, Vendor: p.Vendor, Product: look, Version: v})
				decoy[d3] = true
			}
		}
	}
	inv := map[string][]Asset{"corpus": assets}
	ix := BuildIndex(vendors, []Tenant{{ID: "corpus", Name: "Corpus", TLPClearance: "AMBER"}}, inv)
	tp, fp, fn := 0, 0, 0
	found := map[string]bool{}
	var fps, fns []string
	for i := range advs {
		a := &advs[i]
		for _, al := range ix.Match(a) {
			for _, m := range al.Assets {
				if m.Confidence == Possible {
					continue
				}
				id := m.Asset.ID
				switch {
				case decoy[id]:
					fp++
					fps = append(fps, fmt.Sprintf("%s matched decoy %s %q %s: %s", a.ID, id, m.Asset.Product, m.Asset.Version, strings.Join(m.Reasons, "; ")))
				case positive[id] == a.Key():
					if !found[id] {
						tp++
						found[id] = true
					}
				}
			}
		}
	}
	for id := range positive {
		if !found[id] {
			fn++
			fns = append(fns, id+" in "+positive[id])
		}
	}
	precision := float64(tp) / float64(tp+fp)
	recall := float64(tp) / float64(tp+fn)
	t.Logf("%d advisories, %d assets (%d from affected products, %d decoys): TP %d FP %d FN %d, precision %.3f recall %.3f",
		len(advs), len(assets), len(positive), len(decoy), tp, fp, fn, precision, recall)
	if precision < 0.95 || recall < 0.95 {
		if len(fps) > 15 {
			fps = fps[:15]
		}
		if len(fns) > 15 {
			fns = fns[:15]
		}
		t.Errorf("precision %.3f recall %.3f below 0.95; false positives:\n%s\nfalse negatives: %s", precision, recall, strings.Join(fps, "\n"), strings.Join(fns, ", "))
	}
}

// lookAlike changes the last digit of a name's last model-like token
// ("EC40" -> "EC49"), or returns "".
func lookAlike(name string) string {
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] >= '0' && name[i] <= '9' {
			d := byte('9')
			if name[i] == '9' {
				d = '8'
			}
			return name[:i] + string(d) + name[i+1:]
		}
	}
	return ""
}

// versionVerdict checks a version against range expressions, as the
// matcher's product judges do.
func versionVerdict(exprs []string, version string) (RangeVerdict, string) {
	var rs []parsedRange
	for _, e := range exprs {
		r, ok := ParseRange(e)
		rs = append(rs, parsedRange{r: r, ok: ok, expr: e})
	}
	return checkRanges(rs, version, true)
}
