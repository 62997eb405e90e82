package store

import (
	"context"
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
	Tenant   string
	Since    time.Time
	AlertIDs []string
	Limit    int
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
	for i := range out {
		if out[i].Delivered, err = db.deliveryState(ctx, out[i].Tenant, out[i].AlertID, out[i].Revision); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (db *DB) deliveryState(ctx context.Context, tenant, alertID, revision string) ([]string, error) {
	rows, err := db.Conn.Query(ctx, `SELECT channel, argMax(status, at) FROM deliveries FINAL
		WHERE tenant = ? AND alert_id = ? AND revision = ? GROUP BY channel ORDER BY channel`, tenant, alertID, revision)
	if err != nil {
		return nil, fmt.Errorf("store: query deliveries: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var ch, st string
		if err := rows.Scan(&ch, &st); err != nil {
			return nil, err
		}
		out = append(out, ch+":"+st)
	}
	return out, rows.Err()
}

// Count returns the number of rows of a table (after collapsing duplicates).
func (db *DB) Count(ctx context.Context, table string) (uint64, error) {
	switch table {
	case "advisories", "alerts", "deliveries":
	default:
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
