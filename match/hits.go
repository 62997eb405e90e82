package match

import (
	"slices"
	"strings"
	"sync"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/enrich"
)

// hits are the assets an advisory matched or showed not affected, as
// spans: a span is the members of one group in one hospital, which lie side
// by side (a group's members are ordered by hospital) and share the group's
// verdict. An advisory that reaches a thousand assets in 80 hospitals makes
// a few hundred spans; the assets themselves are read only when an alert is
// built. Spans hold no pointers.
type hits struct {
	gs    []*group
	spans []span
	// Each template is the rule, confidence and reasons a span's members
	// share. The decision reads only the confidence; the wording is made
	// when the first alert is built (words).
	conf  []string
	tmpls []AssetMatch
	srcs  []wording // what a product list's templates are worded from
	once  sync.Once
}

// wording is the winning evidence of a group, to be worded as template at.
type wording struct {
	at int32
	ev evidence
	c  *indexed
}

// addTemplate adds a template, worded (text matches) or to be worded
// (m zero, with a wording in srcs), and returns its position.
func (h *hits) addTemplate(conf string, m AssetMatch) int32 {
	h.conf = append(h.conf, conf)
	h.tmpls = append(h.tmpls, m)
	return int32(len(h.conf) - 1)
}

// words returns the templates, wording those of a product list the first
// time; alerts are built side by side, so it is done once.
func (h *hits) words() []AssetMatch {
	h.once.Do(func() {
		for i := range h.srcs {
			w := &h.srcs[i]
			h.tmpls[w.at] = w.ev.assetMatch(w.c)
		}
	})
	return h.tmpls
}

type span struct {
	ti, g    int32 // tenant position, group
	from, to int32 // the group's members[from:to]
	tmpl     int32 // wording template; -1: not affected
	score    int8  // the highest assetScore of the members
}

// run is one tenant's members of a group: from the previous run's end (0
// for the first) to end, with their highest assetScore. An advisory's hits
// are made from runs (a few hundred) and not from members (thousands).
type run struct {
	ti, end int32
	score   int8
}

// appendRuns cuts members, ordered by tenant, into runs appended to out.
func appendRuns(out []run, ms []member) []run {
	for i := 0; i < len(ms); {
		r := run{ti: ms[i].ti, score: ms[i].score}
		j := i + 1
		for ; j < len(ms) && ms[j].ti == r.ti; j++ {
			r.score = max(r.score, ms[j].score)
		}
		r.end = int32(j)
		out = append(out, r)
		i = j
	}
	return out
}

// addGroup adds the spans of group g (position gi) in the tenants cleared
// for the advisory.
func (h *hits) addGroup(g *group, gi, tmpl int32, cleared func(int32) bool) {
	from := int32(0)
	for _, r := range g.runs {
		if cleared == nil || cleared(r.ti) {
			h.spans = append(h.spans, span{ti: r.ti, g: gi, from: from, to: r.end, tmpl: tmpl, score: r.score})
		}
		from = r.end
	}
}

// matchText matches an advisory without a product list: vendor found by
// enrich, product name or model number in its text, version bound in its
// title or summary. Each asset is judged alone: a span of one.
func (ix *Index) matchText(adv *advisory.Advisory, cleared func(int32) bool) *hits {
	text := " " + enrich.Normalize(adv.Text()) + " "
	bound, hasBound := ParseBound(adv.Title + "\n" + adv.Summary)
	g := &group{}
	res := &hits{gs: []*group{g}}
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
			k := int32(len(g.members))
			s := span{ti: ti, from: k, to: k + 1, tmpl: -1, score: assetScore(ix.field(c, fCriticality), ix.field(c, fZone))}
			g.members = append(g.members, member{ti: ti, k: r.k, order: c.order, score: s.score})
			if v == verdictMatched {
				s.tmpl = res.addTemplate(m.Confidence, m)
			}
			res.spans = append(res.spans, s)
		}
	}
	return res
}

// Matches is what one advisory matched: the hospitals it reaches and, for
// each, the alert's priority and confidence and the spans of its assets.
// The alerts themselves (each asset with its explanation) are built on
// demand by Alert, so that the matcher builds each in the worker that
// revises and publishes it. A Matches reads the index it came from, which
// never changes.
type Matches struct {
	ix       *Index
	aref     AdvisoryRef
	revision string
	cluster  string
	fix      bool
	res      *hits
	spans    []span // res.spans ordered by tenant
	alerts   []pending
}

// pending is one alert before it is built: its spans, or the vendor-watch
// alert it is.
type pending struct {
	tenant               string
	from, to             int32 // spans[from:to]
	assets, excluded     int32
	priority, confidence string
	watch                *Alert
}

// Len is the number of alerts.
func (m *Matches) Len() int { return len(m.alerts) }

// Tenant is the hospital alert i is for.
func (m *Matches) Tenant(i int) string { return m.alerts[i].tenant }

// Priority is alert i's priority, P1 to P4.
func (m *Matches) Priority(i int) string { return m.alerts[i].priority }

// Confidence is alert i's confidence: the best of its assets'.
func (m *Matches) Confidence(i int) string { return m.alerts[i].confidence }

// Counts is how many assets alert i names as affected, and how many the
// advisory shows not affected.
func (m *Matches) Counts(i int) (assets, excluded int) {
	return int(m.alerts[i].assets), int(m.alerts[i].excluded)
}

// Alerts builds every alert, in tenant order; nil when there is none.
func (m *Matches) Alerts() []Alert {
	if len(m.alerts) == 0 {
		return nil
	}
	var na, ne int32
	for i := range m.alerts {
		na, ne = na+m.alerts[i].assets, ne+m.alerts[i].excluded
	}
	b := newAlertBufs(na, ne) // one backing array for all
	out := make([]Alert, len(m.alerts))
	for i := range out {
		out[i] = m.build(i, &b)
	}
	return out
}

// alertBufs are the arrays alerts' assets and excluded ids are cut from.
type alertBufs struct {
	matches  []AssetMatch
	assets   []Asset
	excluded []string
}

func newAlertBufs(assets, excluded int32) alertBufs {
	return alertBufs{matches: make([]AssetMatch, assets), assets: make([]Asset, assets), excluded: make([]string, excluded)}
}

// Alert builds alert i: each asset with its explanation, in asset id
// order, and the ids of the assets shown not affected.
func (m *Matches) Alert(i int) Alert {
	b := newAlertBufs(m.alerts[i].assets, m.alerts[i].excluded)
	return m.build(i, &b)
}

// decide orders the spans by tenant and folds each tenant's into its
// alert's priority, confidence and counts. Tenants whose assets are all
// shown not affected get an alert without assets: that evidence still
// counts for the alert's lifecycle.
func (ix *Index) decide(adv *advisory.Advisory, aref AdvisoryRef, res *hits) *Matches {
	m := &Matches{ix: ix, aref: aref, revision: adv.Revision, cluster: clusterOf(adv), fix: fixAvailable(adv), res: res}
	if len(res.spans) == 0 {
		return m
	}
	var tenants int
	m.spans, tenants = byTenant(res.spans, len(ix.tenantIDs))
	m.alerts = make([]pending, 0, tenants)
	list := m.spans
	for i := 0; i < len(list); {
		p := pending{tenant: ix.tenantIDs[list[i].ti], from: int32(i), priority: "P4", confidence: Possible}
		best := -1
		j := i
		for ; j < len(list) && list[j].ti == list[i].ti; j++ {
			s := &list[j]
			n := s.to - s.from
			if s.tmpl < 0 {
				p.excluded += n
				continue
			}
			p.assets += n
			conf := res.conf[s.tmpl]
			if prio, score := priority(&aref, s.score, conf); score > best {
				best, p.priority = score, prio
			}
			if rank(conf) > rank(p.confidence) {
				p.confidence = conf
			}
		}
		p.to = int32(j)
		m.alerts = append(m.alerts, p)
		i = j
	}
	return m
}

// byTenant returns the spans ordered by tenant (a stable counting sort),
// and how many tenants they are of.
func byTenant(spans []span, tenants int) ([]span, int) {
	count := make([]int32, tenants+1)
	for i := range spans {
		count[spans[i].ti+1]++
	}
	distinct := 0
	for i := 1; i <= tenants; i++ {
		if count[i] > 0 {
			distinct++
		}
		count[i] += count[i-1]
	}
	out := make([]span, len(spans))
	for i := range spans {
		k := spans[i].ti
		out[count[k]] = spans[i]
		count[k]++
	}
	return out, distinct
}

// build builds alert i with arrays cut from b.
func (m *Matches) build(i int, b *alertBufs) Alert {
	p := &m.alerts[i]
	if p.watch != nil {
		return *p.watch
	}
	al := Alert{
		Schema: AlertSchema, ID: AlertID(p.tenant, m.cluster), Tenant: p.tenant, Revision: m.revision, ClusterID: m.cluster,
		Advisory: m.aref, Priority: p.priority, Confidence: p.confidence, FixAvailable: m.fix,
	}
	// The tenant's members, in asset order: each span is in asset order,
	// so a few are merged; many (text matches: spans of one) are sorted.
	type item struct{ order, g, k, tmpl int32 }
	var buf [16]item
	items := buf[:0]
	spans := m.spans[p.from:p.to]
	if len(spans) == 1 || len(spans) > 8 {
		for _, s := range spans {
			ms := m.res.gs[s.g].members
			for k := s.from; k < s.to; k++ {
				items = append(items, item{order: ms[k].order, g: s.g, k: k, tmpl: s.tmpl})
			}
		}
		if len(spans) > 1 {
			slices.SortFunc(items, func(a, b item) int { return int(a.order - b.order) })
		}
	} else {
		var next [8]int32
		for i, s := range spans {
			next[i] = s.from
		}
		for {
			pick, order := -1, int32(0)
			for i, s := range spans {
				if next[i] < s.to {
					if o := m.res.gs[s.g].members[next[i]].order; pick < 0 || o < order {
						pick, order = i, o
					}
				}
			}
			if pick < 0 {
				break
			}
			s := &spans[pick]
			items = append(items, item{order: order, g: s.g, k: next[pick], tmpl: s.tmpl})
			next[pick]++
		}
	}
	if p.assets > 0 {
		tmpls := m.res.words()
		al.Assets, b.matches = b.matches[:p.assets:p.assets], b.matches[p.assets:]
		assets := b.assets[:p.assets]
		b.assets = b.assets[p.assets:]
		n := 0
		for _, x := range items {
			if x.tmpl >= 0 {
				mb := &m.res.gs[x.g].members[x.k]
				assets[n] = m.ix.asset(ref{mb.ti, mb.k})
				al.Assets[n] = tmpls[x.tmpl]
				al.Assets[n].Asset = &assets[n]
				n++
			}
		}
	}
	if p.excluded > 0 {
		al.Excluded, b.excluded = b.excluded[:p.excluded:p.excluded], b.excluded[p.excluded:]
		n := 0
		for _, x := range items {
			if x.tmpl < 0 {
				mb := &m.res.gs[x.g].members[x.k]
				al.Excluded[n] = m.ix.id(ref{mb.ti, mb.k})
				n++
			}
		}
	}
	return al
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
