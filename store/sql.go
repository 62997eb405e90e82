package store

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/vigilhealth/vigil/internal/bus"
)

// Result is what an ad-hoc query returned.
type Result struct {
	Columns []string
	Rows    [][]any
}

// MaxQueryRows bounds what `vigil query` reads back.
const MaxQueryRows = 100000

// Query runs one read-only SQL statement. With a tenant, it runs in the
// tenant's scoped database (ScopeTenant): views of Vigil's tables holding
// only that tenant's rows and the advisories it may see; the statement may
// not name another database, system tables or table functions that reach
// outside.
func (db *DB) Query(ctx context.Context, sql, tenant string) (*Result, error) {
	sql = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(sql), ";"))
	if err := readOnly(sql); err != nil {
		return nil, err
	}
	conn := db.Conn
	if tenant != "" {
		scoped, err := db.ScopeTenant(ctx, tenant)
		if err != nil {
			return nil, err
		}
		if err := confined(sql, db.Database, scoped); err != nil {
			return nil, err
		}
		c, err := clickhouse.Open(db.options(scoped))
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		defer c.Close()
		conn = c
	}
	qctx := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"readonly": 1, "max_execution_time": 60}))
	rows, err := conn.Query(qctx, sql)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	defer rows.Close()
	res := &Result{Columns: rows.Columns()}
	types := rows.ColumnTypes()
	for rows.Next() {
		if len(res.Rows) == MaxQueryRows {
			return res, fmt.Errorf("query: more than %d rows; add a LIMIT", MaxQueryRows)
		}
		dst := make([]any, len(types))
		for i, t := range types {
			dst[i] = reflect.New(t.ScanType()).Interface()
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("query: %w", err)
		}
		row := make([]any, len(dst))
		for i, d := range dst {
			row[i] = reflect.ValueOf(d).Elem().Interface()
		}
		res.Rows = append(res.Rows, row)
	}
	return res, rows.Err()
}

var (
	firstWord = regexp.MustCompile(`^(?i)\s*(select|with|show|describe|desc|exists)\b`)
	// table functions and databases that reach past the scoped views
	outside = regexp.MustCompile("(?i)(\\bsystem\\s*\\.|`system`\\s*\\.|\\b(remote|remotesecure|cluster|clusterallreplicas|url|file|jdbc|odbc|hdfs|s3|s3cluster|mysql|postgresql|mongodb|redis|sqlite|merge|input|executable|dictionary|view|numbers_mt)\\s*\\()")
)

// readOnly accepts one SELECT-like statement.
func readOnly(sql string) error {
	if sql == "" {
		return errors.New("query: empty")
	}
	if !firstWord.MatchString(sql) {
		return errors.New("query: only SELECT, WITH, SHOW, DESCRIBE and EXISTS statements are allowed")
	}
	if strings.Contains(stripLiterals(sql), ";") {
		return errors.New("query: one statement at a time")
	}
	return nil
}

// confined rejects statements that name the main database, system tables
// or table functions reaching outside the tenant's views.
func confined(sql, mainDB, own string) error {
	s := stripLiterals(sql)
	if outside.MatchString(s) {
		return errors.New("query: tenant queries may not use system tables or table functions")
	}
	re := regexp.MustCompile("(?i)(^|[^A-Za-z0-9_])`?" + regexp.QuoteMeta(mainDB) + "`?\\s*\\.")
	if re.MatchString(s) {
		return fmt.Errorf("query: tenant queries read their own views; %q is not reachable", mainDB)
	}
	other := regexp.MustCompile("(?i)(?:^|[^A-Za-z0-9_])`?(" + regexp.QuoteMeta(mainDB) + "_t_[A-Za-z0-9_-]*)`?\\s*\\.")
	for _, m := range other.FindAllStringSubmatch(s, -1) {
		if !strings.EqualFold(m[1], own) {
			return errors.New("query: tenant queries may not name another tenant's views")
		}
	}
	return nil
}

// stripLiterals blanks string literals, so that a ';' or a name inside
// quotes is not mistaken for syntax.
func stripLiterals(sql string) string {
	var b strings.Builder
	in := byte(0)
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		switch {
		case in == 0 && c == '\'':
			in = c
			b.WriteByte(' ')
		case in != 0 && c == '\\' && i+1 < len(sql):
			i++
			b.WriteByte(' ')
		case in != 0 && c == in:
			in = 0
			b.WriteByte(' ')
		case in != 0:
			b.WriteByte(' ')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// tenantTables are the tables with a tenant column; the others (advisories
// and what derives from them) are shared, limited by TLP.
var tenantTables = []string{"alerts", "alert_state", "alert_assets", "deliveries", "alert_feedback"}

// scopedPrefix starts the names of the tenants' scoped databases.
func (db *DB) scopedPrefix() string { return db.Database + "_t_" }

// ScopeTenant creates the tenant's scoped database, <database>_t_<tenant>,
// unless it exists, and returns its name. Migrate drops them all when the
// schema changes, so views always show every column. Give a tenant's
// analysts a ClickHouse user limited to it (allow_databases) for direct
// access.
func (db *DB) ScopeTenant(ctx context.Context, tenant string) (string, error) {
	if err := bus.ValidToken(tenant); err != nil {
		return "", fmt.Errorf("store: tenant: %w", err)
	}
	name := db.scopedPrefix() + tenant
	var exists uint8
	if err := db.Conn.QueryRow(ctx, "SELECT count() > 0 FROM system.databases WHERE name = ?", name).Scan(&exists); err != nil {
		return "", fmt.Errorf("store: scoped database: %w", err)
	}
	if exists == 1 {
		return name, nil
	}
	q := func(s string) error { return db.Conn.Exec(ctx, s) }
	if err := q("CREATE DATABASE IF NOT EXISTS `" + name + "`"); err != nil {
		return "", fmt.Errorf("store: scoped database: %w", err)
	}
	lit := "'" + tenant + "'"
	views := map[string]string{}
	for _, t := range tenantTables {
		views[t] = fmt.Sprintf("SELECT * FROM %s.%s WHERE tenant = %s", db.Database, t, lit)
	}
	// The current state of the tenant's alerts: the shared view, filtered
	// after its FINAL (see migration 0005).
	views["alert_current"] = fmt.Sprintf("SELECT * FROM %s.alert_current WHERE tenant = %s", db.Database, lit)
	// Shared advisories: public markings, or those that reached the tenant.
	seen := fmt.Sprintf("(tlp IN ('', 'CLEAR', 'WHITE', 'GREEN') OR (source, id) IN (SELECT advisory_source, advisory_id FROM %s.alerts WHERE tenant = %s))", db.Database, lit)
	views["advisories"] = fmt.Sprintf("SELECT * FROM %s.advisories WHERE %s", db.Database, seen)
	views["advisory_products"] = fmt.Sprintf("SELECT * FROM %s.advisory_products WHERE (source, id) IN (SELECT source, id FROM %s.advisories WHERE %s)", db.Database, db.Database, seen)
	views["ingest_runs"] = fmt.Sprintf("SELECT * FROM %s.ingest_runs", db.Database) // feed health is not private
	views["clusters"] = fmt.Sprintf("SELECT * FROM %s.clusters WHERE (source, id) IN (SELECT source, id FROM %s.advisories WHERE %s)", db.Database, db.Database, seen)
	for name2, body := range views {
		if err := q(fmt.Sprintf("CREATE VIEW IF NOT EXISTS `%s`.%s AS %s", name, name2, body)); err != nil {
			return "", fmt.Errorf("store: scoped view %s: %w", name2, err)
		}
	}
	return name, nil
}

// WriteResult prints a result as a table, CSV or JSON lines.
func WriteResult(w io.Writer, r *Result, format string) error {
	switch format {
	case "csv":
		cw := csv.NewWriter(w)
		_ = cw.Write(r.Columns)
		for _, row := range r.Rows {
			rec := make([]string, len(row))
			for i, v := range row {
				rec[i] = cell(v)
			}
			_ = cw.Write(rec)
		}
		cw.Flush()
		return cw.Error()
	case "json":
		enc := json.NewEncoder(w)
		for _, row := range r.Rows {
			m := make(map[string]any, len(row))
			for i, v := range row {
				m[r.Columns[i]] = v
			}
			if err := enc.Encode(m); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(r.Columns, "\t"))
	for _, row := range r.Rows {
		cells := make([]string, len(row))
		for i, v := range row {
			cells[i] = clip(cell(v), 80)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

func cell(v any) string {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format("2006-01-02 15:04:05")
	case []string:
		return strings.Join(x, ",")
	case nil:
		return ""
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return ""
		}
		return fmt.Sprint(rv.Elem().Interface())
	}
	return fmt.Sprint(v)
}
