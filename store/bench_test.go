package store

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/vigilhealth/vigil/internal/testenv"
	"github.com/vigilhealth/vigil/match"
	"github.com/vigilhealth/vigil/notify"
)

// BenchmarkWriter measures the store's writer path per table: messages as
// JetStream hands them over (JSON), rows built by the table code on every
// core, inserted in batches of 10,000 messages into a local ClickHouse
// (which shares the machine). Reported as rows/s.
func BenchmarkWriter(b *testing.B) {
	addr, database := testenv.ClickHouse(b)
	ctx := context.Background()
	db, err := Open(ctx, Config{Addr: addr, Database: database, User: "default"})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	tables := map[string]Table{}
	for _, t := range Tables() {
		tables[t.Name] = t
	}
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	// Messages per insert: the store's default (VIGIL_STORE_BATCH_SIZE), or
	// VIGIL_BENCH_BATCH.
	batch := 10_000
	if n, err := strconv.Atoi(os.Getenv("VIGIL_BENCH_BATCH")); err == nil && n > 0 {
		batch = n
	}
	alert := func(i, assets int) []byte {
		a := match.Alert{Schema: match.AlertSchema, ID: fmt.Sprintf("W-%09d", i), Tenant: fmt.Sprintf("h%d", i%1000), Revision: "1", Priority: "P2", Confidence: match.Exact,
			Advisory:  match.AdvisoryRef{Source: "cisa-csaf", ID: "ICSMA-1", Title: "Writer benchmark advisory", Published: base, FetchedAt: base, CVEs: []string{"CVE-2026-00001"}},
			CreatedAt: base}
		for k := range assets {
			a.Assets = append(a.Assets, match.AssetMatch{Asset: &match.Asset{ID: fmt.Sprintf("AS-%d", k), Vendor: "GE Healthcare", Product: "CARESCAPE B450", Location: "ICU"},
				Confidence: match.Exact, Rule: "product", Reasons: []string{"version 2.0.2 < 2.1"}})
		}
		data, _ := json.Marshal(a)
		return data
	}
	cases := []struct {
		table string
		msg   func(i int) []byte
	}{
		{"alerts", func(i int) []byte { return alert(i, 1) }},
		{"alert_assets", func(i int) []byte { return alert(i, 5) }},
		{"deliveries", func(i int) []byte {
			data, _ := json.Marshal(notify.Delivery{Tenant: fmt.Sprintf("h%d", i%1000), AlertID: fmt.Sprintf("W-%09d", i), Revision: "1", Channel: "slack",
				Status: notify.StatusDelivered, Attempt: 1, Priority: "P2", At: base, LatencyMS: 40})
			return data
		}},
	}
	for _, c := range cases {
		b.Run(c.table, func(b *testing.B) {
			msgs := make([][]byte, batch)
			for i := range msgs {
				msgs[i] = c.msg(i)
			}
			b.ResetTimer()
			start := time.Now()
			rows := 0
			var build, insert time.Duration
			for n := 0; n < b.N; n++ {
				t0 := time.Now()
				out, errs := BuildRows(tables[c.table], msgs)
				if len(errs) > 0 {
					b.Fatal(errs)
				}
				t1 := time.Now()
				if err := Insert(ctx, db, tables[c.table], out); err != nil {
					b.Fatal(err)
				}
				build, insert = build+t1.Sub(t0), insert+time.Since(t1)
				rows += len(out)
			}
			b.ReportMetric(float64(rows)/time.Since(start).Seconds(), "rows/s")
			b.ReportMetric(float64(build.Nanoseconds())/float64(rows), "build-ns/row")
			b.ReportMetric(float64(insert.Nanoseconds())/float64(rows), "insert-ns/row")
		})
	}
}
