package match

import (
	"fmt"
	"sort"
	"strings"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/enrich"
)

// Index maps canonical vendor ids to every tenant's assets of that vendor.
// It is immutable: a change of tenants or inventories builds a new one.
type Index struct {
	tenants    map[string]Tenant
	byVendor   map[string][]ref
	vendors    *enrich.Vendors
	structured map[string]*vendorAssets
	watchers   []Tenant // tenants with a vendor-watch subscription
	// perTenant and digests let UpdateIndex reuse unchanged tenants' work.
	perTenant map[string]*tenantAssets
	digests   map[string]string
	assets    int
	// Unresolved counts assets whose vendor is not in the vendor table; they
	// cannot match until it is.
	Unresolved map[string][]string
	// tenantIDs are the tenants in id order; a tenant's position in it
	// (tenantPos) orders hits and alerts, clearance is its TLP rank, byPos
	// its assets.
	tenantIDs []string
	tenantPos map[string]int32
	clearance []int
	// minClearance is the lowest clearance of any tenant (0 without tenants).
	minClearance int
	byPos        []*tenantAssets
	// The string table, shared with the builds after this one, and the
	// part of it this index reads (see assetrec.go).
	tab      *strTable
	strs     []string
	tagLists [][]string
}

// BuildIndex indexes the tenants' inventories (keyed by tenant id).
func BuildIndex(vendors *enrich.Vendors, tenants []Tenant, inventories map[string][]Asset) *Index {
	return UpdateIndex(nil, vendors, tenants, inventories, nil)
}

// UpdateIndex builds the index again after tenants or inventories changed,
// reusing the resolved and normalised entries of every tenant whose digest
// (see tenantDigest) is unchanged in prev: only changed tenants pay for
// vendor resolution and name normalisation. digests may be nil. The index
// keeps no reference to the inventories.
func UpdateIndex(prev *Index, vendors *enrich.Vendors, tenants []Tenant, inventories map[string][]Asset, digests map[string]string) *Index {
	ix := &Index{tenants: map[string]Tenant{}, byVendor: map[string][]ref{}, Unresolved: map[string][]string{},
		vendors: vendors, structured: map[string]*vendorAssets{}, perTenant: map[string]*tenantAssets{}, digests: digests}
	if prev != nil {
		ix.tab = prev.tab
	} else {
		ix.tab = newStrTable()
	}
	tab := ix.tab
	tab.mu.Lock()
	defer tab.mu.Unlock()
	// Many assets share a product: normalise each distinct name once.
	norm := map[string]uint32{}
	normalize := func(vendorID, product string, f func() string) uint32 {
		k := vendorID + "\x00" + product
		if n, ok := norm[k]; ok {
			return n
		}
		n := tab.put(f())
		norm[k] = n
		return n
	}
	for _, t := range tenants {
		ix.tenants[t.ID] = t
		for _, s := range t.Subscriptions {
			if s.VendorWatch {
				ix.watchers = append(ix.watchers, t)
				break
			}
		}
		if prev != nil && digests != nil && prev.digests != nil && digests[t.ID] != "" && prev.digests[t.ID] == digests[t.ID] {
			ix.perTenant[t.ID] = prev.perTenant[t.ID]
			if u := prev.Unresolved[t.ID]; len(u) > 0 {
				ix.Unresolved[t.ID] = u
			}
			continue
		}
		inv := inventories[t.ID]
		idBytes := 0
		for i := range inv {
			idBytes += len(inv[i].ID)
		}
		ta := &tenantAssets{entries: make([]indexed, 0, len(inv)), ids: make([]byte, 0, idBytes)}
		for i := range inv {
			a := &inv[i]
			r, ok := vendors.Resolve(a.Vendor)
			if !ok {
				ix.Unresolved[t.ID] = append(ix.Unresolved[t.ID], a.ID)
				continue
			}
			v := r.Vendor
			c := tab.entry(a, ta)
			c.vendor, c.alias = tab.put(v.ID), tab.put(r.Alias)
			c.product = normalize(v.ID, a.Product, func() string { return vendors.NormalizeProduct(a.Product, v) })
			c.model = normalize("", a.Model, func() string { return enrich.Normalize(a.Model) })
			if a.CPE != "" {
				if n := parseCPEName(a.CPE); n.product != "" {
					c.cpeVendor, c.cpeProduct = tab.put(n.vendor), tab.put(n.product)
				}
			}
			ta.entries = append(ta.entries, c)
		}
		ta.arrange()
		ix.perTenant[t.ID] = ta
	}
	ix.strs, ix.tagLists = tab.strs, tab.tags
	for id := range ix.tenants {
		ix.tenantIDs = append(ix.tenantIDs, id)
	}
	sort.Strings(ix.tenantIDs)
	ix.tenantPos = make(map[string]int32, len(ix.tenantIDs))
	ix.clearance = make([]int, len(ix.tenantIDs))
	ix.byPos = make([]*tenantAssets, len(ix.tenantIDs))
	for i, id := range ix.tenantIDs {
		ix.tenantPos[id] = int32(i)
		ix.clearance[i] = tlpRank[ix.tenants[id].TLPClearance]
		if i == 0 || ix.clearance[i] < ix.minClearance {
			ix.minClearance = ix.clearance[i]
		}
		ta := ix.perTenant[id]
		if ta == nil {
			ta = &tenantAssets{}
		}
		ix.byPos[i] = ta
		for k := range ta.entries {
			vid := ix.strs[ta.entries[k].vendor]
			ix.byVendor[vid] = append(ix.byVendor[vid], ref{int32(i), int32(k)})
		}
		ix.assets += len(ta.entries)
	}
	for vid, list := range ix.byVendor {
		ix.structured[vid] = newVendorAssets(ix, list)
	}
	return ix
}

// Assets is the number of indexed assets.
func (ix *Index) Assets() int { return ix.assets }

// Tenants is the number of tenants.
func (ix *Index) Tenants() int { return len(ix.tenants) }

// Match returns one alert per tenant whose assets the advisory affects,
// in tenant order, each alert's assets in asset id order.
func (ix *Index) Match(adv *advisory.Advisory) []Alert { return ix.Matches(adv).Alerts() }

// Matches decides which tenants' assets the advisory affects, and each
// alert's priority and confidence; its alerts are built on demand.
func (ix *Index) Matches(adv *advisory.Advisory) *Matches {
	if adv.Enrichment == nil {
		return &Matches{ix: ix}
	}
	aref := AdvisoryRef{
		Source: adv.Source, ID: adv.ID, Revision: adv.Revision, Title: adv.Title, URL: adv.URL,
		Summary: adv.Summary, Published: adv.Published, FetchedAt: adv.FetchedAt, CVEs: adv.CVEs,
		KEV: adv.KEV, Severity: adv.Severity, TLP: adv.TLP,
		PatientSafety: adv.Enrichment.PatientSafety, Relevance: adv.Enrichment.Relevance.Score, VendorID: adv.Enrichment.VendorID,
	}
	cleared := ix.clearedFor(adv.TLP)
	var res *hits
	if hasStructuredProducts(adv) {
		res = ix.matchStructured(adv, cleared) // a product list says more than the text
	} else {
		res = ix.matchText(adv, cleared)
	}
	m := ix.decide(adv, aref, res)
	if len(ix.watchers) > 0 {
		have := make(map[string]bool, len(m.alerts))
		for _, p := range m.alerts {
			have[p.tenant] = p.assets > 0
		}
		if w := ix.watchAlerts(adv, aref, have); len(w) > 0 {
			for i := range w {
				m.alerts = append(m.alerts, pending{tenant: w[i].Tenant, priority: w[i].Priority, confidence: w[i].Confidence, watch: &w[i]})
			}
			sort.SliceStable(m.alerts, func(i, j int) bool { return m.alerts[i].tenant < m.alerts[j].tenant })
		}
	}
	return m
}

// Subscribed reports whether the alert's tenant wants it, and sets the
// channels it goes to (a.Channels; nil for all).
func (ix *Index) Subscribed(a *Alert, adv *advisory.Advisory) bool {
	t, ok := ix.tenants[a.Tenant]
	if !ok {
		return false
	}
	channels, ok := t.Route(a, adv, ix.vendors)
	a.Channels = channels
	return ok
}

func rank(conf string) int {
	switch conf {
	case Exact:
		return 3
	case Probable:
		return 2
	case Possible:
		return 1
	}
	return 0
}

type verdict int

const (
	verdictNone     verdict = iota
	verdictMatched          // the asset is affected (or possibly affected)
	verdictExcluded         // vendor and product match, the version is outside the range
)

func (ix *Index) matchAsset(c *indexed, vr advisory.VendorRef, text string, bound Bound, hasBound bool) (AssetMatch, verdict) {
	var productReason string
	product, model := ix.str(c.product), ix.str(c.model)
	byModel := false
	switch {
	case product != "" && strings.Contains(text, " "+product+" "):
		productReason = fmt.Sprintf("product %q in advisory text", ix.field(c, fProduct))
	case len(model) >= 3 && strings.Contains(text, " "+model+" "):
		productReason = fmt.Sprintf("model %q in advisory text", ix.field(c, fModel))
		byModel = true
	default:
		return AssetMatch{}, verdictNone
	}
	vendorReason := fmt.Sprintf("vendor %q = %q (%s, in advisory %s)", ix.field(c, fVendor), vr.MatchedAs, ix.str(c.vendor), vr.Field)
	rule := "text-product"
	if byModel {
		rule = "text-model"
	}
	m := AssetMatch{Rule: rule, Reasons: []string{vendorReason, productReason}}
	switch {
	case !hasBound:
		m.Confidence = Possible
		m.Reasons = append(m.Reasons, "advisory states no version range: asset version not compared")
	case ix.field(c, fVersion) == "":
		m.Confidence = Possible
		m.Reasons = append(m.Reasons, fmt.Sprintf("asset version unknown; advisory says %q", bound.Phrase))
	case bound.Affects(ix.field(c, fVersion)):
		op := "<"
		if bound.Inclusive {
			op = "<="
		}
		m.Confidence = Exact
		if byModel {
			m.Confidence = Probable
		}
		m.Reasons = append(m.Reasons, fmt.Sprintf("version %s %s %s (advisory: %q)", ix.field(c, fVersion), op, bound.Version, bound.Phrase))
	default:
		return AssetMatch{}, verdictExcluded // version is outside the affected range
	}
	return m, verdictMatched
}

// clusterOf is the vulnerability cluster an alert is about: one alert per
// tenant and cluster, whichever source reports it.
func clusterOf(adv *advisory.Advisory) string {
	if adv.Enrichment != nil && adv.Enrichment.ClusterID != "" {
		return adv.Enrichment.ClusterID
	}
	return adv.Key()
}

func fixAvailable(adv *advisory.Advisory) bool {
	for _, v := range adv.Vulnerabilities {
		for _, r := range v.Remediations {
			if r.Category == "vendor_fix" {
				return true
			}
		}
	}
	return false
}
