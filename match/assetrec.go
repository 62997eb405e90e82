package match

import "strings"

// The index keeps each asset as an assetRec: its id, and its other fields
// as positions in a string table shared by the assets indexed together
// (names, versions, locations and zones repeat across assets and
// hospitals). A record is 64 bytes where an Asset is 216: at a million
// assets that is ~150 MB less to hold and to scan for the collector. An
// alert's assets are made from the records when an advisory matches.

// Field positions in assetRec.f.
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

type assetRec struct {
	id   string
	f    [nFields]uint32
	tags uint32 // position in strTable.tags; 0: none
}

// strTable is the strings and tag lists of the records made by one index
// build. It is not changed after the build: records of tenants reused by
// a later build keep theirs.
type strTable struct {
	strs []string   // strs[0] is ""
	tags [][]string // tags[0] is nil
	pos  map[string]uint32
	tpos map[string]uint32
}

func newStrTable() *strTable {
	return &strTable{strs: []string{""}, tags: [][]string{nil}, pos: map[string]uint32{"": 0}, tpos: map[string]uint32{}}
}

func (t *strTable) put(s string) uint32 {
	if p, ok := t.pos[s]; ok {
		return p
	}
	p := uint32(len(t.strs))
	t.strs = append(t.strs, s)
	t.pos[s] = p
	return p
}

func (t *strTable) putTags(tags []string) uint32 {
	if len(tags) == 0 {
		return 0
	}
	k := strings.Join(tags, "\x00")
	if p, ok := t.tpos[k]; ok {
		return p
	}
	p := uint32(len(t.tags))
	t.tags = append(t.tags, tags)
	t.tpos[k] = p
	return p
}

// done drops the lookup maps once the build no longer adds to the table.
func (t *strTable) done() { t.pos, t.tpos = nil, nil }

func (t *strTable) record(a *Asset) assetRec {
	r := assetRec{id: a.ID, tags: t.putTags(a.Tags)}
	for f, s := range [nFields]string{a.Vendor, a.Product, a.Model, a.Version, a.Category, a.Criticality, a.Location, a.Zone, a.Owner, a.CPE, a.PURL} {
		r.f[f] = t.put(s)
	}
	return r
}

// field returns one of the asset's fields (fVendor...).
func (c *indexed) field(f int) string { return c.tab.strs[c.rec.f[f]] }

// asset makes the Asset back from the record.
func (c *indexed) asset() Asset {
	s, r := c.tab.strs, &c.rec
	return Asset{ID: r.id, Vendor: s[r.f[fVendor]], Product: s[r.f[fProduct]], Model: s[r.f[fModel]], Version: s[r.f[fVersion]],
		Category: s[r.f[fCategory]], Criticality: s[r.f[fCriticality]], Location: s[r.f[fLocation]], Zone: s[r.f[fZone]],
		Owner: s[r.f[fOwner]], CPE: s[r.f[fCPE]], PURL: s[r.f[fPURL]], Tags: c.tab.tags[r.tags]}
}
