package match

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"unsafe"
)

// The index holds no pointers per asset. Each asset is an indexed entry of
// fixed-size numbers: its fields, and the normalised names matching reads,
// as positions in a string table (names, versions, locations and zones
// repeat across assets and hospitals), and its id as a span of its
// hospital's id arena. An entry is 84 bytes where an Asset alone is 216,
// and the collector does not scan the entries at all: with ~8 pointers per
// asset it followed ~8 million pointers each cycle at 1M assets. An
// alert's assets are made from the entries when an advisory matches.

// Field positions in indexed.f.
const (
	fVendor = iota
	fProduct
	fModel
	fVersion
	fCategory
	fCriticality
	fLocation
	fZone
	fOwner
	fCPE
	fPURL
	nFields
)

// indexed is one asset in the index (see above). Position 0 of the string
// table is "".
type indexed struct {
	f            [nFields]uint32
	tags         uint32 // position in the tag-list table; 0: none
	idOff, idLen uint32 // the id in the hospital's arena
	vendor       uint32 // canonical vendor id
	alias        uint32 // the vendor alias the asset's vendor resolved by
	product      uint32 // normalised product
	model        uint32 // normalised model
	cpeVendor    uint32 // normalised CPE vendor and product; cpeProduct 0: no CPE
	cpeProduct   uint32
	order        int32 // position of the asset id in its hospital's inventory, sorted
}

// tenantAssets is one hospital's entries and the arena of their ids.
type tenantAssets struct {
	entries []indexed
	ids     []byte
}

// ref names an entry: the hospital's position in the index, the entry's
// position in its list.
type ref struct{ ti, k int32 }

// strTable is the strings of one matcher's indexes. Builds only append to
// it (under mu), so the entries of hospitals a later build reuses keep
// their positions; each index reads the slices as they were when it was
// built. Strings of hospitals since changed stay until a restart.
type strTable struct {
	mu   sync.Mutex
	strs []string
	tags [][]string
	pos  map[string]uint32
	tpos map[string]uint32
}

func newStrTable() *strTable {
	return &strTable{strs: []string{""}, tags: [][]string{nil}, pos: map[string]uint32{"": 0}, tpos: map[string]uint32{}}
}

func (t *strTable) put(s string) uint32 { return add(&t.strs, t.pos, s, s) }

func (t *strTable) putTags(tags []string) uint32 {
	if len(tags) == 0 {
		return 0
	}
	return add(&t.tags, t.tpos, strings.Join(tags, "\x00"), tags)
}

// add returns the position of key's value in list, appending v when the
// key is new.
func add[T any](list *[]T, pos map[string]uint32, key string, v T) uint32 {
	if p, ok := pos[key]; ok {
		return p
	}
	p := uint32(len(*list))
	*list = append(*list, v)
	pos[key] = p
	return p
}

// entry records an asset's fields; the caller sets the rest.
func (t *strTable) entry(a *Asset, ta *tenantAssets) indexed {
	c := indexed{tags: t.putTags(a.Tags), idOff: uint32(len(ta.ids)), idLen: uint32(len(a.ID))}
	ta.ids = append(ta.ids, a.ID...)
	for f, s := range [nFields]string{a.Vendor, a.Product, a.Model, a.Version, a.Category, a.Criticality, a.Location, a.Zone, a.Owner, a.CPE, a.PURL} {
		c.f[f] = t.put(s)
	}
	return c
}

// id returns an entry's id; the string shares the arena, which is never
// written again.
func (ta *tenantAssets) id(c *indexed) string {
	if c.idLen == 0 {
		return ""
	}
	return unsafe.String(&ta.ids[c.idOff], int(c.idLen))
}

// str returns the string at a table position.
func (ix *Index) str(p uint32) string { return ix.strs[p] }

// field returns one of an entry's asset fields (fVendor...).
func (ix *Index) field(c *indexed, f int) string { return ix.strs[c.f[f]] }

// entry returns the entry a ref names.
func (ix *Index) entry(r ref) *indexed { return &ix.byPos[r.ti].entries[r.k] }

// id returns the id of the asset a ref names.
func (ix *Index) id(r ref) string { return ix.byPos[r.ti].id(ix.entry(r)) }

// asset makes the Asset a ref names back from its entry.
func (ix *Index) asset(r ref) Asset {
	s, c := ix.strs, ix.entry(r)
	return Asset{ID: ix.byPos[r.ti].id(c), Vendor: s[c.f[fVendor]], Product: s[c.f[fProduct]], Model: s[c.f[fModel]], Version: s[c.f[fVersion]],
		Category: s[c.f[fCategory]], Criticality: s[c.f[fCriticality]], Location: s[c.f[fLocation]], Zone: s[c.f[fZone]],
		Owner: s[c.f[fOwner]], CPE: s[c.f[fCPE]], PURL: s[c.f[fPURL]], Tags: ix.tagLists[c.tags]}
}

// cpe returns an entry's normalised CPE name (product "": none).
func (ix *Index) cpe(c *indexed) cpeName {
	return cpeName{vendor: ix.strs[c.cpeVendor], product: ix.strs[c.cpeProduct]}
}

// arrange lays out a hospital's entries by what groups them (vendor,
// product, model, version, CPE as written), their ids in the same order,
// so that the assets an advisory hits in one hospital lie side by side in
// memory: making an alert's assets then reads a few runs of entries, not
// one cache miss per asset. It then numbers the entries in asset id order.
func (ta *tenantAssets) arrange() {
	n := len(ta.entries)
	perm := make([]int32, n)
	for i := range perm {
		perm[i] = int32(i)
	}
	key := func(c *indexed) [5]uint32 {
		return [5]uint32{c.f[fVendor], c.f[fProduct], c.f[fModel], c.f[fVersion], c.f[fCPE]}
	}
	slices.SortStableFunc(perm, func(a, b int32) int {
		ka, kb := key(&ta.entries[a]), key(&ta.entries[b])
		for i := range ka {
			if c := cmp.Compare(ka[i], kb[i]); c != 0 {
				return c
			}
		}
		return 0
	})
	entries, ids := make([]indexed, n), make([]byte, 0, len(ta.ids))
	for k, i := range perm {
		c := ta.entries[i]
		off := len(ids)
		ids = append(ids, ta.ids[c.idOff:c.idOff+c.idLen]...)
		c.idOff = uint32(off)
		entries[k] = c
	}
	ta.entries, ta.ids = entries, ids
	for i := range perm {
		perm[i] = int32(i)
	}
	slices.SortFunc(perm, func(a, b int32) int { return strings.Compare(ta.id(&ta.entries[a]), ta.id(&ta.entries[b])) })
	for k, i := range perm {
		ta.entries[i].order = int32(k)
	}
}
