package feeds

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/feeds/csaf"
	"github.com/vigilhealth/vigil/feeds/cve5"
	"github.com/vigilhealth/vigil/feeds/kev"
	"github.com/vigilhealth/vigil/feeds/nvd"
	"github.com/vigilhealth/vigil/feeds/rss"
)

// Document formats, one per parser. KindRSS doubles as a format.
const (
	FormatRSS  = "rss"
	FormatCSAF = "csaf"
	FormatKEV  = "kev"
	FormatCVE5 = "cve5"
	FormatNVD  = "nvd"
)

// Formats lists the formats Parse understands.
var Formats = []string{FormatRSS, FormatCSAF, FormatKEV, FormatCVE5, FormatNVD}

// Result is what parsing one document gives.
type Result struct {
	Format     string
	Advisories []advisory.Advisory
	// ItemErrors are entries that could not be used; the others are fine.
	ItemErrors []error
	// NVDPage is set for NVD responses, for paging.
	NVDPage *nvd.Page
}

// ErrUnknownFormat means Detect could not tell the format.
var ErrUnknownFormat = errors.New("unknown format: not RSS/Atom/RDF/JSON Feed, CSAF, KEV, CVE JSON 5 or NVD API 2.0")

// Detect tells the format of a document from its first bytes and, for
// JSON, its top-level keys.
func Detect(data []byte) (string, error) {
	t := bytes.TrimLeft(data, " \t\r\n\ufeff")
	if len(t) == 0 {
		return "", fmt.Errorf("%w (empty)", ErrUnknownFormat)
	}
	switch t[0] {
	case '<':
		return FormatRSS, nil
	case '[':
		return FormatCVE5, nil
	case '{':
	default:
		return "", ErrUnknownFormat
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(t, &top); err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnknownFormat, err)
	}
	switch {
	case top["document"] != nil:
		return FormatCSAF, nil
	case top["catalogVersion"] != nil:
		return FormatKEV, nil
	case top["cveMetadata"] != nil:
		return FormatCVE5, nil
	case bytes.Contains(top["format"], []byte("NVD_CVE")):
		return FormatNVD, nil
	case bytes.Contains(top["version"], []byte("jsonfeed.org")):
		return FormatRSS, nil
	}
	return "", ErrUnknownFormat
}

// Parse parses data of the given format ("" or "auto" detects it) as
// published by source.
func Parse(format, source string, data []byte, fetched time.Time) (Result, error) {
	if format == "" || format == "auto" {
		f, err := Detect(data)
		if err != nil {
			return Result{}, err
		}
		format = f
	}
	r := Result{Format: format}
	var err error
	switch format {
	case FormatRSS:
		r.Advisories, r.ItemErrors, err = rss.Parse(source, bytes.NewReader(data), fetched)
	case FormatCSAF:
		var a advisory.Advisory
		if a, err = csaf.Parse(source, data, fetched); err == nil {
			r.Advisories = []advisory.Advisory{a}
		}
	case FormatKEV:
		r.Advisories, r.ItemErrors, err = kev.Parse(source, data, fetched)
	case FormatCVE5:
		r.Advisories, r.ItemErrors, err = cve5.Parse(source, data, fetched)
	case FormatNVD:
		var page nvd.Page
		if r.Advisories, page, r.ItemErrors, err = nvd.Parse(source, data, fetched); err == nil {
			r.NVDPage = &page
		}
	default:
		return Result{}, fmt.Errorf("format %q is not one of %s", format, strings.Join(Formats, ", "))
	}
	return r, err
}
