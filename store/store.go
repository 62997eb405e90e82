// Package store writes advisories, alerts and deliveries to ClickHouse and
// reads their history back.
package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Config says where ClickHouse is.
type Config struct {
	Addr     string
	Database string
	User     string
	Password string // never logged
}

// DB is a connection to Vigil's ClickHouse database.
type DB struct {
	Conn     driver.Conn
	Database string
	cfg      Config
}

var dbNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// Open connects, creating the database if needed. It does not migrate.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	if !dbNameRE.MatchString(cfg.Database) {
		return nil, fmt.Errorf("store: database name %q: use letters, digits and '_'", cfg.Database)
	}
	opts := (&DB{cfg: cfg}).options
	boot, err := clickhouse.Open(opts("default"))
	if err != nil {
		return nil, fmt.Errorf("store: clickhouse %s: %w", cfg.Addr, err)
	}
	defer boot.Close()
	if err := boot.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+cfg.Database); err != nil {
		return nil, fmt.Errorf("store: clickhouse %s: create database: %w", cfg.Addr, err)
	}
	conn, err := clickhouse.Open(opts(cfg.Database))
	if err != nil {
		return nil, fmt.Errorf("store: clickhouse %s: %w", cfg.Addr, err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("store: clickhouse %s: %w", cfg.Addr, err)
	}
	return &DB{Conn: conn, Database: cfg.Database, cfg: cfg}, nil
}

func (db *DB) options(database string) *clickhouse.Options {
	return &clickhouse.Options{
		Addr:        []string{db.cfg.Addr},
		Auth:        clickhouse.Auth{Database: database, Username: db.cfg.User, Password: db.cfg.Password},
		DialTimeout: 5 * time.Second,
		ReadTimeout: 120 * time.Second,
	}
}

// Close closes the connection.
func (db *DB) Close() error { return db.Conn.Close() }

//go:embed migrations/*.sql
var migrations embed.FS

// Migration is one versioned schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations lists the embedded migrations in order.
func Migrations() ([]Migration, error) {
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, f := range files {
		base := strings.TrimSuffix(strings.TrimPrefix(f, "migrations/"), ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("store: migration file %s: name must be NNNN_name.sql", f)
		}
		sql, err := migrations.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: name, SQL: string(sql)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Migrate applies the migrations not yet recorded in schema_migrations and
// returns the versions it applied. Running it again applies nothing.
func (db *DB) Migrate(ctx context.Context) ([]int, error) {
	if err := db.Conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version UInt32, name String, applied_at DateTime
	) ENGINE = MergeTree ORDER BY version`); err != nil {
		return nil, fmt.Errorf("store: migrations table: %w", err)
	}
	applied := map[int]bool{}
	rows, err := db.Conn.Query(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("store: read migrations: %w", err)
	}
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return nil, err
		}
		applied[int(v)] = true
	}
	rows.Close()
	all, err := Migrations()
	if err != nil {
		return nil, err
	}
	var done []int
	for _, m := range all {
		if applied[m.Version] {
			continue
		}
		for i, stmt := range statements(m.SQL) {
			if err := db.Conn.Exec(ctx, stmt); err != nil && !columnAlreadyAdded(stmt, err) {
				return done, fmt.Errorf("store: migration %04d_%s statement %d: %w", m.Version, m.Name, i+1, err)
			}
		}
		if err := db.recordMigration(ctx, m); err != nil {
			return done, fmt.Errorf("store: record migration %d: %w", m.Version, err)
		}
		done = append(done, m.Version)
	}
	if len(done) > 0 {
		if err := db.dropScoped(ctx); err != nil {
			return done, err
		}
	}
	return done, nil
}

// column runs a query of one String column and returns its values.
func (db *DB) column(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := db.Conn.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// dropScoped drops the tenants' scoped databases (their views are made
// again, with the new schema's columns, on next use).
func (db *DB) dropScoped(ctx context.Context) error {
	names, err := db.column(ctx, "SELECT name FROM system.databases WHERE startsWith(name, ?)", db.scopedPrefix())
	if err != nil {
		return fmt.Errorf("store: scoped databases: %w", err)
	}
	for _, n := range names {
		if err := db.Conn.Exec(ctx, "DROP DATABASE IF EXISTS `"+n+"`"); err != nil {
			return fmt.Errorf("store: drop %s: %w", n, err)
		}
	}
	return nil
}

// recordMigration inserts through a batch: ClickHouse 18.16 waits forever on
// an INSERT ... VALUES sent as a plain query by clickhouse-go.
func (db *DB) recordMigration(ctx context.Context, m Migration) error {
	b, err := db.Conn.PrepareBatch(ctx, "INSERT INTO schema_migrations (version, name, applied_at)")
	if err != nil {
		return err
	}
	if err := b.Append(uint32(m.Version), m.Name, time.Now().UTC()); err != nil {
		_ = b.Abort()
		return err
	}
	return b.Send()
}

// statements splits a migration into statements, dropping comments.
// columnAlreadyAdded: an ADD COLUMN of a migration that stopped half way
// and runs again (18.16 has no ADD COLUMN IF NOT EXISTS).
func columnAlreadyAdded(stmt string, err error) bool {
	var exc *clickhouse.Exception
	return errors.As(err, &exc) && exc.Code == 15 && strings.Contains(stmt, "ADD COLUMN") // DUPLICATE_COLUMN
}

func statements(sql string) []string {
	var lines []string
	for _, l := range strings.Split(sql, "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "--") {
			lines = append(lines, l)
		}
	}
	var out []string
	for _, s := range strings.Split(strings.Join(lines, "\n"), ";") {
		if strings.TrimSpace(s) != "" {
			out = append(out, strings.TrimSpace(s))
		}
	}
	return out
}

// clampTime keeps times inside DateTime's range (1970..2105).
func clampTime(t time.Time) time.Time {
	if t.Before(time.Unix(0, 0)) {
		return time.Unix(0, 0).UTC()
	}
	return t.UTC()
}
