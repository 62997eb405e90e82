package store

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// AlertRow is one alert revision as stored.
type AlertRow struct {
	Tenant     string
	AlertID    string
	Revision   string
	Priority   string
	Confidence string
	Source     string
	AdvisoryID string
	Title      string
	CVEs       []string
	Assets     []string
	CreatedAt  time.Time
	// Delivered lists "channel:status" of the latest attempt per channel.
	Delivered []string
}

// AlertFilter narrows Alerts.
type AlertFilter struct {
	Tenant     string
	Since      time.Time
	AlertIDs   []string
	Priorities []string // e.g. P1, P2; empty: all
	Limit      int
}

// Alerts reads alert history, newest first, with each alert's delivery state.
func (db *DB) Alerts(ctx context.Context, f AlertFilter) ([]AlertRow, error) {
	q := `SELECT tenant, alert_id, revision, priority, confidence, advisory_source, advisory_id, title, cves, assets, created_at
		FROM alerts FINAL WHERE created_at >= ?`
	args := []any{clampTime(f.Since)}
	if f.Tenant != "" {
		q += " AND tenant = ?"
		args = append(args, f.Tenant)
	}
	if len(f.AlertIDs) > 0 {
		q += " AND has(?, alert_id)"
		args = append(args, f.AlertIDs)
	}
	if len(f.Priorities) > 0 {
		q += " AND has(?, priority)"
		args = append(args, f.Priorities)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 1000
	}
	q += fmt.Sprintf(" ORDER BY created_at DESC, alert_id LIMIT %d", limit)
	rows, err := db.Conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: query alerts: %w", err)
	}
	defer rows.Close()
	var out []AlertRow
	for rows.Next() {
		var r AlertRow
		if err := rows.Scan(&r.Tenant, &r.AlertID, &r.Revision, &r.Priority, &r.Confidence, &r.Source, &r.AdvisoryID,
			&r.Title, &r.CVEs, &r.Assets, &r.CreatedAt); err != nil {
			return nil, fmt.Errorf("store: scan alert: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := db.deliveryState(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// deliveryState fills in the latest delivery status per channel of each
// alert revision, in one query.
func (db *DB) deliveryState(ctx context.Context, alerts []AlertRow) error {
	if len(alerts) == 0 {
		return nil
	}
	keys := make([]string, len(alerts))
	at := map[string]int{}
	for i, a := range alerts {
		keys[i] = a.Tenant + "/" + a.AlertID + "/" + a.Revision
		at[keys[i]] = i
	}
	rows, err := db.Conn.Query(ctx, `SELECT concat(tenant, '/', alert_id, '/', revision) AS k, channel, argMax(status, at) FROM deliveries FINAL
		WHERE has(?, alert_id) GROUP BY k, channel ORDER BY k, channel`, uniq(alerts))
	if err != nil {
		return fmt.Errorf("store: query deliveries: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, ch, st string
		if err := rows.Scan(&k, &ch, &st); err != nil {
			return err
		}
		if i, ok := at[k]; ok {
			alerts[i].Delivered = append(alerts[i].Delivered, ch+":"+st)
		}
	}
	return rows.Err()
}

func uniq(alerts []AlertRow) []string {
	seen := map[string]bool{}
	var out []string
	for _, a := range alerts {
		if !seen[a.AlertID] {
			seen[a.AlertID] = true
			out = append(out, a.AlertID)
		}
	}
	return out
}

// Verdicts an analyst can give an alert.
var Verdicts = []string{"false-positive", "confirmed", "fixed", "accepted-risk"}

// Mark records an analyst's verdict on an alert (table alert_feedback).
func (db *DB) Mark(ctx context.Context, tenant, alertID, verdict, note, analyst string, at time.Time) error {
	known := false
	for _, v := range Verdicts {
		known = known || v == verdict
	}
	if !known {
		return fmt.Errorf("verdict %q is not one of %s", verdict, strings.Join(Verdicts, ", "))
	}
	var n uint64
	if err := db.Conn.QueryRow(ctx, "SELECT count() FROM alerts WHERE tenant = ? AND alert_id = ?", tenant, alertID).Scan(&n); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("tenant %s has no alert %s", tenant, alertID)
	}
	b, err := db.Conn.PrepareBatch(ctx, "INSERT INTO alert_feedback (tenant, alert_id, verdict, note, analyst, at)")
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if err := b.Append(tenant, alertID, verdict, note, analyst, clampTime(at)); err != nil {
		_ = b.Abort()
		return fmt.Errorf("store: %w", err)
	}
	return b.Send()
}

// PrintAlertsCSV writes alert rows as CSV with a header.
func PrintAlertsCSV(w io.Writer, rows []AlertRow) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"created_at", "tenant", "alert_id", "revision", "priority", "confidence", "source", "advisory_id", "title", "cves", "assets", "delivered"})
	for _, r := range rows {
		_ = cw.Write([]string{r.CreatedAt.UTC().Format(time.RFC3339), r.Tenant, r.AlertID, r.Revision, r.Priority, r.Confidence, r.Source, r.AdvisoryID,
			r.Title, strings.Join(r.CVEs, " "), strings.Join(r.Assets, " "), strings.Join(r.Delivered, " ")})
	}
	cw.Flush()
	return cw.Error()
}

// Count returns the number of rows of a table (after collapsing duplicates).
func (db *DB) Count(ctx context.Context, table string) (uint64, error) {
	if _, ok := tableTimes[table]; !ok {
		return 0, fmt.Errorf("store: unknown table %q", table)
	}
	var n uint64
	err := db.Conn.QueryRow(ctx, "SELECT count() FROM "+table+" FINAL").Scan(&n)
	return n, err
}

// PrintAlerts writes alert rows as a table.
func PrintAlerts(w io.Writer, rows []AlertRow) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CREATED (UTC)\tTENANT\tALERT\tPRIO\tCONFIDENCE\tASSETS\tCVES\tDELIVERED\tTITLE")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.CreatedAt.UTC().Format("2006-01-02 15:04:05"), r.Tenant, r.AlertID,
			r.Priority, r.Confidence, strings.Join(r.Assets, ","), strings.Join(r.CVEs, ","), strings.Join(r.Delivered, ","), clip(r.Title, 60))
	}
	return tw.Flush()
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
