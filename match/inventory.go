// Package match holds each tenant's inventory and subscriptions, the index
// over all tenants' assets, and the rules that turn an enriched advisory into
// explainable alerts.
package match

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Asset criticalities, most critical first.
const (
	LifeCritical = "life-critical"
	High         = "high"
	Medium       = "medium"
	Low          = "low"
)

// Network zones.
const (
	ZoneInternet = "internet-exposed"
	ZoneClinical = "clinical"
	ZoneIsolated = "isolated"
)

// Asset is one device or system in a hospital's inventory.
type Asset struct {
	ID          string   `json:"id"`
	Vendor      string   `json:"vendor"`
	Product     string   `json:"product"`
	Model       string   `json:"model,omitempty"`
	Version     string   `json:"version,omitempty"`
	Category    string   `json:"category,omitempty"`
	Criticality string   `json:"criticality"`
	Location    string   `json:"location,omitempty"`
	Zone        string   `json:"zone,omitempty"`
	Owner       string   `json:"owner,omitempty"`
	CPE         string   `json:"cpe,omitempty"`
	PURL        string   `json:"purl,omitempty"`
	Tags        []string `json:"tags,omitempty"`
}

// RowError is one inventory row that could not be loaded.
type RowError struct {
	File  string
	Line  int
	Field string
	Err   error
}

func (e *RowError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s:%d: field %q: %v", e.File, e.Line, e.Field, e.Err)
}
func (e *RowError) Unwrap() error { return e.Err }

// Sentinel causes of row errors.
var (
	ErrRequired  = errors.New("is required")
	ErrBadValue  = errors.New("has an invalid value")
	ErrDuplicate = errors.New("duplicates an earlier asset id")
)

var csvColumns = []string{"id", "vendor", "product", "model", "version", "category", "criticality", "location", "zone", "owner", "cpe", "purl", "tags"}

// Inventory is the result of reading an inventory file: the assets that
// loaded, the rows that did not, and warnings (unknown columns).
type Inventory struct {
	Assets   []Asset
	Errors   []error
	Warnings []string
}

// ParseCSV reads an inventory CSV whose columns are found by header name, in
// any order. A bad row is reported with its line number; the others load.
func ParseCSV(file string, r io.Reader) (Inventory, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err != nil {
		return Inventory{}, fmt.Errorf("%s: header: %w", file, err)
	}
	col := map[string]int{}
	var inv Inventory
	known := map[string]bool{}
	for _, c := range csvColumns {
		known[c] = true
	}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if !known[h] {
			inv.Warnings = append(inv.Warnings, fmt.Sprintf("%s:1: unknown column %q ignored", file, h))
			continue
		}
		col[h] = i
	}
	for _, req := range []string{"id", "vendor", "product"} {
		if _, ok := col[req]; !ok {
			return Inventory{}, fmt.Errorf("%s:1: required column %q missing (columns: %s)", file, req, strings.Join(csvColumns, ", "))
		}
	}
	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				inv.Errors = append(inv.Errors, &RowError{File: file, Line: pe.Line, Err: pe.Err})
				continue
			}
			return inv, fmt.Errorf("%s: %w", file, err)
		}
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		a := Asset{
			ID: get("id"), Vendor: get("vendor"), Product: get("product"), Model: get("model"),
			Version: get("version"), Category: get("category"), Criticality: strings.ToLower(get("criticality")),
			Location: get("location"), Zone: strings.ToLower(get("zone")), Owner: get("owner"),
			CPE: get("cpe"), PURL: get("purl"),
		}
		if t := get("tags"); t != "" {
			for _, tag := range strings.FieldsFunc(t, func(r rune) bool { return r == ';' || r == '|' }) {
				a.Tags = append(a.Tags, strings.TrimSpace(tag))
			}
		}
		if field, err := a.Validate(); err != nil {
			inv.Errors = append(inv.Errors, &RowError{File: file, Line: line, Field: field, Err: err})
			continue
		}
		if first, dup := seen[a.ID]; dup {
			inv.Errors = append(inv.Errors, &RowError{File: file, Line: line, Field: "id",
				Err: fmt.Errorf("%q %w (line %d)", a.ID, ErrDuplicate, first)})
			continue
		}
		seen[a.ID] = line
		inv.Assets = append(inv.Assets, a)
	}
	return inv, nil
}

// Validate fills defaults and returns the first field at fault.
func (a *Asset) Validate() (field string, err error) {
	switch {
	case a.ID == "":
		return "id", ErrRequired
	case a.Vendor == "":
		return "vendor", ErrRequired
	case a.Product == "":
		return "product", ErrRequired
	}
	switch a.Criticality {
	case "":
		a.Criticality = Medium
	case LifeCritical, High, Medium, Low:
	default:
		return "criticality", fmt.Errorf("%q %w: use %s, %s, %s or %s", a.Criticality, ErrBadValue, LifeCritical, High, Medium, Low)
	}
	switch a.Zone {
	case "", ZoneInternet, ZoneClinical, ZoneIsolated:
	default:
		return "zone", fmt.Errorf("%q %w: use %s, %s or %s", a.Zone, ErrBadValue, ZoneInternet, ZoneClinical, ZoneIsolated)
	}
	return "", nil
}
