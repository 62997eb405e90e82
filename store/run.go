package store

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/vigilhealth/vigil/internal/bus"
)

// RunOptions configure the store role.
type RunOptions struct {
	BatchSize     int
	FlushInterval time.Duration
	// Retention is how much history to keep; 0 keeps everything.
	Retention time.Duration
}

// Run is the store role: it connects to ClickHouse (waiting while it is
// down: the messages wait in JetStream), migrates, and runs one writer per
// table until ctx ends.
func Run(ctx context.Context, cfg Config, b *bus.Bus, o RunOptions, log *slog.Logger) error {
	log = log.With("clickhouse", cfg.Addr)
	var db *DB
	wait := time.Second
	for {
		var err error
		if db, err = Open(ctx, cfg); err == nil {
			if _, err = db.Migrate(ctx); err == nil {
				break
			}
			db.Close()
		}
		if ctx.Err() != nil {
			return nil
		}
		log.Warn("clickhouse not ready; alerts still flow, history waits in JetStream", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Minute)
	}
	defer db.Close()
	log.Info("store ready", "database", cfg.Database)
	go retentionLoop(ctx, db, o.Retention, log)
	var wg sync.WaitGroup
	errs := make(chan error, len(Tables()))
	for _, t := range Tables() {
		w := NewWriter(db, b, t, o.BatchSize, o.FlushInterval, log)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Run(ctx); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}
