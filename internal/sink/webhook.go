package sink

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"

	"github.com/vigilhealth/vigil/internal/wire"
	"github.com/vigilhealth/vigil/notify/webhook/signature"
)

// WebhookEvent is one request the webhook sink accepted.
type WebhookEvent struct {
	Header http.Header
	Body   []byte
	Event  EventHead
}

// EventHead is the part of a webhook body every event has (the sink does
// not depend on the notifier's types).
type EventHead struct {
	Version  int    `json:"version"`
	Type     string `json:"type"`
	Delivery string `json:"delivery"`
	Tenant   string `json:"tenant"`
	Alert    *struct {
		ID       string `json:"id"`
		Revision string `json:"revision"`
		Priority string `json:"priority"`
		Assets   []any  `json:"assets"`
	} `json:"alert"`
	Group *struct {
		Kind   string `json:"kind"`
		Alerts []struct {
			ID       string `json:"id"`
			Revision string `json:"revision"`
		} `json:"alerts"`
	} `json:"group"`
}

// Webhook is a receiver on a loopback port that verifies each request's
// Vigil-Signature with Secret (401 when it does not match) and records the
// events. FailNext makes it answer errors.
type Webhook struct {
	URL    string
	Secret string

	srv *httptest.Server

	mu         sync.Mutex
	keep       bool // record events (tests); else only count them (benchmarks)
	accepted   int
	events     []WebhookEvent
	failNext   int
	failCode   int
	retryAfter time.Duration
	requests   int
	rejected   int
	notify     chan struct{}
}

// StartWebhook starts the receiver; it records every event.
func StartWebhook(secret string) *Webhook { return startWebhook(secret, true) }

// StartCountingWebhook starts a receiver that verifies every event's
// signature and version as StartWebhook's does but keeps none (Events is
// empty, Count counts): a benchmark then measures the pipeline, not the
// receiver's memory and decoding.
func StartCountingWebhook(secret string) *Webhook { return startWebhook(secret, false) }

func startWebhook(secret string, keep bool) *Webhook {
	w := &Webhook{Secret: secret, keep: keep, notify: make(chan struct{}, 1)}
	w.srv = httptest.NewServer(http.HandlerFunc(w.serve))
	w.URL = w.srv.URL + "/hooks/vigil"
	return w
}

// Close stops the server.
func (w *Webhook) Close() { w.srv.Close() }

// FailNext answers the next n requests with code (and Retry-After when
// retryAfter > 0).
func (w *Webhook) FailNext(n, code int, retryAfter time.Duration) {
	w.mu.Lock()
	w.failNext, w.failCode, w.retryAfter = n, code, retryAfter
	w.mu.Unlock()
}

// Events returns the accepted events in order (none when counting only).
func (w *Webhook) Events() []WebhookEvent {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]WebhookEvent(nil), w.events...)
}

// Count is the number of accepted events.
func (w *Webhook) Count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.accepted
}

// Requests counts every request, accepted or not; Rejected those with a
// bad signature.
func (w *Webhook) Requests() (all, rejected int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.requests, w.rejected
}

// Received signals after each accepted event.
func (w *Webhook) Received() <-chan struct{} { return w.notify }

func (w *Webhook) serve(rw http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		http.Error(rw, "read", http.StatusBadRequest)
		return
	}
	// The lock covers the counters and the failure script only: requests
	// are verified and decoded side by side, as a real receiver would.
	w.mu.Lock()
	w.requests++
	if w.failNext > 0 {
		w.failNext--
		retryAfter, code := w.retryAfter, w.failCode
		w.mu.Unlock()
		if retryAfter > 0 {
			rw.Header().Set("Retry-After", strconv.Itoa(int(retryAfter.Seconds())))
		}
		http.Error(rw, "failing as asked", code)
		return
	}
	w.mu.Unlock()
	if err := signature.Verify([]byte(w.Secret), r.Header.Get("Vigil-Signature"), body, time.Now(), 0); err != nil {
		w.mu.Lock()
		w.rejected++
		w.mu.Unlock()
		http.Error(rw, err.Error(), http.StatusUnauthorized)
		return
	}
	var ev WebhookEvent
	if !w.keep { // counting: check the body is an event, keep nothing
		var head struct {
			Version int    `json:"version"`
			Type    string `json:"type"`
		}
		if err := wire.Unmarshal(body, &head); err != nil || head.Version == 0 || head.Type == "" {
			http.Error(rw, "not an event", http.StatusBadRequest)
			return
		}
	} else {
		ev = WebhookEvent{Header: r.Header.Clone(), Body: body}
		if err := json.Unmarshal(body, &ev.Event); err != nil {
			http.Error(rw, "not JSON", http.StatusBadRequest)
			return
		}
	}
	w.mu.Lock()
	w.accepted++
	if w.keep {
		w.events = append(w.events, ev)
	}
	w.mu.Unlock()
	select {
	case w.notify <- struct{}{}:
	default:
	}
	rw.WriteHeader(http.StatusNoContent)
}
