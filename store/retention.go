package store

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// tableTimes names every history table and the time that ages its rows.
var tableTimes = map[string]string{
	"advisories":        "fetched_at",
	"advisory_products": "published",
	"clusters":          "published",
	"alerts":            "created_at",
	"alert_state":       "updated_at",
	"alert_assets":      "created_at",
	"deliveries":        "at",
	"ingest_runs":       "started_at",
	"alert_feedback":    "at",
}

// ServerVersion returns ClickHouse's major and minor version.
func (db *DB) ServerVersion(ctx context.Context) (int, int, error) {
	var v string
	if err := db.Conn.QueryRow(ctx, "SELECT version()").Scan(&v); err != nil {
		return 0, 0, err
	}
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return 0, 0, fmt.Errorf("store: version %q", v)
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("store: version %q", v)
	}
	return major, minor, nil
}

// ApplyRetention keeps keep's worth of history (rounded up to whole days).
// Servers with table TTL (19.6 and later) get a TTL on every table, which
// ClickHouse enforces as it merges; older ones (Debian's 18.16) get an
// ALTER TABLE ... DELETE of older rows, which the store role repeats daily.
// It returns which of the two it used.
func (db *DB) ApplyRetention(ctx context.Context, keep time.Duration) (string, error) {
	if keep <= 0 {
		return "", nil
	}
	days := int((keep + 24*time.Hour - 1) / (24 * time.Hour))
	major, minor, err := db.ServerVersion(ctx)
	if err != nil {
		return "", err
	}
	ttl := major > 19 || (major == 19 && minor >= 6)
	for table, col := range tableTimes {
		var q string
		if ttl {
			q = fmt.Sprintf("ALTER TABLE %s MODIFY TTL %s + INTERVAL %d DAY", table, col, days)
		} else {
			q = fmt.Sprintf("ALTER TABLE %s DELETE WHERE %s < now() - %d", table, col, days*86400)
		}
		if err := db.Conn.Exec(ctx, q); err != nil {
			return "", fmt.Errorf("store: retention of %s: %w", table, err)
		}
	}
	if ttl {
		return "ttl", nil
	}
	return "delete", nil
}

// retentionLoop applies the retention at start and then daily (a TTL once
// set needs no repeating, but repeating it is harmless and picks up a
// changed setting).
func retentionLoop(ctx context.Context, db *DB, keep time.Duration, log *slog.Logger) {
	if keep <= 0 {
		return
	}
	for {
		if how, err := db.ApplyRetention(ctx, keep); err != nil {
			log.Warn("retention not applied; trying again tomorrow", "err", err)
		} else {
			log.Info("retention applied", "keep", keep, "how", how)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(24 * time.Hour):
		}
	}
}
