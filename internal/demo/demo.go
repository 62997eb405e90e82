// Package demo runs Vigil end to end on one machine with nothing from
// outside: a local feed of advisories written for the demo, a demo hospital,
// a local SMTP server, a local Slack Web API server, embedded NATS and a
// ClickHouse server.
package demo

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/vigilhealth/vigil/feeds"
	"github.com/vigilhealth/vigil/internal/bus"
	"github.com/vigilhealth/vigil/internal/chlocal"
	"github.com/vigilhealth/vigil/internal/config"
	"github.com/vigilhealth/vigil/internal/pipeline"
	"github.com/vigilhealth/vigil/internal/sink"
	"github.com/vigilhealth/vigil/match"
	"github.com/vigilhealth/vigil/notify"
	"github.com/vigilhealth/vigil/store"
)

//go:embed data
var data embed.FS

// ExpectedAlerts is how many alerts the demo data produces: CARESCAPE B450
// (2.0.2 < 2.1), Sigma Spectrum (version unknown: possible) and IntelliBridge
// EC40 (C.00.03 <= C.00.04). The B. Braun pump runs the fixed L82 and
// Vigil's hospital has no SIMATIC controller: no alert for those.
const ExpectedAlerts = 3

// Source is the demo feed's source name.
const Source = "demo-health-cert"

// Options change how the demo runs.
type Options struct {
	Once    bool          // stop after the alerts are delivered and stored
	Timeout time.Duration // with Once: give up after this long
	// ClickHouseAddr, when set, is used instead of starting clickhouse-server.
	ClickHouseAddr string
}

// Data returns one of the demo files (tenant.yaml, inventory.csv, ...).
func Data(name string) ([]byte, error) { return data.ReadFile("data/" + name) }

// Run runs the demo, writing its story to out.
func Run(ctx context.Context, cfg config.Config, o Options, out io.Writer, log *slog.Logger) error {
	dir, err := filepath.Abs(filepath.Join(cfg.DataDir, "demo"))
	if err != nil {
		return err
	}
	// Every demo starts from nothing, so it shows the first alert again.
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("demo: reset %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	fmt.Fprintf(out, "Vigil demo: a feed of medical-device advisories, one hospital, every stage real.\n\n")
	row := func(k, v string) { fmt.Fprintf(out, "  %-11s %s\n", k, v) }
	row("data", dir+" (reset)")

	chAddr := o.ClickHouseAddr
	if chAddr == "" {
		srv, err := chlocal.Start(ctx, filepath.Join(dir, "clickhouse"))
		if errors.Is(err, chlocal.ErrNoBinary) {
			return fmt.Errorf("demo: %w; `make demo` installs it with apt, or set VIGIL_CLICKHOUSE_ADDR to a running server", err)
		}
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		defer srv.Stop()
		chAddr = srv.Addr
		row("ClickHouse", fmt.Sprintf("clickhouse-server on %s (local, in %s)", chAddr, srv.Dir))
	} else {
		row("ClickHouse", chAddr+" (VIGIL_CLICKHOUSE_ADDR)")
	}

	feedBody, err := Data("advisories.rss.xml")
	if err != nil {
		return err
	}
	feed := &feedServer{body: feedBody}
	feedURL, stopFeed, err := feed.serve()
	if err != nil {
		return err
	}
	defer stopFeed()
	row("feed", feedURL+" (5 advisories written for the demo)")

	const slackToken = "xoxb-demo-not-a-real-token"
	slackSrv := sink.StartSlack(slackToken)
	defer slackSrv.Close()
	smtpSrv, err := sink.StartSMTP(sink.SMTPOptions{User: "vigil", Password: "demo-smtp-password", RequireTLS: true})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer smtpSrv.Close()
	hookSrv := sink.StartWebhook("demo-webhook-signing-secret")
	defer hookSrv.Close()

	tenantYAML, _ := Data("tenant.yaml")
	tenant, err := match.ParseTenant("tenant.yaml", tenantYAML)
	if err != nil {
		return err
	}
	invCSV, _ := Data("inventory.csv")
	inv, err := match.ParseCSV("inventory.csv", strings.NewReader(string(invCSV)))
	if err != nil || len(inv.Errors) > 0 {
		return fmt.Errorf("demo inventory: %v %v", err, inv.Errors)
	}
	row("Slack", fmt.Sprintf("local Web API server %s -> %s", slackSrv.URL, tenant.Channels.Slack.Channel))
	row("email", fmt.Sprintf("local SMTP server %s (STARTTLS required, AUTH PLAIN) -> %s", smtpSrv.Addr, strings.Join(tenant.Channels.Email.To, ", ")))
	// The hospital's SOC also takes signed JSON: a local receiver that
	// rejects any request whose HMAC signature does not verify.
	tenant.Channels.Webhook = &match.WebhookChannel{URL: hookSrv.URL, Secret: hookSrv.Secret}
	row("webhook", fmt.Sprintf("local receiver %s (checks the HMAC-SHA256 signature)", hookSrv.URL))

	cfg.SlackToken, cfg.SlackAPIURL = slackToken, slackSrv.URL
	cfg.SMTPHost, cfg.SMTPPort, cfg.SMTPTLS = smtpSrv.Host, smtpSrv.Port, "starttls"
	cfg.SMTPUser, cfg.SMTPPassword, cfg.SMTPFrom = smtpSrv.User, smtpSrv.Password, "vigil@st-example-hospital.org"
	cfg.ClickHouseAddr = chAddr
	cfg.PollInterval = 2 * time.Second
	cfg.MetricsAddr = "" // a running `vigil run` may hold the default port
	cfg.StoreFlushInterval = 200 * time.Millisecond

	b, err := bus.Open(ctx, bus.Options{DataDir: dir, Listen: "127.0.0.1:-1", MaxAge: cfg.StreamMaxAge,
		AckWait: cfg.AckWait, MaxDeliver: cfg.MaxDeliver}, log)
	if err != nil {
		return err
	}
	defer b.Close()
	row("NATS", "embedded JetStream "+b.ClientURL())
	if err := match.PutTenant(ctx, b, tenant); err != nil {
		return err
	}
	if err := match.PutInventory(ctx, b, tenant.ID, inv.Assets); err != nil {
		return err
	}
	row("tenant", fmt.Sprintf("%s %q, %d assets (vigil tenant apply / inventory apply)", tenant.ID, tenant.Name, len(inv.Assets)))
	fmt.Fprintf(out, "\nRunning ingest -> enrich -> match -> notify -> store; the feed is polled every %s.\n\n", cfg.PollInterval)

	w := &watcher{out: out, start: time.Now(), tenant: tenant, delivered: map[string]map[string]bool{}, done: make(chan struct{})}
	sub, err := b.NC.Subscribe("*."+tenant.ID, w.handle)
	if err != nil {
		return err
	}
	defer func() { _ = sub.Unsubscribe() }()

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	srcs := []feeds.Source{{Name: Source, Kind: feeds.KindRSS, URL: feedURL, Internal: true, Publisher: "Demo Health CERT"}}
	errc := make(chan error, 1)
	go func() {
		errc <- pipeline.Run(runCtx, cfg, pipeline.AllRoles, b, pipeline.Deps{Sources: srcs, SMTPRootCAs: smtpSrv.RootCAs}, log)
	}()

	if !o.Once {
		fmt.Fprintf(out, "Ctrl-C stops the demo. Meanwhile: clickhouse-client --port %s -d %s -q 'SELECT * FROM alerts FINAL'\n\n",
			portOf(chAddr), cfg.ClickHouseDatabase)
		select {
		case <-ctx.Done():
		case err := <-errc:
			return err
		}
		cancel()
		<-errc
		fmt.Fprintln(out, "\nstopped.")
		return nil
	}
	timeout := o.Timeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	select {
	case <-w.done:
	case err := <-errc:
		return fmt.Errorf("demo: pipeline stopped: %v", err)
	case <-ctx.Done():
		cancel()
		<-errc
		return ctx.Err()
	case <-time.After(timeout):
		cancel()
		<-errc
		return fmt.Errorf("demo: only %d of %d alerts delivered to every channel after %s", w.complete(), ExpectedAlerts, timeout)
	}
	fmt.Fprintf(out, "\n%d alerts delivered to Slack (%d messages), email (%d messages) and the webhook (%d signed requests) in %s.\n",
		ExpectedAlerts, len(slackSrv.Messages()), len(smtpSrv.Mails()), hookSrv.Count(), time.Since(w.start).Round(time.Millisecond))
	// Nothing twice: wait for the next poll and show it changes nothing.
	for feed.notModified.Load() == 0 && ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	fmt.Fprintf(out, "Polled the feed again: 304 Not Modified; still %d Slack, %d email and %d webhook messages (no alert twice).\n",
		len(slackSrv.Messages()), len(smtpSrv.Mails()), hookSrv.Count())
	err = printStored(ctx, out, cfg, tenant.ID, w.alertIDs())
	cancel()
	if perr := <-errc; perr != nil && err == nil {
		err = perr
	}
	return err
}

// feedServer serves the demo feed with an ETag and counts conditional hits.
type feedServer struct {
	body        []byte
	notModified atomic.Int32
}

func (f *feedServer) serve() (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	body := f.body
	mux := http.NewServeMux()
	mux.HandleFunc("/advisories.rss", func(w http.ResponseWriter, r *http.Request) {
		const etag = `"demo-1"`
		if r.Header.Get("If-None-Match") == etag {
			f.notModified.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		w.Header().Set("Content-Type", "application/rss+xml")
		_, _ = w.Write(body)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return "http://" + l.Addr().String() + "/advisories.rss", func() { _ = srv.Close() }, nil
}

// watcher prints alerts and deliveries as they cross the bus.
type watcher struct {
	out    io.Writer
	start  time.Time
	tenant match.Tenant

	mu        sync.Mutex
	order     []string
	delivered map[string]map[string]bool
	done      chan struct{}
	closed    bool
}

func (w *watcher) handle(m *nats.Msg) {
	w.mu.Lock()
	defer w.mu.Unlock()
	at := fmt.Sprintf("[+%5.2fs]", time.Since(w.start).Seconds())
	switch {
	case strings.HasPrefix(m.Subject, bus.SubjectAlerts+"."):
		a, err := match.DecodeAlert(m.Data)
		if err != nil {
			return
		}
		if _, seen := w.delivered[a.ID]; !seen {
			w.order = append(w.order, a.ID)
			w.delivered[a.ID] = map[string]bool{}
		}
		fmt.Fprintf(w.out, "%s ALERT %s %s  %s\n", at, a.Priority, a.Confidence, a.Advisory.Title)
		for _, am := range a.Assets {
			fmt.Fprintf(w.out, "            %s: %s %s %s (%s)\n", am.Asset.ID, am.Asset.Vendor, am.Asset.Product, am.Asset.Version, am.Asset.Location)
			for _, r := range am.Reasons {
				fmt.Fprintf(w.out, "              - %s\n", r)
			}
		}
	case strings.HasPrefix(m.Subject, bus.SubjectDeliveries+"."):
		var d notify.Delivery
		if json.Unmarshal(m.Data, &d) != nil {
			return
		}
		to := w.tenant.Channels.Slack.Channel
		switch d.Channel {
		case "email":
			to = strings.Join(w.tenant.Channels.Email.To, ", ")
		case "webhook":
			to = "SOC webhook"
		}
		mark := "delivered"
		if d.Status != notify.StatusDelivered {
			mark = d.Status + ": " + d.Error
		}
		fmt.Fprintf(w.out, "%s   %-7s -> %s %s (%d ms after the feed was read)\n", at, d.Channel, to, mark, d.LatencyMS)
		if d.Status == notify.StatusDelivered {
			if w.delivered[d.AlertID] == nil {
				w.delivered[d.AlertID] = map[string]bool{}
			}
			w.delivered[d.AlertID][d.Channel] = true
		}
		if w.completeLocked() >= ExpectedAlerts && !w.closed {
			w.closed = true
			close(w.done)
		}
	}
}

func (w *watcher) completeLocked() int {
	n := 0
	for _, chans := range w.delivered {
		if chans["slack"] && chans["email"] && chans["webhook"] {
			n++
		}
	}
	return n
}

func (w *watcher) complete() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.completeLocked()
}

func (w *watcher) alertIDs() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.order...)
}

// printStored waits for the store to write the demo's alerts with both
// deliveries, then prints what ClickHouse holds for the tenant.
func printStored(ctx context.Context, out io.Writer, cfg config.Config, tenant string, ids []string) error {
	db, err := store.Open(ctx, store.Config{Addr: cfg.ClickHouseAddr, Database: cfg.ClickHouseDatabase, User: cfg.ClickHouseUser, Password: cfg.ClickHousePassword})
	if err != nil {
		return err
	}
	defer db.Close()
	var rows []store.AlertRow
	deadline := time.Now().Add(30 * time.Second)
	for {
		rows, err = db.Alerts(ctx, store.AlertFilter{Tenant: tenant, AlertIDs: ids})
		if err == nil && len(rows) == len(ids) && allDelivered(rows) {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("demo: ClickHouse holds %d of %d alerts with their deliveries after 30s (last error: %v)", len(rows), len(ids), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	fmt.Fprintf(out, "\nClickHouse %s, database %s, read back for tenant %s:\n\n", cfg.ClickHouseAddr, cfg.ClickHouseDatabase, tenant)
	if err := store.PrintAlerts(out, rows); err != nil {
		return err
	}
	counts := map[string]uint64{}
	for _, t := range []string{"advisories", "alerts", "deliveries"} {
		if counts[t], err = db.Count(ctx, t); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "\nTables: advisories %d rows, alerts %d, deliveries %d.\n", counts["advisories"], counts["alerts"], counts["deliveries"])
	fmt.Fprintf(out, "To query them yourself, run `vigil demo` (without --once) and, while it runs: clickhouse-client --port %s -d %s\n",
		portOf(cfg.ClickHouseAddr), cfg.ClickHouseDatabase)
	return nil
}

func allDelivered(rows []store.AlertRow) bool {
	for _, r := range rows {
		if strings.Join(r.Delivered, ",") != "email:delivered,slack:delivered,webhook:delivered" {
			return false
		}
	}
	return true
}

func portOf(addr string) string {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return p
}
