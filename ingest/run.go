package ingest

import (
	"context"
	"log/slog"
	"sync"

	"github.com/vigilhealth/vigil/feeds"
	"github.com/vigilhealth/vigil/internal/bus"
)

// Run polls every enabled source until ctx ends.
func Run(ctx context.Context, srcs []feeds.Source, b *bus.Bus, o Options, log *slog.Logger) error {
	enabled := feeds.Enabled(srcs)
	log.Info("ingest starting", "sources", len(enabled))
	var wg sync.WaitGroup
	for _, s := range enabled {
		p := NewPoller(s, b, o, log)
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.Run(ctx)
		}()
	}
	wg.Wait()
	return nil
}
