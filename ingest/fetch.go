package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// ErrTooLarge means a response body exceeded the configured size cap.
var ErrTooLarge = errors.New("response body exceeds the size cap")

// StatusError is an unexpected HTTP status from a source.
type StatusError struct {
	URL        string
	Code       int
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s: HTTP %d %s", e.URL, e.Code, http.StatusText(e.Code))
}

// HostLimiter spaces requests per host, shared by every poller of a process,
// so several sources on one publisher do not add up to hammering it.
type HostLimiter struct {
	mu       sync.Mutex
	every    time.Duration
	burst    int
	perHost  map[string]*rate.Limiter
	override map[string]time.Duration
}

// NewHostLimiter allows one request per host every `every`, with a burst.
func NewHostLimiter(every time.Duration, burst int) *HostLimiter {
	return &HostLimiter{every: every, burst: burst, perHost: map[string]*rate.Limiter{}, override: map[string]time.Duration{}}
}

// Set gives one host its own spacing (NVD asks for 6 s without an API key).
func (h *HostLimiter) Set(host string, every time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.override[host] = every
	delete(h.perHost, host)
}

// Wait blocks until a request to rawURL's host is allowed.
func (h *HostLimiter) Wait(ctx context.Context, rawURL string) error {
	if h == nil {
		return nil
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return err
	}
	h.mu.Lock()
	l := h.perHost[u.Host]
	if l == nil {
		every := h.every
		if o, ok := h.override[u.Host]; ok {
			every = o
		}
		l = rate.NewLimiter(rate.Every(every), h.burst)
		h.perHost[u.Host] = l
	}
	h.mu.Unlock()
	return l.Wait(ctx)
}

// fetcher makes the HTTP requests of one source: rate-limited, size-capped.
type fetcher struct {
	client   *http.Client
	limiter  *HostLimiter
	maxBytes int64
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// get fetches rawURL with extra headers; 200 and 304 are answers, any other
// status is a StatusError. The cap applies after transparent gzip
// decompression: the decompression-bomb guard.
func (f *fetcher) get(ctx context.Context, rawURL string, hdr http.Header) (*response, error) {
	if err := f.limiter.Wait(ctx, rawURL); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	r := &response{Status: resp.StatusCode, Header: resp.Header}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotModified:
		return r, nil
	default:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return r, &StatusError{URL: redactQuery(rawURL), Code: resp.StatusCode, RetryAfter: retryAfter(resp.Header, time.Now())}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.maxBytes+1))
	if err != nil {
		return r, fmt.Errorf("read body: %w", err)
	}
	if int64(len(body)) > f.maxBytes {
		return r, fmt.Errorf("%s: %w (%d bytes)", redactQuery(rawURL), ErrTooLarge, f.maxBytes)
	}
	r.Body = body
	return r, nil
}

// redactQuery drops the query string, where API keys sometimes travel.
func redactQuery(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	u.RawQuery, u.User = "", nil
	return u.String()
}
