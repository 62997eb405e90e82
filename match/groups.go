package match

import (
	"cmp"
	"slices"
	"strings"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/enrich"
)

// vendorAssets indexes one vendor's assets (of every tenant) in groups of
// assets that look the same to an advisory. An advisory judges a group
// once, however many hospitals run that product at that version.
//
// The groups lie in one array in the order of their normalised product,
// so a product's groups, and the groups of every product extending a name
// ("infusion pump" extends "infusion"), are each a range of it. One table
// holds what each key finds: a product's name, its name without spaces,
// its token prefixes and model numbers are all keys of the same table.
// Each lookup is a cold cache miss or two in an index of millions of
// assets, so an advisory product named as an inventory names it costs one:
// what that name's other spellings find was resolved when the index was
// built (resolveNames). Other names are looked up key by key.
type vendorAssets struct {
	groups []group
	keys   map[string]keyed
	byCPE  map[string][]int32 // normalised CPE product
}

// keyed is what one key finds among a vendor's groups.
type keyed struct {
	name    [2]int32 // groups[lo:hi]: the product is the key
	extends [2]int32 // groups[lo:hi]: the product is the key and more tokens
	compact []int32  // the product without its spaces is the key ("EC 40" for "EC40")
	model   []int32  // the model is the key
	// For a product's name, what its other spellings find (resolveNames).
	near   []ruled
	tokens []int32
}

// product reports whether the key is a product's name: resolveNames has
// resolved its other spellings.
func (k *keyed) product() bool { return k.name[0] < k.name[1] }

// group is the assets with the same vendor, product, model, version and CPE
// as written in the inventories.
type group struct {
	c       indexed  // the first member: what the advisory compares
	members []member // by tenant, then asset id
	runs    []run    // the members of each tenant
}

// member is one asset of a group, with what matching reads of it inline,
// so that building an alert does not chase entries; no pointers.
type member struct {
	ti, k, order int32 // tenant position, entry position, asset position
	score        int8  // assetScore
}

// groupKey is vendor, product, model, version and CPE as written (string
// table positions).
type groupKey struct{ vendor, product, model, version, cpe uint32 }

func newVendorAssets(ix *Index, list []ref) *vendorAssets {
	// Group the assets, then lay the groups, their members and their runs
	// out each in one array, in product order.
	at := map[groupKey]int32{}
	var firsts []*indexed
	var sizes []int32
	gi := make([]int32, len(list))
	for n, r := range list {
		c := ix.entry(r)
		k := groupKey{c.f[fVendor], c.f[fProduct], c.f[fModel], c.f[fVersion], c.f[fCPE]}
		i, ok := at[k]
		if !ok {
			i = int32(len(firsts))
			at[k] = i
			firsts = append(firsts, c)
			sizes = append(sizes, 0)
		}
		gi[n] = i
		sizes[i]++
	}
	perm := make([]int32, len(firsts))
	for i := range perm {
		perm[i] = int32(i)
	}
	slices.SortFunc(perm, func(a, b int32) int {
		ca, cb := firsts[a], firsts[b]
		return cmp.Or(strings.Compare(ix.str(ca.product), ix.str(cb.product)), strings.Compare(ix.str(ca.model), ix.str(cb.model)),
			cmp.Compare(ca.f[fVersion], cb.f[fVersion]), cmp.Compare(ca.f[fCPE], cb.f[fCPE]), cmp.Compare(a, b))
	})
	va := &vendorAssets{groups: make([]group, len(perm)), keys: map[string]keyed{}, byCPE: map[string][]int32{}}
	slot := make([]int32, len(perm)) // where each group's next member goes
	next := int32(0)
	for p, i := range perm {
		slot[i] = next
		next += sizes[i]
		va.groups[p].c = *firsts[i]
	}
	members := make([]member, len(list))
	start := slices.Clone(slot)
	for n, r := range list {
		c := ix.entry(r)
		i := gi[n]
		members[slot[i]] = member{ti: r.ti, k: r.k, order: c.order, score: assetScore(ix.field(c, fCriticality), ix.field(c, fZone))}
		slot[i]++
	}
	var runs []run
	runAt := make([]int32, len(perm)+1)
	for p, i := range perm {
		g := &va.groups[p]
		g.members = members[start[i]:slot[i]:slot[i]]
		slices.SortFunc(g.members, func(a, b member) int {
			if a.ti != b.ti {
				return int(a.ti - b.ti)
			}
			return int(a.order - b.order)
		})
		runs = appendRuns(runs, g.members)
		runAt[p+1] = int32(len(runs))
	}
	runs = slices.Clip(runs)
	for p := range va.groups {
		g := &va.groups[p]
		g.runs = runs[runAt[p]:runAt[p+1]:runAt[p+1]]
		va.key(ix, int32(p))
	}
	va.resolveNames()
	return va
}

// key enters group p, the last so far in product order, in the table.
func (va *vendorAssets) key(ix *Index, p int32) {
	g := &va.groups[p]
	grow := func(r *[2]int32) {
		if r[1] == 0 {
			r[0] = p
		}
		r[1] = p + 1 // ranges are contiguous: groups come in product order
	}
	product, model := ix.str(g.c.product), ix.str(g.c.model)
	if product != "" {
		k := va.keys[product]
		grow(&k.name)
		va.keys[product] = k
		if compact := strings.ReplaceAll(product, " ", ""); compact != product {
			k := va.keys[compact]
			k.compact = append(k.compact, p)
			va.keys[compact] = k
		}
		for i := 0; i < len(product); i++ {
			if product[i] == ' ' {
				k := va.keys[product[:i]]
				grow(&k.extends)
				va.keys[product[:i]] = k
			}
		}
	}
	if model != "" {
		k := va.keys[model]
		k.model = append(k.model, p)
		va.keys[model] = k
	}
	if g.c.cpeProduct != 0 {
		cp := ix.str(g.c.cpeProduct)
		va.byCPE[cp] = append(va.byCPE[cp], p)
	}
}

// candidates finds the assets a product may be, with the rule that found
// each: same normalised name, one name a token prefix of the other, model
// number, or CPE.
type candidate struct {
	g    *group
	rule string
}

// ruled is a group found by a name's spaceless spelling ("product") or one
// of its token prefixes ("product-prefix").
type ruled struct {
	g      int32
	prefix bool
}

// near calls found for each group a name's spaceless spelling and its token
// prefixes find, kn being the name's own entry.
func near(name string, kn keyed, look func(string) keyed, found func(ruled)) {
	kc := kn
	if compact := strings.ReplaceAll(name, " ", ""); compact != name {
		kc = look(compact)
		for i := kc.name[0]; i < kc.name[1]; i++ {
			found(ruled{g: i}) // "EC40" in the advisory, "EC 40" in the inventory
		}
	}
	for _, i := range kc.compact {
		found(ruled{g: i})
	}
	for i := 0; i < len(name); i++ {
		if name[i] == ' ' {
			k := look(name[:i])
			for g := k.name[0]; g < k.name[1]; g++ {
				found(ruled{g: g, prefix: true}) // the asset's name is shorter
			}
		}
	}
}

// modelTokens calls found for each group whose model is one of a name's
// tokens that look like model numbers (three characters or more, a digit).
func modelTokens(name string, look func(string) keyed, found func(int32)) {
	for rest := name; rest != ""; {
		tok, after, _ := strings.Cut(rest, " ")
		if len(tok) >= 3 && strings.ContainsAny(tok, "0123456789") {
			for _, i := range look(tok).model {
				found(i)
			}
		}
		rest = after
	}
}

// resolveNames records, for each product name of the vendor's assets, what
// near and modelTokens find for it, so that an advisory product named as
// an inventory names it costs one lookup.
func (va *vendorAssets) resolveNames() {
	look := func(k string) keyed { return va.keys[k] }
	for name, kn := range va.keys {
		if !kn.product() {
			continue
		}
		near(name, kn, look, func(r ruled) { kn.near = append(kn.near, r) })
		modelTokens(name, look, func(i int32) { kn.tokens = append(kn.tokens, i) })
		va.keys[name] = kn
	}
}

func candidates(ix *Index, va *vendorAssets, name string, p advisory.Product, pcpe cpeName) []candidate {
	var out []candidate
	var seen map[*group]bool // built once a list is long enough to repeat groups
	add := func(g *group, rule string) {
		if seen == nil && len(out) >= 16 {
			seen = make(map[*group]bool, 2*len(out))
			for _, o := range out {
				seen[o.g] = true
			}
		}
		if seen != nil {
			if seen[g] {
				return
			}
			seen[g] = true
		} else {
			for _, o := range out {
				if o.g == g {
					return
				}
			}
		}
		out = append(out, candidate{g, rule})
	}
	addRange := func(r [2]int32, rule string) {
		for i := r[0]; i < r[1]; i++ {
			add(&va.groups[i], rule)
		}
	}
	addNear := func(r ruled) {
		rule := "product"
		if r.prefix {
			rule = "product-prefix"
		}
		add(&va.groups[r.g], rule)
	}
	addModel := func(i int32) { add(&va.groups[i], "model") }
	// A name's first token is also its first prefix: look each key up once.
	type looked struct {
		key string
		k   keyed
	}
	var memo [8]looked
	n := 0
	look := func(key string) keyed {
		for i := range n {
			if memo[i].key == key {
				return memo[i].k
			}
		}
		k := va.keys[key]
		if n < len(memo) {
			memo[n] = looked{key, k}
			n++
		}
		return k
	}
	var kn keyed
	if name != "" {
		kn = look(name)
		addRange(kn.name, "product")
		if kn.product() {
			for _, r := range kn.near {
				addNear(r)
			}
		} else {
			near(name, kn, look, addNear)
		}
		addRange(kn.extends, "product-prefix") // the asset's name is longer
	}
	for _, m := range p.Models {
		for _, i := range look(enrich.Normalize(m)).model {
			addModel(i)
		}
	}
	if kn.product() {
		for _, i := range kn.tokens {
			addModel(i)
		}
	} else {
		modelTokens(name, look, addModel)
	}
	if pcpe.product != "" {
		for _, i := range va.byCPE[pcpe.product] {
			if g := &va.groups[i]; ix.cpe(&g.c).matches(pcpe) {
				add(g, "cpe")
			}
		}
	}
	return out
}
