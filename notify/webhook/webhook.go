// Package webhook posts alerts as signed JSON to a tenant's HTTPS endpoint.
//
// Each request carries a versioned payload (Event) and the headers
//
//	Vigil-Event:     alert | alert.group
//	Vigil-Delivery:  an id unique per message, stable across retries
//	Vigil-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>
//
// where the HMAC is keyed by the tenant's secret over "<t>.<body>". A
// receiver checks it with Verify, rejecting stale timestamps (replays).
package webhook

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vigilhealth/vigil/internal/wire"
	"github.com/vigilhealth/vigil/match"
	"github.com/vigilhealth/vigil/notify"
	"github.com/vigilhealth/vigil/notify/webhook/signature"
)

// PayloadVersion is the version of Event; it changes only when a field
// changes meaning or disappears (new fields may appear at any time).
const PayloadVersion = 1

// Header names.
const (
	HeaderEvent     = "Vigil-Event"
	HeaderDelivery  = "Vigil-Delivery"
	HeaderSignature = "Vigil-Signature"
)

// Event is the JSON body of every request.
type Event struct {
	Version  int           `json:"version"`
	Type     string        `json:"type"` // "alert" or "alert.group"
	Delivery string        `json:"delivery"`
	Tenant   string        `json:"tenant"`
	SentAt   time.Time     `json:"sent_at"`
	Alert    *match.Alert  `json:"alert,omitempty"`
	Group    *GroupPayload `json:"group,omitempty"`
}

// GroupPayload is a group of alerts (see notify.Group).
type GroupPayload struct {
	Kind   string         `json:"kind"`
	Title  string         `json:"title"`
	Alerts []*match.Alert `json:"alerts"`
}

// Config configures the notifier.
type Config struct {
	Timeout   time.Duration // per request; default 10s
	UserAgent string
	// Client replaces the HTTP client (tests, proxies).
	Client *http.Client
}

// Notifier posts to webhooks.
type Notifier struct {
	client *http.Client
	ua     string
	log    *slog.Logger
	now    func() time.Time
}

// New builds the webhook notifier.
func New(cfg Config, log *slog.Logger) *Notifier {
	c := cfg.Client
	if c == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64 // many hospitals' alerts to one SOC endpoint reuse connections
		c = &http.Client{Timeout: cmp.Or(cfg.Timeout, 10*time.Second), Transport: tr,
			// A redirect would re-send a signed body elsewhere: refuse it.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return &Notifier{client: c, ua: cmp.Or(cfg.UserAgent, "Vigil-Webhook/1"), log: log, now: time.Now}
}

// Channel implements notify.Notifier.
func (n *Notifier) Channel() string { return match.ChannelWebhook }

// Configured implements notify.Notifier.
func (n *Notifier) Configured(t match.Tenant) bool { return t.Channels.Webhook != nil }

// Notify posts one alert revision.
func (n *Notifier) Notify(ctx context.Context, t match.Tenant, a *match.Alert) (bool, error) {
	ev := Event{Version: PayloadVersion, Type: "alert", Delivery: DeliveryID(a), Tenant: t.ID, SentAt: n.now().UTC(), Alert: a}
	return n.post(ctx, t, ev)
}

// NotifyGroup posts a group of alerts in one request.
func (n *Notifier) NotifyGroup(ctx context.Context, t match.Tenant, g *notify.Group) (bool, error) {
	h := sha256.New()
	for _, a := range g.Alerts {
		fmt.Fprintf(h, "%s/%s;", a.ID, a.Revision)
	}
	ev := Event{Version: PayloadVersion, Type: "alert.group", Delivery: "G-" + hex.EncodeToString(h.Sum(nil)[:12]), Tenant: t.ID,
		SentAt: n.now().UTC(), Group: &GroupPayload{Kind: g.Kind, Title: g.Title(), Alerts: g.Alerts}}
	return n.post(ctx, t, ev)
}

// DeliveryID is the Vigil-Delivery of an alert revision: a receiver that
// sees it twice (a retry after a lost response) can drop the second.
func DeliveryID(a *match.Alert) string {
	h := sha256.Sum256([]byte(a.Tenant + "\x00" + a.ID + "\x00" + a.Revision))
	return "D-" + hex.EncodeToString(h[:12])
}

func (n *Notifier) post(ctx context.Context, t match.Tenant, ev Event) (bool, error) {
	w := t.Channels.Webhook
	body, err := wire.Marshal(ev)
	if err != nil {
		return false, fmt.Errorf("webhook: encode: %w", err)
	}
	where := host(w.URL)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("webhook %s: bad url", where)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", n.ua)
	req.Header.Set(HeaderEvent, ev.Type)
	req.Header.Set(HeaderDelivery, ev.Delivery)
	req.Header.Set(HeaderSignature, Sign([]byte(w.Secret), n.now(), body))
	resp, err := n.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the URL, which may carry a token
		}
		return true, fmt.Errorf("webhook %s: %w", where, err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return false, nil
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		err := fmt.Errorf("webhook %s: HTTP %d", where, code)
		if after := retryAfter(resp.Header.Get("Retry-After"), n.now()); after > 0 {
			return true, &notify.RetryAfterError{Err: err, After: after}
		}
		return true, err
	case code >= 500 || code == http.StatusRequestTimeout:
		return true, fmt.Errorf("webhook %s: HTTP %d", where, code)
	default:
		// Another 4xx (wrong path, bad signature, gone) will not heal.
		return false, fmt.Errorf("webhook %s: HTTP %d: %s", where, code, notify.SanitizeLine(string(snippet), 120))
	}
}

func host(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return u.Host
	}
	return "(invalid url)"
}

func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// Sign returns the Vigil-Signature value for body sent at the given time.
func Sign(secret []byte, at time.Time, body []byte) string { return signature.Sign(secret, at, body) }

// Verify checks a Vigil-Signature header (see signature.Verify).
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	return signature.Verify(secret, header, body, now, tolerance)
}

// Errors of Verify.
var (
	ErrNoSignature  = signature.ErrNoSignature
	ErrBadSignature = signature.ErrBadSignature
	ErrStale        = signature.ErrStale
)
