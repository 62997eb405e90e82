// Package notify delivers alerts to each tenant's channels (Slack, email),
// once per channel and alert revision, and records every attempt.
package notify

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/vigilhealth/vigil/match"
)

// Notifier delivers an alert to one kind of channel. It reports whether a
// failure is worth retrying; retries, backoff and logging live in the
// Dispatcher, not in each notifier.
type Notifier interface {
	// Channel names the kind of channel: "slack", "email".
	Channel() string
	// Configured reports whether the tenant has this channel.
	Configured(t match.Tenant) bool
	Notify(ctx context.Context, t match.Tenant, a *match.Alert) (retry bool, err error)
}

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
