package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/vigilhealth/vigil/feeds"
)

// parse prints the advisories of each file as JSON lines. It fails only
// when nothing at all could be parsed.
func (e *env) parse(args []string) error {
	fs := newFlags("parse")
	format := fs.String("format", "auto", "auto, "+strings.Join(feeds.Formats, ", "))
	source := fs.String("source", "", "source name to record (default: the format)")
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
			if err := enc.Encode(a); err != nil {
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
