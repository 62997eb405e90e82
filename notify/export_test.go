package notify

import (
	"context"
	"time"
)

// PurgeMarkers exposes purgeMarkers to the tests.
func (d *Dispatcher) PurgeMarkers(ctx context.Context, age time.Duration) error {
	return d.purgeMarkers(ctx, age)
}
