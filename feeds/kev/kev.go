// Package kev parses CISA's Known Exploited Vulnerabilities catalogue: one
// advisory per catalogue entry.
package kev

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/feeds/internal/itemerr"
	"github.com/vigilhealth/vigil/feeds/internal/jsonpos"
)

// Catalog is the catalogue file.
type Catalog struct {
	Title           string  `json:"title"`
	CatalogVersion  string  `json:"catalogVersion"`
	DateReleased    string  `json:"dateReleased"`
	Count           int     `json:"count"`
	Vulnerabilities []Entry `json:"vulnerabilities"`
}

// Entry is one known exploited vulnerability.
type Entry struct {
	CVEID                      string   `json:"cveID"`
	VendorProject              string   `json:"vendorProject"`
	Product                    string   `json:"product"`
	VulnerabilityName          string   `json:"vulnerabilityName"`
	DateAdded                  string   `json:"dateAdded"`
	ShortDescription           string   `json:"shortDescription"`
	RequiredAction             string   `json:"requiredAction"`
	DueDate                    string   `json:"dueDate"`
	KnownRansomwareCampaignUse string   `json:"knownRansomwareCampaignUse"`
	Notes                      string   `json:"notes"`
	CWEs                       []string `json:"cwes"`
}

// ErrNotKEV means the JSON is not the KEV catalogue.
var ErrNotKEV = errors.New("not a KEV catalogue (no catalogVersion and vulnerabilities)")

// Parse reads the catalogue published by source.
func Parse(source string, data []byte, fetched time.Time) ([]advisory.Advisory, []error, error) {
	var c Catalog
	if err := jsonpos.Unmarshal(data, &c); err != nil {
		return nil, nil, fmt.Errorf("kev %s: %w", source, err)
	}
	if c.CatalogVersion == "" && c.Vulnerabilities == nil {
		return nil, nil, fmt.Errorf("kev %s: %w", source, ErrNotKEV)
	}
	out := make([]advisory.Advisory, 0, len(c.Vulnerabilities))
	var itemErrs []error
	for i, e := range c.Vulnerabilities {
		a, err := convert(source, e, fetched)
		if err != nil {
			itemErrs = append(itemErrs, itemerr.New("kev", source, fmt.Sprintf("vulnerabilities[%d]", i), err, e))
			continue
		}
		out = append(out, a)
	}
	return out, itemErrs, nil
}

func convert(source string, e Entry, fetched time.Time) (advisory.Advisory, error) {
	cves := advisory.ExtractCVEs(e.CVEID)
	if len(cves) != 1 {
		return advisory.Advisory{}, fmt.Errorf("cveID %q is not a CVE id", e.CVEID)
	}
	added, err := time.Parse("2006-01-02", e.DateAdded)
	if err != nil {
		return advisory.Advisory{}, fmt.Errorf("%s: dateAdded %q: %w", cves[0], e.DateAdded, err)
	}
	a := advisory.Advisory{
		Schema:    advisory.Schema,
		Source:    source,
		ID:        cves[0],
		Title:     strings.TrimSpace(e.VulnerabilityName),
		Summary:   strings.TrimSpace(e.ShortDescription),
		Published: added,
		Updated:   added,
		FetchedAt: fetched.UTC(),
		CVEs:      cves,
		KEV:       true,
		TLP:       advisory.TLPClear,
		URL:       "https://nvd.nist.gov/vuln/detail/" + cves[0],
		Products: []advisory.Product{{
			// KEV names no versions: matchers must treat them as unknown.
			Vendor: strings.TrimSpace(e.VendorProject), Name: strings.TrimSpace(e.Product),
			Status: advisory.StatusAffected, CVEs: cves,
		}},
		VendorHint: e.VendorProject,
		KEVEntry: &advisory.KEVEntry{DateAdded: e.DateAdded, DueDate: e.DueDate,
			Ransomware: e.KnownRansomwareCampaignUse, RequiredAction: e.RequiredAction},
		Vulnerabilities: []advisory.Vulnerability{{CVE: cves[0], CWEs: e.CWEs, Title: e.VulnerabilityName}},
	}
	if a.Title == "" {
		a.Title = cves[0] + " (" + e.VendorProject + " " + e.Product + ")"
	}
	for _, part := range strings.Split(e.Notes, ";") {
		for _, f := range strings.Fields(part) {
			if strings.HasPrefix(f, "https://") || strings.HasPrefix(f, "http://") {
				a.References = append(a.References, f)
			}
		}
	}
	// An entry changes rarely (ransomware use, due date); the content decides.
	a.Revision = advisory.ContentRevision(e.CVEID, e.VendorProject, e.Product, e.VulnerabilityName, e.DateAdded,
		e.ShortDescription, e.RequiredAction, e.DueDate, e.KnownRansomwareCampaignUse, e.Notes, strings.Join(e.CWEs, ","))
	return a, nil
}
