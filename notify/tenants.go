package notify

import (
	"context"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vigilhealth/vigil/internal/bus"
	"github.com/vigilhealth/vigil/internal/wire"
	"github.com/vigilhealth/vigil/match"
)

// tenantCache follows the tenants bucket, so that an alert does not cost
// a key-value read for its tenant. A tenant not (yet) in the cache is read
// from the bucket.
type tenantCache struct {
	mu sync.RWMutex
	m  map[string]match.Tenant
}

func (c *tenantCache) follow(ctx context.Context, b *bus.Bus) {
	w, err := b.Tenants.WatchAll(ctx)
	if err != nil {
		return // every lookup reads the bucket
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e == nil {
				continue // the initial values are in
			}
			c.mu.Lock()
			if c.m == nil {
				c.m = map[string]match.Tenant{}
			}
			var t match.Tenant
			if e.Operation() == jetstream.KeyValuePut && wire.Unmarshal(e.Value(), &t) == nil {
				c.m[e.Key()] = t
			} else {
				delete(c.m, e.Key())
			}
			c.mu.Unlock()
		}
	}
}

func (c *tenantCache) get(ctx context.Context, b *bus.Bus, id string) (match.Tenant, error) {
	c.mu.RLock()
	t, ok := c.m[id]
	c.mu.RUnlock()
	if ok {
		return t, nil
	}
	return match.GetTenant(ctx, b, id)
}
