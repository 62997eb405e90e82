// Package email sends alerts over SMTP (STARTTLS or implicit TLS, optional
// authentication) as multipart text and HTML.
package email

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"log/slog"
	netmail "net/mail"
	"net/textproto"
	"net/url"
	"strings"
	texttemplate "text/template"
	"time"

	mail "github.com/wneessen/go-mail"

	"github.com/vigilhealth/vigil/match"
	"github.com/vigilhealth/vigil/notify"
)

// Config is the SMTP integration's configuration.
type Config struct {
	Host     string
	Port     int
	TLS      string // starttls, opportunistic, tls, none
	User     string
	Password string // never logged
	From     string
	// RootCAs, when set, replaces the system roots (a private mail relay).
	RootCAs *x509.CertPool
	// Threads keeps each alert's first Message-ID, so that updates are
	// sent In-Reply-To it; nil sends updates unthreaded.
	Threads notify.Threads
}

// Notifier sends email.
type Notifier struct {
	cfg  Config
	opts []mail.Option
	log  *slog.Logger
}

// New builds the email notifier.
func New(cfg Config, log *slog.Logger) (*Notifier, error) {
	if cfg.Host == "" || cfg.From == "" {
		return nil, errors.New("email: host and from are required")
	}
	opts := []mail.Option{
		mail.WithPort(cfg.Port),
		mail.WithTimeout(20 * time.Second),
		mail.WithTLSConfig(&tls.Config{ServerName: cfg.Host, RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12}),
	}
	switch cfg.TLS {
	case "starttls":
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case "opportunistic", "":
		opts = append(opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	case "tls":
		opts = append(opts, mail.WithSSL())
	case "none":
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		return nil, fmt.Errorf("email: tls mode %q is not one of starttls, opportunistic, tls, none", cfg.TLS)
	}
	if cfg.User != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthPlain), mail.WithUsername(cfg.User), mail.WithPassword(cfg.Password))
	}
	return &Notifier{cfg: cfg, opts: opts, log: log}, nil
}

// Channel implements notify.Notifier.
func (n *Notifier) Channel() string { return "email" }

// Configured implements notify.Notifier.
func (n *Notifier) Configured(t match.Tenant) bool {
	return t.Channels.Email != nil && len(t.Channels.Email.To) > 0
}

// Notify sends the alert to the tenant's recipients; an update replies to
// the alert's first message.
func (n *Notifier) Notify(ctx context.Context, t match.Tenant, a *match.Alert) (bool, error) {
	key := notify.ThreadKey("email", a)
	var root string
	if n.cfg.Threads != nil {
		var err error
		if root, err = n.cfg.Threads.Get(ctx, key); err != nil {
			return true, fmt.Errorf("email: thread of %s: %w", a.ID, err)
		}
	}
	m, err := n.MessageInThread(t, a, root)
	if err != nil {
		return false, err
	}
	if retry, err := n.send(ctx, t, m); err != nil {
		return retry, err
	}
	if root == "" && n.cfg.Threads != nil {
		if err := n.cfg.Threads.Put(ctx, key, MessageID(a)); err != nil {
			n.log.Warn("email: thread not recorded; the next update starts a new thread", "alert", a.ID, "err", err)
		}
	}
	return false, nil
}

// NotifyGroup sends one email listing the group's alerts.
func (n *Notifier) NotifyGroup(ctx context.Context, t match.Tenant, g *notify.Group) (bool, error) {
	m, err := n.GroupMessage(t, g)
	if err != nil {
		return false, err
	}
	return n.send(ctx, t, m)
}

func (n *Notifier) send(ctx context.Context, t match.Tenant, m *mail.Msg) (bool, error) {
	c, err := mail.NewClient(n.cfg.Host, n.opts...)
	if err != nil {
		return false, fmt.Errorf("email: client: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, m); err != nil {
		return retryable(err), fmt.Errorf("email to %d recipient(s) via %s:%d: %w", len(t.Channels.Email.To), n.cfg.Host, n.cfg.Port, err)
	}
	return false, nil
}

// MessageID is the Message-ID of an alert revision's email.
func MessageID(a *match.Alert) string {
	return fmt.Sprintf("<%s.%s@vigil>", a.ID, revisionToken(a.Revision))
}

// retryable: a 5xx reply (bad recipient, refused sender) will not heal;
// 4xx replies, refused connections and timeouts may.
func retryable(err error) bool {
	var se *mail.SendError
	if errors.As(err, &se) {
		if code := se.ErrorCode(); code >= 500 && code < 600 {
			return false
		}
	}
	var te *textproto.Error // e.g. AUTH refused with 535
	if errors.As(err, &te) && te.Code >= 500 && te.Code < 600 {
		return false
	}
	return true
}

// Message builds the MIME message: text/plain and text/html alternatives.
// Headers are set through go-mail, which encodes them; the subject is
// stripped of control characters first, so no header can be injected.
func (n *Notifier) Message(t match.Tenant, a *match.Alert) (*mail.Msg, error) {
	return n.MessageInThread(t, a, "")
}

// MessageInThread is Message replying to root (a Message-ID with its angle
// brackets) when root is not empty.
func (n *Notifier) MessageInThread(t match.Tenant, a *match.Alert, root string) (*mail.Msg, error) {
	m, err := n.envelope(t, Subject(a))
	if err != nil {
		return nil, err
	}
	m.SetGenHeader(mail.HeaderMessageID, MessageID(a))
	if root != "" && root != MessageID(a) {
		m.SetGenHeader(mail.HeaderInReplyTo, root)
		m.SetGenHeader(mail.HeaderReferences, root)
	}
	m.SetGenHeader("X-Vigil-Alert", a.ID)
	m.SetGenHeader("X-Vigil-Priority", a.Priority)
	if err := setBodies(m, textTmpl, htmlTmpl, view{Tenant: t, Alert: a}); err != nil {
		return nil, err
	}
	return m, nil
}

// Subject is the one-line subject of an alert email.
func Subject(a *match.Alert) string {
	kind := a.Priority
	if a.Revision != "" && a.Revision != "1" {
		kind += " update: " + strings.Join(a.Changes, ", ")
	}
	return notify.SanitizeLine(fmt.Sprintf("[Vigil %s] %s (%d asset(s))", kind, a.Advisory.Title, len(a.Assets)), 200)
}

func revisionToken(rev string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, rev)
}

// envelope is a message with sender, recipients, subject, date and the
// list headers.
func (n *Notifier) envelope(t match.Tenant, subject string) (*mail.Msg, error) {
	m := mail.NewMsg()
	if err := m.From(n.cfg.From); err != nil {
		return nil, fmt.Errorf("email: from %q: %w", n.cfg.From, err)
	}
	if err := m.To(t.Channels.Email.To...); err != nil {
		return nil, fmt.Errorf("email: tenant %s recipients: %w", t.ID, err)
	}
	m.Subject(subject)
	m.SetDate()
	m.SetGenHeader(mail.HeaderXMailer, "Vigil")
	unsub := t.Channels.Email.Unsubscribe
	if unsub == "" {
		addr := n.cfg.From
		if a, err := netmail.ParseAddress(addr); err == nil {
			addr = a.Address
		}
		unsub = "mailto:" + addr + "?subject=" + url.QueryEscape("unsubscribe "+t.ID)
	}
	m.SetGenHeader(mail.HeaderListUnsubscribe, "<"+unsub+">")
	if strings.HasPrefix(unsub, "https://") {
		m.SetGenHeader(mail.HeaderListUnsubscribePost, "List-Unsubscribe=One-Click")
	}
	m.SetGenHeader("List-Id", fmt.Sprintf("Vigil alerts for %s <%s.vigil>", notify.SanitizeLine(t.Name, 60), t.ID))
	return m, nil
}

// GroupMessage builds one email for a group of alerts.
func (n *Notifier) GroupMessage(t match.Tenant, g *notify.Group) (*mail.Msg, error) {
	m, err := n.envelope(t, notify.SanitizeLine("[Vigil] "+g.Title(), 200))
	if err != nil {
		return nil, err
	}
	m.SetMessageID()
	shown := g.Alerts
	if len(shown) > notify.GroupLimit {
		shown = shown[:notify.GroupLimit]
	}
	data := groupView{Tenant: t, Group: g, Shown: shown, More: len(g.Alerts) - len(shown)}
	if err := setBodies(m, groupTextTmpl, groupHTMLTmpl, data); err != nil {
		return nil, err
	}
	return m, nil
}

// setBodies renders the plain-text body and its HTML alternative.
func setBodies(m *mail.Msg, textT *texttemplate.Template, htmlT *htmltemplate.Template, data any) error {
	var text, html bytes.Buffer
	if err := textT.Execute(&text, data); err != nil {
		return fmt.Errorf("email: text template %s: %w", textT.Name(), err)
	}
	if err := htmlT.Execute(&html, data); err != nil {
		return fmt.Errorf("email: html template %s: %w", htmlT.Name(), err)
	}
	m.SetBodyString(mail.TypeTextPlain, text.String())
	m.AddAlternativeString(mail.TypeTextHTML, html.String())
	return nil
}

type groupView struct {
	Tenant match.Tenant
	Group  *notify.Group
	Shown  []*match.Alert
	More   int
}

var groupTextTmpl = texttemplate.Must(texttemplate.New("group").Funcs(funcs).Parse(`{{line .Group.Title}} for {{.Tenant.Name}}
{{range .Shown}}
{{.Priority}}  {{line .Advisory.Title}}
    assets: {{join .AssetIDs ", "}}{{with .Advisory.CVEs}}
    CVEs: {{join . ", "}}{{end}}{{if .Advisory.KEV}}
    KNOWN EXPLOITED (CISA KEV){{end}}{{with .Advisory.URL}}
    {{.}}{{end}}
{{end}}{{if .More}}
...and {{.More}} more: run vigil alerts --tenant {{.Tenant.ID}}
{{end}}
-- 
Vigil
`))

var groupHTMLTmpl = htmltemplate.Must(htmltemplate.New("group").Funcs(funcs).Parse(`<!doctype html>
<html><body style="font-family: sans-serif">
<h2>{{.Group.Title}}</h2>
<table border="1" cellpadding="4" cellspacing="0">
<tr><th>Priority</th><th>Advisory</th><th>Assets</th><th>CVEs</th></tr>
{{range .Shown}}<tr><td>{{.Priority}}{{if .Advisory.KEV}} (KEV){{end}}</td><td>{{if .Advisory.URL}}<a href="{{.Advisory.URL}}">{{.Advisory.Title}}</a>{{else}}{{.Advisory.Title}}{{end}}</td><td>{{join .AssetIDs ", "}}</td><td>{{join .Advisory.CVEs ", "}}</td></tr>
{{end}}</table>
{{if .More}}<p>...and {{.More}} more: <code>vigil alerts --tenant {{.Tenant.ID}}</code></p>{{end}}
</body></html>
`))

type view struct {
	Tenant match.Tenant
	Alert  *match.Alert
}

var funcs = map[string]any{"join": strings.Join, "line": func(s string) string { return notify.SanitizeLine(s, 300) }}

var textTmpl = texttemplate.Must(texttemplate.New("text").Funcs(funcs).Parse(`{{.Alert.Priority}} alert for {{.Tenant.Name}}

{{line .Alert.Advisory.Title}}
Source: {{.Alert.Advisory.Source}}{{with .Alert.Advisory.URL}}  {{.}}{{end}}
{{- with .Alert.Advisory.CVEs}}
CVEs: {{join . ", "}}{{end}}
{{- if .Alert.Advisory.KEV}}
KNOWN EXPLOITED (CISA KEV){{end}}
Confidence: {{.Alert.Confidence}}

Affected assets ({{len .Alert.Assets}}):
{{range .Alert.Assets}}
- {{.Asset.ID}}: {{.Asset.Vendor}} {{.Asset.Product}}{{with .Asset.Version}} {{.}}{{end}}{{with .Asset.Location}} ({{.}}){{end}}
  why: {{join .Reasons "; "}}
{{end}}
{{with .Alert.Advisory.Summary}}
{{.}}
{{end}}
-- 
Vigil alert {{.Alert.ID}}, revision {{.Alert.Revision}}
`))

var htmlTmpl = htmltemplate.Must(htmltemplate.New("html").Funcs(funcs).Parse(`<!doctype html>
<html><body style="font-family: sans-serif">
<p><strong>{{.Alert.Priority}}</strong> alert for {{.Tenant.Name}} &middot; confidence {{.Alert.Confidence}}</p>
<h2>{{.Alert.Advisory.Title}}</h2>
<p>Source: {{.Alert.Advisory.Source}}{{with .Alert.Advisory.URL}} &middot; <a href="{{.}}">advisory</a>{{end}}
{{- with .Alert.Advisory.CVEs}}<br>CVEs: {{join . ", "}}{{end}}
{{- if .Alert.Advisory.KEV}}<br><strong>Known exploited (CISA KEV)</strong>{{end}}</p>
<table border="1" cellpadding="4" cellspacing="0">
<tr><th>Asset</th><th>Product</th><th>Version</th><th>Location</th><th>Why</th></tr>
{{range .Alert.Assets}}<tr><td>{{.Asset.ID}}</td><td>{{.Asset.Vendor}} {{.Asset.Product}}</td><td>{{.Asset.Version}}</td><td>{{.Asset.Location}}</td><td>{{join .Reasons "; "}}</td></tr>
{{end}}</table>
{{with .Alert.Advisory.Summary}}<p>{{.}}</p>{{end}}
<p style="color:#666">Vigil alert {{.Alert.ID}}, revision {{.Alert.Revision}}</p>
</body></html>
`))
