package match

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"time"
)

// Channel kinds.
const (
	ChannelSlack   = "slack"
	ChannelEmail   = "email"
	ChannelWebhook = "webhook"
)

// EmailChannel lists alert recipients.
type EmailChannel struct {
	To []string `yaml:"to" json:"to"`
	// Unsubscribe is where a recipient asks to stop (a mailto: or https:
	// URL), sent as List-Unsubscribe; default: a mail to the sender.
	Unsubscribe string `yaml:"unsubscribe,omitempty" json:"unsubscribe,omitempty"`
}

// WebhookChannel is an HTTPS endpoint receiving signed JSON.
type WebhookChannel struct {
	URL string `yaml:"url" json:"url"`
	// Secret keys the HMAC-SHA256 signature; never logged.
	Secret string `yaml:"secret" json:"secret"`
}

// DeliveryPolicy groups and paces a tenant's messages. P1 alerts are sent
// at once; others wait up to GroupWindow so that a burst becomes one
// message per channel; priorities listed in Digest go into an hourly or
// daily digest instead.
type DeliveryPolicy struct {
	// GroupWindow is a Go duration ("30s", "2m"); "0s" sends every alert
	// alone. Default 30s.
	GroupWindow string `yaml:"group_window,omitempty" json:"group_window,omitempty"`
	Digest      Digest `yaml:"digest,omitempty" json:"digest,omitempty"`
}

// Digest collects low priorities into one message per period.
type Digest struct {
	Priorities []string `yaml:"priorities,omitempty" json:"priorities,omitempty"` // e.g. [P4]
	Every      string   `yaml:"every,omitempty" json:"every,omitempty"`           // hourly (default) or daily
}

// DefaultGroupWindow is the grouping window when a tenant sets none.
const DefaultGroupWindow = 30 * time.Second

// Window is the grouping window.
func (p DeliveryPolicy) Window() time.Duration {
	if p.GroupWindow == "" {
		return DefaultGroupWindow
	}
	d, _ := time.ParseDuration(p.GroupWindow) // validated
	return d
}

// DigestOf reports whether alerts of this priority go to the digest, and
// its period.
func (p DeliveryPolicy) DigestOf(priority string) (time.Duration, bool) {
	for _, q := range p.Digest.Priorities {
		if q == priority {
			if p.Digest.Every == "daily" {
				return 24 * time.Hour, true
			}
			return time.Hour, true
		}
	}
	return 0, false
}

func (p *DeliveryPolicy) validate() error {
	if p.GroupWindow != "" {
		d, err := time.ParseDuration(p.GroupWindow)
		if err != nil || d < 0 || d > time.Hour {
			return fmt.Errorf("group_window: %q is not a duration between 0s and 1h", p.GroupWindow)
		}
	}
	for i, q := range p.Digest.Priorities {
		switch q {
		case "P2", "P3", "P4":
		default:
			return fmt.Errorf("digest.priorities[%d]: %q is not P2, P3 or P4 (P1 is never held)", i, q)
		}
	}
	switch p.Digest.Every {
	case "", "hourly", "daily":
	default:
		return fmt.Errorf("digest.every: %q is not hourly or daily", p.Digest.Every)
	}
	return nil
}

// Has reports whether the tenant has a channel of this kind.
func (c Channels) Has(kind string) bool {
	switch kind {
	case ChannelSlack:
		return c.Slack != nil
	case ChannelEmail:
		return c.Email != nil
	case ChannelWebhook:
		return c.Webhook != nil
	}
	return false
}

// Names lists the kinds of channel the tenant has.
func (c Channels) Names() []string {
	var out []string
	for _, k := range []string{ChannelEmail, ChannelSlack, ChannelWebhook} {
		if c.Has(k) {
			out = append(out, k)
		}
	}
	return out
}

// Secrets are the channel secrets: a Slack webhook URL, a webhook's
// signing secret. They are redacted wherever text is logged or recorded.
func (c Channels) Secrets() []string {
	var out []string
	if c.Slack != nil && c.Slack.WebhookURL != "" {
		out = append(out, c.Slack.WebhookURL)
		if u, err := url.Parse(c.Slack.WebhookURL); err == nil && u.Path != "" {
			out = append(out, u.Path) // errors may quote the path alone
		}
	}
	if c.Webhook != nil && c.Webhook.Secret != "" {
		out = append(out, c.Webhook.Secret)
	}
	return out
}

// Redacted is the tenant with its channel secrets replaced, for display.
func (t Tenant) Redacted() Tenant {
	c := t.Channels
	if c.Slack != nil && c.Slack.WebhookURL != "" {
		s := *c.Slack
		s.WebhookURL = "[redacted]"
		c.Slack = &s
	}
	if c.Webhook != nil {
		w := *c.Webhook
		w.Secret = "[redacted]"
		c.Webhook = &w
	}
	t.Channels = c
	return t
}

func (c Channels) validate() error {
	if s := c.Slack; s != nil {
		switch {
		case strings.TrimSpace(s.Channel) == "" && s.WebhookURL == "":
			return errors.New("field channels.slack: needs channel (bot token) or webhook_url (incoming webhook)")
		case s.Channel != "" && s.WebhookURL != "":
			return errors.New("field channels.slack: channel and webhook_url exclude each other")
		case s.WebhookURL != "":
			if err := checkURL(s.WebhookURL); err != nil {
				return fmt.Errorf("field channels.slack.webhook_url: %w", err)
			}
		}
	}
	if e := c.Email; e != nil {
		if len(e.To) == 0 {
			return errors.New("field channels.email.to: needs at least one address")
		}
		for i, addr := range e.To {
			if _, err := mail.ParseAddress(addr); err != nil || strings.ContainsAny(addr, "\r\n") {
				return fmt.Errorf("field channels.email.to[%d]: %q is not an email address", i, addr)
			}
		}
		if u := e.Unsubscribe; u != "" && !strings.HasPrefix(u, "mailto:") && !strings.HasPrefix(u, "https://") || strings.ContainsAny(u, "\r\n<>") {
			return fmt.Errorf("field channels.email.unsubscribe: %q is not a mailto: or https: URL", u)
		}
	}
	if w := c.Webhook; w != nil {
		if err := checkURL(w.URL); err != nil {
			return fmt.Errorf("field channels.webhook.url: %w", err)
		}
		if len(w.Secret) < 16 {
			return errors.New("field channels.webhook.secret: needs at least 16 characters")
		}
	}
	return nil
}

// checkURL accepts http(s) URLs; the error never repeats the URL, which
// may carry a token.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("is not an http(s) URL")
	}
	return nil
}
