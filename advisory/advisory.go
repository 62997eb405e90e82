// Package advisory is Vigil's shared vocabulary: the normalised advisory that
// every stage reads and writes, whatever the format it came from.
package advisory

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Schema is the version of the JSON messages carrying an Advisory on the bus.
const Schema = 1

// TLP is a Traffic Light Protocol marking (FIRST TLP 2.0).
type TLP string

// TLP markings, from most to least shareable.
const (
	TLPClear       TLP = "CLEAR"
	TLPGreen       TLP = "GREEN"
	TLPAmber       TLP = "AMBER"
	TLPAmberStrict TLP = "AMBER+STRICT"
	TLPRed         TLP = "RED"
)

// Advisory is one revision of one security advisory from one source.
// Its identity is Source/ID; Revision tells its versions apart.
type Advisory struct {
	Schema     int       `json:"schema"`
	Source     string    `json:"source"`
	ID         string    `json:"id"`
	Revision   string    `json:"revision"`
	Title      string    `json:"title"`
	URL        string    `json:"url,omitempty"`
	Summary    string    `json:"summary,omitempty"`
	Published  time.Time `json:"published"`
	Updated    time.Time `json:"updated"`
	TLP        TLP       `json:"tlp,omitempty"`
	CVEs       []string  `json:"cves"`
	Products   []Product `json:"products"`
	Severity   *Severity `json:"severity,omitempty"`
	KEV        bool      `json:"kev"`
	References []string  `json:"references,omitempty"`
	VendorHint string    `json:"vendor_hint,omitempty"`
	// Status is the source's document status (CSAF: final, interim, draft).
	Status          string          `json:"status,omitempty"`
	Vulnerabilities []Vulnerability `json:"vulnerabilities,omitempty"`
	KEVEntry        *KEVEntry       `json:"kev_entry,omitempty"`
	FetchedAt       time.Time       `json:"fetched_at"`
	Enrichment      *Enrichment     `json:"enrichment,omitempty"`
}

// Product statuses, as CSAF names them.
const (
	StatusAffected           = "known_affected"
	StatusFixed              = "fixed"
	StatusNotAffected        = "known_not_affected"
	StatusUnderInvestigation = "under_investigation"
)

// Product is one product an advisory speaks of, with one status.
//
// Versions are range expressions, each a space-separated list of
// constraints that all hold: "=2.0.2", "<2.1", ">=1.0 <2.1", "<=4.2", "*"
// (all versions), or the source's own text when it is not a range
// ("4.X | 5.X"), or a purl-style "vers:" range passed through.
type Product struct {
	ID       string   `json:"id,omitempty"` // the source's product id (CSAF product_id)
	Vendor   string   `json:"vendor"`
	Name     string   `json:"name"`
	Versions []string `json:"versions,omitempty"`
	Status   string   `json:"status,omitempty"`
	CVEs     []string `json:"cves,omitempty"` // the CVEs this status is for
	CPE      string   `json:"cpe,omitempty"`
	PURL     string   `json:"purl,omitempty"`
	Models   []string `json:"models,omitempty"`
}

// Vulnerability is one vulnerability of an advisory.
type Vulnerability struct {
	CVE          string        `json:"cve,omitempty"`
	CWEs         []string      `json:"cwes,omitempty"`
	Title        string        `json:"title,omitempty"`
	Scores       []Severity    `json:"scores,omitempty"`
	Remediations []Remediation `json:"remediations,omitempty"`
}

// Remediation is a fix or mitigation for some products.
type Remediation struct {
	Category   string   `json:"category"` // vendor_fix, mitigation, workaround, none_available, no_fix_planned
	Details    string   `json:"details"`
	URL        string   `json:"url,omitempty"`
	ProductIDs []string `json:"product_ids,omitempty"`
}

// KEVEntry is what CISA's Known Exploited Vulnerabilities catalogue says.
type KEVEntry struct {
	DateAdded      string `json:"date_added"`
	DueDate        string `json:"due_date,omitempty"`
	Ransomware     string `json:"known_ransomware_campaign_use,omitempty"`
	RequiredAction string `json:"required_action,omitempty"`
}

// Severity is a CVSS score as the source gave it.
type Severity struct {
	CVSSVersion string  `json:"cvss_version"`
	Score       float64 `json:"score"`
	Vector      string  `json:"vector,omitempty"`
}

// MaxSeverity returns the highest score, preferring the newer CVSS version
// on a tie, or nil.
func MaxSeverity(scores []Severity) *Severity {
	var best *Severity
	for i := range scores {
		s := &scores[i]
		if best == nil || s.Score > best.Score || (s.Score == best.Score && s.CVSSVersion > best.CVSSVersion) {
			best = s
		}
	}
	if best == nil {
		return nil
	}
	out := *best
	return &out
}

// NormalizeTLP maps a source's TLP label to TLP 2.0 ("WHITE" is "CLEAR").
func NormalizeTLP(label string) TLP {
	l := TLP(strings.ToUpper(strings.TrimSpace(strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(label)), "TLP:"))))
	if l == "WHITE" {
		return TLPClear
	}
	return l
}

// Enrichment is what the enrich stage adds to an advisory.
type Enrichment struct {
	// Vendors are canonical vendors, each with the text that named it; the
	// first is the advisory's main vendor (VendorID).
	Vendors  []VendorRef `json:"vendors"`
	VendorID string      `json:"vendor_id,omitempty"`
	// ProductKeys are "vendor-id/normalised product" for every product
	// the advisory names, from structured fields or, failing those, text.
	ProductKeys   []string   `json:"product_keys"`
	Categories    []Category `json:"categories"`
	Relevance     Relevance  `json:"relevance"`
	PatientSafety bool       `json:"patient_safety"`
	SafetyReasons []string   `json:"patient_safety_reasons,omitempty"`
	// ClusterID groups the advisories of every source about one
	// vulnerability (shared CVE ids, or one referencing another).
	ClusterID string `json:"cluster_id"`
	// NewCluster: this advisory opened its cluster (no earlier advisory
	// shares a CVE or reference with it), so no alert about the cluster
	// exists yet and the matcher need not look for one.
	NewCluster   bool      `json:"new_cluster,omitempty"`
	KEVDateAdded string    `json:"kev_date_added,omitempty"`
	Notes        []string  `json:"notes,omitempty"` // e.g. a CVSS score that disagrees with its vector
	EnrichedAt   time.Time `json:"enriched_at"`
}

// VendorRef records a canonical vendor and the spelling it was found under.
type VendorRef struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	MatchedAs string `json:"matched_as"`
	Field     string `json:"field"`
	Former    bool   `json:"former,omitempty"` // matched a former name or acquired company
}

// Category is a device category with the reason it was assigned.
type Category struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// Relevance is how much an advisory matters to a hospital, 0-100.
type Relevance struct {
	Score   int      `json:"score"`
	Reasons []string `json:"reasons"`
}

// Key is the advisory's identity across revisions: "source/id".
func (a *Advisory) Key() string { return a.Source + "/" + a.ID }

// MsgID is the JetStream de-duplication id of this revision.
func (a *Advisory) MsgID() string { return a.Key() + "/" + a.Revision }

// VendorIDs lists the canonical vendor ids found by enrich.
func (a *Advisory) VendorIDs() []string {
	if a.Enrichment == nil {
		return nil
	}
	ids := make([]string, 0, len(a.Enrichment.Vendors))
	for _, v := range a.Enrichment.Vendors {
		ids = append(ids, v.ID)
	}
	return ids
}

// Text is the free text of the advisory that matchers and extractors search.
func (a *Advisory) Text() string {
	var b strings.Builder
	b.WriteString(a.Title)
	b.WriteString("\n")
	b.WriteString(a.Summary)
	for _, p := range a.Products {
		fmt.Fprintf(&b, "\n%s %s", p.Vendor, p.Name)
	}
	return b.String()
}

// ContentRevision is a revision derived from the content, for sources that
// give none: the same content always yields the same revision.
func ContentRevision(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return "h" + hex.EncodeToString(h.Sum(nil))[:16]
}

// ExtractCVEs returns the distinct CVE ids in the texts, upper-cased and
// sorted. It scans by hand: it runs on every advisory's text.
func ExtractCVEs(texts ...string) []string {
	var out []string
	for _, t := range texts {
		for i := 0; i+8 < len(t); i++ {
			c := t[i]
			if c != 'C' && c != 'c' {
				continue
			}
			if i > 0 && isWordByte(t[i-1]) {
				continue
			}
			if (t[i+1]|0x20) != 'v' || (t[i+2]|0x20) != 'e' || t[i+3] != '-' {
				continue
			}
			j := i + 4
			year := digits(t, j)
			if year != 4 || j+4 >= len(t) || t[j+4] != '-' {
				continue
			}
			seq := digits(t, j+5)
			end := j + 5 + seq
			if seq < 4 || seq > 7 || (end < len(t) && isWordByte(t[end])) {
				continue
			}
			id := "CVE-" + t[j:end]
			if !containsString(out, id) {
				out = append(out, id)
			}
			i = end - 1
		}
	}
	if out == nil {
		return []string{}
	}
	sort.Strings(out)
	return out
}

func digits(s string, from int) int {
	n := 0
	for from+n < len(s) && s[from+n] >= '0' && s[from+n] <= '9' {
		n++
	}
	return n
}

func isWordByte(b byte) bool {
	return b == '_' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// MergeCVEs returns the sorted union of the lists.
func MergeCVEs(lists ...[]string) []string {
	var all []string
	for _, l := range lists {
		all = append(all, l...)
	}
	return ExtractCVEs(strings.Join(all, " "))
}
