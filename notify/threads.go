package notify

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go/jetstream"
)

// KVThreads keeps threads in a JetStream key-value bucket.
func KVThreads(kv jetstream.KeyValue) Threads { return kvThreads{kv} }

type kvThreads struct{ kv jetstream.KeyValue }

func (k kvThreads) Get(ctx context.Context, key string) (string, error) {
	e, err := k.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return string(e.Value()), nil
}

func (k kvThreads) Put(ctx context.Context, key, value string) error {
	_, err := k.kv.Put(ctx, key, []byte(value))
	return err
}
