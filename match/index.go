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
}

type indexed struct {
	tenant      string
	asset       *Asset
	vendor      *enrich.Vendor
	vendorAlias string
	product     string // normalised
	model       string // normalised
	cpe         cpeName
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
				tenant: t.ID, asset: a, vendor: v, vendorAlias: r.Alias,
				product: normalize(v.ID, a.Product, func() string { return vendors.NormalizeProduct(a.Product, v) }),
				model:   normalize("", a.Model, func() string { return enrich.Normalize(a.Model) }),
			}
			if a.CPE != "" {
				c.cpe = parseCPEName(a.CPE)
			}
			entries = append(entries, c)
		}
		ix.perTenant[t.ID] = entries
	}
	for _, entries := range ix.perTenant {
		for i := range entries {
			c := &entries[i]
			ix.byVendor[c.vendor.ID] = append(ix.byVendor[c.vendor.ID], c)
		}
		ix.assets += len(entries)
	}
	for vid, list := range ix.byVendor {
		ix.structured[vid] = newVendorAssets(list)
	}
	return ix
}

// Assets is the number of indexed assets.
func (ix *Index) Assets() int { return ix.assets }

// Tenants is the number of tenants.
func (ix *Index) Tenants() int { return len(ix.tenants) }

// Match returns one alert per tenant whose assets the advisory affects.
func (ix *Index) Match(adv *advisory.Advisory) []Alert {
	ref := AdvisoryRef{
		Source: adv.Source, ID: adv.ID, Revision: adv.Revision, Title: adv.Title, URL: adv.URL,
		Summary: adv.Summary, Published: adv.Published, FetchedAt: adv.FetchedAt, CVEs: adv.CVEs,
		KEV: adv.KEV, Severity: adv.Severity, TLP: adv.TLP,
	}
	if adv.Enrichment != nil {
		ref.PatientSafety, ref.Relevance = adv.Enrichment.PatientSafety, adv.Enrichment.Relevance.Score
	}
	byTenant := map[string][]AssetMatch{}
	excluded := map[string][]string{}
	if adv.Enrichment == nil {
		return nil
	}
	if hasStructuredProducts(adv) {
		byTenant, excluded = ix.matchStructured(adv) // a product list says more than the text
	} else {
		text := " " + enrich.Normalize(adv.Text()) + " "
		bound, hasBound := ParseBound(adv.Title + "\n" + adv.Summary)
		for _, vr := range adv.Enrichment.Vendors {
			for _, c := range ix.byVendor[vr.ID] {
				if t := ix.tenants[c.tenant]; !t.Cleared(adv.TLP) {
					continue
				}
				switch m, v := matchAsset(c, vr, text, bound, hasBound); v {
				case verdictMatched:
					byTenant[c.tenant] = append(byTenant[c.tenant], m)
				case verdictExcluded:
					excluded[c.tenant] = append(excluded[c.tenant], c.asset.ID)
				}
			}
		}
	}
	for tenant := range excluded {
		if _, ok := byTenant[tenant]; !ok {
			byTenant[tenant] = nil // evidence that assets are not affected still counts
		}
	}
	var alerts []Alert
	for tenant, ms := range byTenant {
		sort.Slice(ms, func(i, j int) bool { return ms[i].Asset.ID < ms[j].Asset.ID })
		al := Alert{
			Schema: AlertSchema, ID: AlertID(tenant, clusterOf(adv)), Tenant: tenant, Revision: adv.Revision, ClusterID: clusterOf(adv),
			Advisory: ref, Assets: ms, Priority: "P4", Confidence: Possible,
		}
		best := -1
		for _, m := range ms {
			if p, score := Priority(ref, m); score > best {
				best, al.Priority = score, p
			}
			if rank(m.Confidence) > rank(al.Confidence) {
				al.Confidence = m.Confidence
			}
		}
		al.FixAvailable = fixAvailable(adv)
		al.Excluded = excluded[tenant]
		alerts = append(alerts, al)
	}
	have := map[string]bool{}
	for _, a := range alerts {
		have[a.Tenant] = len(a.Assets) > 0
	}
	alerts = append(alerts, ix.watchAlerts(adv, ref, have)...)
	sort.Slice(alerts, func(i, j int) bool { return alerts[i].Tenant < alerts[j].Tenant })
	return alerts
}

// Subscribed reports whether the alert's tenant wants it.
func (ix *Index) Subscribed(a *Alert, adv *advisory.Advisory) bool {
	t, ok := ix.tenants[a.Tenant]
	return ok && t.Subscribed(a, adv, ix.vendors)
}

func rank(conf string) int { return map[string]int{Possible: 1, Probable: 2, Exact: 3}[conf] }

type verdict int

const (
	verdictNone     verdict = iota
	verdictMatched          // the asset is affected (or possibly affected)
	verdictExcluded         // vendor and product match, the version is outside the range
)

func matchAsset(c *indexed, vr advisory.VendorRef, text string, bound Bound, hasBound bool) (AssetMatch, verdict) {
	vendorReason := fmt.Sprintf("vendor %q = %q (%s, in advisory %s)", c.asset.Vendor, vr.MatchedAs, c.vendor.ID, vr.Field)
	var productReason string
	byModel := false
	switch {
	case c.product != "" && strings.Contains(text, " "+c.product+" "):
		productReason = fmt.Sprintf("product %q in advisory text", c.asset.Product)
	case len(c.model) >= 3 && strings.Contains(text, " "+c.model+" "):
		productReason = fmt.Sprintf("model %q in advisory text", c.asset.Model)
		byModel = true
	default:
		return AssetMatch{}, verdictNone
	}
	rule := "text-product"
	if byModel {
		rule = "text-model"
	}
	m := AssetMatch{Asset: *c.asset, Rule: rule, Reasons: []string{vendorReason, productReason}}
	switch {
	case !hasBound:
		m.Confidence = Possible
		m.Reasons = append(m.Reasons, "advisory states no version range: asset version not compared")
	case c.asset.Version == "":
		m.Confidence = Possible
		m.Reasons = append(m.Reasons, fmt.Sprintf("asset version unknown; advisory says %q", bound.Phrase))
	case bound.Affects(c.asset.Version):
		op := "<"
		if bound.Inclusive {
			op = "<="
		}
		m.Confidence = Exact
		if byModel {
			m.Confidence = Probable
		}
		m.Reasons = append(m.Reasons, fmt.Sprintf("version %s %s %s (advisory: %q)", c.asset.Version, op, bound.Version, bound.Phrase))
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
