package match

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/enrich"
)

// candidates, which reads ranges and lists of one key table, finds what the
// rules say, each group with its first rule: over random product names
// where names extend one another, differ by spaces and carry model
// numbers; for names the inventory holds (found when the index was built)
// and names it does not.
func TestCandidatesFollowTheRules(t *testing.T) {
	vendors := enrich.MustLoadVendors()
	rng := rand.New(rand.NewPCG(5, 8))
	words := []string{"alaris", "pc", "unit", "8015", "ec", "40", "ec40", "space", "s100", "monitor"}
	name := func() string {
		n := 1 + rng.IntN(3)
		f := make([]string, n)
		for i := range f {
			f[i] = words[rng.IntN(len(words))]
		}
		return strings.Join(f, " ")
	}
	var inv []Asset
	for k := range 400 {
		a := Asset{ID: "A" + strconv.Itoa(k), Vendor: "BD", Product: name(), Version: strconv.Itoa(rng.IntN(4)) + ".0"}
		if rng.IntN(3) == 0 {
			a.Model = words[rng.IntN(len(words))]
		}
		inv = append(inv, a)
	}
	ix := BuildIndex(vendors, []Tenant{{ID: "h"}}, map[string][]Asset{"h": inv})
	va := ix.structured["bd"]
	if va == nil {
		t.Fatal("no assets indexed for BD")
	}
	bd, _ := vendors.Get("bd")
	compact := func(s string) string { return strings.ReplaceAll(s, " ", "") }
	prefixOf := func(short, long string) bool { return strings.HasPrefix(long, short+" ") }
	found, resolved := 0, 0
	for range 300 {
		p := advisory.Product{Vendor: "BD", Name: name()}
		if rng.IntN(4) == 0 {
			p.Models = []string{words[rng.IntN(len(words))]}
		}
		n := vendors.NormalizeProduct(p.Name, &bd)
		if k := va.keys[n]; k.product() {
			resolved++
		}
		got := map[*group]string{}
		for _, c := range candidates(ix, va, n, p, cpeName{}) {
			if _, dup := got[c.g]; dup {
				t.Fatalf("%q: a group found twice", n)
			}
			got[c.g] = c.rule
		}
		for i := range va.groups {
			g := &va.groups[i]
			product, model := ix.str(g.c.product), ix.str(g.c.model)
			want := ""
			switch {
			case product == n || product == compact(n) || (compact(product) == compact(n) && compact(product) != product):
				want = "product"
			case prefixOf(product, n) || prefixOf(n, product):
				want = "product-prefix"
			case model != "" && (len(p.Models) > 0 && model == enrich.Normalize(p.Models[0]) ||
				len(model) >= 3 && strings.ContainsAny(model, "0123456789") && strings.Contains(" "+n+" ", " "+model+" ")):
				want = "model"
			}
			if got[g] != want {
				t.Fatalf("advisory product %q, models %v; asset product %q model %q: rule %q, want %q", n, p.Models, product, model, got[g], want)
			}
			if want != "" {
				found++
			}
		}
	}
	if resolved < 50 || resolved > 250 {
		t.Fatalf("%d of 300 advisory products named as an inventory names them: the test does not exercise both ways", resolved)
	}
	if found < 300 {
		t.Fatalf("only %d candidates over 300 products: the test does not exercise the rules", found)
	}
}
