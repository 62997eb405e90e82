package match

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/internal/wire"
)

// AlertSchema is the version of the JSON messages carrying an Alert.
const AlertSchema = 1

// Match confidences, strongest first.
const (
	Exact    = "exact"    // vendor, product and version range all match
	Probable = "probable" // vendor and model number match, version in range
	Possible = "possible" // vendor and product match; a version is unknown on one side
)

// Alert tells one tenant that one advisory affects some of its assets, and why.
type Alert struct {
	Schema int    `json:"schema"`
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	// Revision counts the alert's meaningful changes: "1", "2", ...
	Revision  string `json:"revision"`
	ClusterID string `json:"cluster_id"`
	// Changes says what changed since the previous revision.
	Changes    []string     `json:"changes,omitempty"`
	Priority   string       `json:"priority"`
	Confidence string       `json:"confidence"`
	Advisory   AdvisoryRef  `json:"advisory"`
	Assets     []AssetMatch `json:"assets"`
	// Excluded are assets this advisory shows not affected (version outside
	// its range); they overrule weaker evidence from other sources.
	Excluded []string `json:"-"`
	// Watch marks an alert from a vendor-watch subscription: a relevant
	// advisory about a vendor the tenant follows, with no asset matched.
	Watch       bool   `json:"watch,omitempty"`
	WatchReason string `json:"watch_reason,omitempty"`
	// Retro marks an alert found by matching history after a tenant or its
	// inventory changed; Digest is the one message summarising them.
	Retro  bool `json:"retro,omitempty"`
	Digest bool `json:"digest,omitempty"`
	// Channels the tenant's subscriptions route this alert to; empty: all.
	Channels []string `json:"channels,omitempty"`
	// FixAvailable: the advisory names a vendor fix.
	FixAvailable bool      `json:"fix_available"`
	CreatedAt    time.Time `json:"created_at"`
	// OpenedAt is when the alert's first revision was made; FixedAt and
	// KEVAt when a revision first said a fix is out and the vulnerability
	// is known exploited (zero: not yet). Every revision carries them, so
	// the latest one alone tells an alert's history.
	OpenedAt time.Time `json:"opened_at"`
	FixedAt  time.Time `json:"fixed_at,omitzero"`
	KEVAt    time.Time `json:"kev_at,omitzero"`
}

// AdvisoryRef is what an alert carries of its advisory.
type AdvisoryRef struct {
	Source    string             `json:"source"`
	ID        string             `json:"id"`
	Revision  string             `json:"revision"`
	Title     string             `json:"title"`
	URL       string             `json:"url,omitempty"`
	Summary   string             `json:"summary,omitempty"`
	Published time.Time          `json:"published"`
	FetchedAt time.Time          `json:"fetched_at"`
	CVEs      []string           `json:"cves"`
	KEV       bool               `json:"kev"`
	Severity  *advisory.Severity `json:"severity,omitempty"`
	TLP       advisory.TLP       `json:"tlp,omitempty"`
	// PatientSafety and Relevance come from enrich.
	PatientSafety bool `json:"patient_safety"`
	Relevance     int  `json:"relevance"`
	// VendorID is the advisory's main vendor (enrich), for analytics.
	VendorID string `json:"vendor_id,omitempty"`
}

// AssetMatch is one matched asset with the reasons, as the values compared.
type AssetMatch struct {
	Asset      *Asset `json:"asset"`
	Confidence string `json:"confidence"`
	// Rule names how the asset was found: product, product-prefix, model,
	// cpe (from a product list) or text-product, text-model (from free text).
	Rule    string   `json:"rule"`
	Reasons []string `json:"reasons"`
}

// AlertID is stable per tenant and vulnerability cluster, so a new revision
// of the advisory, or another source on the same cluster, updates the same
// alert.
func AlertID(tenant, cluster string) string {
	var buf [256]byte
	b := append(append(append(buf[:0], tenant...), 0), cluster...)
	h := sha256.Sum256(b)
	var id [18]byte
	id[0], id[1] = 'A', '-'
	hex.Encode(id[2:], h[:8])
	return string(id[:])
}

// MsgID is the JetStream de-duplication id of this alert revision.
func (a *Alert) MsgID() string { return a.Tenant + "/" + a.ID + "/" + a.Revision }

// AssetIDs lists the matched assets' ids.
func (a *Alert) AssetIDs() []string {
	ids := make([]string, len(a.Assets))
	for i, m := range a.Assets {
		ids[i] = m.Asset.ID
	}
	return ids
}

// Priority turns what is known into P1 (act now) .. P4 (for the record).
// Documented formula, the highest over the matched assets:
//
//	criticality  life-critical 3, high 2, medium 1, low 0
//	zone         internet-exposed 2, clinical 1, isolated 0
//	severity     CVSS >= 9: 2, >= 7: 1
//	exploited    in KEV: 2
//	confidence   exact: 1
//	safety       advisory flags patient safety: 1
//
// P1 at 7 or more, P2 at 5-6, P3 at 3-4, P4 below.
func Priority(adv AdvisoryRef, m AssetMatch) (string, int) {
	return priority(&adv, assetScore(m.Asset.Criticality, m.Asset.Zone), m.Confidence)
}

// assetScore is the asset's part of the priority: criticality and zone.
func assetScore(criticality, zone string) int8 {
	score := int8(0)
	switch criticality {
	case LifeCritical:
		score = 3
	case High:
		score = 2
	case Medium:
		score = 1
	}
	switch zone {
	case ZoneInternet:
		score += 2
	case ZoneClinical:
		score++
	}
	return score
}

func priority(adv *AdvisoryRef, asset int8, confidence string) (string, int) {
	score := int(asset)
	if adv.Severity != nil {
		switch {
		case adv.Severity.Score >= 9:
			score += 2
		case adv.Severity.Score >= 7:
			score++
		}
	}
	if adv.KEV {
		score += 2
	}
	if confidence == Exact {
		score++
	}
	if adv.PatientSafety {
		score++
	}
	switch {
	case score >= 7:
		return "P1", score
	case score >= 5:
		return "P2", score
	case score >= 3:
		return "P3", score
	}
	return "P4", score
}

// DecodeAlert reads an alert message, rejecting an asset entry without its
// asset (a message not written by a matcher).
func DecodeAlert(data []byte) (Alert, error) {
	var a Alert
	if err := wire.Unmarshal(data, &a); err != nil {
		return Alert{}, err
	}
	for i, m := range a.Assets {
		if m.Asset == nil {
			return Alert{}, fmt.Errorf("alert %s: field assets[%d].asset: missing", a.ID, i)
		}
	}
	return a, nil
}
