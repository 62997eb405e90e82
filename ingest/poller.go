package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/feeds"
	"github.com/vigilhealth/vigil/feeds/nvd"
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
	// Since is the newest change time fully processed (NVD lastModified
	// window end, CSAF feed entry or changes.csv time).
	Since time.Time `json:"since,omitempty"`
	// Feeds holds a CSAF provider's per-feed validators and cursors.
	Feeds map[string]FeedCursor `json:"feeds,omitempty"`
}

// Result is the outcome of one poll.
type Result struct {
	Status      int
	NotModified bool
	Items       int // advisories parsed
	Published   int // new or changed revisions published
	Unchanged   int // revisions already published before
	Rejected    int // documents that failed verification (CSAF hash/signature)
	ItemErrors  []error
	Duration    time.Duration
}

func (r *Result) add(o Result) {
	r.Items += o.Items
	r.Published += o.Published
	r.Unchanged += o.Unchanged
	r.Rejected += o.Rejected
	r.ItemErrors = append(r.ItemErrors, o.ItemErrors...)
}

// Options configure pollers.
type Options struct {
	Interval  time.Duration
	Timeout   time.Duration
	MaxBytes  int64
	NVDAPIKey string       // sent as the apiKey header; never logged
	Limiter   *HostLimiter // nil: no per-host spacing
	Metrics   *Metrics     // nil: no metrics
	// Transport replaces the network transport (tests with TLS servers).
	Transport http.RoundTripper
	// Progress, when set, hears how far a poll is: units done of total
	// (CSAF documents, NVD results); total may grow as pages arrive.
	Progress func(done, total int)
}

func (o Options) progress(done, total int) {
	if o.Progress != nil {
		o.Progress(done, total)
	}
}

// Poller polls one source.
type Poller struct {
	Source feeds.Source
	bus    *bus.Bus
	fetch  *fetcher
	opts   Options
	log    *slog.Logger
	now    func() time.Time
}

// NewPoller builds a poller for src.
func NewPoller(src feeds.Source, b *bus.Bus, o Options, log *slog.Logger) *Poller {
	client := NewClient(o.Timeout, src.Internal)
	if o.Transport != nil {
		client.Transport = userAgent{o.Transport}
	}
	return &Poller{
		Source: src, bus: b, opts: o, now: time.Now,
		fetch: &fetcher{client: client, limiter: o.Limiter, maxBytes: o.MaxBytes},
		log:   log.With("source", src.Name),
	}
}

// Poll fetches the source once and publishes every advisory revision not
// published before. What it learnt (validators, cursor) is saved in KV.
func (p *Poller) Poll(ctx context.Context) (Result, error) {
	start := time.Now()
	var cur Cursor
	if err := bus.GetJSON(ctx, p.bus.Cursors, p.Source.Name, &cur); err != nil && !errors.Is(err, bus.ErrNotFound) {
		return Result{}, fmt.Errorf("feed %s: read cursor: %w", p.Source.Name, err)
	}
	var (
		res  Result
		next = cur
		err  error
	)
	switch p.Source.Kind {
	case feeds.KindNVD:
		res, next, err = p.pollNVD(ctx, cur)
	case feeds.KindCSAF:
		res, next, err = p.pollCSAF(ctx, cur)
	default:
		res, next, err = p.pollDocument(ctx, cur)
	}
	if err != nil {
		err = fmt.Errorf("feed %s: %w", p.Source.Name, err)
	}
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
	p.opts.Metrics.observe(p.Source.Name, res, err)
	return res, err
}

// pollDocument handles sources that are one document (RSS, KEV, CVE 5):
// a conditional GET, then every revision published once.
func (p *Poller) pollDocument(ctx context.Context, cur Cursor) (Result, Cursor, error) {
	next := cur
	hdr := http.Header{}
	if cur.ETag != "" {
		hdr.Set("If-None-Match", cur.ETag)
	}
	if cur.LastModified != "" {
		hdr.Set("If-Modified-Since", cur.LastModified)
	}
	resp, err := p.fetch.get(ctx, p.Source.URL, hdr)
	res := Result{}
	if resp != nil {
		res.Status = resp.Status
	}
	if err != nil {
		return res, next, fmt.Errorf("fetch: %w", err)
	}
	if resp.Status == http.StatusNotModified {
		res.NotModified = true
		return res, next, nil
	}
	parsed, _, err := p.parseAndPublish(ctx, p.Source.Kind, resp.Body)
	res.add(parsed)
	if err != nil {
		return res, next, err // validators kept: the next poll fetches again
	}
	next.ETag = resp.Header.Get("ETag")
	next.LastModified = resp.Header.Get("Last-Modified")
	return res, next, nil
}

// parseAndPublish parses one document and publishes what is new in it. A
// document that does not parse goes to the dead letters; so does each bad
// item, and the other items go on.
func (p *Poller) parseAndPublish(ctx context.Context, format string, body []byte) (Result, *nvd.Page, error) {
	var res Result
	parsed, err := feeds.Parse(format, p.Source.Name, body, p.now())
	if err != nil {
		p.deadLetter(ctx, body, err)
		return res, nil, err
	}
	res.Items, res.ItemErrors = len(parsed.Advisories), parsed.ItemErrors
	for _, ie := range parsed.ItemErrors {
		p.log.Warn("feed item skipped", "err", ie)
		raw := []byte(ie.Error())
		var r interface{ Raw() []byte }
		if errors.As(ie, &r) && r.Raw() != nil {
			raw = r.Raw()
		}
		p.deadLetter(ctx, raw, ie)
	}
	for i := range parsed.Advisories {
		published, err := p.publishOnce(ctx, &parsed.Advisories[i])
		if err != nil {
			return res, nil, err
		}
		if published {
			res.Published++
		} else {
			res.Unchanged++
		}
	}
	return res, parsed.NVDPage, nil
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
		return false, fmt.Errorf("publish %s: %w", a.ID, err)
	}
	if _, err := p.bus.Seen.Put(ctx, key, []byte(a.Revision)); err != nil {
		return false, fmt.Errorf("record %s: %w", a.ID, err)
	}
	return !dup, nil
}

// deadLetter keeps what could not be used (capped at 1 MiB) for inspection.
func (p *Poller) deadLetter(ctx context.Context, body []byte, cause error) {
	if len(body) > 1<<20 {
		body = body[:1<<20]
	}
	h := sha256.Sum256(append(body, cause.Error()...))
	payload, _ := json.Marshal(string(body))
	if _, err := p.bus.Publish(ctx, bus.DeadLetter("ingest"), "ingest/"+p.Source.Name+"/"+hex.EncodeToString(h[:8]),
		json.RawMessage(payload), map[string]string{bus.HeaderSource: p.Source.Name, bus.HeaderError: oneLine(cause.Error())}); err != nil {
		p.log.Warn("dead letter failed", "err", err)
	}
}

func oneLine(s string) string {
	if len(s) > 1000 {
		s = s[:1000]
	}
	out := []rune(s)
	for i, r := range out {
		if r == '\n' || r == '\r' {
			out[i] = ' '
		}
	}
	return string(out)
}

// Run polls until ctx ends: at once, then every interval less up to 10%,
// backing off exponentially (capped at 1h, or as Retry-After says) on errors.
func (p *Poller) Run(ctx context.Context) {
	interval := p.Source.Interval
	if interval == 0 {
		interval = p.opts.Interval
	}
	failures := 0
	for {
		started := p.now()
		res, err := p.Poll(ctx)
		if ctx.Err() == nil {
			p.publishRun(ctx, started, res, err)
		}
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
			// Logged at warn once per failure streak, then at debug.
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
			if res.Published > 0 || res.Rejected > 0 {
				p.log.Info("published advisories", "published", res.Published, "items", res.Items, "rejected", res.Rejected)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// PollRecord is the record of one poll, published on runs.ingest.<source> for
// the store (table ingest_runs).
type PollRecord struct {
	Source      string    `json:"source"`
	Kind        string    `json:"kind"`
	StartedAt   time.Time `json:"started_at"`
	DurationMS  int64     `json:"duration_ms"`
	Status      int       `json:"status"`
	NotModified bool      `json:"not_modified"`
	Items       int       `json:"items"`
	Published   int       `json:"published"`
	Unchanged   int       `json:"unchanged"`
	Rejected    int       `json:"rejected"`
	ItemErrors  int       `json:"item_errors"`
	Error       string    `json:"error,omitempty"`
}

func (p *Poller) publishRun(ctx context.Context, started time.Time, res Result, err error) {
	r := PollRecord{Source: p.Source.Name, Kind: p.Source.Kind, StartedAt: started.UTC(), DurationMS: res.Duration.Milliseconds(), Status: res.Status,
		NotModified: res.NotModified, Items: res.Items, Published: res.Published, Unchanged: res.Unchanged, Rejected: res.Rejected, ItemErrors: len(res.ItemErrors)}
	if err != nil {
		r.Error = err.Error()
		var se *StatusError
		if errors.As(err, &se) && r.Status == 0 {
			r.Status = se.Code
		}
		if r.DurationMS == 0 {
			r.DurationMS = p.now().Sub(started).Milliseconds()
		}
	}
	id := p.Source.Name + "/" + r.StartedAt.Format(time.RFC3339Nano)
	if _, perr := p.bus.Publish(ctx, bus.IngestRun(p.Source.Name), id, r, nil); perr != nil {
		p.log.Debug("poll record not published", "err", perr)
	}
}

// jitter spreads polls of many sources over up to 10% of the interval,
// never beyond it: an item is seen at most one interval after it appears.
func jitter(d time.Duration) time.Duration {
	return d - time.Duration(rand.Float64()*0.1*float64(d))
}

func backoff(interval time.Duration, failures int) time.Duration {
	d := interval
	for i := 1; i < failures && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}
