// Package bench measures Vigil: `vigil bench` runs the real pipeline under
// synthetic load; `vigil bench store` measures the ClickHouse writer and
// the documented analyst queries over generated history.
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vigilhealth/vigil/docs"
	"github.com/vigilhealth/vigil/match"
	"github.com/vigilhealth/vigil/store"
)

// StoreOptions size the store benchmark.
type StoreOptions struct {
	Alerts      int // alert rows generated (default 10 million)
	WriterRows  int // alert rows written through the store's writer path first (default 500,000)
	BatchSize   int // messages per insert on the writer path (default 25,000, as VIGIL_STORE_BATCH_SIZE)
	Tenants     int
	Runs        int // timed runs per query; the median is reported
	KeepData    bool
	JSON        bool
	Concurrency int
}

// QueryTiming is one documented query's median time.
type QueryTiming struct {
	Title  string  `json:"title"`
	Median float64 `json:"median_ms"`
	Rows   int     `json:"rows"`
	Err    string  `json:"error,omitempty"`
}

// StoreReport is what `vigil bench store --json` prints.
type StoreReport struct {
	ServerVersion     string        `json:"server_version"`
	AlertRows         uint64        `json:"alert_rows"`
	WriterRowsPerS    float64       `json:"writer_rows_per_s"`
	GenerateRowsPerS  float64       `json:"generate_rows_per_s"`
	Queries           []QueryTiming `json:"queries"`
	SlowestQueryMS    float64       `json:"slowest_query_ms"`
	QueriesUnder1s    int           `json:"queries_under_1s"`
	QueriesDocumented int           `json:"queries_documented"`
}

// Store fills a scratch database with generated history and times the
// writer and every query of docs/analytics.md over it.
func Store(ctx context.Context, cfg store.Config, o StoreOptions, out io.Writer) (*StoreReport, error) {
	if o.Alerts <= 0 {
		o.Alerts = 10_000_000
	}
	if o.WriterRows <= 0 {
		o.WriterRows = 500_000
	}
	o.WriterRows = min(o.WriterRows, o.Alerts)
	if o.Tenants <= 0 {
		o.Tenants = 1000
	}
	if o.Runs <= 0 {
		o.Runs = 3
	}
	say := func(format string, args ...any) {
		if !o.JSON {
			fmt.Fprintf(out, format+"\n", args...)
		}
	}
	db, err := store.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if !o.KeepData {
		defer func() { _ = db.Conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+cfg.Database) }()
	}
	if _, err := db.Migrate(ctx); err != nil {
		return nil, err
	}
	rep := &StoreReport{}
	_ = db.Conn.QueryRow(ctx, "SELECT version()").Scan(&rep.ServerVersion)
	say("ClickHouse %s at %s, scratch database %s", rep.ServerVersion, cfg.Addr, cfg.Database)

	// 1. The writer path: alert messages as the store role gets them (JSON),
	// rows built by its own table code, inserted in batches of 10,000.
	rate, err := writerRate(ctx, db, o)
	if err != nil {
		return nil, err
	}
	rep.WriterRowsPerS = rate
	say("writer: %d alert rows through JSON decoding, row building and batched inserts: %.0f rows/s", o.WriterRows, rate)

	// 2. The rest of the history, generated inside ClickHouse.
	start := time.Now()
	gen := generators(o.Alerts-o.WriterRows, o.Tenants)
	var generated uint64
	for _, g := range gen {
		if err := db.Conn.Exec(ctx, g.sql); err != nil {
			return nil, fmt.Errorf("bench store: generate %s: %w", g.table, err)
		}
		generated += uint64(g.rows)
	}
	rep.GenerateRowsPerS = float64(generated) / time.Since(start).Seconds()
	say("generated %d more rows across the tables in %s", generated, time.Since(start).Round(time.Millisecond))
	start = time.Now()
	for _, t := range []string{"alerts", "alert_assets", "deliveries", "advisories", "clusters", "alert_feedback", "ingest_runs"} {
		_ = db.Conn.Exec(ctx, "OPTIMIZE TABLE "+t+" FINAL")
	}
	// alert_state is left as the inserts and background merges leave it
	// (several parts): its queries merge them with FINAL as they would live.
	var stateParts uint64
	_ = db.Conn.QueryRow(ctx, "SELECT count() FROM system.parts WHERE database = ? AND table = 'alert_state' AND active", cfg.Database).Scan(&stateParts)
	say("merged the history tables (OPTIMIZE FINAL, the state background merges reach) in %s; alert_state left in %d parts",
		time.Since(start).Round(time.Millisecond), stateParts)
	if rep.AlertRows, err = db.Count(ctx, "alerts"); err != nil {
		return nil, err
	}

	// 3. The documented queries.
	qs := docs.AnalyticsQueries()
	rep.QueriesDocumented = len(qs)
	for _, q := range qs {
		qt := QueryTiming{Title: q.Title}
		var times []float64
		for range o.Runs {
			t0 := time.Now()
			res, err := db.Query(ctx, q.SQL, "")
			if err != nil {
				qt.Err = err.Error()
				break
			}
			times = append(times, float64(time.Since(t0).Microseconds())/1000)
			qt.Rows = len(res.Rows)
		}
		if len(times) > 0 {
			sort.Float64s(times)
			qt.Median = times[len(times)/2]
			rep.SlowestQueryMS = max(rep.SlowestQueryMS, qt.Median)
			if qt.Median < 1000 {
				rep.QueriesUnder1s++
			}
		}
		rep.Queries = append(rep.Queries, qt)
	}
	if o.JSON {
		return rep, json.NewEncoder(out).Encode(rep)
	}
	fmt.Fprintf(out, "\n%d documented queries over %d alert rows (median of %d runs):\n", len(qs), rep.AlertRows, o.Runs)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "ms\trows\tquery\t")
	for _, q := range rep.Queries {
		if q.Err != "" {
			fmt.Fprintf(tw, "error\t-\t%s: %s\t\n", q.Title, q.Err)
			continue
		}
		fmt.Fprintf(tw, "%.0f\t%d\t%s\t\n", q.Median, q.Rows, q.Title)
	}
	_ = tw.Flush()
	fmt.Fprintf(out, "%d of %d under 1 s; slowest %.0f ms\n", rep.QueriesUnder1s, len(qs), rep.SlowestQueryMS)
	return rep, nil
}

// writerRate writes o.WriterRows alerts (one asset each) through the
// alerts table's row code and the writer's insert, in batches of
// o.BatchSize, as the store role does.
func writerRate(ctx context.Context, db *store.DB, o StoreOptions) (float64, error) {
	var alerts store.Table
	for _, t := range store.Tables() {
		if t.Name == "alerts" {
			alerts = t
		}
	}
	batch := o.BatchSize
	if batch <= 0 {
		batch = 25_000
	}
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var total time.Duration
	for done := 0; done < o.WriterRows; {
		n := min(batch, o.WriterRows-done)
		// Encoding the messages stands in for JetStream handing them over;
		// it is not timed.
		msgs := make([][]byte, n)
		for i := range msgs {
			k := done + i
			a := match.Alert{Schema: match.AlertSchema, ID: fmt.Sprintf("W-%09d", k), Tenant: fmt.Sprintf("h%d", k%o.Tenants), Revision: "1",
				Priority: []string{"P1", "P2", "P3", "P4"}[k%4], Confidence: match.Exact, ClusterID: fmt.Sprintf("VC-CVE-2026-%05d", k%100000),
				Advisory: match.AdvisoryRef{Source: "cisa-csaf", ID: fmt.Sprintf("ICSMA-%06d", k%100000), Revision: "1", Title: "Writer benchmark advisory",
					Published: base.Add(time.Duration(k%31536000) * time.Second), FetchedAt: base.Add(time.Duration(k%31536000)*time.Second + time.Hour),
					CVEs: []string{fmt.Sprintf("CVE-2026-%05d", k%100000)}, VendorID: "ge-healthcare"},
				Assets: []match.AssetMatch{{Asset: &match.Asset{ID: fmt.Sprintf("AS-%d", k%5000), Vendor: "GE Healthcare", Product: "CARESCAPE B450"}, Confidence: match.Exact, Rule: "product", Reasons: []string{"version 2.0.2 < 2.1"}}},
				// Live alerts are made now: a batch lands in one monthly partition.
				CreatedAt: base.Add(time.Duration(k)*time.Millisecond + time.Hour)}
			msgs[i], _ = json.Marshal(a)
		}
		t0 := time.Now()
		rows, errs := store.BuildRows(alerts, msgs)
		if len(errs) > 0 {
			return 0, fmt.Errorf("bench store: %d messages did not decode", len(errs))
		}
		if err := store.Insert(ctx, db, alerts, rows); err != nil {
			return 0, err
		}
		total += time.Since(t0)
		done += n
	}
	return float64(o.WriterRows) / total.Seconds(), nil
}

type generator struct {
	table string
	rows  int
	sql   string
}

// generators fill the tables inside ClickHouse: alerts (two revisions per
// alert, the second often with a fix), one asset row and one delivery per
// alert row, and advisories, clusters, verdicts and polls to join with.
func generators(alerts, tenants int) []generator {
	adv := max(alerts/100, 1000)
	t := func(s string) string {
		s = strings.ReplaceAll(s, "$T", fmt.Sprint(tenants))
		return strings.ReplaceAll(s, "$ADV", fmt.Sprint(adv))
	}
	const ts = "toDateTime(1735689600 + intDiv(number, 2) % 31536000)"
	return []generator{
		{"alerts", alerts, t(`INSERT INTO alerts (tenant, alert_id, revision, priority, confidence, advisory_source, advisory_id, title, url, cves, kev, assets, asset_reasons, published, fetched_at, created_at, cluster_id, changes, retro, vendor_id, fix_available, watch, digest, opened_at, fixed_at, kev_at)
SELECT concat('h', toString(intDiv(number, 2) % $T)), concat('G-', toString(intDiv(number, 2))), toString(number % 2 + 1),
  ['P1','P2','P3','P4'][intDiv(number, 2) % 4 + 1], ['exact','probable','possible'][number % 3 + 1],
  ['cisa-csaf','cert-fr-avis','nvd','bsi-cert-bund','jvn-ipedia'][intDiv(number, 2) % 5 + 1], concat('ADV-', toString(intDiv(number, 2) % $ADV)),
  'Generated advisory', '', [concat('CVE-2026-', toString(intDiv(number, 2) % $ADV))], intDiv(number, 2) % 17 = 0,
  [concat('AS-', toString(number % 5000))], ['exact: generated'],
  ` + ts + `, ` + ts + ` + 3600, ` + ts + ` + 3630 + (number % 2) * 86400 * (intDiv(number, 2) % 30),
  concat('VC-CVE-2026-', toString(intDiv(number, 2) % $ADV)), if(number % 2 = 1, ['fix released'], emptyArrayString()), 0,
  ['ge-healthcare','philips','baxter','bd','siemens-healthineers','medtronic','draeger','b-braun'][intDiv(number, 2) % 8 + 1],
  number % 2 = 1 AND intDiv(number, 2) % 3 != 0, 0, 0,
  ` + ts + ` + 3630, if(number % 2 = 1 AND intDiv(number, 2) % 3 != 0, ` + ts + ` + 3630 + 86400 * (intDiv(number, 2) % 30), toDateTime(0)),
  if(intDiv(number, 2) % 17 = 0, ` + ts + ` + 3630, toDateTime(0))
FROM system.numbers LIMIT ` + fmt.Sprint(alerts))},
		{"alert_assets", alerts, t(`INSERT INTO alert_assets (tenant, alert_id, revision, asset_id, vendor, product, model, version, category, criticality, location, zone, confidence, rule, reasons, priority, created_at)
SELECT concat('h', toString(intDiv(number, 2) % $T)), concat('G-', toString(intDiv(number, 2))), toString(number % 2 + 1), concat('AS-', toString(number % 5000)),
  'GE Healthcare', 'CARESCAPE B450', '', '2.0.2', 'patient-monitoring', 'high', concat('Ward ', toString(number % 40)), 'clinical', 'exact', 'product', ['generated'],
  ['P1','P2','P3','P4'][intDiv(number, 2) % 4 + 1], ` + ts + ` + 3630
FROM system.numbers LIMIT ` + fmt.Sprint(alerts))},
		{"deliveries", alerts, t(`INSERT INTO deliveries (tenant, alert_id, revision, channel, status, error, attempt, priority, at, latency_ms)
SELECT concat('h', toString(intDiv(number, 2) % $T)), concat('G-', toString(intDiv(number, 2))), toString(number % 2 + 1), ['slack','email','webhook'][number % 3 + 1],
  if(number % 50 = 0, 'failed', 'delivered'), if(number % 50 = 0, 'channel_not_found', ''), 1, ['P1','P2','P3','P4'][intDiv(number, 2) % 4 + 1],
  ` + ts + ` + 3631, 20 + number % 400
FROM system.numbers LIMIT ` + fmt.Sprint(alerts))},
		{"advisories", adv, t(`INSERT INTO advisories (source, id, revision, title, url, summary, published, updated, fetched_at, enriched_at, tlp, cves, vendors, kev, cvss_score, cvss_vector, vendor_id, categories, relevance, patient_safety, cluster_id)
SELECT ['cisa-csaf','cert-fr-avis','nvd','bsi-cert-bund','jvn-ipedia'][number % 5 + 1], concat('ADV-', toString(number)), '1', 'Generated advisory', '', '',
  toDateTime(1735689600 + number % 31536000), toDateTime(1735689600 + number % 31536000), toDateTime(1735689600 + number % 31536000 + 3600), toDateTime(1735689600 + number % 31536000 + 3601),
  'CLEAR', [concat('CVE-2026-', toString(number))], ['ge-healthcare'], number % 17 = 0, 7.5, '', 'ge-healthcare', ['patient-monitoring'], 70, 0, concat('VC-CVE-2026-', toString(number))
FROM system.numbers LIMIT $ADV`)},
		{"clusters", adv, t(`INSERT INTO clusters (cluster_id, source, id, revision, cves, vendor_id, published, kev, kev_date_added)
SELECT concat('VC-CVE-2026-', toString(number)), 'cisa-csaf', concat('ADV-', toString(number)), '1', [concat('CVE-2026-', toString(number))], 'ge-healthcare',
  toDateTime(1735689600 + number % 31536000), number % 17 = 0, if(number % 17 = 0, toNullable(toDateTime(1735689600 + number % 31536000)), NULL)
FROM system.numbers LIMIT $ADV`)},
		{"alert_feedback", adv, t(`INSERT INTO alert_feedback (tenant, alert_id, verdict, note, analyst, at)
SELECT concat('h', toString(number * 37 % $T)), concat('G-', toString(number * 37)), ['false-positive','confirmed','fixed','accepted-risk'][number % 4 + 1], '', 'bench',
  toDateTime(1735689600 + number % 31536000 + 7200)
FROM system.numbers LIMIT $ADV`)},
		{"ingest_runs", adv, t(`INSERT INTO ingest_runs (source, kind, started_at, duration_ms, status, not_modified, items, published, unchanged, rejected, item_errors, error)
SELECT ['cisa-csaf','cert-fr-avis','nvd','bsi-cert-bund','jvn-ipedia'][number % 5 + 1], 'rss', toDateTime(toUInt32(now()) - number * 6), 100 + number % 900,
  if(number % 40 = 0, 503, 200), number % 3 = 0, 20, number % 2, 18, 0, 0, if(number % 40 = 0, 'HTTP 503', '')
FROM system.numbers LIMIT $ADV`)},
	}
}
