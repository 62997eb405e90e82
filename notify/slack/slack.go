// Package slack posts alerts to Slack with chat.postMessage and Block Kit.
package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/vigilhealth/vigil/match"
	"github.com/vigilhealth/vigil/notify"
)

// Config is the Slack integration's configuration.
type Config struct {
	Token  string // bot token; never logged. Empty: incoming webhooks only
	APIURL string // Web API base, e.g. https://slack.com/api/
	// Threads keeps each alert's first message so updates are posted as
	// thread replies; nil posts updates as new messages.
	Threads notify.Threads
}

// Notifier posts to Slack: with the bot token through chat.postMessage
// (updates in the alert's thread), or to a tenant's incoming webhook.
type Notifier struct {
	api     *slack.Client
	http    *http.Client
	threads notify.Threads
	log     *slog.Logger
}

// New builds the Slack notifier.
func New(cfg Config, log *slog.Logger) (*Notifier, error) {
	api := cfg.APIURL
	if api == "" {
		api = "https://slack.com/api/"
	}
	if !strings.HasSuffix(api, "/") {
		api += "/"
	}
	hc := &http.Client{Timeout: 15 * time.Second}
	n := &Notifier{http: hc, threads: cfg.Threads, log: log}
	if cfg.Token != "" {
		n.api = slack.New(cfg.Token, slack.OptionAPIURL(api), slack.OptionHTTPClient(hc))
	}
	return n, nil
}

// Channel implements notify.Notifier.
func (n *Notifier) Channel() string { return "slack" }

// Configured implements notify.Notifier.
func (n *Notifier) Configured(t match.Tenant) bool { return t.Channels.Slack != nil }

// Notify posts the alert; a revision of an alert already posted by the bot
// goes into that message's thread.
func (n *Notifier) Notify(ctx context.Context, t match.Tenant, a *match.Alert) (bool, error) {
	blocks, fallback := Render(a)
	if t.Channels.Slack.WebhookURL != "" {
		return n.webhook(ctx, t, blocks, fallback)
	}
	key := notify.ThreadKey("slack", a)
	var thread string
	if n.threads != nil {
		v, err := n.threads.Get(ctx, key)
		if err != nil {
			return true, fmt.Errorf("slack: thread of %s: %w", a.ID, err)
		}
		// The thread is in the channel it was started in; after the tenant
		// moved channels, an update starts a new one.
		if ch, ts, ok := strings.Cut(v, "\t"); ok && ch == t.Channels.Slack.Channel {
			thread = ts
		}
	}
	ts, retry, err := n.post(ctx, t, blocks, fallback, thread)
	if err == nil && thread == "" && n.threads != nil {
		if perr := n.threads.Put(ctx, key, t.Channels.Slack.Channel+"\t"+ts); perr != nil {
			n.log.Warn("slack: thread not recorded; the next update starts a new message", "alert", a.ID, "err", perr)
		}
	}
	return retry, err
}

// NotifyGroup posts one message listing the group's alerts.
func (n *Notifier) NotifyGroup(ctx context.Context, t match.Tenant, g *notify.Group) (bool, error) {
	blocks, fallback := RenderGroup(g)
	if t.Channels.Slack.WebhookURL != "" {
		return n.webhook(ctx, t, blocks, fallback)
	}
	_, retry, err := n.post(ctx, t, blocks, fallback, "")
	return retry, err
}

func (n *Notifier) post(ctx context.Context, t match.Tenant, blocks []slack.Block, fallback, thread string) (string, bool, error) {
	channel := t.Channels.Slack.Channel
	if n.api == nil {
		return "", false, fmt.Errorf("slack %s: VIGIL_SLACK_TOKEN is not set (a bot token is needed to post to a channel; or give the tenant an incoming webhook_url)", channel)
	}
	opts := []slack.MsgOption{slack.MsgOptionText(fallback, false), slack.MsgOptionBlocks(blocks...), slack.MsgOptionDisableLinkUnfurl()}
	if thread != "" {
		opts = append(opts, slack.MsgOptionTS(thread))
	}
	_, ts, err := n.api.PostMessageContext(ctx, channel, opts...)
	if err == nil {
		return ts, false, nil
	}
	retry := retryable(err)
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		err = &notify.RetryAfterError{Err: err, After: rl.RetryAfter}
	}
	return "", retry, fmt.Errorf("slack %s: %w", channel, err)
}

// webhook posts to an incoming webhook. Its URL is a secret: errors name
// only "incoming webhook" and the HTTP status.
func (n *Notifier) webhook(ctx context.Context, t match.Tenant, blocks []slack.Block, fallback string) (bool, error) {
	msg := &slack.WebhookMessage{Text: fallback, Blocks: &slack.Blocks{BlockSet: blocks}}
	err := slack.PostWebhookCustomHTTPContext(ctx, t.Channels.Slack.WebhookURL, n.http, msg)
	if err == nil {
		return false, nil
	}
	var sc slack.StatusCodeError
	var rl *slack.RateLimitedError
	var ue *url.Error
	switch {
	case errors.As(err, &rl):
		return true, &notify.RetryAfterError{Err: fmt.Errorf("slack incoming webhook of %s: rate limited", t.ID), After: rl.RetryAfter}
	case errors.As(err, &sc):
		return sc.Retryable(), fmt.Errorf("slack incoming webhook of %s: HTTP %d", t.ID, sc.Code)
	case errors.As(err, &ue):
		return true, fmt.Errorf("slack incoming webhook of %s: %w", t.ID, ue.Err)
	}
	return true, fmt.Errorf("slack incoming webhook of %s: post failed", t.ID)
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
	return strings.ReplaceAll(u, "&", "&amp;") // Slack reads entities in link URLs too
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

// RenderGroup builds one message for a group of alerts: a header with the
// counts, then a line per alert (priority, title, assets, CVEs, KEV).
func RenderGroup(g *notify.Group) ([]slack.Block, string) {
	head := notify.SanitizeLine(g.Title(), 140)
	blocks := []slack.Block{slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, Escape(head), false, false))}
	var b strings.Builder
	for i, a := range g.Alerts {
		if i == notify.GroupLimit {
			fmt.Fprintf(&b, "…and %d more (see `vigil alerts`)\n", len(g.Alerts)-i)
			break
		}
		line := fmt.Sprintf("*%s* %s", a.Priority, Escape(notify.SanitizeLine(a.Advisory.Title, 120)))
		if u := safeURL(a.Advisory.URL); u != "" {
			line = fmt.Sprintf("*%s* <%s|%s>", a.Priority, u, Escape(notify.SanitizeLine(a.Advisory.Title, 120)))
		}
		ids := a.AssetIDs()
		if len(ids) > 5 {
			ids = append(ids[:5], fmt.Sprintf("+%d", len(a.AssetIDs())-5))
		}
		if len(ids) > 0 {
			line += " · assets " + Escape(strings.Join(ids, ", "))
		}
		if len(a.Advisory.CVEs) > 0 {
			line += " · " + Escape(strings.Join(a.Advisory.CVEs, ", "))
		}
		if a.Advisory.KEV {
			line += " · :rotating_light: KEV"
		}
		if a.Revision != "" && a.Revision != "1" && len(a.Changes) > 0 {
			line += " · _update: " + Escape(strings.Join(a.Changes, "; ")) + "_"
		}
		b.WriteString(line + "\n")
	}
	for _, chunk := range chunks(b.String(), 2900) {
		blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, chunk, false, false), nil, nil))
	}
	return blocks, Escape(head)
}

// chunks splits text at line ends into pieces of at most n bytes (a Slack
// section holds 3,000 characters).
func chunks(s string, n int) []string {
	var out []string
	for len(s) > n {
		cut := strings.LastIndex(s[:n], "\n")
		if cut <= 0 {
			cut = n
		}
		out = append(out, s[:cut])
		s = strings.TrimPrefix(s[cut:], "\n")
	}
	if s != "" {
		out = append(out, s)
	}
	return out
}
