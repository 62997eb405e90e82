package cli

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vigilhealth/vigil/match"
	"github.com/vigilhealth/vigil/notify"
	"github.com/vigilhealth/vigil/store"
)

func (e *env) tenant(args []string) error {
	if len(args) == 0 {
		return usagef("tenant: want 'apply -f FILE' or 'list'")
	}
	switch args[0] {
	case "apply":
		fs := newFlags("tenant apply")
		file := fs.String("f", "", "tenant YAML file")
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		if *file == "" {
			return usagef("tenant apply: -f FILE is required")
		}
		data, err := os.ReadFile(*file)
		if err != nil {
			return err
		}
		t, err := match.ParseTenant(*file, data)
		if err != nil {
			return err
		}
		b, err := e.openBus()
		if err != nil {
			return err
		}
		defer b.Close()
		if err := match.PutTenant(e.ctx, b, t); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "tenant %s (%s) applied\n", t.ID, t.Name)
		return nil
	case "list":
		b, err := e.openBus()
		if err != nil {
			return err
		}
		defer b.Close()
		ts, err := match.ListTenants(e.ctx, b)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tTLP\tSLACK\tEMAIL\tWEBHOOK\tWINDOW")
		for _, t := range ts {
			slack, email, hook := "-", "-", "-"
			switch s := t.Channels.Slack; {
			case s != nil && s.WebhookURL != "":
				slack = "incoming webhook"
			case s != nil:
				slack = s.Channel
			}
			if t.Channels.Email != nil {
				email = fmt.Sprint(len(t.Channels.Email.To), " recipient(s)")
			}
			if w := t.Channels.Webhook; w != nil {
				if u, err := url.Parse(w.URL); err == nil {
					hook = u.Host // the path and query may carry a token
				}
			}
			window := t.Delivery.Window().String()
			if p := t.Delivery.Digest.Priorities; len(p) > 0 {
				window += fmt.Sprintf(", %s digest of %s", cmp.Or(t.Delivery.Digest.Every, "hourly"), strings.Join(p, "/"))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.TLPClearance, slack, email, hook, window)
		}
		return tw.Flush()
	}
	return usagef("tenant: unknown subcommand %q", args[0])
}

func (e *env) readInventory(path string) (match.Inventory, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return match.Inventory{}, err
	}
	inv, err := match.ParseInventory(path, data)
	if err != nil {
		return inv, err
	}
	for _, w := range inv.Warnings {
		fmt.Fprintln(e.stderr, "warning:", w)
	}
	for _, re := range inv.Errors {
		fmt.Fprintln(e.stderr, "error:", re)
	}
	return inv, nil
}

func (e *env) inventory(args []string) error {
	if len(args) == 0 {
		return usagef("inventory: want 'validate FILE' or 'apply --tenant ID FILE'")
	}
	switch args[0] {
	case "validate":
		if len(args) != 2 || strings.HasPrefix(args[1], "-") {
			return usagef("inventory validate: want one FILE; it has no flags") // a file named -x: ./-x
		}
		inv, err := e.readInventory(args[1])
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s: %s valid, %s rejected, %s\n", args[1], plural(len(inv.Assets), "asset"),
			plural(len(inv.Errors), "row"), plural(len(inv.Warnings), "warning"))
		if len(inv.Errors) > 0 {
			return fmt.Errorf("%s has %s with errors", args[1], plural(len(inv.Errors), "row"))
		}
		return nil
	case "apply":
		fs := newFlags("inventory apply")
		tenant := fs.String("tenant", "", "tenant id")
		strict := fs.Bool("strict", false, "apply nothing if any row is rejected")
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		if *tenant == "" || fs.NArg() != 1 {
			return usagef("inventory apply: want --tenant ID FILE")
		}
		inv, err := e.readInventory(fs.Arg(0))
		if err != nil {
			return err
		}
		if *strict && len(inv.Errors) > 0 {
			return fmt.Errorf("--strict: %s rejected, nothing applied", plural(len(inv.Errors), "row"))
		}
		b, err := e.openBus()
		if err != nil {
			return err
		}
		defer b.Close()
		if _, err := match.GetTenant(e.ctx, b, *tenant); err != nil {
			return fmt.Errorf("tenant %q: %w (apply it first with 'vigil tenant apply -f')", *tenant, err)
		}
		bar := newProgressBar(e.stderr, "apply "+*tenant)
		if err := match.PutInventoryProgress(e.ctx, b, *tenant, inv.Assets, bar.update); err != nil {
			return err
		}
		bar.done()
		fmt.Fprintf(e.stdout, "tenant %s: %s applied", *tenant, plural(len(inv.Assets), "asset"))
		if len(inv.Errors) > 0 {
			fmt.Fprintf(e.stdout, " (%s rejected, see above)", plural(len(inv.Errors), "row"))
		}
		fmt.Fprintln(e.stdout)
		return nil
	}
	return usagef("inventory: unknown subcommand %q", args[0])
}

func (e *env) alerts(args []string) error {
	if len(args) > 0 && args[0] == "mark" {
		return e.markAlert(args[1:])
	}
	fs := newFlags("alerts")
	tenant := fs.String("tenant", "", "only this tenant")
	since := fs.Duration("since", 7*24*time.Hour, "how far back")
	priority := fs.String("priority", "", "only these priorities, e.g. P1 or P1,P2")
	format := fs.String("format", "table", "table, json or csv")
	limit := fs.Int("limit", 100, "at most this many alerts")
	if err := parse(fs, args); err != nil {
		return err
	}
	if !oneOf(*format, "table", "json", "csv") {
		return usagef("alerts: --format must be table, json or csv")
	}
	var prios []string
	for _, p := range strings.Split(*priority, ",") {
		if p = strings.ToUpper(strings.TrimSpace(p)); p == "" {
			continue
		}
		if !oneOf(p, "P1", "P2", "P3", "P4") {
			return usagef("alerts: --priority %q: want P1, P2, P3 or P4 (comma-separated)", p)
		}
		prios = append(prios, p)
	}
	db, err := store.Open(e.ctx, e.storeConfig())
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.Alerts(e.ctx, store.AlertFilter{Tenant: *tenant, Since: time.Now().Add(-*since), Priorities: prios, Limit: *limit})
	if err != nil {
		return err
	}
	switch *format {
	case "json":
		return jsonLines(e.stdout, rows)
	case "csv":
		return store.PrintAlertsCSV(e.stdout, rows)
	}
	return store.PrintAlerts(e.stdout, rows)
}

// markAlert records an analyst's verdict (false positive, confirmed...),
// which the analytics read (false-positive rate per source and vendor).
func (e *env) markAlert(args []string) error {
	fs := newFlags("alerts mark")
	tenant := fs.String("tenant", "", "the alert's tenant (required)")
	verdict := fs.String("verdict", "", strings.Join(store.Verdicts, ", "))
	note := fs.String("note", "", "free text")
	analyst := fs.String("analyst", os.Getenv("USER"), "who says so")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *tenant == "" || *verdict == "" {
		return usagef("alerts mark: want --tenant ID --verdict %s [--note TEXT] ALERT_ID", strings.Join(store.Verdicts, "|"))
	}
	db, err := store.Open(e.ctx, e.storeConfig())
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Mark(e.ctx, *tenant, fs.Arg(0), *verdict, *note, *analyst, time.Now()); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "alert %s of %s marked %s\n", fs.Arg(0), *tenant, *verdict)
	return nil
}

// query runs one read-only SQL statement against the history; --tenant
// confines it to that tenant's views.
func (e *env) query(args []string) error {
	fs := newFlags("query")
	tenant := fs.String("tenant", os.Getenv("VIGIL_QUERY_TENANT"), "run confined to this tenant's data (default $VIGIL_QUERY_TENANT)")
	format := fs.String("format", "table", "table, json or csv")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("query: want one SQL statement in quotes, e.g. vigil query 'SELECT count() FROM alerts'")
	}
	if !oneOf(*format, "table", "json", "csv") {
		return usagef("query: --format must be table, json or csv")
	}
	db, err := store.Open(e.ctx, e.storeConfig())
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := db.Query(e.ctx, fs.Arg(0), *tenant)
	if res != nil {
		if werr := store.WriteResult(e.stdout, res, *format); werr != nil {
			return werr
		}
	}
	return err
}

// deliveries reports on delivery: `deliveries failed` lists what channels
// refused for good (the notify dead letters).
func (e *env) deliveries(args []string) error {
	if len(args) == 0 || args[0] != "failed" {
		return usagef("deliveries: want 'failed [--tenant ID] [--since 168h] [--format table|json]'")
	}
	fs := newFlags("deliveries failed")
	tenant := fs.String("tenant", "", "only this tenant")
	since := fs.Duration("since", 7*24*time.Hour, "how far back")
	format := fs.String("format", "table", "table or json")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if !oneOf(*format, "table", "json") {
		return usagef("deliveries failed: --format must be table or json")
	}
	b, err := e.openBus()
	if err != nil {
		return err
	}
	defer b.Close()
	failed, err := notify.FailedDeliveries(e.ctx, b, time.Now().Add(-*since), *tenant)
	if err != nil {
		return err
	}
	if *format == "json" {
		return jsonLines(e.stdout, failed)
	}
	return notify.PrintFailed(e.stdout, failed)
}

// jsonLines writes one JSON object per line.
func jsonLines[T any](w io.Writer, items []T) error {
	enc := json.NewEncoder(w)
	for _, it := range items {
		if err := enc.Encode(it); err != nil {
			return err
		}
	}
	return nil
}
