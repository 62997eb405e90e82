package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/vigilhealth/vigil/enrich"
	"github.com/vigilhealth/vigil/feeds"
	"github.com/vigilhealth/vigil/match"
)

// matchCmd is `vigil match --inventory FILE [--tenant-file tenant.yaml]
// ADVISORY_FILE...`: parse, enrich and match without NATS, alerts as JSON
// lines.
func (e *env) matchCmd(args []string) error {
	fs := newFlags("match")
	invFile := fs.String("inventory", "", "inventory: CSV, JSON or CycloneDX JSON")
	tenantFile := fs.String("tenant-file", "", "tenant YAML (default: a tenant named 'local' cleared for every TLP)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *invFile == "" || fs.NArg() == 0 {
		return usagef("match: want --inventory FILE ADVISORY_FILE...")
	}
	tenant := match.Tenant{ID: "local", Name: "local", TLPClearance: "RED"}
	if *tenantFile != "" {
		data, err := os.ReadFile(*tenantFile)
		if err != nil {
			return err
		}
		if tenant, err = match.ParseTenant(*tenantFile, data); err != nil {
			return err
		}
	}
	inv, err := e.readInventory(*invFile)
	if err != nil {
		return err
	}
	vendors, err := enrich.LoadVendors()
	if err != nil {
		return err
	}
	off := match.NewOffline(vendors, []match.Tenant{tenant}, map[string][]match.Asset{tenant.ID: inv.Assets})
	if un := off.Index().Unresolved[tenant.ID]; len(un) > 0 {
		fmt.Fprintf(e.stderr, "warning: %d asset(s) have a vendor Vigil does not know and cannot match (first: %s)\n", len(un), un[0])
	}
	en := enrich.New(vendors, enrich.NewMemState())
	advisories := 0
	for _, name := range fs.Args() {
		data, err := os.ReadFile(name)
		if err != nil {
			fmt.Fprintln(e.stderr, err)
			continue
		}
		res, err := feeds.Parse("auto", "file", data, time.Now())
		if err != nil {
			fmt.Fprintf(e.stderr, "%s: %v\n", name, err)
			continue
		}
		for _, a := range res.Advisories {
			out, _, err := en.Enrich(e.ctx, a)
			if err != nil {
				return err
			}
			off.Add(&out)
			advisories++
		}
	}
	if advisories == 0 {
		return fmt.Errorf("no advisory could be read from %d file(s)", fs.NArg())
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetEscapeHTML(false)
	alerts := off.Alerts()
	for i := range alerts {
		if err := enc.Encode(alerts[i].Line()); err != nil {
			return err
		}
	}
	fmt.Fprintf(e.stderr, "%d advisories, %d assets, %d alert(s)\n", advisories, len(inv.Assets), len(alerts))
	return nil
}
