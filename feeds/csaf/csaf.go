// Package csaf turns CSAF 2.0 documents (decoded with BSI's gocsaf model)
// into advisories: tracking, TLP, the whole product tree, vulnerabilities
// with product status, scores and remediations, and references.
package csaf

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	gocsaf "github.com/gocsaf/csaf/v3/csaf"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/feeds/internal/jsonpos"
	"github.com/vigilhealth/vigil/feeds/internal/timefmt"
)

// ErrNotCSAF means the JSON is not a CSAF document.
var ErrNotCSAF = errors.New("not a CSAF document (no document.tracking)")

// document is gocsaf's Advisory model with the parts that model cannot
// decode replaced: in gocsaf v3.7.0 product_tree.product_groups and
// remediations[].group_ids are typed as an object where CSAF 2.0 has arrays,
// so valid documents using product groups fail to decode. Scores also
// accept CSAF 2.1's cvss_v4.
type document struct {
	Document        *gocsaf.Document `json:"document"`
	ProductTree     *productTree     `json:"product_tree"`
	Vulnerabilities []*vulnerability `json:"vulnerabilities"`
}

type productTree struct {
	Branches         gocsaf.Branches          `json:"branches"`
	FullProductNames *gocsaf.FullProductNames `json:"full_product_names"`
	ProductGroups    []*gocsaf.ProductGroup   `json:"product_groups"`
	Relationships    *gocsaf.Relationships    `json:"relationships"`
}

type vulnerability struct {
	CVE           *gocsaf.CVE           `json:"cve"`
	CWE           *gocsaf.CWE           `json:"cwe"`
	Title         *string               `json:"title"`
	ProductStatus *gocsaf.ProductStatus `json:"product_status"`
	References    gocsaf.References     `json:"references"`
	Remediations  []*remediation        `json:"remediations"`
	Scores        []*score              `json:"scores"`
}

type remediation struct {
	Category   *gocsaf.RemediationCategory `json:"category"`
	Details    *string                     `json:"details"`
	URL        *string                     `json:"url"`
	ProductIDs []string                    `json:"product_ids"`
	GroupIDs   []string                    `json:"group_ids"`
}

type score struct {
	CVSS2 *gocsaf.CVSS2 `json:"cvss_v2"`
	CVSS3 *gocsaf.CVSS3 `json:"cvss_v3"`
	CVSS4 *struct {
		BaseScore    *float64 `json:"baseScore"`
		VectorString *string  `json:"vectorString"`
		Version      *string  `json:"version"`
	} `json:"cvss_v4"`
}

// Parse reads one CSAF document published by source.
func Parse(source string, data []byte, fetched time.Time) (advisory.Advisory, error) {
	var doc document
	if err := json.Unmarshal(data, &doc); err != nil {
		return advisory.Advisory{}, fmt.Errorf("csaf %s: %w", source, jsonpos.Describe(data, err))
	}
	if doc.Document == nil || doc.Document.Tracking == nil || doc.Document.Tracking.ID == nil {
		return advisory.Advisory{}, fmt.Errorf("csaf %s: %w", source, ErrNotCSAF)
	}
	d := doc.Document
	tr := d.Tracking
	a := advisory.Advisory{
		Schema:    advisory.Schema,
		Source:    source,
		ID:        string(*tr.ID),
		Title:     str(d.Title),
		FetchedAt: fetched.UTC(),
		CVEs:      []string{},
		Products:  []advisory.Product{},
		Published: timefmt.Parse(str(tr.InitialReleaseDate)),
		Updated:   timefmt.Parse(str(tr.CurrentReleaseDate)),
	}
	if tr.Version != nil {
		a.Revision = string(*tr.Version)
	}
	if a.Revision == "" {
		a.Revision = advisory.ContentRevision(string(data))
	}
	if tr.Status != nil {
		a.Status = string(*tr.Status)
	}
	if d.Distribution != nil && d.Distribution.TLP != nil && d.Distribution.TLP.DocumentTLPLabel != nil {
		a.TLP = advisory.NormalizeTLP(string(*d.Distribution.TLP.DocumentTLPLabel))
	}
	if d.Publisher != nil && d.Publisher.Name != nil {
		a.VendorHint = *d.Publisher.Name
	}
	a.Summary = summary(d.Notes)
	a.URL, a.References = references(d.References)

	tree := walkTree(doc.ProductTree)
	var scores []advisory.Severity
	status := map[string]map[string][]string{} // product id -> status -> CVEs
	for _, v := range doc.Vulnerabilities {
		if v == nil {
			continue
		}
		vuln := convertVulnerability(v, tree.groups)
		a.Vulnerabilities = append(a.Vulnerabilities, vuln)
		scores = append(scores, vuln.Scores...)
		if vuln.CVE != "" {
			a.CVEs = append(a.CVEs, vuln.CVE)
		}
		for st, ids := range productStatus(v.ProductStatus) {
			for _, id := range ids {
				if status[id] == nil {
					status[id] = map[string][]string{}
				}
				status[id][st] = append(status[id][st], vuln.CVE)
			}
		}
		for _, r := range v.References {
			if r != nil && r.URL != nil {
				a.References = appendUnique(a.References, *r.URL)
			}
		}
	}
	a.CVEs = advisory.MergeCVEs(a.CVEs)
	a.Severity = advisory.MaxSeverity(scores)
	a.Products = products(tree, status)
	if a.Published.IsZero() {
		a.Published = a.Updated
	}
	return a, nil
}

func convertVulnerability(v *vulnerability, groups map[string][]string) advisory.Vulnerability {
	out := advisory.Vulnerability{Title: str(v.Title)}
	if v.CVE != nil {
		out.CVE = strings.ToUpper(strings.TrimSpace(string(*v.CVE)))
	}
	if v.CWE != nil && v.CWE.ID != nil {
		out.CWEs = []string{string(*v.CWE.ID)}
	}
	for _, s := range v.Scores {
		if s == nil {
			continue
		}
		if s.CVSS4 != nil && s.CVSS4.BaseScore != nil {
			sev := advisory.Severity{CVSSVersion: "4.0", Score: *s.CVSS4.BaseScore, Vector: str(s.CVSS4.VectorString)}
			if v := str(s.CVSS4.Version); v != "" {
				sev.CVSSVersion = v
			}
			out.Scores = append(out.Scores, sev)
		}
		if s.CVSS3 != nil && s.CVSS3.BaseScore != nil {
			sev := advisory.Severity{CVSSVersion: "3.x", Score: *s.CVSS3.BaseScore}
			if s.CVSS3.Version != nil {
				sev.CVSSVersion = string(*s.CVSS3.Version)
			}
			if s.CVSS3.VectorString != nil {
				sev.Vector = string(*s.CVSS3.VectorString)
			}
			out.Scores = append(out.Scores, sev)
		}
		if s.CVSS2 != nil && s.CVSS2.BaseScore != nil {
			sev := advisory.Severity{CVSSVersion: "2.0", Score: *s.CVSS2.BaseScore}
			if s.CVSS2.VectorString != nil {
				sev.Vector = string(*s.CVSS2.VectorString)
			}
			out.Scores = append(out.Scores, sev)
		}
	}
	for _, r := range v.Remediations {
		if r == nil {
			continue
		}
		rem := advisory.Remediation{Details: str(r.Details), URL: str(r.URL)}
		if r.Category != nil {
			rem.Category = string(*r.Category)
		}
		rem.ProductIDs = append(rem.ProductIDs, r.ProductIDs...)
		for _, g := range r.GroupIDs {
			rem.ProductIDs = append(rem.ProductIDs, groups[g]...)
		}
		out.Remediations = append(out.Remediations, rem)
	}
	return out
}

// productStatus folds CSAF's eight status lists into four.
func productStatus(ps *gocsaf.ProductStatus) map[string][]string {
	out := map[string][]string{}
	if ps == nil {
		return out
	}
	add := func(st string, p *gocsaf.Products) {
		if p != nil {
			out[st] = append(out[st], ids(*p)...)
		}
	}
	add(advisory.StatusAffected, ps.KnownAffected)
	add(advisory.StatusAffected, ps.FirstAffected)
	add(advisory.StatusAffected, ps.LastAffected)
	add(advisory.StatusFixed, ps.Fixed)
	add(advisory.StatusFixed, ps.FirstFixed)
	add(advisory.StatusNotAffected, ps.KnownNotAffected)
	add(advisory.StatusUnderInvestigation, ps.UnderInvestigation)
	return out
}

// products lists every product of the tree: one entry per status it has
// (with the CVEs of that status), or one without status if it has none.
func products(tree *tree, status map[string]map[string][]string) []advisory.Product {
	out := []advisory.Product{}
	for _, id := range tree.order {
		p := tree.products[id]
		sts := status[id]
		if len(sts) == 0 {
			out = append(out, p)
			continue
		}
		names := make([]string, 0, len(sts))
		for st := range sts {
			names = append(names, st)
		}
		sort.Strings(names)
		for _, st := range names {
			q := p
			q.Status = st
			q.CVEs = advisory.MergeCVEs(sts[st])
			out = append(out, q)
		}
	}
	return out
}

func summary(notes gocsaf.Notes) string {
	best := ""
	for _, n := range notes {
		if n == nil || n.Text == nil || n.NoteCategory == nil {
			continue
		}
		switch *n.NoteCategory {
		case "summary":
			return *n.Text
		case "description", "general":
			if best == "" {
				best = *n.Text
			}
		}
	}
	return best
}

func references(refs gocsaf.References) (self string, all []string) {
	for _, r := range refs {
		if r == nil || r.URL == nil {
			continue
		}
		if r.ReferenceCategory != nil && *r.ReferenceCategory == "self" && self == "" {
			self = *r.URL
			continue
		}
		all = appendUnique(all, *r.URL)
	}
	if self == "" && len(all) > 0 {
		self = all[0]
	}
	return self, all
}

func ids(ps gocsaf.Products) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		if p != nil {
			out = append(out, string(*p))
		}
	}
	return out
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return strings.TrimSpace(*s)
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}
