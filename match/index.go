package match

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/enrich"
)

// Index maps canonical vendor ids to every tenant's assets of that vendor.
// It is immutable: a change of tenants or inventories builds a new one.
type Index struct {
	tenants    map[string]Tenant
	byVendor   map[string][]*indexed
	vendors    *enrich.Vendors
	structured map[string]*vendorAssets
	watchers   []Tenant // tenants with a vendor-watch subscription
	// perTenant and digests let UpdateIndex reuse unchanged tenants' work.
	perTenant map[string][]indexed
	digests   map[string]string
	assets    int
	// Unresolved counts assets whose vendor is not in the vendor table; they
	// cannot match until it is.
	Unresolved map[string][]string
	// tenantIDs are the tenants in id order; a tenant's position in it
	// (tenantPos) orders hits and alerts, clearance is its TLP rank.
	tenantIDs []string
	tenantPos map[string]int32
	clearance []int
}

type indexed struct {
	tenant      string
	rec         assetRec  // the asset (see assetrec.go)
	tab         *strTable // rec's strings
	vendor      *enrich.Vendor
	vendorAlias string
	product     string   // normalised
	model       string   // normalised
	cpe         *cpeName // nil: the asset names no CPE (most do not)
	order       int32    // position of the asset id in its tenant's inventory, sorted
}

// BuildIndex indexes the tenants' inventories (keyed by tenant id).
func BuildIndex(vendors *enrich.Vendors, tenants []Tenant, inventories map[string][]Asset) *Index {
	return UpdateIndex(nil, vendors, tenants, inventories, nil)
}

// UpdateIndex builds the index again after tenants or inventories changed,
// reusing the resolved and normalised entries of every tenant whose digest
// (see tenantDigest) is unchanged in prev: only changed tenants pay for
// vendor resolution and name normalisation. digests may be nil.
func UpdateIndex(prev *Index, vendors *enrich.Vendors, tenants []Tenant, inventories map[string][]Asset, digests map[string]string) *Index {
	ix := &Index{tenants: map[string]Tenant{}, byVendor: map[string][]*indexed{}, Unresolved: map[string][]string{},
		vendors: vendors, structured: map[string]*vendorAssets{}, perTenant: map[string][]indexed{}, digests: digests}
	// Many assets share a product: normalise each distinct name once.
	norm := map[string]string{}
	normalize := func(vendorID, product string, f func() string) string {
		k := vendorID + "\x00" + product
		if n, ok := norm[k]; ok {
			return n
		}
		n := f()
		norm[k] = n
		return n
	}
	var tab *strTable // for the tenants built anew
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
		if tab == nil {
			tab = newStrTable()
		}
		entries := make([]indexed, 0, len(inv))
		for i := range inv {
			a := &inv[i]
			r, ok := vendors.Resolve(a.Vendor)
			if !ok {
				ix.Unresolved[t.ID] = append(ix.Unresolved[t.ID], a.ID)
				continue
			}
			v := r.Vendor
			c := indexed{
				tenant: t.ID, rec: tab.record(a), tab: tab, vendor: v, vendorAlias: r.Alias,
				product: normalize(v.ID, a.Product, func() string { return vendors.NormalizeProduct(a.Product, v) }),
				model:   normalize("", a.Model, func() string { return enrich.Normalize(a.Model) }),
			}
			if a.CPE != "" {
				if n := parseCPEName(a.CPE); n.product != "" {
					c.cpe = &n
				}
			}
			entries = append(entries, c)
		}
		byID := make([]int32, len(entries))
		for i := range byID {
			byID[i] = int32(i)
		}
		slices.SortFunc(byID, func(a, b int32) int { return strings.Compare(entries[a].rec.id, entries[b].rec.id) })
		for k, i := range byID {
			entries[i].order = int32(k)
		}
		ix.perTenant[t.ID] = entries
	}
	if tab != nil {
		tab.done()
	}
	for id := range ix.tenants {
		ix.tenantIDs = append(ix.tenantIDs, id)
	}
	sort.Strings(ix.tenantIDs)
	ix.tenantPos = make(map[string]int32, len(ix.tenantIDs))
	ix.clearance = make([]int, len(ix.tenantIDs))
	for i, id := range ix.tenantIDs {
		ix.tenantPos[id] = int32(i)
		ix.clearance[i] = tlpRank[ix.tenants[id].TLPClearance]
	}
	for _, entries := range ix.perTenant {
		for i := range entries {
			c := &entries[i]
			ix.byVendor[c.vendor.ID] = append(ix.byVendor[c.vendor.ID], c)
		}
		ix.assets += len(entries)
	}
	for vid, list := range ix.byVendor {
		ix.structured[vid] = newVendorAssets(list, ix.tenantPos)
	}
	return ix
}

// Assets is the number of indexed assets.
func (ix *Index) Assets() int { return ix.assets }

// Tenants is the number of tenants.
func (ix *Index) Tenants() int { return len(ix.tenants) }

// Match returns one alert per tenant whose assets the advisory affects,
// in tenant order, each alert's assets in asset id order.
func (ix *Index) Match(adv *advisory.Advisory) []Alert {
	if adv.Enrichment == nil {
		return nil
	}
	ref := AdvisoryRef{
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
	alerts := ix.assemble(adv, ref, res)
	if len(ix.watchers) > 0 {
		have := make(map[string]bool, len(alerts))
		for _, a := range alerts {
			have[a.Tenant] = len(a.Assets) > 0
		}
		if w := ix.watchAlerts(adv, ref, have); len(w) > 0 {
			alerts = append(alerts, w...)
			sort.SliceStable(alerts, func(i, j int) bool { return alerts[i].Tenant < alerts[j].Tenant })
		}
	}
	return alerts
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

func matchAsset(c *indexed, vr advisory.VendorRef, text string, bound Bound, hasBound bool) (AssetMatch, verdict) {
	var productReason string
	byModel := false
	switch {
	case c.product != "" && strings.Contains(text, " "+c.product+" "):
		productReason = fmt.Sprintf("product %q in advisory text", c.field(fProduct))
	case len(c.model) >= 3 && strings.Contains(text, " "+c.model+" "):
		productReason = fmt.Sprintf("model %q in advisory text", c.field(fModel))
		byModel = true
	default:
		return AssetMatch{}, verdictNone
	}
	vendorReason := fmt.Sprintf("vendor %q = %q (%s, in advisory %s)", c.field(fVendor), vr.MatchedAs, c.vendor.ID, vr.Field)
	rule := "text-product"
	if byModel {
		rule = "text-model"
	}
	m := AssetMatch{Rule: rule, Reasons: []string{vendorReason, productReason}}
	switch {
	case !hasBound:
		m.Confidence = Possible
		m.Reasons = append(m.Reasons, "advisory states no version range: asset version not compared")
	case c.field(fVersion) == "":
		m.Confidence = Possible
		m.Reasons = append(m.Reasons, fmt.Sprintf("asset version unknown; advisory says %q", bound.Phrase))
	case bound.Affects(c.field(fVersion)):
		op := "<"
		if bound.Inclusive {
			op = "<="
		}
		m.Confidence = Exact
		if byModel {
			m.Confidence = Probable
		}
		m.Reasons = append(m.Reasons, fmt.Sprintf("version %s %s %s (advisory: %q)", c.field(fVersion), op, bound.Version, bound.Phrase))
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
