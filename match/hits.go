package match

import (
	"slices"
	"strings"
	"sync"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/enrich"
)

// hits are the assets an advisory matched or showed not affected. A hit
// holds no pointers (the asset is member k of group g, the wording template
// tmpl, -1 for not affected), so collecting and ordering thousands of them
// costs the garbage collector nothing.
type hits struct {
	gs    []*group
	tmpls []AssetMatch // rule, confidence and reasons, shared by a group's members
	list  []hit
	bufs  *hitBufs
}

type hit struct {
	ti, order int32 // tenant position, asset position in the tenant
	g, k      int32
	tmpl      int32
	score     int8 // assetScore
}

func (h *hits) member(x *hit) *member { return &h.gs[x.g].members[x.k] }

// scratch reuses the hit lists of earlier matches: a large advisory
// collects thousands, and fresh memory for each costs page faults.
var scratch = sync.Pool{New: func() any { return &hitBufs{} }}

type hitBufs struct {
	list, sorted, tmp []hit
	count             []int32
}

func newHits(gs []*group, n int) *hits {
	b := scratch.Get().(*hitBufs)
	return &hits{gs: gs, list: slices.Grow(b.list[:0], n), bufs: b}
}

// release returns the scratch lists; the hits must not be used after.
func (h *hits) release() {
	b := h.bufs
	b.list = h.list[:0]
	if cap(b.list) > 1<<20 {
		b.list, b.sorted, b.tmp, b.count = nil, nil, nil, nil // a huge one-off is not kept
	}
	scratch.Put(b)
}

// matchText matches an advisory without a product list: vendor found by
// enrich, product name or model number in its text, version bound in its
// title or summary.
func (ix *Index) matchText(adv *advisory.Advisory, cleared func(int32) bool) *hits {
	text := " " + enrich.Normalize(adv.Text()) + " "
	bound, hasBound := ParseBound(adv.Title + "\n" + adv.Summary)
	g := &group{}
	res := newHits([]*group{g}, 0)
	for _, vr := range adv.Enrichment.Vendors {
		for _, r := range ix.byVendor[vr.ID] {
			ti := r.ti
			if cleared != nil && !cleared(ti) {
				continue
			}
			c := ix.entry(r)
			m, v := ix.matchAsset(c, vr, text, bound, hasBound)
			if v == verdictNone {
				continue
			}
			h := hit{ti: ti, order: c.order, k: int32(len(g.members)), tmpl: -1, score: assetScore(ix.field(c, fCriticality), ix.field(c, fZone))}
			g.members = append(g.members, member{ti: ti, k: r.k, order: c.order, score: h.score})
			if v == verdictMatched {
				h.tmpl = int32(len(res.tmpls))
				res.tmpls = append(res.tmpls, m)
			}
			res.list = append(res.list, h)
		}
	}
	return res
}

// byTenant orders the hits by tenant, then by asset within each tenant.
// When asset positions are small (inventories under 65,536 assets) it is
// two stable counting sorts, by position and then by tenant; otherwise a
// counting sort by tenant and a comparison sort within each.
func (h *hits) byTenant(tenants int) []hit {
	var maxOrder int32
	for i := range h.list {
		maxOrder = max(maxOrder, h.list[i].order)
	}
	out := slices.Grow(h.bufs.sorted[:0], len(h.list))[:len(h.list)]
	h.bufs.sorted = out
	if maxOrder < 1<<16 {
		tmp := slices.Grow(h.bufs.tmp[:0], len(h.list))[:len(h.list)]
		h.bufs.tmp = tmp
		h.countingSort(h.list, tmp, int(maxOrder)+1, func(x *hit) int32 { return x.order })
		h.countingSort(tmp, out, tenants, func(x *hit) int32 { return x.ti })
		return out
	}
	h.countingSort(h.list, out, tenants, func(x *hit) int32 { return x.ti })
	for i := 0; i < len(out); {
		j := i + 1
		sorted := true
		for ; j < len(out) && out[j].ti == out[i].ti; j++ {
			sorted = sorted && out[j].order >= out[j-1].order
		}
		if !sorted {
			slices.SortFunc(out[i:j], func(a, b hit) int { return int(a.order - b.order) })
		}
		i = j
	}
	return out
}

// countingSort places src into dst ordered by key (0 <= key < keys),
// keeping the order of equal keys.
func (h *hits) countingSort(src, dst []hit, keys int, key func(*hit) int32) {
	count := slices.Grow(h.bufs.count[:0], keys+1)[:keys+1]
	clear(count)
	h.bufs.count = count
	for i := range src {
		count[key(&src[i])+1]++
	}
	for i := 1; i <= keys; i++ {
		count[i] += count[i-1]
	}
	for i := range src {
		k := key(&src[i])
		dst[count[k]] = src[i]
		count[k]++
	}
}

// assemble makes one alert per tenant from the hits. Tenants whose assets
// are all shown not affected get an alert without assets: that evidence
// still counts for the alert's lifecycle.
func (ix *Index) assemble(adv *advisory.Advisory, aref AdvisoryRef, res *hits) []Alert {
	if len(res.list) == 0 {
		res.release()
		return nil
	}
	defer res.release()
	list := res.byTenant(len(ix.tenantIDs))
	nm, tenants := 0, 1
	for i := range list {
		if list[i].tmpl >= 0 {
			nm++
		}
		if i > 0 && list[i].ti != list[i-1].ti {
			tenants++
		}
	}
	matches := make([]AssetMatch, 0, nm)        // one backing array for every alert's assets
	assets := make([]Asset, nm)                 // ... for the assets they point to
	excluded := make([]string, 0, len(list)-nm) // ... and for excluded ids
	alerts := make([]Alert, 0, tenants+len(ix.watchers))
	cluster, fix := clusterOf(adv), fixAvailable(adv)
	for i := 0; i < len(list); {
		j := i
		m0, e0 := len(matches), len(excluded)
		best, prio, conf := -1, "P4", Possible
		for ; j < len(list) && list[j].ti == list[i].ti; j++ {
			x := &list[j]
			mb := res.member(x)
			if x.tmpl < 0 {
				excluded = append(excluded, ix.id(ref{mb.ti, mb.k}))
				continue
			}
			m := res.tmpls[x.tmpl]
			a := &assets[len(matches)]
			*a = ix.asset(ref{mb.ti, mb.k})
			m.Asset = a
			matches = append(matches, m)
			if p, score := priority(&aref, x.score, m.Confidence); score > best {
				best, prio = score, p
			}
			if rank(m.Confidence) > rank(conf) {
				conf = m.Confidence
			}
		}
		tenant := ix.tenantIDs[list[i].ti]
		al := Alert{
			Schema: AlertSchema, ID: AlertID(tenant, cluster), Tenant: tenant, Revision: adv.Revision, ClusterID: cluster,
			Advisory: aref, Priority: prio, Confidence: conf, FixAvailable: fix,
		}
		if len(matches) > m0 {
			al.Assets = matches[m0:len(matches):len(matches)]
		}
		if len(excluded) > e0 {
			al.Excluded = excluded[e0:len(excluded):len(excluded)]
		}
		alerts = append(alerts, al)
		i = j
	}
	return alerts
}

// clearedFor returns whether the tenant at a position may receive an
// advisory marked tlp; unknown markings are treated as the most
// restrictive. It returns nil when every tenant may (most advisories are
// TLP:CLEAR), so that emitting hits costs no call per asset.
func (ix *Index) clearedFor(tlp advisory.TLP) func(int32) bool {
	r, ok := tlpRank[advisory.TLP(strings.ToUpper(string(tlp)))]
	if ok && r <= ix.minClearance {
		return nil
	}
	return func(ti int32) bool { return ok && ix.clearance[ti] >= r }
}
