// Package notify delivers alerts to each tenant's channels (Slack, email),
// once per channel and alert revision, and records every attempt.
package notify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vigilhealth/vigil/match"
)

// Notifier delivers alerts to one kind of channel. It reports whether a
// failure is worth retrying; retries, backoff, grouping, pacing and logging
// live in the Dispatcher, not in each notifier. notifytest.Conformance is
// the behaviour every implementation must show.
type Notifier interface {
	// Channel names the kind of channel: "slack", "email", "webhook".
	Channel() string
	// Configured reports whether the tenant has this channel.
	Configured(t match.Tenant) bool
	// Notify sends one alert revision; a later revision of the same alert
	// continues its thread where the channel has threads.
	Notify(ctx context.Context, t match.Tenant, a *match.Alert) (retry bool, err error)
	// NotifyGroup sends several alerts of one tenant as one message.
	NotifyGroup(ctx context.Context, t match.Tenant, g *Group) (retry bool, err error)
}

// Group kinds.
const (
	GroupWindow = "window" // alerts that arrived within the tenant's grouping window
	GroupHourly = "hourly" // the hourly digest
	GroupDaily  = "daily"  // the daily digest
)

// Group is several alerts for one tenant told in one message, most urgent
// first.
type Group struct {
	Kind   string
	Alerts []*match.Alert
}

// Title is the group's one-line headline, e.g. "3 alerts (1 P2, 2 P3)".
func (g *Group) Title() string {
	counts := map[string]int{}
	for _, a := range g.Alerts {
		counts[a.Priority]++
	}
	var parts []string
	for _, p := range []string{"P1", "P2", "P3", "P4"} {
		if counts[p] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[p], p))
		}
	}
	what := "alerts"
	switch g.Kind {
	case GroupHourly:
		what = "alerts in the hourly digest"
	case GroupDaily:
		what = "alerts in the daily digest"
	}
	return fmt.Sprintf("%d %s (%s)", len(g.Alerts), what, strings.Join(parts, ", "))
}

// GroupLimit is how many alerts a group message details; the rest are
// counted ("and 12 more") and are in `vigil alerts`.
const GroupLimit = 20

// Threads remembers, per alert and channel, the message that started the
// alert's thread (a Slack ts, an email Message-ID), so that updates reply
// to it. Get returns "" when there is none.
type Threads interface {
	Get(ctx context.Context, key string) (string, error)
	Put(ctx context.Context, key, value string) error
}

// ThreadKey is the Threads key of an alert on a channel.
func ThreadKey(channel string, a *match.Alert) string { return channel + "." + a.Tenant + "." + a.ID }

// RetryAfterError carries how long a channel asked us to wait (Slack 429).
type RetryAfterError struct {
	Err   error
	After time.Duration
}

func (e *RetryAfterError) Error() string { return e.Err.Error() }
func (e *RetryAfterError) Unwrap() error { return e.Err }

// Delivery statuses.
const (
	StatusDelivered = "delivered"
	StatusRetrying  = "retrying"
	StatusFailed    = "failed"
	// StatusBatched: a retro alert told through its tenant's retro digest.
	StatusBatched = "batched"
	// StatusQueued: held for the tenant's grouping window, digest or the
	// channel's rate; a delivered (or failed) record follows.
	StatusQueued = "queued"
)

// DeliverySchema is the version of Delivery messages.
const DeliverySchema = 1

// Delivery records one attempt to deliver an alert revision to a channel.
type Delivery struct {
	Schema   int       `json:"schema"`
	Tenant   string    `json:"tenant"`
	AlertID  string    `json:"alert_id"`
	Revision string    `json:"revision"`
	Channel  string    `json:"channel"`
	Status   string    `json:"status"`
	Error    string    `json:"error,omitempty"`
	Detail   string    `json:"detail,omitempty"` // e.g. why it is queued
	Attempt  int       `json:"attempt"`
	Priority string    `json:"priority"`
	Title    string    `json:"title"`
	Assets   []string  `json:"assets"`
	At       time.Time `json:"at"`
	// LatencyMS is from the advisory being fetched to this attempt.
	LatencyMS int64 `json:"latency_ms"`
}

// Redactor removes secrets from text before it is logged or recorded.
type Redactor struct{ secrets []string }

// NewRedactor redacts the given secrets (empty ones are ignored).
func NewRedactor(secrets ...string) Redactor {
	var s []string
	for _, v := range secrets {
		if len(v) >= 4 {
			s = append(s, v)
		}
	}
	return Redactor{secrets: s}
}

// With is the redactor plus more secrets (a tenant's channel secrets).
func (r Redactor) With(secrets ...string) Redactor {
	out := Redactor{secrets: slices.Clone(r.secrets)}
	for _, v := range secrets {
		if len(v) >= 4 {
			out.secrets = append(out.secrets, v)
		}
	}
	return out
}

// String redacts s.
func (r Redactor) String(s string) string {
	for _, sec := range r.secrets {
		s = strings.ReplaceAll(s, sec, "[redacted]")
	}
	return s
}

// Error redacts an error, keeping nil nil.
func (r Redactor) Error(err error) error {
	if err == nil {
		return nil
	}
	msg := r.String(err.Error())
	if msg == err.Error() {
		return err
	}
	return redactedError{msg: msg, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e redactedError) Error() string { return e.msg }

// Unwrap keeps errors.Is/As working for sentinels; the wrapped error's text
// is never printed through this value.
func (e redactedError) Unwrap() error { return e.err }

// SanitizeLine makes feed-controlled text safe for one-line contexts such as
// an email subject: no control characters, bounded length.
func SanitizeLine(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if len([]rune(s)) > max {
		s = string([]rune(s)[:max-1]) + "…"
	}
	return s
}

var errNoChannel = errors.New("tenant has no channel configured")
