package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/feeds"
	"github.com/vigilhealth/vigil/feeds/rss"
	"github.com/vigilhealth/vigil/internal/bus"
)

// Cursor is what a poller remembers about its source between polls and
// restarts, in the cursors KV bucket.
type Cursor struct {
	ETag         string    `json:"etag,omitempty"`
	LastModified string    `json:"last_modified,omitempty"`
	LastPoll     time.Time `json:"last_poll"`
	LastSuccess  time.Time `json:"last_success,omitempty"`
	LastError    string    `json:"last_error,omitempty"`
	Failures     int       `json:"failures"`
}

// Result is the outcome of one poll.
type Result struct {
	Status      int
	NotModified bool
	Items       int // advisories parsed
	Published   int // new or changed revisions published
	Unchanged   int // revisions already published before
	ItemErrors  []error
	Duration    time.Duration
}

// Poller polls one source.
type Poller struct {
	Source   feeds.Source
	bus      *bus.Bus
	client   *http.Client
	log      *slog.Logger
	maxBytes int64
}

// NewPoller builds a poller for src.
func NewPoller(src feeds.Source, b *bus.Bus, timeout time.Duration, maxBytes int64, log *slog.Logger) *Poller {
	return &Poller{
		Source: src, bus: b, maxBytes: maxBytes,
		client: NewClient(timeout, src.Internal),
		log:    log.With("source", src.Name),
	}
}

// ErrTooLarge means a feed body exceeded the configured size cap.
var ErrTooLarge = errors.New("response body exceeds the size cap")

// StatusError is an unexpected HTTP status from a source.
type StatusError struct {
	Code       int
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("HTTP %d %s", e.Code, http.StatusText(e.Code))
}

// Poll fetches the source once (conditionally, with the stored ETag and
// Last-Modified) and publishes every advisory revision not published before.
func (p *Poller) Poll(ctx context.Context) (Result, error) {
	start := time.Now()
	var cur Cursor
	if err := bus.GetJSON(ctx, p.bus.Cursors, p.Source.Name, &cur); err != nil && !errors.Is(err, bus.ErrNotFound) {
		return Result{}, fmt.Errorf("feed %s: read cursor: %w", p.Source.Name, err)
	}
	res, next, err := p.fetchAndPublish(ctx, cur)
	res.Duration = time.Since(start)
	next.LastPoll = start.UTC()
	if err != nil {
		next.LastError = err.Error()
		next.Failures = cur.Failures + 1
	} else {
		next.LastSuccess, next.LastError, next.Failures = start.UTC(), "", 0
	}
	if perr := bus.PutJSON(ctx, p.bus.Cursors, p.Source.Name, next); perr != nil && err == nil {
		err = fmt.Errorf("feed %s: save cursor: %w", p.Source.Name, perr)
	}
	return res, err
}

func (p *Poller) fetchAndPublish(ctx context.Context, cur Cursor) (Result, Cursor, error) {
	name := p.Source.Name
	next := cur
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.Source.URL, nil)
	if err != nil {
		return Result{}, next, fmt.Errorf("feed %s: request: %w", name, err)
	}
	if cur.ETag != "" {
		req.Header.Set("If-None-Match", cur.ETag)
	}
	if cur.LastModified != "" {
		req.Header.Set("If-Modified-Since", cur.LastModified)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return Result{}, next, fmt.Errorf("feed %s: fetch: %w", name, err)
	}
	defer resp.Body.Close()
	res := Result{Status: resp.StatusCode}
	switch {
	case resp.StatusCode == http.StatusNotModified:
		res.NotModified = true
		return res, next, nil
	case resp.StatusCode != http.StatusOK:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return res, next, fmt.Errorf("feed %s: fetch: %w", name,
			&StatusError{Code: resp.StatusCode, RetryAfter: retryAfter(resp.Header, time.Now())})
	}
	// The transport decompresses gzip itself; the cap applies to the
	// decompressed bytes, which is the decompression-bomb guard.
	body, err := io.ReadAll(io.LimitReader(resp.Body, p.maxBytes+1))
	if err != nil {
		return res, next, fmt.Errorf("feed %s: read body: %w", name, err)
	}
	if int64(len(body)) > p.maxBytes {
		return res, next, fmt.Errorf("feed %s: %w (%d bytes)", name, ErrTooLarge, p.maxBytes)
	}
	advs, itemErrs, err := rss.Parse(name, bytes.NewReader(body), time.Now())
	if err != nil {
		p.deadLetter(ctx, body, err)
		return res, next, err
	}
	res.Items, res.ItemErrors = len(advs), itemErrs
	for _, ie := range itemErrs {
		p.log.Warn("feed item skipped", "err", ie)
	}
	for i := range advs {
		published, err := p.publishOnce(ctx, &advs[i])
		if err != nil {
			// Keep the old validators so the next poll fetches everything again.
			return res, next, err
		}
		if published {
			res.Published++
		} else {
			res.Unchanged++
		}
	}
	next.ETag = resp.Header.Get("ETag")
	next.LastModified = resp.Header.Get("Last-Modified")
	return res, next, nil
}

// seenKey is the KV key recording the last revision of an advisory published.
func seenKey(a *advisory.Advisory) string {
	h := sha256.Sum256([]byte(a.ID))
	return a.Source + "." + hex.EncodeToString(h[:16])
}

// publishOnce publishes a revision unless it was already published. The KV
// record outlives JetStream's duplicate window, which catches the race.
func (p *Poller) publishOnce(ctx context.Context, a *advisory.Advisory) (bool, error) {
	key := seenKey(a)
	if e, err := p.bus.Seen.Get(ctx, key); err == nil && string(e.Value()) == a.Revision {
		return false, nil
	}
	dup, err := p.bus.Publish(ctx, bus.Raw(a.Source), a.MsgID(), a, map[string]string{bus.HeaderSource: a.Source})
	if err != nil {
		return false, fmt.Errorf("feed %s: publish %s: %w", a.Source, a.ID, err)
	}
	if _, err := p.bus.Seen.Put(ctx, key, []byte(a.Revision)); err != nil {
		return false, fmt.Errorf("feed %s: record %s: %w", a.Source, a.ID, err)
	}
	return !dup, nil
}

// deadLetter keeps an unparseable body (capped at 1 MiB) for inspection.
func (p *Poller) deadLetter(ctx context.Context, body []byte, cause error) {
	if len(body) > 1<<20 {
		body = body[:1<<20]
	}
	h := sha256.Sum256(body)
	if _, err := p.bus.Publish(ctx, bus.DeadLetter("ingest"), "ingest/"+p.Source.Name+"/"+hex.EncodeToString(h[:8]),
		string(body), map[string]string{bus.HeaderSource: p.Source.Name, bus.HeaderError: cause.Error()}); err != nil {
		p.log.Warn("dead letter failed", "err", err)
	}
}

// Run polls until ctx ends: at once, then every interval with ±10% jitter,
// backing off exponentially (capped at 1h, or as Retry-After says) on errors.
func (p *Poller) Run(ctx context.Context, defaultInterval time.Duration) {
	interval := p.Source.Interval
	if interval == 0 {
		interval = defaultInterval
	}
	failures := 0
	for {
		res, err := p.Poll(ctx)
		wait := jitter(interval)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			failures++
			wait = backoff(interval, failures)
			var se *StatusError
			if errors.As(err, &se) && se.RetryAfter > wait {
				wait = se.RetryAfter
			}
			// Logged once per failure streak at warn, then at debug.
			level := slog.LevelDebug
			if failures == 1 {
				level = slog.LevelWarn
			}
			p.log.Log(ctx, level, "poll failed", "err", err, "failures", failures, "next_in", wait.Round(time.Second))
		default:
			if failures > 0 {
				p.log.Info("poll recovered", "after_failures", failures)
			}
			failures = 0
			p.log.Debug("polled", "status", res.Status, "items", res.Items, "published", res.Published,
				"unchanged", res.Unchanged, "not_modified", res.NotModified, "took", res.Duration)
			if res.Published > 0 {
				p.log.Info("published advisories", "published", res.Published, "items", res.Items)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()*0.2-0.1)*float64(d))
}

func backoff(interval time.Duration, failures int) time.Duration {
	d := interval
	for i := 1; i < failures && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}
