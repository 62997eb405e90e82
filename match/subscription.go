package match

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/enrich"
)

// Subscription is one filter of a tenant's alerts; an alert is delivered
// when any subscription accepts it. Every condition given must hold.
type Subscription struct {
	Name        string   `yaml:"name" json:"name"`
	MinPriority string   `yaml:"min_priority,omitempty" json:"min_priority,omitempty"` // P1 (most urgent) .. P4
	Vendors     []string `yaml:"vendors,omitempty" json:"vendors,omitempty"`           // any spelling
	Categories  []string `yaml:"categories,omitempty" json:"categories,omitempty"`
	KEVOnly     bool     `yaml:"kev_only,omitempty" json:"kev_only,omitempty"`
	Keywords    []string `yaml:"keywords,omitempty" json:"keywords,omitempty"` // in title or summary, any case
	// VendorWatch asks for every healthcare-relevant advisory (relevance
	// at least 50) about the listed vendors, even when no asset matches.
	VendorWatch bool `yaml:"vendor_watch,omitempty" json:"vendor_watch,omitempty"`
	// Channels this subscription's alerts go to ("slack", "email",
	// "webhook"); none means every channel of the tenant.
	Channels []string `yaml:"channels,omitempty" json:"channels,omitempty"`
}

// WatchRelevance is the relevance a vendor-watch advisory needs.
const WatchRelevance = 50

func (s *Subscription) validate() error {
	if strings.TrimSpace(s.Name) == "" {
		return fmt.Errorf("name: is required")
	}
	switch s.MinPriority {
	case "", "P1", "P2", "P3", "P4":
	default:
		return fmt.Errorf("min_priority: %q is not P1, P2, P3 or P4", s.MinPriority)
	}
	for i, c := range s.Categories {
		known := false
		for _, k := range enrich.Categories {
			known = known || c == k
		}
		if !known {
			return fmt.Errorf("categories[%d]: %q is not one of %s", i, c, strings.Join(enrich.Categories, ", "))
		}
	}
	if s.VendorWatch && len(s.Vendors) == 0 {
		return fmt.Errorf("vendor_watch: needs vendors")
	}
	return nil
}

// vendorIDs resolves the subscription's vendors; unknown names are ignored
// (they cannot match anything).
func (s *Subscription) vendorIDs(vendors *enrich.Vendors) map[string]bool {
	out := map[string]bool{}
	for _, v := range s.Vendors {
		if r, ok := vendors.Resolve(v); ok {
			out[r.Vendor.ID] = true
		}
	}
	return out
}

// Accepts reports whether the alert passes this subscription.
func (s *Subscription) Accepts(a *Alert, adv *advisory.Advisory, vendors *enrich.Vendors) bool {
	if s.MinPriority != "" && a.Priority > s.MinPriority {
		return false // "P3" > "P2": less urgent than asked for
	}
	if s.KEVOnly && !a.Advisory.KEV {
		return false
	}
	if a.Watch && !s.VendorWatch {
		return false
	}
	if len(s.Vendors) > 0 {
		ids := s.vendorIDs(vendors)
		hit := false
		for _, v := range adv.VendorIDs() {
			hit = hit || ids[v]
		}
		if !hit {
			return false
		}
	}
	if len(s.Categories) > 0 && adv.Enrichment != nil {
		hit := false
		for _, c := range adv.Enrichment.Categories {
			for _, want := range s.Categories {
				hit = hit || c.ID == want
			}
		}
		if !hit {
			return false
		}
	}
	if len(s.Keywords) > 0 {
		text := strings.ToLower(adv.Title + " " + adv.Summary)
		hit := false
		for _, k := range s.Keywords {
			hit = hit || strings.Contains(text, strings.ToLower(k))
		}
		if !hit {
			return false
		}
	}
	return true
}

// Subscribed reports whether the tenant wants the alert: yes when it has
// no subscriptions, else when one accepts it.
func (t *Tenant) Subscribed(a *Alert, adv *advisory.Advisory, vendors *enrich.Vendors) bool {
	_, ok := t.Route(a, adv, vendors)
	return ok
}

// Route reports whether the tenant wants the alert and on which channels:
// the channels of every subscription that accepts it (nil: all channels).
func (t *Tenant) Route(a *Alert, adv *advisory.Advisory, vendors *enrich.Vendors) ([]string, bool) {
	if len(t.Subscriptions) == 0 {
		return nil, !a.Watch
	}
	var channels []string
	ok, all := false, false
	for i := range t.Subscriptions {
		s := &t.Subscriptions[i]
		if !s.Accepts(a, adv, vendors) {
			continue
		}
		ok = true
		all = all || len(s.Channels) == 0
		for _, c := range s.Channels {
			if !slices.Contains(channels, c) {
				channels = append(channels, c)
			}
		}
	}
	if all {
		channels = nil
	}
	sort.Strings(channels)
	return channels, ok
}

// watchAlerts makes vendor-watch alerts for tenants that asked for every
// healthcare-relevant advisory about the advisory's vendors and got no
// asset alert from it.
func (ix *Index) watchAlerts(adv *advisory.Advisory, ref AdvisoryRef, have map[string]bool) []Alert {
	if adv.Enrichment == nil || adv.Enrichment.Relevance.Score < WatchRelevance {
		return nil
	}
	var out []Alert
	for _, t := range ix.watchers {
		if have[t.ID] || !t.Cleared(adv.TLP) {
			continue
		}
		for i := range t.Subscriptions {
			s := &t.Subscriptions[i]
			if !s.VendorWatch {
				continue
			}
			ids := s.vendorIDs(ix.vendors)
			hit := ""
			for _, v := range adv.VendorIDs() {
				if ids[v] {
					hit = v
				}
			}
			if hit == "" {
				continue
			}
			prio := "P4"
			if ref.KEV || ref.PatientSafety || (ref.Severity != nil && ref.Severity.Score >= 9) {
				prio = "P3"
			}
			out = append(out, Alert{Schema: AlertSchema, ID: AlertID(t.ID, clusterOf(adv)), Tenant: t.ID, ClusterID: clusterOf(adv),
				Advisory: ref, Priority: prio, Confidence: Possible, Watch: true,
				WatchReason: fmt.Sprintf("subscription %q watches vendor %s (relevance %d)", s.Name, hit, adv.Enrichment.Relevance.Score)})
			break
		}
	}
	return out
}
