package store

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/internal/bus"
	"github.com/vigilhealth/vigil/match"
	"github.com/vigilhealth/vigil/notify"
)

// Table describes how messages of one subject become rows of one table.
type Table struct {
	Name    string
	Columns string // the insert column list: 18.16 needs it explicit
	Spec    bus.ConsumerSpec
	Row     func(data []byte) ([]any, error)
}

// Tables are the writers the store role runs.
func Tables() []Table {
	return []Table{
		{
			Name:    "advisories",
			Columns: "source, id, revision, title, url, summary, published, updated, fetched_at, enriched_at, tlp, cves, vendors, kev, cvss_score, cvss_vector, vendor_id, categories, relevance, patient_safety, cluster_id",
			Spec:    bus.ConsumerSpec{Stream: bus.StreamAdvisories, Durable: "store_advisories", Stage: "store", Filter: []string{bus.SubjectEnriched + ".>"}},
			Row:     advisoryRow,
		},
		{
			Name:    "alerts",
			Columns: "tenant, alert_id, revision, priority, confidence, advisory_source, advisory_id, title, url, cves, kev, assets, asset_reasons, published, fetched_at, created_at, cluster_id, changes, retro",
			Spec:    bus.ConsumerSpec{Stream: bus.StreamAlerts, Durable: "store_alerts", Stage: "store", Filter: []string{bus.SubjectAlerts + ".>"}},
			Row:     alertRow,
		},
		{
			Name:    "deliveries",
			Columns: "tenant, alert_id, revision, channel, status, error, attempt, priority, at, latency_ms",
			Spec:    bus.ConsumerSpec{Stream: bus.StreamDeliveries, Durable: "store_deliveries", Stage: "store", Filter: []string{bus.SubjectDeliveries + ".>"}},
			Row:     deliveryRow,
		},
	}
}

func advisoryRow(data []byte) ([]any, error) {
	var a advisory.Advisory
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, err
	}
	var score *float32
	vector := ""
	if a.Severity != nil {
		s := float32(a.Severity.Score)
		score, vector = &s, a.Severity.Vector
	}
	en := a.Enrichment
	if en == nil {
		en = &advisory.Enrichment{}
	}
	cats := make([]string, len(en.Categories))
	for i, c := range en.Categories {
		cats[i] = c.ID
	}
	return []any{a.Source, a.ID, a.Revision, a.Title, a.URL, a.Summary, clampTime(a.Published), clampTime(a.Updated),
		clampTime(a.FetchedAt), clampTime(en.EnrichedAt), string(a.TLP), nonNil(a.CVEs), nonNil(a.VendorIDs()), b2u(a.KEV), score, vector,
		en.VendorID, cats, uint8(en.Relevance.Score), b2u(en.PatientSafety), en.ClusterID}, nil
}

func alertRow(data []byte) ([]any, error) {
	a, err := match.DecodeAlert(data)
	if err != nil {
		return nil, err
	}
	reasons := make([]string, len(a.Assets))
	for i, m := range a.Assets {
		reasons[i] = m.Confidence + ": " + joinReasons(m.Reasons)
	}
	return []any{a.Tenant, a.ID, a.Revision, a.Priority, a.Confidence, a.Advisory.Source, a.Advisory.ID, a.Advisory.Title,
		a.Advisory.URL, nonNil(a.Advisory.CVEs), b2u(a.Advisory.KEV), nonNil(a.AssetIDs()), reasons,
		clampTime(a.Advisory.Published), clampTime(a.Advisory.FetchedAt), clampTime(a.CreatedAt), a.ClusterID, nonNil(a.Changes), b2u(a.Retro)}, nil
}

func deliveryRow(data []byte) ([]any, error) {
	var d notify.Delivery
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, err
	}
	return []any{d.Tenant, d.AlertID, d.Revision, d.Channel, d.Status, d.Error, uint16(min(d.Attempt, 65535)), d.Priority, clampTime(d.At), d.LatencyMS}, nil
}

func joinReasons(r []string) string {
	out := ""
	for i, s := range r {
		if i > 0 {
			out += "; "
		}
		out += s
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// Writer batches one table's messages and inserts them, acking only after
// ClickHouse confirmed. A failed insert naks the batch for redelivery.
type Writer struct {
	db       *DB
	bus      *bus.Bus
	table    Table
	size     int
	interval time.Duration
	log      *slog.Logger

	mu   sync.Mutex
	msgs []jetstream.Msg
	rows [][]any
	down bool // ClickHouse failing: logged once until it recovers
}

// NewWriter builds a writer that flushes at size rows or after interval.
func NewWriter(db *DB, b *bus.Bus, t Table, size int, interval time.Duration, log *slog.Logger) *Writer {
	return &Writer{db: db, bus: b, table: t, size: size, interval: interval, log: log.With("table", t.Name)}
}

// Run consumes until ctx ends, then writes what it holds.
func (w *Writer) Run(ctx context.Context) error {
	spec := w.table.Spec
	// Room for two batches in flight; nothing is acked before its insert.
	spec.MaxAckPending = 2 * w.size
	spec.MaxDeliver = -1
	flushCtx := context.WithoutCancel(ctx)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(w.interval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				w.flush(flushCtx)
			}
		}
	}()
	err := w.bus.ConsumeManual(ctx, spec, func(m jetstream.Msg) {
		row, err := w.table.Row(m.Data())
		if err != nil {
			w.bus.Settle(flushCtx, spec, m, fmt.Errorf("store %s: decode %s: %w", w.table.Name, m.Subject(), err))
			return
		}
		w.mu.Lock()
		w.msgs = append(w.msgs, m)
		w.rows = append(w.rows, row)
		full := len(w.rows) >= w.size
		w.mu.Unlock()
		if full {
			w.flush(flushCtx)
		}
	})
	close(stop)
	wg.Wait()
	w.flush(flushCtx)
	return err
}

func (w *Writer) flush(ctx context.Context) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.rows) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := w.insert(ctx, w.rows)
	if err != nil {
		if !w.down {
			w.log.Error("clickhouse insert failed; rows stay in JetStream and are retried", "rows", len(w.rows), "err", err)
		}
		w.down = true
		for _, m := range w.msgs {
			_ = m.NakWithDelay(5 * time.Second)
		}
	} else {
		if w.down {
			w.log.Info("clickhouse insert recovered")
		}
		w.down = false
		for _, m := range w.msgs {
			_ = m.Ack()
		}
		w.log.Debug("inserted", "rows", len(w.rows))
	}
	w.msgs, w.rows = w.msgs[:0], w.rows[:0]
}

func (w *Writer) insert(ctx context.Context, rows [][]any) error {
	batch, err := w.db.Conn.PrepareBatch(ctx, "INSERT INTO "+w.table.Name+" ("+w.table.Columns+")")
	if err != nil {
		return err
	}
	for _, r := range rows {
		if err := batch.Append(r...); err != nil {
			_ = batch.Abort()
			return err
		}
	}
	return batch.Send()
}
