package store

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/docs"
	"github.com/vigilhealth/vigil/ingest"
	"github.com/vigilhealth/vigil/match"
	"github.com/vigilhealth/vigil/notify"
)

// documentedQueries are the numbered SQL blocks of docs/analytics.md.
func documentedQueries(t testing.TB) []docs.Query {
	t.Helper()
	return docs.AnalyticsQueries()
}

// fixture writes a small, known history through the store's own row
// builders: two hospitals, three sources, five alerts (one updated with a
// fix), assets, deliveries, polls and verdicts.
func fixture(t *testing.T, db *DB, now time.Time, suffix ...string) {
	t.Helper()
	ctx := context.Background()
	h := func(d time.Duration) time.Time { return now.Add(d).UTC().Truncate(time.Second) }
	adv := func(source, id, vendor, cluster string, cves []string, kev bool, kevAdded string) advisory.Advisory {
		return advisory.Advisory{Source: source, ID: id, Revision: "1", Title: id + " advisory", Published: h(-50 * time.Hour), FetchedAt: h(-49 * time.Hour),
			CVEs: cves, KEV: kev, TLP: advisory.TLPClear,
			Products:   []advisory.Product{{Vendor: vendor, Name: "Device of " + id, Versions: []string{"<2.0"}, Status: advisory.StatusAffected}},
			Enrichment: &advisory.Enrichment{VendorID: vendor, Vendors: []advisory.VendorRef{{ID: vendor, Name: vendor, MatchedAs: vendor}}, ClusterID: cluster, KEVDateAdded: kevAdded, EnrichedAt: h(-49 * time.Hour)}}
	}
	advs := []advisory.Advisory{
		adv("cisa-csaf", "ICSMA-1", "ge-healthcare", "VC-CVE-1", []string{"CVE-1"}, false, ""),
		adv("cisa-csaf", "ICSMA-2", "baxter", "VC-CVE-2", []string{"CVE-2"}, true, now.Add(-72*time.Hour).UTC().Format("2006-01-02")),
		adv("cisa-csaf", "ICSMA-3", "philips", "VC-CVE-3", []string{"CVE-3"}, false, ""),
		adv("cert-fr", "CERTFR-1", "philips", "VC-CVE-4", []string{"CVE-4"}, false, ""),
		adv("cert-fr", "CERTFR-2", "siemens", "VC-CVE-5", []string{"CVE-5"}, false, ""),
		adv("nvd", "CVE-6", "philips", "VC-CVE-6", []string{"CVE-6"}, false, ""),
	}
	alert := func(tenant, id, rev, prio string, a advisory.Advisory, created time.Time, fix bool, assets ...string) match.Alert {
		id += strings.Join(suffix, "")
		al := match.Alert{Schema: match.AlertSchema, ID: id, Tenant: tenant, Revision: rev, ClusterID: a.Enrichment.ClusterID, Priority: prio, Confidence: match.Exact,
			Advisory: match.AdvisoryRef{Source: a.Source, ID: a.ID, Revision: a.Revision, Title: a.Title, Published: a.Published, FetchedAt: created.Add(-30 * time.Second),
				CVEs: a.CVEs, KEV: a.KEV, VendorID: a.Enrichment.VendorID}, FixAvailable: fix, CreatedAt: created}
		for _, as := range assets {
			al.Assets = append(al.Assets, match.AssetMatch{Asset: &match.Asset{ID: as, Vendor: a.Enrichment.VendorID, Product: "Device", Location: "Ward " + as, Criticality: match.High},
				Confidence: match.Exact, Rule: "product", Reasons: []string{"version 1.0 in \"<2.0\""}})
		}
		return al
	}
	alerts := []match.Alert{
		alert("h1", "A-1", "1", "P1", advs[0], h(-48*time.Hour), false, "MON-1", "MON-2"),
		alert("h1", "A-1", "2", "P1", advs[0], h(0), true, "MON-1", "MON-2"),
		alert("h1", "A-2", "1", "P2", advs[1], h(-47*time.Hour), false, "PUMP-1"),
		alert("h1", "A-3", "1", "P1", advs[3], h(-46*time.Hour), false, "MON-1"),
		alert("h2", "B-1", "1", "P1", advs[0], h(-48*time.Hour), false, "CT-9"),
		alert("h2", "B-2", "1", "P3", advs[5], h(-10*time.Hour), false, "HUB-4"),
	}
	// The lifecycle the matcher stamps on every revision.
	opened := map[string]time.Time{}
	for i := range alerts {
		a := &alerts[i]
		if _, ok := opened[a.Tenant+"/"+a.ID]; !ok {
			opened[a.Tenant+"/"+a.ID] = a.CreatedAt
		}
		a.OpenedAt = opened[a.Tenant+"/"+a.ID]
		if a.FixAvailable {
			a.FixedAt = a.CreatedAt
		}
		if a.Advisory.KEV {
			a.KEVAt = a.CreatedAt
		}
	}
	deliveries := []notify.Delivery{
		{Tenant: "h1", AlertID: "A-1", Revision: "1", Channel: "slack", Status: notify.StatusDelivered, Attempt: 1, At: h(-48 * time.Hour), LatencyMS: 40},
		{Tenant: "h1", AlertID: "A-1", Revision: "1", Channel: "email", Status: notify.StatusDelivered, Attempt: 1, At: h(-48 * time.Hour), LatencyMS: 90},
		{Tenant: "h1", AlertID: "A-2", Revision: "1", Channel: "webhook", Status: notify.StatusRetrying, Error: "HTTP 503", Attempt: 1, At: h(-47 * time.Hour), LatencyMS: 30},
		{Tenant: "h1", AlertID: "A-2", Revision: "1", Channel: "webhook", Status: notify.StatusDelivered, Attempt: 2, At: h(-47 * time.Hour), LatencyMS: 1030},
		{Tenant: "h2", AlertID: "B-1", Revision: "1", Channel: "slack", Status: notify.StatusFailed, Error: "channel_not_found", Attempt: 1, At: h(-48 * time.Hour), LatencyMS: 20},
	}
	runs := []ingest.PollRecord{
		{Source: "cisa-csaf", Kind: "csaf", StartedAt: h(-3 * time.Hour), DurationMS: 800, Status: 200, Items: 3, Published: 3},
		{Source: "cisa-csaf", Kind: "csaf", StartedAt: h(-2 * time.Hour), DurationMS: 120, Status: 304, NotModified: true},
		{Source: "cisa-csaf", Kind: "csaf", StartedAt: h(-1 * time.Hour), DurationMS: 30000, Status: 503, Error: "feed cisa-csaf: HTTP 503"},
		{Source: "cert-fr", Kind: "rss", StartedAt: h(-1 * time.Hour), DurationMS: 200, Status: 200, Items: 2, Published: 2},
	}
	msgs := map[string][]any{}
	for _, a := range advs {
		msgs["advisory"] = append(msgs["advisory"], a)
	}
	for _, a := range alerts {
		msgs["alert"] = append(msgs["alert"], a)
	}
	for _, d := range deliveries {
		msgs["delivery"] = append(msgs["delivery"], d)
	}
	for _, r := range runs {
		msgs["run"] = append(msgs["run"], r)
	}
	kind := map[string]string{"advisories": "advisory", "advisory_products": "advisory", "clusters": "advisory", "alerts": "alert", "alert_assets": "alert",
		"deliveries": "delivery", "ingest_runs": "run"}
	for _, tb := range Tables() {
		w := &Writer{db: db, table: tb}
		var rows [][]any
		for _, m := range msgs[kind[tb.Name]] {
			data, _ := json.Marshal(m)
			rs, err := tb.Rows(data)
			if err != nil {
				t.Fatalf("%s rows: %v", tb.Name, err)
			}
			rows = append(rows, rs...)
		}
		if len(rows) == 0 {
			t.Fatalf("no fixture rows for %s", tb.Name)
		}
		if err := w.insert(ctx, rows); err != nil {
			t.Fatalf("insert %s: %v", tb.Name, err)
		}
	}
	for _, v := range []struct{ tenant, alert, verdict string }{{"h1", "A-3", "false-positive"}, {"h2", "B-2", "confirmed"}} {
		if err := db.Mark(ctx, v.tenant, v.alert+strings.Join(suffix, ""), v.verdict, "fixture", "analyst", h(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDocumentedQueries(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	fixture(t, db, time.Now())
	qs := documentedQueries(t)
	if len(qs) < 10 {
		t.Fatalf("docs/analytics.md documents %d queries, want at least 10", len(qs))
	}
	// What each query must say about the fixture (first column -> values).
	want := map[string]func(r *Result) error{
		"1. Time to alert per source": rowWith("cisa-csaf", "alerts", "3", "fetch_to_alert_s_p50", "30"),
		"2. Open P1 alerts by vendor": func(r *Result) error {
			// A-1 and B-1 (GE) are open; A-3 (Philips) is a false positive.
			if len(r.Rows) != 1 {
				return fmt.Errorf("rows %v", r.Rows)
			}
			return rowWith("ge-healthcare", "open_p1", "2", "hospitals", "2")(r)
		},
		"3. Exposure window per CVE":                                    rowWith("CVE-1", "exposure_days", "2", "hospitals", "2"),
		"4. Alerts per hospital per month":                              sum("alerts", 5),
		"5. Noisiest sources":                                           rowWith("cisa-csaf", "advisories", "3", "alerted", "2"),
		"6. False-positive rate per source and vendor":                  rowWith("cert-fr", "vendor_id", "philips", "false_positive_rate", "1"),
		"7. Delivery latency per channel":                               rowWith("webhook", "delivered", "1", "max_ms", "1030"),
		"8. Failed and retried deliveries per channel and day":          sum("failed", 1),
		"9. Known exploited: alerts and how soon after the KEV listing": rowWith("h1", "kev_alerts", "1"),
		"10. Most exposed assets":                                       rowWith("h1", "asset_id", "MON-1", "p1_alerts", "2"),
		"11. Vendors that leave hospitals exposed longest":              rowWith("ge-healthcare", "alerts", "2", "still_without_fix", "1"),
		"12. Feed health over the last week":                            rowWith("cisa-csaf", "polls", "3", "failed_polls", "1"),
	}
	for _, q := range qs {
		t.Run(q.Title, func(t *testing.T) {
			res, err := db.Query(ctx, q.SQL, "")
			if err != nil {
				t.Fatalf("%v\n%s", err, q.SQL)
			}
			if len(res.Rows) == 0 {
				t.Fatal("no rows over the fixture")
			}
			check, ok := want[q.Title]
			if !ok {
				t.Fatalf("no expectation for %q: add one", q.Title)
			}
			if err := check(res); err != nil {
				var b strings.Builder
				_ = WriteResult(&b, res, "table")
				t.Fatalf("%v\n%s", err, b.String())
			}
		})
	}
}

// rowWith finds the row whose first column is key and checks columns.
func rowWith(key string, colVals ...string) func(*Result) error {
	return func(r *Result) error {
		for _, row := range r.Rows {
			if cell(row[0]) != key {
				continue
			}
			for i := 0; i+1 < len(colVals); i += 2 {
				c := col(r, colVals[i])
				if c < 0 {
					return fmt.Errorf("no column %s", colVals[i])
				}
				if got := cell(row[c]); got != colVals[i+1] {
					return fmt.Errorf("%s %s = %s, want %s", key, colVals[i], got, colVals[i+1])
				}
			}
			return nil
		}
		return fmt.Errorf("no row for %s", key)
	}
}

func sum(column string, want int) func(*Result) error {
	return func(r *Result) error {
		c := col(r, column)
		if c < 0 {
			return fmt.Errorf("no column %s", column)
		}
		total := 0
		for _, row := range r.Rows {
			var n int
			fmt.Sscan(cell(row[c]), &n)
			total += n
		}
		if total != want {
			return fmt.Errorf("sum of %s = %d, want %d", column, total, want)
		}
		return nil
	}
}

func col(r *Result, name string) int {
	for i, c := range r.Columns {
		if c == name {
			return i
		}
	}
	return -1
}

func TestTenantQueriesSeeOnlyTheirOwnRows(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	fixture(t, db, time.Now())
	res, err := db.Query(ctx, "SELECT tenant, uniqExact(alert_id) AS n FROM alerts FINAL GROUP BY tenant ORDER BY tenant", "h2")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 1 || cell(res.Rows[0][0]) != "h2" || cell(res.Rows[0][1]) != "2" {
		t.Fatalf("h2 sees %v", res.Rows)
	}
	// Every documented query runs confined, too.
	for _, q := range documentedQueries(t) {
		if _, err := db.Query(ctx, q.SQL, "h1"); err != nil {
			t.Errorf("%s confined to h1: %v", q.Title, err)
		}
	}
	for _, bad := range []string{
		"SELECT * FROM " + db.Database + ".alerts",
		"SELECT * FROM `" + db.Database + "`.alerts",
		"SELECT name FROM system.tables",
		"SELECT * FROM remote('127.0.0.1', 'default', 'alerts')",
		"SELECT 1; DROP TABLE alerts",
		"DROP TABLE alerts",
		"INSERT INTO alerts (tenant) VALUES ('x')",
		"SELECT * FROM " + db.Database + "_t_h2.alerts",
	} {
		if _, err := db.Query(ctx, bad, "h1"); err == nil {
			t.Errorf("tenant h1 ran %q", bad)
		}
	}
	// A name inside a string literal is not a reference.
	if _, err := db.Query(ctx, "SELECT count() FROM alerts WHERE title != '"+db.Database+".alerts; system.tables'", "h1"); err != nil {
		t.Errorf("literal rejected: %v", err)
	}
}

// TestGrafanaDashboardShowsTheDocumentedQueries keeps deploy/grafana in
// step with docs/analytics.md: each panel is one documented (and so
// tested) query, and every documented query has a panel.
func TestGrafanaDashboardShowsTheDocumentedQueries(t *testing.T) {
	data, err := os.ReadFile("../deploy/grafana/dashboards/vigil.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				RawSQL     string `json:"rawSql"`
				Datasource struct {
					UID string `json:"uid"`
				} `json:"datasource"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("dashboard is not JSON: %v", err)
	}
	docs := map[string]string{}
	for _, q := range documentedQueries(t) {
		docs[q.Title] = strings.TrimSpace(q.SQL)
	}
	if len(dash.Panels) != len(docs) {
		t.Fatalf("%d panels for %d documented queries", len(dash.Panels), len(docs))
	}
	for _, p := range dash.Panels {
		want, ok := docs[p.Title]
		if !ok || len(p.Targets) != 1 || strings.TrimSpace(p.Targets[0].RawSQL) != want || p.Targets[0].Datasource.UID != "vigil-clickhouse" {
			t.Errorf("panel %q does not show its documented query (regenerate the dashboard from docs/analytics.md)", p.Title)
		}
	}
}

func TestRetentionDropsOldHistory(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	fixture(t, db, time.Now())                                // alerts from the last two days
	fixture(t, db, time.Now().Add(-400*24*time.Hour), "-old") // and the like a year and more ago
	before, _ := db.Count(ctx, "alerts")
	how, err := db.ApplyRetention(ctx, 365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if how == "ttl" {
		for _, table := range []string{"alerts", "deliveries"} {
			_ = db.Conn.Exec(ctx, "OPTIMIZE TABLE "+table+" FINAL") // TTL applies as parts merge
		}
	}
	// Deletes (ClickHouse before 19.6) are mutations, applied in the
	// background table by table: wait for every table's.
	var after, old uint64
	var oldErr error
	deadline := time.Now().Add(30 * time.Second)
	for {
		after, _ = db.Count(ctx, "alerts")
		oldErr = db.Conn.QueryRow(ctx, "SELECT count() FROM deliveries WHERE at < now() - 365*86400").Scan(&old)
		if (after*2 == before && oldErr == nil && old == 0) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if before != 12 || after != 6 {
		t.Fatalf("alerts before %d, after keeping a year %d (%s); want 12 then 6", before, after, how)
	}
	if oldErr != nil || old != 0 {
		t.Fatalf("old deliveries left: %d (%v)", old, oldErr)
	}
}

// alert_state is filled by the materialized view on every insert, and by
// migration 0005's backfill for history written before it: both must give
// the same one row per alert.
func TestAlertStateFromViewAndBackfillAgree(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	fixture(t, db, now)
	read := func() []string {
		t.Helper()
		res, err := db.Query(ctx, `SELECT tenant, alert_id, revision, priority, asset_count, kev, fix_available,
			toInt64(opened_at), toInt64(fixed_at), toInt64(kev_at), toInt64(updated_at), vendor_id, advisory_source
			FROM alert_state FINAL ORDER BY tenant, alert_id`, "")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range res.Rows {
			var cells []string
			for _, c := range r {
				cells = append(cells, cell(c))
			}
			out = append(out, strings.Join(cells, " "))
		}
		return out
	}
	viewed := read()
	h := func(d time.Duration) string { return fmt.Sprint(now.Add(d).Truncate(time.Second).Unix()) }
	wantA1 := strings.Join([]string{"h1 A-1 2 P1 2 0 1", h(-48 * time.Hour), h(0), "0", h(0), "ge-healthcare cisa-csaf"}, " ")
	if len(viewed) != 5 || viewed[0] != wantA1 {
		t.Fatalf("alert_state from the view:\n%s\nwant 5 rows, the first\n%s", strings.Join(viewed, "\n"), wantA1)
	}
	if !strings.HasPrefix(viewed[1], "h1 A-2 1 P2 1 1 0 "+h(-47*time.Hour)+" 0 "+h(-47*time.Hour)) {
		t.Fatalf("A-2 (KEV) state: %s", viewed[1])
	}
	all, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var backfill string
	for _, m := range all {
		if m.Version == 5 {
			stmts := statements(m.SQL)
			backfill = stmts[len(stmts)-1]
		}
	}
	if !strings.HasPrefix(backfill, "INSERT INTO alert_state") {
		t.Fatalf("migration 0005 ends with %q, want its backfill", backfill)
	}
	if err := db.Conn.Exec(ctx, "TRUNCATE TABLE alert_state"); err != nil {
		t.Fatal(err)
	}
	if err := db.Conn.Exec(ctx, backfill); err != nil {
		t.Fatal(err)
	}
	if filled := read(); strings.Join(filled, "\n") != strings.Join(viewed, "\n") {
		t.Fatalf("backfill:\n%s\nview:\n%s", strings.Join(filled, "\n"), strings.Join(viewed, "\n"))
	}
}

func TestAlertCurrentShowsOnlyTheLatestRevision(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	// An alert whose first revision was P1 and whose second is P3, written
	// by two inserts (two parts): alert_current shows only the P3, for the
	// whole history and inside the tenant's scope.
	tb := Tables()
	for _, rev := range []string{"1", "2"} {
		a := match.Alert{Schema: match.AlertSchema, ID: "D-1", Tenant: "h3", Revision: rev, Priority: map[string]string{"1": "P1", "2": "P3"}[rev],
			Confidence: match.Exact, CreatedAt: now, OpenedAt: now, Advisory: match.AdvisoryRef{Source: "s", ID: "X-1"},
			Assets: []match.AssetMatch{{Asset: &match.Asset{ID: "A"}, Confidence: match.Exact}}}
		data, _ := json.Marshal(a)
		for _, table := range tb {
			if table.Name == "alerts" {
				rows, err := table.Rows(data)
				if err != nil {
					t.Fatal(err)
				}
				if err := Insert(ctx, db, table, rows); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	for _, tenant := range []string{"", "h3"} {
		res, err := db.Query(ctx, "SELECT priority, revision FROM alert_current WHERE alert_id = 'D-1' AND priority = 'P1'", tenant)
		if err != nil || len(res.Rows) != 0 {
			t.Fatalf("tenant %q: an older revision shows through alert_current: %v %v", tenant, res, err)
		}
		res, err = db.Query(ctx, "SELECT priority FROM alert_current WHERE alert_id = 'D-1'", tenant)
		if err != nil || len(res.Rows) != 1 || cell(res.Rows[0][0]) != "P3" {
			t.Fatalf("tenant %q: alert_current for D-1: %v %v", tenant, res, err)
		}
	}
}
