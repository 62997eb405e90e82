// Package nvd parses NVD CVE API 2.0 responses: one advisory per CVE, with
// products from the configurations' vulnerable CPE matches.
package nvd

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/feeds/internal/itemerr"
	"github.com/vigilhealth/vigil/feeds/internal/jsonpos"
	"github.com/vigilhealth/vigil/feeds/internal/timefmt"
)

// Response is one page of the API.
type Response struct {
	ResultsPerPage  int    `json:"resultsPerPage"`
	StartIndex      int    `json:"startIndex"`
	TotalResults    int    `json:"totalResults"`
	Format          string `json:"format"`
	Version         string `json:"version"`
	Timestamp       string `json:"timestamp"`
	Vulnerabilities []struct {
		CVE CVE `json:"cve"`
	} `json:"vulnerabilities"`
}

// CVE is the API's CVE item (the fields Vigil reads).
type CVE struct {
	ID                 string `json:"id"`
	Published          string `json:"published"`
	LastModified       string `json:"lastModified"`
	VulnStatus         string `json:"vulnStatus"`
	CISAExploitAdd     string `json:"cisaExploitAdd"`
	CISAActionDue      string `json:"cisaActionDue"`
	CISARequiredAction string `json:"cisaRequiredAction"`
	CISAName           string `json:"cisaVulnerabilityName"`
	Descriptions       []struct {
		Lang  string `json:"lang"`
		Value string `json:"value"`
	} `json:"descriptions"`
	Metrics map[string][]struct {
		Type     string `json:"type"`
		CVSSData struct {
			Version      string  `json:"version"`
			VectorString string  `json:"vectorString"`
			BaseScore    float64 `json:"baseScore"`
		} `json:"cvssData"`
	} `json:"metrics"`
	Weaknesses []struct {
		Description []struct {
			Value string `json:"value"`
		} `json:"description"`
	} `json:"weaknesses"`
	Configurations []struct {
		Nodes []struct {
			CPEMatch []CPEMatch `json:"cpeMatch"`
		} `json:"nodes"`
	} `json:"configurations"`
	References []struct {
		URL string `json:"url"`
	} `json:"references"`
}

// CPEMatch is one match criterion of a configuration node.
type CPEMatch struct {
	Vulnerable            bool   `json:"vulnerable"`
	Criteria              string `json:"criteria"`
	VersionStartIncluding string `json:"versionStartIncluding"`
	VersionStartExcluding string `json:"versionStartExcluding"`
	VersionEndIncluding   string `json:"versionEndIncluding"`
	VersionEndExcluding   string `json:"versionEndExcluding"`
}

// Page says where a response sits in the result set, for paging.
type Page struct {
	StartIndex, ResultsPerPage, TotalResults int
}

// Next is the start index of the next page, or -1 after the last.
func (p Page) Next() int {
	n := p.StartIndex + p.ResultsPerPage
	if p.ResultsPerPage == 0 || n >= p.TotalResults {
		return -1
	}
	return n
}

// ErrNotNVD means the JSON is not an NVD CVE API 2.0 response.
var ErrNotNVD = errors.New("not an NVD CVE API 2.0 response (format NVD_CVE)")

// Parse reads one API response from source.
func Parse(source string, data []byte, fetched time.Time) ([]advisory.Advisory, Page, []error, error) {
	var r Response
	if err := jsonpos.Unmarshal(data, &r); err != nil {
		return nil, Page{}, nil, fmt.Errorf("nvd %s: %w", source, err)
	}
	if r.Format != "NVD_CVE" {
		return nil, Page{}, nil, fmt.Errorf("nvd %s: %w", source, ErrNotNVD)
	}
	page := Page{StartIndex: r.StartIndex, ResultsPerPage: r.ResultsPerPage, TotalResults: r.TotalResults}
	out := make([]advisory.Advisory, 0, len(r.Vulnerabilities))
	var itemErrs []error
	for i, v := range r.Vulnerabilities {
		a, err := convert(source, v.CVE, fetched)
		if err != nil {
			itemErrs = append(itemErrs, itemerr.New("nvd", source, fmt.Sprintf("vulnerabilities[%d]", i), err, v.CVE))
			continue
		}
		out = append(out, a)
	}
	return out, page, itemErrs, nil
}

func convert(source string, c CVE, fetched time.Time) (advisory.Advisory, error) {
	ids := advisory.ExtractCVEs(c.ID)
	if len(ids) != 1 {
		return advisory.Advisory{}, fmt.Errorf("id %q is not a CVE id", c.ID)
	}
	desc := ""
	for _, d := range c.Descriptions {
		if d.Lang == "en" || desc == "" {
			desc = d.Value
		}
	}
	a := advisory.Advisory{
		Schema: advisory.Schema, Source: source, ID: ids[0], Revision: c.LastModified,
		Title: ids[0] + ": " + firstSentence(desc, 140), Summary: desc, URL: "https://nvd.nist.gov/vuln/detail/" + ids[0],
		Published: timefmt.Parse(c.Published), Updated: timefmt.Parse(c.LastModified), FetchedAt: fetched.UTC(),
		CVEs: ids, TLP: advisory.TLPClear, Status: c.VulnStatus, Products: []advisory.Product{},
	}
	if a.Revision == "" {
		return advisory.Advisory{}, fmt.Errorf("%s: lastModified missing", ids[0])
	}
	vuln := advisory.Vulnerability{CVE: ids[0]}
	for _, key := range []string{"cvssMetricV40", "cvssMetricV31", "cvssMetricV30", "cvssMetricV2"} {
		for _, m := range c.Metrics[key] {
			vuln.Scores = append(vuln.Scores, advisory.Severity{CVSSVersion: m.CVSSData.Version, Score: m.CVSSData.BaseScore, Vector: m.CVSSData.VectorString})
		}
	}
	for _, w := range c.Weaknesses {
		for _, d := range w.Description {
			if strings.HasPrefix(d.Value, "CWE-") {
				vuln.CWEs = append(vuln.CWEs, d.Value)
			}
		}
	}
	a.Vulnerabilities = []advisory.Vulnerability{vuln}
	a.Severity = advisory.MaxSeverity(vuln.Scores)
	if c.CISAExploitAdd != "" {
		a.KEV = true
		a.KEVEntry = &advisory.KEVEntry{DateAdded: c.CISAExploitAdd, DueDate: c.CISAActionDue, RequiredAction: c.CISARequiredAction}
	}
	for _, r := range c.References {
		a.References = append(a.References, r.URL)
	}
	a.Products = products(c, ids[0])
	return a, nil
}

// products merges the vulnerable CPE matches by vendor and product.
func products(c CVE, cve string) []advisory.Product {
	byKey := map[string]*advisory.Product{}
	var keys []string
	for _, cfg := range c.Configurations {
		for _, n := range cfg.Nodes {
			for _, m := range n.CPEMatch {
				if !m.Vulnerable {
					continue // a platform the product runs on, not itself affected
				}
				cpe, ok := ParseCPE(m.Criteria)
				if !ok {
					continue
				}
				key := cpe.Vendor + "\x00" + cpe.Product
				p := byKey[key]
				if p == nil {
					p = &advisory.Product{Vendor: cpe.Vendor, Name: cpe.Product, Status: advisory.StatusAffected, CVEs: []string{cve}, CPE: m.Criteria}
					byKey[key] = p
					keys = append(keys, key)
				}
				if expr := m.expression(cpe.Version); !containsString(p.Versions, expr) {
					p.Versions = append(p.Versions, expr)
				}
			}
		}
	}
	sort.Strings(keys)
	out := make([]advisory.Product, 0, len(keys))
	for _, k := range keys {
		out = append(out, *byKey[k])
	}
	return out
}

// expression renders the match's version bounds as a range expression.
func (m CPEMatch) expression(cpeVersion string) string {
	var parts []string
	if m.VersionStartIncluding != "" {
		parts = append(parts, ">="+m.VersionStartIncluding)
	}
	if m.VersionStartExcluding != "" {
		parts = append(parts, ">"+m.VersionStartExcluding)
	}
	if m.VersionEndIncluding != "" {
		parts = append(parts, "<="+m.VersionEndIncluding)
	}
	if m.VersionEndExcluding != "" {
		parts = append(parts, "<"+m.VersionEndExcluding)
	}
	if len(parts) > 0 {
		return strings.Join(parts, " ")
	}
	if cpeVersion == "*" || cpeVersion == "" {
		return "*"
	}
	if cpeVersion == "-" {
		return "-" // CPE's "not applicable"
	}
	return "=" + cpeVersion
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func firstSentence(s string, max int) string {
	if i := strings.Index(s, ". "); i > 0 && i < max {
		return s[:i]
	}
	if r := []rune(s); len(r) > max {
		return string(r[:max-1]) + "…"
	}
	return s
}
