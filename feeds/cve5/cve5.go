// Package cve5 parses CVE JSON 5 records (a single record or an array of
// them): affected products with version / lessThan / lessThanOrEqual and
// status, metrics, problem types and references.
package cve5

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/feeds/internal/itemerr"
	"github.com/vigilhealth/vigil/feeds/internal/jsonpos"
	"github.com/vigilhealth/vigil/feeds/internal/timefmt"
)

// Record is a CVE JSON 5 record (the fields Vigil reads).
type Record struct {
	DataType    string `json:"dataType"`
	CVEMetadata struct {
		CVEID             string `json:"cveId"`
		State             string `json:"state"`
		AssignerShortName string `json:"assignerShortName"`
		DatePublished     string `json:"datePublished"`
		DateUpdated       string `json:"dateUpdated"`
	} `json:"cveMetadata"`
	Containers struct {
		CNA Container   `json:"cna"`
		ADP []Container `json:"adp"`
	} `json:"containers"`
}

// Container is the CNA's (or an ADP's) part of a record.
type Container struct {
	Title        string `json:"title"`
	Descriptions []struct {
		Lang  string `json:"lang"`
		Value string `json:"value"`
	} `json:"descriptions"`
	Affected []struct {
		Vendor        string    `json:"vendor"`
		Product       string    `json:"product"`
		DefaultStatus string    `json:"defaultStatus"`
		CPEs          []string  `json:"cpes"`
		Versions      []Version `json:"versions"`
	} `json:"affected"`
	Metrics      []map[string]json.RawMessage `json:"metrics"`
	ProblemTypes []struct {
		Descriptions []struct {
			CWEID string `json:"cweId"`
		} `json:"descriptions"`
	} `json:"problemTypes"`
	References []struct {
		URL string `json:"url"`
	} `json:"references"`
}

// Version is one entry of an affected product's versions.
type Version struct {
	Version         string `json:"version"`
	Status          string `json:"status"`
	LessThan        string `json:"lessThan"`
	LessThanOrEqual string `json:"lessThanOrEqual"`
	VersionType     string `json:"versionType"`
}

type metric struct {
	Version      string  `json:"version"`
	BaseScore    float64 `json:"baseScore"`
	VectorString string  `json:"vectorString"`
}

// Errors.
var (
	ErrNotCVE5   = errors.New("not a CVE JSON 5 record (no cveMetadata.cveId)")
	ErrRejected  = errors.New("the CVE is REJECTED")
	ErrNoVersion = errors.New("no lastModified/dateUpdated/datePublished")
)

// Parse reads a record, or an array of records, published by source.
func Parse(source string, data []byte, fetched time.Time) ([]advisory.Advisory, []error, error) {
	var recs []Record
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '[' {
		if err := jsonpos.Unmarshal(data, &recs); err != nil {
			return nil, nil, fmt.Errorf("cve5 %s: %w", source, err)
		}
	} else {
		var r Record
		if err := jsonpos.Unmarshal(data, &r); err != nil {
			return nil, nil, fmt.Errorf("cve5 %s: %w", source, err)
		}
		if r.CVEMetadata.CVEID == "" {
			return nil, nil, fmt.Errorf("cve5 %s: %w", source, ErrNotCVE5)
		}
		recs = []Record{r}
	}
	var out []advisory.Advisory
	var itemErrs []error
	for i, r := range recs {
		a, err := convert(source, r, fetched)
		if err != nil {
			if len(recs) == 1 {
				return nil, nil, fmt.Errorf("cve5 %s: %w", source, err)
			}
			itemErrs = append(itemErrs, itemerr.New("cve5", source, fmt.Sprintf("record %d", i), err, r))
			continue
		}
		out = append(out, a)
	}
	return out, itemErrs, nil
}

func convert(source string, r Record, fetched time.Time) (advisory.Advisory, error) {
	ids := advisory.ExtractCVEs(r.CVEMetadata.CVEID)
	if len(ids) != 1 {
		return advisory.Advisory{}, ErrNotCVE5
	}
	if strings.EqualFold(r.CVEMetadata.State, "REJECTED") {
		return advisory.Advisory{}, fmt.Errorf("%s: %w", ids[0], ErrRejected)
	}
	cna := r.Containers.CNA
	desc := ""
	for _, d := range cna.Descriptions {
		if strings.HasPrefix(d.Lang, "en") || desc == "" {
			desc = d.Value
		}
	}
	a := advisory.Advisory{
		Schema: advisory.Schema, Source: source, ID: ids[0], Title: strings.TrimSpace(cna.Title), Summary: desc,
		URL: "https://www.cve.org/CVERecord?id=" + ids[0], CVEs: ids, TLP: advisory.TLPClear, FetchedAt: fetched.UTC(),
		Published: timefmt.Parse(r.CVEMetadata.DatePublished), Updated: timefmt.Parse(r.CVEMetadata.DateUpdated),
		Status: strings.ToLower(r.CVEMetadata.State), Products: []advisory.Product{},
	}
	a.Revision = r.CVEMetadata.DateUpdated
	if a.Revision == "" {
		a.Revision = r.CVEMetadata.DatePublished
	}
	if a.Revision == "" {
		return advisory.Advisory{}, fmt.Errorf("%s: %w", ids[0], ErrNoVersion)
	}
	if a.Title == "" {
		a.Title = ids[0]
		if len(cna.Affected) > 0 {
			a.Title += ": " + cna.Affected[0].Vendor + " " + cna.Affected[0].Product
		}
	}
	if a.Updated.IsZero() {
		a.Updated = a.Published
	}
	vuln := advisory.Vulnerability{CVE: ids[0], Title: cna.Title}
	// CNA scores first; an ADP (CISA-ADP) often adds them when the CNA gave none.
	for _, c := range append([]Container{cna}, r.Containers.ADP...) {
		for _, m := range c.Metrics {
			for key, raw := range m {
				var v metric
				if !strings.HasPrefix(key, "cvssV") || json.Unmarshal(raw, &v) != nil {
					continue // "format", "scenarios", "other"
				}
				if v.BaseScore > 0 {
					vuln.Scores = append(vuln.Scores, advisory.Severity{CVSSVersion: v.Version, Score: v.BaseScore, Vector: v.VectorString})
				}
			}
		}
	}
	for _, pt := range cna.ProblemTypes {
		for _, d := range pt.Descriptions {
			if d.CWEID != "" {
				vuln.CWEs = append(vuln.CWEs, d.CWEID)
			}
		}
	}
	a.Vulnerabilities = []advisory.Vulnerability{vuln}
	a.Severity = advisory.MaxSeverity(vuln.Scores)
	for _, ref := range cna.References {
		a.References = append(a.References, ref.URL)
	}
	for _, af := range cna.Affected {
		a.Products = append(a.Products, products(af.Vendor, af.Product, af.DefaultStatus, af.Versions, af.CPEs, ids[0])...)
	}
	return a, nil
}

// products turns one affected entry into a product per status.
func products(vendor, product, defaultStatus string, versions []Version, cpes []string, cve string) []advisory.Product {
	byStatus := map[string]*advisory.Product{}
	var order []string
	add := func(status, expr string) {
		p := byStatus[status]
		if p == nil {
			p = &advisory.Product{Vendor: strings.TrimSpace(vendor), Name: strings.TrimSpace(product), Status: status, CVEs: []string{cve}}
			if len(cpes) > 0 {
				p.CPE = cpes[0]
			}
			byStatus[status] = p
			order = append(order, status)
		}
		p.Versions = append(p.Versions, expr)
	}
	for _, v := range versions {
		add(mapStatus(v.Status), v.expression())
	}
	if len(versions) == 0 && defaultStatus != "" {
		add(mapStatus(defaultStatus), "*")
	}
	out := make([]advisory.Product, 0, len(order))
	for _, st := range order {
		out = append(out, *byStatus[st])
	}
	return out
}

func mapStatus(s string) string {
	switch strings.ToLower(s) {
	case "affected":
		return advisory.StatusAffected
	case "unaffected":
		return advisory.StatusNotAffected
	}
	return advisory.StatusUnderInvestigation // "unknown"
}

// expression renders version / lessThan / lessThanOrEqual as a range.
func (v Version) expression() string {
	start := strings.TrimSpace(v.Version)
	lower := ""
	if start != "" && start != "0" && start != "*" && !strings.EqualFold(start, "unspecified") && start != "n/a" {
		lower = ">=" + start
	}
	switch {
	case v.LessThan != "" && v.LessThan != "*":
		return strings.TrimSpace(lower + " <" + v.LessThan)
	case v.LessThanOrEqual != "" && v.LessThanOrEqual != "*":
		return strings.TrimSpace(lower + " <=" + v.LessThanOrEqual)
	case v.LessThan == "*" || v.LessThanOrEqual == "*":
		if lower == "" {
			return "*"
		}
		return lower
	case lower == "":
		return "*"
	}
	return "=" + start
}
