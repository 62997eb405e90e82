// Package bus is Vigil's plumbing on NATS JetStream: the embedded server, the
// streams, KV buckets and object store, publishing with a message id, and
// durable pull consumers with ack / nak-with-delay / term semantics.
package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vigilhealth/vigil/internal/wire"
)

// Options say where the bus is and how long it keeps messages.
type Options struct {
	URL        string // external server; empty starts an embedded one
	DataDir    string // embedded server's store
	Listen     string // embedded server's address
	MaxAge     time.Duration
	AckWait    time.Duration
	MaxDeliver int
}

// Bus is a connection to JetStream with Vigil's streams and buckets declared.
type Bus struct {
	NC   *nats.Conn
	JS   jetstream.JetStream
	opts Options
	srv  *server.Server
	log  *slog.Logger

	Cursors     jetstream.KeyValue
	Seen        jetstream.KeyValue
	Tenants     jetstream.KeyValue
	Delivered   jetstream.KeyValue
	KEV         jetstream.KeyValue
	Clusters    jetstream.KeyValue
	Advisories  jetstream.KeyValue
	CVEIndex    jetstream.KeyValue
	AlertState  jetstream.KeyValue
	Threads     jetstream.KeyValue
	Pending     jetstream.KeyValue
	Inventories jetstream.ObjectStore
}

// Open connects to NATS (starting the embedded server when no URL is given)
// and declares the streams and buckets.
func Open(ctx context.Context, o Options, log *slog.Logger) (*Bus, error) {
	if o.MaxAge == 0 {
		o.MaxAge = 30 * 24 * time.Hour
	}
	if o.AckWait == 0 {
		o.AckWait = 30 * time.Second
	}
	if o.MaxDeliver == 0 {
		o.MaxDeliver = 10
	}
	b := &Bus{opts: o, log: log}
	var err error
	if o.URL == "" {
		if b.srv, err = StartEmbedded(o.DataDir, o.Listen); err != nil {
			return nil, err
		}
		b.NC, err = nats.Connect(b.srv.ClientURL(), nats.InProcessServer(b.srv), nats.Name("vigil"))
	} else {
		b.NC, err = nats.Connect(o.URL, nats.Name("vigil"), nats.MaxReconnects(-1))
	}
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("bus: connect: %w", err)
	}
	if b.JS, err = jetstream.New(b.NC); err != nil {
		b.Close()
		return nil, fmt.Errorf("bus: jetstream: %w", err)
	}
	if err := b.ensure(ctx); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// ClientURL is the address other processes use to reach this bus.
func (b *Bus) ClientURL() string {
	if b.srv != nil {
		return b.srv.ClientURL()
	}
	return b.NC.ConnectedUrlRedacted()
}

// Embedded reports whether this process runs the NATS server.
func (b *Bus) Embedded() bool { return b.srv != nil }

func (b *Bus) ensure(ctx context.Context) error {
	streams := []jetstream.StreamConfig{
		{Name: StreamAdvisories, Subjects: []string{SubjectRaw + ".>", SubjectEnriched + ".>"}},
		{Name: StreamAlerts, Subjects: []string{SubjectAlerts + ".>"}},
		{Name: StreamDeliveries, Subjects: []string{SubjectDeliveries + ".>"}},
		{Name: StreamDeadLetters, Subjects: []string{SubjectDeadLetters + ".>"}},
		{Name: StreamRuns, Subjects: []string{SubjectRuns + ".>"}},
	}
	for _, sc := range streams {
		sc.Storage = jetstream.FileStorage
		sc.Retention = jetstream.LimitsPolicy
		sc.MaxAge = b.opts.MaxAge
		sc.Duplicates = time.Hour
		if _, err := b.JS.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("bus: declare stream %s: %w", sc.Name, err)
		}
	}
	kvs := []struct {
		name string
		dst  *jetstream.KeyValue
		ttl  time.Duration
	}{
		{BucketCursors, &b.Cursors, 0},
		{BucketSeen, &b.Seen, 0},
		{BucketTenants, &b.Tenants, 0},
		{BucketDeliveries, &b.Delivered, b.opts.MaxAge},
		{BucketKEV, &b.KEV, 0},
		{BucketClusters, &b.Clusters, 0},
		{BucketAdvisories, &b.Advisories, 0},
		{BucketCVEIndex, &b.CVEIndex, 0},
		{BucketAlerts, &b.AlertState, 0},
		{BucketThreads, &b.Threads, b.opts.MaxAge},
		{BucketPending, &b.Pending, 0},
	}
	for _, k := range kvs {
		kv, err := b.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: k.name, TTL: k.ttl, Storage: jetstream.FileStorage})
		if err != nil {
			return fmt.Errorf("bus: declare kv %s: %w", k.name, err)
		}
		*k.dst = kv
	}
	os, err := b.JS.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: StoreInventories, Storage: jetstream.FileStorage})
	if err != nil {
		return fmt.Errorf("bus: declare object store %s: %w", StoreInventories, err)
	}
	b.Inventories = os
	return nil
}

// Close drains the connection and stops the embedded server.
func (b *Bus) Close() {
	if b.NC != nil && !b.NC.IsClosed() {
		if err := b.NC.Drain(); err != nil {
			b.NC.Close()
		}
		for i := 0; i < 100 && !b.NC.IsClosed(); i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
	}
}

// Publish sends v as JSON to subject with a message id; dup reports that
// JetStream had already seen that id and stored nothing.
func (b *Bus) Publish(ctx context.Context, subject, msgID string, v any, headers map[string]string) (dup bool, err error) {
	data, err := wire.Marshal(v)
	if err != nil {
		return false, fmt.Errorf("bus: publish %s: encode: %w", subject, err)
	}
	m := nats.NewMsg(subject)
	m.Data = data
	for k, val := range headers {
		m.Header.Set(k, val)
	}
	ack, err := b.JS.PublishMsg(ctx, m, jetstream.WithMsgID(msgID))
	if err != nil {
		return false, fmt.Errorf("bus: publish %s: %w", subject, err)
	}
	return ack.Duplicate, nil
}

// ErrNotFound is returned by Get helpers when a key does not exist.
var ErrNotFound = errors.New("not found")

// GetJSON reads a KV value into v.
func GetJSON(ctx context.Context, kv jetstream.KeyValue, key string, v any) error {
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	return wire.Unmarshal(e.Value(), v)
}

// PutJSON writes v as JSON under key.
func PutJSON(ctx context.Context, kv jetstream.KeyValue, key string, v any) error {
	data, err := wire.Marshal(v)
	if err != nil {
		return err
	}
	_, err = kv.Put(ctx, key, data)
	return err
}
