package match

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/vigilhealth/vigil/feeds/nvd"
)

// ParseInventory reads an inventory in any supported format, told apart by
// content: CSV (columns by header name), a JSON array of assets (or
// {"assets": [...]}), or a CycloneDX SBOM in JSON.
func ParseInventory(file string, data []byte) (Inventory, error) {
	t := bytes.TrimSpace(data)
	switch {
	case len(t) == 0:
		return Inventory{}, fmt.Errorf("%s: empty", file)
	case t[0] == '[':
		return parseJSONAssets(file, t, "")
	case t[0] == '{':
		var probe struct {
			BOMFormat string          `json:"bomFormat"`
			Assets    json.RawMessage `json:"assets"`
		}
		if err := json.Unmarshal(t, &probe); err != nil {
			return Inventory{}, fmt.Errorf("%s: %w", file, err)
		}
		if probe.BOMFormat == "CycloneDX" {
			return parseCycloneDX(file, t)
		}
		if probe.Assets != nil {
			return parseJSONAssets(file, probe.Assets, "assets")
		}
		return Inventory{}, fmt.Errorf("%s: JSON is neither an asset list, {\"assets\": [...]} nor a CycloneDX BOM", file)
	}
	return ParseCSV(file, bytes.NewReader(data))
}

func parseJSONAssets(file string, data []byte, field string) (Inventory, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return Inventory{}, fmt.Errorf("%s: %w", file, err)
	}
	var inv Inventory
	seen := map[string]int{}
	for i, r := range raw {
		where := fmt.Sprintf("%s[%d]", field, i)
		if field == "" {
			where = fmt.Sprintf("[%d]", i)
		}
		var a Asset
		dec := json.NewDecoder(bytes.NewReader(r))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&a); err != nil {
			inv.Errors = append(inv.Errors, &RowError{File: file, Line: i + 1, Err: fmt.Errorf("%s: %w", where, err)})
			continue
		}
		inv.add(file, i+1, a, seen)
	}
	return inv, nil
}

// add validates an asset and keeps it, or records why not.
func (inv *Inventory) add(file string, line int, a Asset, seen map[string]int) {
	if field, err := a.Validate(); err != nil {
		inv.Errors = append(inv.Errors, &RowError{File: file, Line: line, Field: field, Err: err})
		return
	}
	if first, dup := seen[a.ID]; dup {
		inv.Errors = append(inv.Errors, &RowError{File: file, Line: line, Field: "id", Err: fmt.Errorf("%q %w (entry %d)", a.ID, ErrDuplicate, first)})
		return
	}
	seen[a.ID] = line
	inv.Assets = append(inv.Assets, a)
}

// parseCycloneDX turns SBOM components (devices, firmware, applications,
// libraries) into assets: vendor from manufacturer, supplier, publisher or
// the CPE; product from the name; version, CPE and purl as given. The
// SBOM's subject (metadata.component) is an asset too.
func parseCycloneDX(file string, data []byte) (Inventory, error) {
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(data), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		return Inventory{}, fmt.Errorf("%s: CycloneDX: %w", file, err)
	}
	var comps []cdx.Component
	if bom.Metadata != nil && bom.Metadata.Component != nil {
		comps = append(comps, *bom.Metadata.Component)
	}
	var walk func([]cdx.Component)
	walk = func(cs []cdx.Component) {
		for _, c := range cs {
			comps = append(comps, c)
			if c.Components != nil {
				walk(*c.Components)
			}
		}
	}
	if bom.Components != nil {
		walk(*bom.Components)
	}
	var inv Inventory
	seen := map[string]int{}
	for i, c := range comps {
		a := Asset{ID: c.BOMRef, Vendor: cdxVendor(c), Product: c.Name, Version: c.Version, CPE: c.CPE, PURL: c.PackageURL,
			Category: string(c.Type), Criticality: Medium}
		if a.ID == "" {
			a.ID = firstNonEmpty(c.PackageURL, strings.TrimSuffix(c.Name+"@"+c.Version, "@"))
		}
		if a.Vendor == "" && c.Group != "" {
			a.Vendor = c.Group
		}
		inv.add(file, i+1, a, seen)
	}
	if len(comps) == 0 {
		return inv, errors.New(file + ": CycloneDX BOM has no components")
	}
	return inv, nil
}

func cdxVendor(c cdx.Component) string {
	switch {
	case c.Manufacturer != nil && c.Manufacturer.Name != "":
		return c.Manufacturer.Name
	case c.Supplier != nil && c.Supplier.Name != "":
		return c.Supplier.Name
	case c.Publisher != "":
		return c.Publisher
	}
	if cpe, ok := nvd.ParseCPE(c.CPE); ok {
		return cpe.Vendor
	}
	return ""
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
