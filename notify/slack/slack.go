// Package slack posts alerts to Slack with chat.postMessage and Block Kit.
package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/vigilhealth/vigil/match"
	"github.com/vigilhealth/vigil/notify"
)

// Config is the Slack integration's configuration.
type Config struct {
	Token  string // bot token; never logged
	APIURL string // Web API base, e.g. https://slack.com/api/
}

// Notifier posts to Slack.
type Notifier struct {
	api *slack.Client
	log *slog.Logger
}

// New builds the Slack notifier.
func New(cfg Config, log *slog.Logger) (*Notifier, error) {
	if cfg.Token == "" {
		return nil, errors.New("slack: token is empty")
	}
	api := cfg.APIURL
	if api == "" {
		api = "https://slack.com/api/"
	}
	if !strings.HasSuffix(api, "/") {
		api += "/"
	}
	client := slack.New(cfg.Token, slack.OptionAPIURL(api), slack.OptionHTTPClient(&http.Client{Timeout: 15 * time.Second}))
	return &Notifier{api: client, log: log}, nil
}

// Channel implements notify.Notifier.
func (n *Notifier) Channel() string { return "slack" }

// Configured implements notify.Notifier.
func (n *Notifier) Configured(t match.Tenant) bool { return t.Channels.Slack != nil }

// Notify posts the alert to the tenant's channel.
func (n *Notifier) Notify(ctx context.Context, t match.Tenant, a *match.Alert) (bool, error) {
	blocks, fallback := Render(a)
	_, _, err := n.api.PostMessageContext(ctx, t.Channels.Slack.Channel,
		slack.MsgOptionText(fallback, false),
		slack.MsgOptionBlocks(blocks...),
		slack.MsgOptionDisableLinkUnfurl(),
	)
	if err == nil {
		return false, nil
	}
	retry := retryable(err)
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		err = &notify.RetryAfterError{Err: err, After: rl.RetryAfter}
	}
	return retry, fmt.Errorf("slack %s: %w", t.Channels.Slack.Channel, err)
}

func retryable(err error) bool {
	var rl *slack.RateLimitedError
	var sc slack.StatusCodeError
	var se slack.SlackErrorResponse
	var ne net.Error
	switch {
	case errors.As(err, &rl):
		return true
	case errors.As(err, &sc):
		return sc.Retryable()
	case errors.As(err, &se):
		// channel_not_found, invalid_auth, not_in_channel... will not heal.
		return se.Err == "ratelimited" || se.Err == "internal_error" || se.Err == "fatal_error" || se.Err == "service_unavailable"
	case errors.As(err, &ne), errors.Is(err, context.DeadlineExceeded):
		return true
	}
	return true // an unknown transport failure: try again rather than lose it
}

// Escape neutralises Slack mrkdwn control sequences in feed-controlled text:
// "<!channel>", "<@U123>" and "<http://evil|Click>" all need '<', which
// becomes an entity, as Slack documents.
func Escape(s string) string {
	s = strings.ReplaceAll(s, "&", "&amp;")
	s = strings.ReplaceAll(s, "<", "&lt;")
	return strings.ReplaceAll(s, ">", "&gt;")
}

// Render builds the Block Kit message and its plain-text fallback.
func Render(a *match.Alert) ([]slack.Block, string) {
	title := Escape(notify.SanitizeLine(a.Advisory.Title, 140))
	head := fmt.Sprintf("%s · %s", a.Priority, Escape(notify.SanitizeLine(a.Advisory.Title, 130)))
	blocks := []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, head, false, false)),
	}
	meta := fmt.Sprintf("*%s* · confidence *%s* · source `%s`", a.Priority, a.Confidence, Escape(a.Advisory.Source))
	if len(a.Advisory.CVEs) > 0 {
		meta += " · " + Escape(strings.Join(a.Advisory.CVEs, ", "))
	}
	if a.Advisory.KEV {
		meta += " · :rotating_light: *known exploited (KEV)*"
	}
	if a.Revision != "" && a.Revision != "1" {
		meta = fmt.Sprintf("*Update %s:* %s\n", Escape(a.Revision), Escape(strings.Join(a.Changes, "; "))) + meta
	}
	blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, meta, false, false), nil, nil))
	var assets strings.Builder
	fmt.Fprintf(&assets, "*Affected assets (%d):*\n", len(a.Assets))
	for i, m := range a.Assets {
		if i == 10 {
			fmt.Fprintf(&assets, "…and %d more\n", len(a.Assets)-10)
			break
		}
		as := m.Asset
		fmt.Fprintf(&assets, "• *%s* %s %s", Escape(as.ID), Escape(as.Vendor), Escape(as.Product))
		if as.Version != "" {
			fmt.Fprintf(&assets, " %s", Escape(as.Version))
		}
		if as.Location != "" {
			fmt.Fprintf(&assets, " — %s", Escape(as.Location))
		}
		fmt.Fprintf(&assets, " (%s)\n    _%s_\n", m.Confidence, Escape(strings.Join(m.Reasons, "; ")))
	}
	blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, truncate(assets.String(), 2900), false, false), nil, nil))
	if a.Advisory.Summary != "" {
		blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, truncate(Escape(a.Advisory.Summary), 1500), false, false), nil, nil))
	}
	if u := safeURL(a.Advisory.URL); u != "" {
		blocks = append(blocks, slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType, "<"+u+"|Read the advisory>", false, false)))
	}
	fallback := fmt.Sprintf("[%s] %s: %d asset(s) affected", a.Priority, title, len(a.Assets))
	return blocks, fallback
}

// safeURL returns u if it is a plain http(s) URL that cannot break out of a
// Slack link, else "".
func safeURL(u string) string {
	if !(strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://")) || strings.ContainsAny(u, "<>| \n\r") {
		return ""
	}
	return u
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - 1
	for cut > 0 && s[cut]&0xC0 == 0x80 { // keep UTF-8 whole
		cut--
	}
	return s[:cut] + "…"
}
