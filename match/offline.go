package match

import (
	"sort"
	"strings"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/enrich"
)

// Offline matches advisories against inventories without NATS: for `vigil
// match` and for a hospital trying Vigil on its inventory. Alerts of one
// cluster are merged as the running matcher merges them.
type Offline struct {
	index   *Index
	sources map[string]map[string]sourceEvidence
	alerts  map[string]*Alert
}

// NewOffline indexes the tenants' inventories.
func NewOffline(vendors *enrich.Vendors, tenants []Tenant, inventories map[string][]Asset) *Offline {
	return &Offline{index: BuildIndex(vendors, tenants, inventories), sources: map[string]map[string]sourceEvidence{}, alerts: map[string]*Alert{}}
}

// Index is the index built.
func (o *Offline) Index() *Index { return o.index }

// Add matches one enriched advisory.
func (o *Offline) Add(adv *advisory.Advisory) {
	for _, a := range o.index.Match(adv) {
		key := a.Tenant + "." + a.ID
		if o.sources[key] == nil {
			o.sources[key] = map[string]sourceEvidence{}
		}
		o.sources[key][adv.Key()] = sourceEvidence{Matches: a.Assets, Excluded: a.Excluded, KEV: a.Advisory.KEV,
			Severity: a.Advisory.Severity, Fixed: a.FixAvailable}
		merged := a
		apply(&merged, o.sources[key])
		if len(merged.Assets) == 0 && !merged.Watch {
			if prev, ok := o.alerts[key]; ok {
				apply(prev, o.sources[key])
			}
			continue
		}
		merged.Revision = ""
		if !o.index.Subscribed(&merged, adv) {
			delete(o.alerts, key)
			continue
		}
		o.alerts[key] = &merged
	}
}

// Alerts returns the merged alerts, by tenant, priority and id.
func (o *Offline) Alerts() []Alert {
	var out []Alert
	for _, a := range o.alerts {
		if len(a.Assets) > 0 || a.Watch {
			out = append(out, *a)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Tenant != out[j].Tenant {
			return out[i].Tenant < out[j].Tenant
		}
		if out[i].Priority != out[j].Priority {
			return out[i].Priority < out[j].Priority
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// OfflineLine is one alert as `vigil match` prints it.
type OfflineLine struct {
	Tenant     string             `json:"tenant"`
	AlertID    string             `json:"alert_id"`
	AdvisoryID string             `json:"advisory_id"`
	Source     string             `json:"source"`
	Title      string             `json:"title"`
	ClusterID  string             `json:"cluster_id"`
	CVEs       []string           `json:"cves"`
	Priority   string             `json:"priority"`
	Confidence string             `json:"confidence"`
	KEV        bool               `json:"kev"`
	Watch      string             `json:"watch,omitempty"`
	Assets     []OfflineAssetLine `json:"assets"`
}

// OfflineAssetLine is one matched asset with its rule and explanation.
type OfflineAssetLine struct {
	AssetID     string `json:"asset_id"`
	Confidence  string `json:"confidence"`
	Rule        string `json:"rule"`
	Explanation string `json:"explanation"`
}

// Line renders an alert for `vigil match`.
func (a *Alert) Line() OfflineLine {
	l := OfflineLine{Tenant: a.Tenant, AlertID: a.ID, AdvisoryID: a.Advisory.ID, Source: a.Advisory.Source, Title: a.Advisory.Title,
		ClusterID: a.ClusterID, CVEs: a.Advisory.CVEs, Priority: a.Priority, Confidence: a.Confidence, KEV: a.Advisory.KEV,
		Watch: a.WatchReason, Assets: []OfflineAssetLine{}}
	for _, m := range a.Assets {
		l.Assets = append(l.Assets, OfflineAssetLine{AssetID: m.Asset.ID, Confidence: m.Confidence, Rule: m.Rule, Explanation: strings.Join(m.Reasons, "; ")})
	}
	return l
}
