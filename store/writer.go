package store

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vigilhealth/vigil/internal/bus"
)

func joinReasons(r []string) string { return strings.Join(r, "; ") }

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

	spec  bus.ConsumerSpec
	mu    sync.Mutex
	msgs  []jetstream.Msg
	bytes int  // of msgs' data
	down  bool // ClickHouse failing: logged once until it recovers

	// Merges after redelivered batches run beside the writer (an OPTIMIZE
	// of a large partition takes a while, and held messages must not wait
	// past AckWait): mergeSince is the earliest insert not merged yet.
	mergeMu    sync.Mutex
	mergeSince time.Time
	mergeKick  chan struct{}
}

// maxBatchBytes caps the messages a writer holds: large messages
// (advisories) flush before the row count is reached.
const maxBatchBytes = 32 << 20

// NewWriter builds a writer that flushes at size messages, at 32 MB of
// them, or after interval.
func NewWriter(db *DB, b *bus.Bus, t Table, size int, interval time.Duration, log *slog.Logger) *Writer {
	return &Writer{db: db, bus: b, table: t, size: size, interval: interval, log: log.With("table", t.Name), mergeKick: make(chan struct{}, 1)}
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
	w.spec = spec
	wg.Add(1)
	go func() {
		defer wg.Done()
		w.mergeLoop(stop)
	}()
	err := w.bus.ConsumeManual(ctx, spec, func(m jetstream.Msg) {
		// Rows are built at flush time, on every core at once.
		w.mu.Lock()
		w.msgs = append(w.msgs, m)
		w.bytes += len(m.Data())
		full := len(w.msgs) >= w.size || w.bytes >= maxBatchBytes
		w.mu.Unlock()
		if full {
			w.flush(flushCtx)
		}
	})
	close(stop)
	wg.Wait()
	w.flush(flushCtx)
	select { // a merge asked for by the last flushes
	case <-w.mergeKick:
		w.merge()
	default:
	}
	return err
}

func (w *Writer) flush(ctx context.Context) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.msgs) == 0 {
		return
	}
	data := make([][]byte, len(w.msgs))
	for i, m := range w.msgs {
		data[i] = m.Data()
	}
	rows, errs := BuildRows(w.table, data)
	if len(errs) > 0 {
		kept := w.msgs[:0]
		for i, m := range w.msgs {
			if err := errs[i]; err != nil {
				w.bus.Settle(ctx, w.spec, m, fmt.Errorf("store %s: decode %s: %w", w.table.Name, m.Subject(), err))
				continue
			}
			kept = append(kept, m)
		}
		w.msgs = kept
	}
	w.bytes = 0
	if len(rows) == 0 { // messages without rows for this table
		for _, m := range w.msgs {
			_ = m.Ack()
		}
		w.msgs = w.msgs[:0]
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// An earlier insert of redelivered rows may have succeeded before its
	// ack was lost: the partitions this insert writes get merged after it,
	// so plain reads (not only FINAL ones) count each row once. Parts are
	// told by the server's clock.
	var redelivered bool
	var since time.Time
	for _, m := range w.msgs {
		if md, err := m.Metadata(); err == nil && md.NumDelivered > 1 {
			redelivered = true
			break
		}
	}
	if redelivered {
		_ = w.db.Conn.QueryRow(ctx, "SELECT now()").Scan(&since)
	}
	err := w.insert(ctx, rows)
	if err != nil {
		if !w.down {
			w.log.Error("clickhouse insert failed; rows stay in JetStream and are retried", "rows", len(rows), "err", err)
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
		w.log.Debug("inserted", "rows", len(rows))
		if redelivered {
			w.mergeMu.Lock()
			if w.mergeSince.IsZero() || since.Before(w.mergeSince) {
				w.mergeSince = since
			}
			w.mergeMu.Unlock()
			select {
			case w.mergeKick <- struct{}{}:
			default:
			}
		}
	}
	w.msgs = w.msgs[:0]
}

// mergeLoop merges what redelivered batches wrote, one request at a time,
// until stop.
func (w *Writer) mergeLoop(stop <-chan struct{}) {
	for {
		select {
		case <-w.mergeKick:
			w.merge()
		case <-stop:
			return
		}
	}
}

// merge merges the partitions written since the earliest request.
func (w *Writer) merge() {
	w.mergeMu.Lock()
	since := w.mergeSince
	w.mergeSince = time.Time{}
	w.mergeMu.Unlock()
	if since.IsZero() {
		return
	}
	if err := w.dedupe(context.Background(), since); err != nil {
		w.log.Warn("merging redelivered rows failed; FINAL reads stay exact, plain reads may count them twice until ClickHouse merges", "err", err)
	}
}

// dedupe runs OPTIMIZE ... FINAL on the partitions of the table written
// since the given time, which collapses their duplicate rows.
func (w *Writer) dedupe(ctx context.Context, since time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	parts, err := w.db.column(ctx, `SELECT DISTINCT partition FROM system.parts
		WHERE database = ? AND table = ? AND active AND modification_time >= ?`, w.db.Database, w.table.Name, since.Add(-time.Second))
	if err != nil {
		return err
	}
	for _, p := range parts {
		q := "OPTIMIZE TABLE " + w.table.Name + " FINAL"
		if partitionLiteral.MatchString(p) {
			q = "OPTIMIZE TABLE " + w.table.Name + " PARTITION " + p + " FINAL"
		}
		if err := w.db.Conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	w.log.Info("merged the partitions a redelivered batch wrote", "partitions", len(parts))
	return nil
}

// partitionLiteral: a toYYYYMM partition, usable as written.
var partitionLiteral = regexp.MustCompile(`^[0-9]{6}$`)

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

// Insert writes rows into a table as the writers do (for benchmarks and
// tools).
func Insert(ctx context.Context, db *DB, t Table, rows [][]any) error {
	return (&Writer{db: db, table: t}).insert(ctx, rows)
}

// BuildRows turns messages into rows on all cores; errs (nil when every
// message decoded) holds each undecodable message's error at its index.
func BuildRows(t Table, data [][]byte) ([][]any, map[int]error) {
	workers := min(runtime.GOMAXPROCS(0), max(len(data)/256, 1))
	parts := make([][][]any, workers)
	var mu sync.Mutex
	var errs map[int]error
	var wg sync.WaitGroup
	chunk := (len(data) + workers - 1) / workers
	for w := range workers {
		lo, hi := w*chunk, min((w+1)*chunk, len(data))
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out [][]any
			for i := lo; i < hi; i++ {
				r, err := t.Rows(data[i])
				if err != nil {
					mu.Lock()
					if errs == nil {
						errs = map[int]error{}
					}
					errs[i] = err
					mu.Unlock()
					continue
				}
				out = append(out, r...)
			}
			parts[w] = out
		}()
	}
	wg.Wait()
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	rows := make([][]any, 0, n)
	for _, p := range parts {
		rows = append(rows, p...)
	}
	return rows, errs
}
