package enrich

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/internal/wire"
)

// State is what enrich remembers across advisories: the KEV catalogue's
// CVEs, the clusters, and the latest raw revision of each advisory by CVE
// (to re-enrich it when its CVE enters KEV).
type State interface {
	// KEV returns the date a CVE was added to KEV.
	KEV(ctx context.Context, cve string) (string, bool, error)
	// AddKEV records a CVE in KEV; added is false when it was there.
	AddKEV(ctx context.Context, cve, dateAdded string) (added bool, err error)
	// Cluster returns the cluster of the first lookup key that has one, or
	// proposal, and registers every own key with the result. opened is
	// true when no lookup key had a cluster and this call registered the
	// proposal under an own key first: the cluster is new, and nothing
	// can have been said about it before.
	Cluster(ctx context.Context, lookup, own []string, proposal string) (id string, opened bool, err error)
	// Remember keeps the raw advisory, indexed by its CVEs.
	Remember(ctx context.Context, a *advisory.Advisory) error
	// WithCVE returns the remembered advisories carrying a CVE.
	WithCVE(ctx context.Context, cve string) ([]advisory.Advisory, error)
}

// MemState is a State in memory: for `vigil parse --enrich`, tests and
// benchmarks.
type MemState struct {
	mu       sync.Mutex
	kev      map[string]string
	clusters map[string]string
	byKey    map[string]advisory.Advisory
	byCVE    map[string][]string
}

// NewMemState returns an empty MemState.
func NewMemState() *MemState {
	return &MemState{kev: map[string]string{}, clusters: map[string]string{}, byKey: map[string]advisory.Advisory{}, byCVE: map[string][]string{}}
}

// KEV implements State.
func (m *MemState) KEV(_ context.Context, cve string) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.kev[cve]
	return d, ok, nil
}

// AddKEV implements State.
func (m *MemState) AddKEV(_ context.Context, cve, date string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.kev[cve]; ok {
		return false, nil
	}
	m.kev[cve] = date
	return true, nil
}

// Cluster implements State.
func (m *MemState) Cluster(_ context.Context, lookup, own []string, proposal string) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, found := proposal, false
	for _, k := range lookup {
		if c, ok := m.clusters[k]; ok {
			id, found = c, true
			break
		}
	}
	opened := false
	for _, k := range own {
		if _, ok := m.clusters[k]; !ok {
			m.clusters[k] = id
			opened = opened || !found
		}
	}
	return id, opened, nil
}

// Remember implements State.
func (m *MemState) Remember(_ context.Context, a *advisory.Advisory) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, seen := m.byKey[a.Key()]; !seen {
		for _, c := range a.CVEs {
			m.byCVE[c] = append(m.byCVE[c], a.Key())
		}
	}
	m.byKey[a.Key()] = *a
	return nil
}

// WithCVE implements State.
func (m *MemState) WithCVE(_ context.Context, cve string) ([]advisory.Advisory, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []advisory.Advisory
	for _, k := range m.byCVE[cve] {
		out = append(out, m.byKey[k])
	}
	return out, nil
}

// KVState keeps State in JetStream KV buckets, shared by every enrich
// instance: kev (CVE -> date added), clusters (key -> cluster id),
// advisories (advisory key hash -> latest raw revision) and a CVE index.
type KVState struct {
	KEVBucket, Clusters, Advisories, CVEIndex jetstream.KeyValue
}

func kvKey(prefix, s string) string {
	h := sha256.Sum256([]byte(s))
	return prefix + "." + hex.EncodeToString(h[:12])
}

// KEV implements State.
func (k *KVState) KEV(ctx context.Context, cve string) (string, bool, error) {
	e, err := k.KEVBucket.Get(ctx, cve)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return string(e.Value()), true, nil
}

// AddKEV implements State.
func (k *KVState) AddKEV(ctx context.Context, cve, date string) (bool, error) {
	_, err := k.KEVBucket.Create(ctx, cve, []byte(date))
	if errors.Is(err, jetstream.ErrKeyExists) {
		return false, nil
	}
	return err == nil, err
}

// Cluster implements State. Create is atomic, so two instances racing on
// one new vulnerability agree on the id that was registered first.
func (k *KVState) Cluster(ctx context.Context, lookup, own []string, proposal string) (string, bool, error) {
	id, found := proposal, false
	for _, key := range lookup {
		e, err := k.Clusters.Get(ctx, kvKey("c", key))
		if err == nil {
			id, found = string(e.Value()), true
			break
		}
		if !errors.Is(err, jetstream.ErrKeyNotFound) {
			return "", false, err
		}
	}
	opened, adopted := false, false
	for _, key := range own {
		_, err := k.Clusters.Create(ctx, kvKey("c", key), []byte(id))
		if errors.Is(err, jetstream.ErrKeyExists) {
			// Another advisory registered this key meanwhile: when that was
			// our only claim to an id, take the one registered.
			if !found && !adopted {
				if e, gerr := k.Clusters.Get(ctx, kvKey("c", key)); gerr == nil {
					id, adopted = string(e.Value()), true
				}
			}
			continue
		}
		if err != nil {
			return "", false, err
		}
		opened = opened || !found
	}
	// An id taken from a key another advisory registered is not new, even
	// if a later own key was free.
	return id, opened && !adopted, nil
}

// Remember implements State.
func (k *KVState) Remember(ctx context.Context, a *advisory.Advisory) error {
	raw, err := wire.Marshal(a)
	if err != nil {
		return err
	}
	if _, err := k.Advisories.Put(ctx, kvKey("a", a.Key()), raw); err != nil {
		return err
	}
	for _, c := range a.CVEs {
		if err := k.indexCVE(ctx, c, a.Key()); err != nil {
			return err
		}
	}
	return nil
}

// WithCVE implements State.
func (k *KVState) WithCVE(ctx context.Context, cve string) ([]advisory.Advisory, error) {
	e, err := k.CVEIndex.Get(ctx, cve)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var keys []string
	if err := wire.Unmarshal(e.Value(), &keys); err != nil {
		return nil, err
	}
	var out []advisory.Advisory
	for _, key := range keys {
		e, err := k.Advisories.Get(ctx, kvKey("a", key))
		if err != nil {
			continue
		}
		var a advisory.Advisory
		if wire.Unmarshal(e.Value(), &a) == nil {
			out = append(out, a)
		}
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// refKey normalises a URL for cluster lookups: scheme, "www." and a
// trailing slash do not matter.
func refKey(u string) string {
	u = strings.ToLower(strings.TrimSpace(u))
	u = strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://")
	u = strings.TrimPrefix(u, "www.")
	return "ref." + strings.TrimRight(u, "/")
}

// indexCVE adds an advisory to a CVE's list with compare-and-set, so that
// advisories enriched side by side do not drop each other.
func (k *KVState) indexCVE(ctx context.Context, cve, key string) error {
	for range 20 {
		var keys []string
		var rev uint64
		e, err := k.CVEIndex.Get(ctx, cve)
		switch {
		case err == nil:
			_ = wire.Unmarshal(e.Value(), &keys)
			rev = e.Revision()
		case !errors.Is(err, jetstream.ErrKeyNotFound):
			return err
		}
		if contains(keys, key) {
			return nil
		}
		keys = append(keys, key)
		sort.Strings(keys)
		data, _ := wire.Marshal(keys)
		if rev == 0 {
			_, err = k.CVEIndex.Create(ctx, cve, data)
		} else {
			_, err = k.CVEIndex.Update(ctx, cve, data, rev)
		}
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return err
		}
	}
	return fmt.Errorf("enrich: CVE index of %s: too many concurrent updates", cve)
}
