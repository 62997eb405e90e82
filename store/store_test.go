package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vigilhealth/vigil/internal/bus"
	"github.com/vigilhealth/vigil/internal/testenv"
	"github.com/vigilhealth/vigil/match"
	"github.com/vigilhealth/vigil/notify"
)

func openDB(t *testing.T) *DB {
	t.Helper()
	addr, database := testenv.ClickHouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := Open(ctx, Config{Addr: addr, Database: database, User: "default"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// migratedDB is a migrated database and a bus for writer tests.
func migratedDB(t *testing.T) (*DB, *bus.Bus) {
	t.Helper()
	db := openDB(t)
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db, testenv.NATS(t)
}

func TestMigrateIsIdempotent(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	all, err := Migrations()
	if err != nil || len(all) == 0 {
		t.Fatalf("migrations %v %v", all, err)
	}
	applied, err := db.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != len(all) {
		t.Fatalf("first run applied %v of %d", applied, len(all))
	}
	applied, err = db.Migrate(ctx)
	if err != nil || len(applied) != 0 {
		t.Fatalf("second run applied %v (%v)", applied, err)
	}
	var n uint64
	if err := db.Conn.QueryRow(ctx, "SELECT count() FROM schema_migrations").Scan(&n); err != nil || n != uint64(len(all)) {
		t.Fatalf("schema_migrations rows %d (%v)", n, err)
	}
}

func TestWriterBatchesAndCollapsesRedeliveries(t *testing.T) {
	db, b := migratedDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	created := time.Now().UTC().Truncate(time.Second)
	for i := 0; i < 25; i++ {
		a := match.Alert{Schema: 1, ID: fmt.Sprintf("A-%02d", i), Tenant: []string{"h1", "h2"}[i%2], Revision: "r1", Priority: "P2",
			Confidence: match.Exact, CreatedAt: created,
			Advisory: match.AdvisoryRef{Source: "s", ID: fmt.Sprintf("ADV-%d", i), Title: "t", CVEs: []string{"CVE-2026-0001"}},
			Assets:   []match.AssetMatch{{Asset: &match.Asset{ID: "asset-1"}, Confidence: match.Exact, Reasons: []string{"r"}}}}
		if _, err := b.Publish(ctx, bus.Alerts(a.Tenant), a.MsgID(), a, nil); err != nil {
			t.Fatal(err)
		}
		// The same alert row again under another message id: what a crash
		// between insert and ack produces.
		if i < 5 {
			if _, err := b.Publish(ctx, bus.Alerts(a.Tenant), a.MsgID()+"/again", a, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	d := notify.Delivery{Schema: 1, Tenant: "h1", AlertID: "A-00", Revision: "r1", Channel: "slack", Status: notify.StatusDelivered, Attempt: 1, At: created}
	if _, err := b.Publish(ctx, bus.Deliveries("h1"), "d1", d, nil); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, db.cfg, b, RunOptions{BatchSize: 10, FlushInterval: 100 * time.Millisecond}, testenv.Logger(t))
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("store run: %v", err)
		}
	}()
	testenv.Eventually(t, 20*time.Second, 100*time.Millisecond, func() error {
		n, err := db.Count(ctx, "alerts")
		if err != nil {
			return err
		}
		if n != 25 {
			return fmt.Errorf("alerts: %d rows, want 25", n)
		}
		return nil
	})
	rows, err := db.Alerts(ctx, AlertFilter{Tenant: "h1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 13 {
		t.Fatalf("tenant h1 has %d alerts, want 13", len(rows))
	}
	for _, r := range rows {
		if r.Tenant != "h1" || len(r.Assets) != 1 || r.CVEs[0] != "CVE-2026-0001" {
			t.Fatalf("row %+v", r)
		}
	}
	var a00 AlertRow
	for _, r := range rows {
		if r.AlertID == "A-00" {
			a00 = r
		}
	}
	testenv.Eventually(t, 10*time.Second, 100*time.Millisecond, func() error {
		rows, err := db.Alerts(ctx, AlertFilter{AlertIDs: []string{"A-00"}})
		if err != nil || len(rows) != 1 || len(rows[0].Delivered) != 1 || rows[0].Delivered[0] != "slack:delivered" {
			return fmt.Errorf("delivery state of A-00: %+v %v", rows, err)
		}
		return nil
	})
	if a00.AlertID == "" {
		t.Fatal("A-00 missing")
	}
}

// A batch whose insert succeeded but whose ack was lost comes back: the
// writer inserts it again, then merges the partitions it wrote, so even a
// plain read (no FINAL) counts each row once.
func TestWriterMergesRedeliveredRows(t *testing.T) {
	db, b := migratedDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	now := time.Now().UTC().Truncate(time.Second)
	const n = 30
	for i := range n {
		at := now.Add(-time.Duration(i%2) * 40 * 24 * time.Hour) // two monthly partitions
		d := notify.Delivery{Schema: 1, Tenant: "h1", AlertID: fmt.Sprintf("A-%02d", i), Revision: "1", Channel: "email", Status: notify.StatusDelivered, Attempt: 1, At: at}
		if _, err := b.Publish(ctx, bus.Deliveries("h1"), fmt.Sprintf("d-%d", i), d, nil); err != nil {
			t.Fatal(err)
		}
	}
	var table Table
	for _, tb := range Tables() {
		if tb.Name == "deliveries" {
			table = tb
		}
	}
	spec := table.Spec
	spec.MaxAckPending, spec.MaxDeliver = 20, -1 // as the writer sets them (size 10)

	// The first delivery: inserted, then the process "dies" before acking.
	got := make(chan jetstream.Msg, n)
	cctx, stop := context.WithCancel(ctx)
	consumed := make(chan error, 1)
	go func() { consumed <- b.ConsumeManual(cctx, spec, func(m jetstream.Msg) { got <- m }) }()
	var msgs []jetstream.Msg
	for len(msgs) < n {
		select {
		case m := <-got:
			msgs = append(msgs, m)
		case <-time.After(10 * time.Second):
			t.Fatalf("first delivery: %d of %d messages", len(msgs), n)
		}
	}
	stop()
	if err := <-consumed; err != nil {
		t.Fatal(err)
	}
	data := make([][]byte, len(msgs))
	for i, m := range msgs {
		data[i] = m.Data()
	}
	rows, errs := BuildRows(table, data)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if err := Insert(ctx, db, table, rows); err != nil {
		t.Fatal(err)
	}
	var first time.Time
	if err := db.Conn.QueryRow(ctx, "SELECT max(inserted_at) FROM deliveries").Scan(&first); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // the second insert gets a later inserted_at
	for _, m := range msgs {
		_ = m.Nak()
	}

	w := NewWriter(db, b, table, 10, 100*time.Millisecond, testenv.Logger(t))
	done := make(chan error, 1)
	wctx, wstop := context.WithCancel(ctx)
	go func() { done <- w.Run(wctx) }()
	defer func() {
		wstop()
		if err := <-done; err != nil {
			t.Errorf("writer: %v", err)
		}
	}()
	testenv.Eventually(t, 20*time.Second, 200*time.Millisecond, func() error {
		var plain, oldest uint64
		var earliest time.Time
		if err := db.Conn.QueryRow(ctx, "SELECT count(), min(inserted_at), toUInt64(min(inserted_at) > ?) FROM deliveries", first).Scan(&plain, &earliest, &oldest); err != nil {
			return err
		}
		// Only the writer's rows remain (later inserted_at), once each.
		if plain != n || oldest != 1 {
			return fmt.Errorf("plain read: %d rows (want %d), earliest inserted %v, first insert %v", plain, n, earliest, first)
		}
		return nil
	})
}
