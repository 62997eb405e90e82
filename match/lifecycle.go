package match

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/internal/wire"
)

// alertState is what the matcher remembers of an alert: the evidence of
// every source on the cluster, and the summary last published.
type alertState struct {
	stateHead
	Sources map[string]sourceEvidence `json:"sources"`
}

// stateHead is an alert's state but its evidence: stored as it is.
type stateHead struct {
	Revision    int       `json:"revision"`
	Fingerprint string    `json:"fingerprint"`
	Summary     summary   `json:"summary"`
	OpenedAt    time.Time `json:"opened_at,omitzero"`
	FixedAt     time.Time `json:"fixed_at,omitzero"`
	KEVAt       time.Time `json:"kev_at,omitzero"`
	// Unpublished: the revision was stored by a retro-match before it
	// published it; whoever sees it next publishes it (see markPublished).
	Unpublished bool `json:"unpublished,omitempty"`
}

// sourceEvidence is what one advisory says about the tenant's assets.
type sourceEvidence struct {
	Matches  []AssetMatch
	Excluded []string
	KEV      bool
	Severity *advisory.Severity
	Fixed    bool
}

// storedEvidence is how sourceEvidence is stored. The assets one advisory
// matches in a hospital share a few lists of reasons (one per product and
// version), so each distinct list is stored once: the state is about half
// the size it was with the reasons repeated per asset.
type storedEvidence struct {
	Assets   []storedMatch      `json:"assets,omitempty"`
	Reasons  [][]string         `json:"reasons,omitempty"`
	Excluded []string           `json:"excluded,omitempty"`
	KEV      bool               `json:"kev"`
	Severity *advisory.Severity `json:"severity,omitempty"`
	Fixed    bool               `json:"fixed"`
	// Matches is the form stored before reasons were shared; it is read,
	// never written.
	Matches []AssetMatch `json:"matches,omitempty"`
}

type storedMatch struct {
	Asset      *Asset `json:"asset"`
	Confidence string `json:"confidence"`
	Rule       string `json:"rule"`
	Reasons    int    `json:"reasons"` // position in storedEvidence.Reasons
}

// storedState is how alertState is stored: each source's evidence in its
// stored form. Encoding it directly, rather than through sourceEvidence's
// MarshalJSON, spares the encoder checking and compacting what each
// MarshalJSON returns (a third of encoding the state).
type storedState struct {
	stateHead
	Sources map[string]storedEvidence `json:"sources"`
}

// encodeState is the stored form of an alert's state.
func encodeState(st *alertState) ([]byte, error) {
	out := storedState{stateHead: st.stateHead, Sources: make(map[string]storedEvidence, len(st.Sources))}
	for k, e := range st.Sources {
		out.Sources[k] = e.stored()
	}
	return wire.Marshal(out)
}

// decodeState reads an alert's state as stored now or before.
func decodeState(data []byte, st *alertState) error {
	var in storedState
	if err := wire.Unmarshal(data, &in); err != nil {
		return err
	}
	*st = alertState{stateHead: in.stateHead}
	if in.Sources != nil {
		st.Sources = make(map[string]sourceEvidence, len(in.Sources))
	}
	for k, e := range in.Sources {
		ev, err := e.evidence()
		if err != nil {
			return fmt.Errorf("source %s: %w", k, err)
		}
		st.Sources[k] = ev
	}
	return nil
}

// MarshalJSON stores the evidence with its lists of reasons shared.
func (e sourceEvidence) MarshalJSON() ([]byte, error) { return wire.Marshal(e.stored()) }

// stored is the evidence with each distinct list of reasons once.
func (e sourceEvidence) stored() storedEvidence {
	st := storedEvidence{Excluded: e.Excluded, KEV: e.KEV, Severity: e.Severity, Fixed: e.Fixed}
	if len(e.Matches) > 0 {
		st.Assets = make([]storedMatch, len(e.Matches))
	}
	pos := map[string]int{}
	for i, m := range e.Matches {
		key := strings.Join(m.Reasons, "\x00")
		p, ok := pos[key]
		if !ok {
			p = len(st.Reasons)
			pos[key] = p
			st.Reasons = append(st.Reasons, m.Reasons)
		}
		st.Assets[i] = storedMatch{Asset: m.Asset, Confidence: m.Confidence, Rule: m.Rule, Reasons: p}
	}
	return st
}

// UnmarshalJSON reads the evidence as stored now or before.
func (e *sourceEvidence) UnmarshalJSON(data []byte) error {
	var st storedEvidence
	if err := wire.Unmarshal(data, &st); err != nil {
		return err
	}
	ev, err := st.evidence()
	if err != nil {
		return err
	}
	*e = ev
	return nil
}

// evidence is the stored evidence with each match's reasons in place.
func (st storedEvidence) evidence() (sourceEvidence, error) {
	e := sourceEvidence{Matches: st.Matches, Excluded: st.Excluded, KEV: st.KEV, Severity: st.Severity, Fixed: st.Fixed}
	if len(st.Assets) > 0 {
		e.Matches = make([]AssetMatch, 0, len(st.Assets))
	}
	for _, m := range st.Assets {
		if m.Reasons < 0 || m.Reasons >= len(st.Reasons) || m.Asset == nil {
			return sourceEvidence{}, fmt.Errorf("stored match: reasons %d of %d, asset %v", m.Reasons, len(st.Reasons), m.Asset != nil)
		}
		e.Matches = append(e.Matches, AssetMatch{Asset: m.Asset, Confidence: m.Confidence, Rule: m.Rule, Reasons: st.Reasons[m.Reasons]})
	}
	return e, nil
}

type summary struct {
	Assets   []string `json:"assets"`
	KEV      bool     `json:"kev"`
	Priority string   `json:"priority"`
	Score    float64  `json:"score"`
	Fixed    bool     `json:"fixed"`
}

// merge combines the sources: each asset keeps its strongest match; an
// asset shown outside the affected range by one source is dropped unless
// another source matches it exactly; KEV, fix and severity come from any
// source.
func merge(sources map[string]sourceEvidence) ([]AssetMatch, bool, *advisory.Severity, bool) {
	best := map[string]AssetMatch{}
	excluded := map[string]bool{}
	var kev, fixed bool
	var sev *advisory.Severity
	keys := make([]string, 0, len(sources))
	for k := range sources {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic choice between equal matches
	for _, k := range keys {
		ev := sources[k]
		kev = kev || ev.KEV
		fixed = fixed || ev.Fixed
		if ev.Severity != nil && (sev == nil || ev.Severity.Score > sev.Score) {
			sev = ev.Severity
		}
		for _, id := range ev.Excluded {
			excluded[id] = true
		}
		for _, m := range ev.Matches {
			if cur, ok := best[m.Asset.ID]; !ok || rank(m.Confidence) > rank(cur.Confidence) {
				best[m.Asset.ID] = m
			}
		}
	}
	var out []AssetMatch
	for id, m := range best {
		if excluded[id] && m.Confidence != Exact {
			continue
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Asset.ID < out[j].Asset.ID })
	return out, kev, sev, fixed
}

// apply rewrites the alert from the merged evidence and returns its summary
// and fingerprint.
func apply(a *Alert, sources map[string]sourceEvidence) (summary, string) {
	assets, kev, sev, fixed := merge(sources)
	a.Assets, a.Advisory.KEV, a.FixAvailable = assets, kev, fixed
	if sev != nil {
		a.Advisory.Severity = sev
	}
	if a.Watch && len(assets) > 0 {
		a.Watch, a.WatchReason = false, "" // assets matched after all: a real alert
	}
	if !a.Watch {
		a.Priority = "P4"
	}
	a.Confidence = Possible
	best := -1
	for _, m := range assets {
		if p, score := Priority(a.Advisory, m); score > best {
			best, a.Priority = score, p
		}
		if rank(m.Confidence) > rank(a.Confidence) {
			a.Confidence = m.Confidence
		}
	}
	s := summary{Assets: a.AssetIDs(), KEV: kev, Priority: a.Priority, Fixed: fixed}
	if sev != nil {
		s.Score = sev.Score
	}
	var b strings.Builder
	for _, m := range assets {
		fmt.Fprintf(&b, "%s=%s;", m.Asset.ID, m.Confidence)
	}
	fmt.Fprintf(&b, "kev=%v;p=%s;s=%.1f;fix=%v;watch=%v", s.KEV, s.Priority, s.Score, s.Fixed, a.Watch && len(assets) == 0)
	h := sha256.Sum256([]byte(b.String()))
	return s, hex.EncodeToString(h[:12])
}

// changes describes what differs from the previous summary.
func changes(prev, cur summary) []string {
	var out []string
	if cur.KEV && !prev.KEV {
		out = append(out, "added to KEV")
	}
	if cur.Fixed && !prev.Fixed {
		out = append(out, "fix released")
	}
	if n := len(cur.Assets) - len(prev.Assets); n > 0 {
		out = append(out, fmt.Sprintf("%d more asset(s)", n))
	} else if n < 0 {
		out = append(out, fmt.Sprintf("%d asset(s) no longer affected", -n))
	}
	if cur.Priority != prev.Priority {
		out = append(out, fmt.Sprintf("priority %s -> %s", prev.Priority, cur.Priority))
	}
	if cur.Score > prev.Score {
		out = append(out, fmt.Sprintf("CVSS %.1f -> %.1f", prev.Score, cur.Score))
	}
	if len(out) == 0 {
		out = append(out, "details updated")
	}
	return out
}

// errStateRace means another matcher updated the alert first.
var errStateRace = errors.New("alert state changed concurrently")

// revise records this advisory's evidence in the alert's state, merges all
// sources of the cluster into the alert, and gives it a revision: "1" when
// new, the next number with a change summary when something meaningful
// changed; publish=false when nothing did (the same news from another
// source, or a re-poll).
//
// held stores a revision to publish as unpublished (the retro-match stores
// its alerts before it publishes them, and clears the mark after).
func revise(ctx context.Context, kv jetstream.KeyValue, a *Alert, held bool) (publish bool, err error) {
	next, err := prepare(ctx, kv, a, held, false)
	if err != nil || next == nil {
		return false, err
	}
	return next.publish, next.commit(ctx, kv)
}

// nextState is an alert's revised state, computed but not yet stored.
type nextState struct {
	key     string
	last    uint64 // the entry's revision it replaces, 0 for a new one
	data    []byte
	publish bool // the alert changed meaningfully: publish it
}

// prepare computes the alert's next state as revise does, without storing
// it (nil: nothing to remember). The matcher publishes the alert before it
// commits the state, so a failed publish is retried rather than lost; a
// publish repeated after a failed commit carries the same message id and
// JetStream drops it.
//
// fresh skips reading the state: the caller knows the alert's cluster is
// new (see advisory.Enrichment.NewCluster), so no state exists. Were one
// there after all, the commit's create fails as a concurrent update does,
// and the retry reads it.
func prepare(ctx context.Context, kv jetstream.KeyValue, a *Alert, held, fresh bool) (*nextState, error) {
	key := a.Tenant + "." + a.ID
	var st alertState
	var last uint64
	var entry jetstream.KeyValueEntry
	var err error = jetstream.ErrKeyNotFound
	if !fresh {
		entry, err = kv.Get(ctx, key)
	}
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
	case err != nil:
		return nil, err
	default:
		if err := decodeState(entry.Value(), &st); err != nil {
			return nil, fmt.Errorf("alert state %s: %w", key, err)
		}
		last = entry.Revision()
	}
	if st.Sources == nil {
		st.Sources = map[string]sourceEvidence{}
	}
	st.Sources[a.Advisory.Source+"/"+a.Advisory.ID] = sourceEvidence{Matches: a.Assets, Excluded: a.Excluded,
		KEV: a.Advisory.KEV, Severity: a.Advisory.Severity, Fixed: a.FixAvailable}
	prev, prevFP := st.Summary, st.Fingerprint
	cur, fp := apply(a, st.Sources)
	next := &nextState{key: key, last: last}
	switch {
	case last == 0 && len(a.Assets) == 0 && !a.Watch:
		return nil, nil // nothing affected, nothing to remember
	case last == 0:
		st.Revision = 1
		a.Revision = "1"
		next.publish = true
	case fp != prevFP:
		st.Revision++
		a.Revision = strconv.Itoa(st.Revision)
		a.Changes = changes(prev, cur)
		next.publish = true
	case st.Unpublished: // stored by a retro-match that did not publish it
		a.Revision = strconv.Itoa(st.Revision)
		next.publish = true
	}
	st.Unpublished = held && next.publish
	st.Summary, st.Fingerprint = cur, fp
	if st.OpenedAt.IsZero() { // new, or remembered from before alerts carried it
		st.OpenedAt = a.CreatedAt
	}
	if cur.Fixed && st.FixedAt.IsZero() {
		st.FixedAt = a.CreatedAt
	}
	if cur.KEV && st.KEVAt.IsZero() {
		st.KEVAt = a.CreatedAt
	}
	a.OpenedAt, a.FixedAt, a.KEVAt = st.OpenedAt, st.FixedAt, st.KEVAt
	if next.data, err = encodeState(&st); err != nil {
		return nil, err
	}
	return next, nil
}

// commit stores the state by compare-and-set: errStateRace when another
// worker changed it since prepare read it.
func (n *nextState) commit(ctx context.Context, kv jetstream.KeyValue) error {
	var err error
	if n.last == 0 {
		_, err = kv.Create(ctx, n.key, n.data)
	} else {
		_, err = kv.Update(ctx, n.key, n.data, n.last)
	}
	if err != nil {
		return errStateRace
	}
	return nil
}

// markPublished clears the unpublished mark of an alert's state once the
// retro-match published it. A failure leaves the mark: the alert is then
// published once more by whoever revises it next, under the same message
// id (dropped by JetStream within its duplicate window).
func markPublished(ctx context.Context, kv jetstream.KeyValue, tenant, alertID string) error {
	key := tenant + "." + alertID
	for range 3 {
		entry, err := kv.Get(ctx, key)
		if err != nil {
			return err
		}
		var st alertState
		if err := decodeState(entry.Value(), &st); err != nil {
			return fmt.Errorf("alert state %s: %w", key, err)
		}
		if !st.Unpublished {
			return nil
		}
		st.Unpublished = false
		data, err := encodeState(&st)
		if err != nil {
			return err
		}
		if _, err = kv.Update(ctx, key, data, entry.Revision()); err == nil {
			return nil
		}
	}
	return errStateRace
}
