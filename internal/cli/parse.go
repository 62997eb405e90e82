package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/enrich"
	"github.com/vigilhealth/vigil/feeds"
)

// parse prints the advisories of each file as JSON lines. It fails only
// when nothing at all could be parsed.
func (e *env) parse(args []string) error {
	fs := newFlags("parse")
	format := fs.String("format", "auto", "auto, "+strings.Join(feeds.Formats, ", "))
	source := fs.String("source", "", "source name to record (default: the format)")
	enrichFlag := fs.Bool("enrich", false, "also enrich: vendor, products, categories, relevance, patient safety, cluster, KEV")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("parse: want FILE ... or - for standard input")
	}
	if *format != "auto" && !oneOf(*format, feeds.Formats...) {
		return usagef("parse: --format %q is not auto or one of %s", *format, strings.Join(feeds.Formats, ", "))
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetEscapeHTML(false)
	var enricher *enrich.Enricher
	if *enrichFlag {
		vendors, err := enrich.LoadVendors()
		if err != nil {
			return err
		}
		// In memory: the files given share KEV entries and clusters.
		enricher = enrich.New(vendors, enrich.NewMemState())
	}
	parsed, failed := 0, 0
	for _, name := range fs.Args() {
		var data []byte
		var err error
		if name == "-" {
			data, err = io.ReadAll(os.Stdin)
			name = "(stdin)"
		} else {
			data, err = os.ReadFile(name)
		}
		if err != nil {
			fmt.Fprintf(e.stderr, "%v\n", err)
			failed++
			continue
		}
		src := *source
		if src == "" {
			if src = *format; src == "auto" {
				if src, _ = feeds.Detect(data); src == "" {
					src = "file"
				}
			}
		}
		res, err := feeds.Parse(*format, src, data, time.Now())
		if err != nil {
			fmt.Fprintf(e.stderr, "%s: %v\n", name, err)
			failed++
			continue
		}
		for _, ie := range res.ItemErrors {
			fmt.Fprintf(e.stderr, "%s: %v\n", name, ie)
		}
		for _, a := range res.Advisories {
			var out any = a
			if enricher != nil {
				en, _, err := enricher.Enrich(e.ctx, a)
				if err != nil {
					return err
				}
				out = enrichedView(en)
			}
			if err := enc.Encode(out); err != nil {
				return err
			}
			parsed++
		}
	}
	if parsed == 0 {
		return fmt.Errorf("nothing parsed (%d of %d files failed)", failed, fs.NArg())
	}
	return nil
}

// enrichedView lifts the enrichment's main fields to the top level.
type enrichedLine struct {
	advisory.Advisory
	VendorID      string              `json:"vendor_id"`
	ProductKeys   []string            `json:"product_keys"`
	Categories    []advisory.Category `json:"categories"`
	Relevance     advisory.Relevance  `json:"relevance"`
	PatientSafety bool                `json:"patient_safety"`
	ClusterID     string              `json:"cluster_id"`
}

func enrichedView(a advisory.Advisory) enrichedLine {
	en := a.Enrichment
	return enrichedLine{Advisory: a, VendorID: en.VendorID, ProductKeys: en.ProductKeys, Categories: en.Categories,
		Relevance: en.Relevance, PatientSafety: en.PatientSafety, ClusterID: en.ClusterID}
}
