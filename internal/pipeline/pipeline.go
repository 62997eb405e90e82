// Package pipeline wires the stages into one process: the one explicit
// builder of Vigil's roles and integrations.
package pipeline

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vigilhealth/vigil/enrich"
	"github.com/vigilhealth/vigil/feeds"
	"github.com/vigilhealth/vigil/ingest"
	"github.com/vigilhealth/vigil/internal/bus"
	"github.com/vigilhealth/vigil/internal/config"
	"github.com/vigilhealth/vigil/match"
	"github.com/vigilhealth/vigil/notify"
	"github.com/vigilhealth/vigil/notify/email"
	"github.com/vigilhealth/vigil/notify/slack"
	"github.com/vigilhealth/vigil/notify/webhook"
	"github.com/vigilhealth/vigil/store"
)

// AllRoles in flow order.
var AllRoles = []string{"ingest", "enrich", "match", "notify", "store"}

// ParseRoles reads "--roles=ingest,match"; empty or "all" means every role.
func ParseRoles(s string) ([]string, error) {
	if s == "" || s == "all" {
		return AllRoles, nil
	}
	valid := map[string]bool{}
	for _, r := range AllRoles {
		valid[r] = true
	}
	seen := map[string]bool{}
	var out []string
	for _, r := range strings.Split(s, ",") {
		r = strings.TrimSpace(r)
		if !valid[r] {
			return nil, fmt.Errorf("unknown role %q (roles: %s)", r, strings.Join(AllRoles, ", "))
		}
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return indexOf(out[i]) < indexOf(out[j]) })
	return out, nil
}

func indexOf(role string) int {
	for i, r := range AllRoles {
		if r == role {
			return i
		}
	}
	return len(AllRoles)
}

// Deps are what the process gives the pipeline beyond the configuration.
type Deps struct {
	Sources     []feeds.Source // nil loads the catalogue and VIGIL_FEEDS_FILE
	SMTPRootCAs *x509.CertPool // nil uses the system roots
}

// BuildNotifiers makes the integrations: Slack (bot token when set, and
// tenants' incoming webhooks), email when an SMTP host is set, webhooks.
// threads keeps Slack and email threads (nil: updates are not threaded).
func BuildNotifiers(cfg config.Config, rootCAs *x509.CertPool, threads notify.Threads, log *slog.Logger) ([]notify.Notifier, error) {
	var out []notify.Notifier
	if cfg.SlackToken == "" {
		log.Info("slack bot disabled (VIGIL_SLACK_TOKEN is not set): only tenants' incoming webhooks can be used")
	}
	sn, err := slack.New(slack.Config{Token: cfg.SlackToken, APIURL: cfg.SlackAPIURL, Threads: threads}, log.With("channel", "slack"))
	if err != nil {
		return nil, err
	}
	out = append(out, sn)
	if cfg.SMTPHost != "" {
		n, err := email.New(email.Config{
			Host: cfg.SMTPHost, Port: cfg.SMTPPort, TLS: cfg.SMTPTLS, User: cfg.SMTPUser, Password: cfg.SMTPPassword,
			From: cfg.SMTPFrom, RootCAs: rootCAs, Threads: threads,
		}, log.With("channel", "email"))
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	out = append(out, webhook.New(webhook.Config{Timeout: cfg.WebhookTimeout, UserAgent: "Vigil-Webhook/1"}, log.With("channel", "webhook")))
	return out, nil
}

// Run runs the given roles on b until ctx ends, then lets each drain. A role
// that fails stops the others.
func Run(ctx context.Context, cfg config.Config, roles []string, b *bus.Bus, deps Deps, log *slog.Logger) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	vendors, err := enrich.LoadVendors()
	if err != nil {
		return err
	}
	redact := notify.NewRedactor(cfg.Secrets()...)
	metrics := ingest.NewMetrics()
	if cfg.MetricsAddr != "" {
		stop, err := serveMetrics(ctx, cfg.MetricsAddr, metrics, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	runners := map[string]func(context.Context) error{}
	for _, role := range roles {
		l := log.With("role", role)
		switch role {
		case "ingest":
			srcs := deps.Sources
			if srcs == nil {
				if srcs, err = feeds.Load(cfg.FeedsFile); err != nil {
					return err
				}
			}
			o := ingest.Options{Interval: cfg.PollInterval, Timeout: cfg.HTTPTimeout, MaxBytes: cfg.MaxFeedBytes,
				NVDAPIKey: cfg.NVDAPIKey, Limiter: NewHostLimiter(cfg), Metrics: metrics}
			runners[role] = func(ctx context.Context) error { return ingest.Run(ctx, srcs, b, o, l) }
		case "enrich":
			e := enrich.New(vendors, &enrich.KVState{KEVBucket: b.KEV, Clusters: b.Clusters, Advisories: b.Advisories, CVEIndex: b.CVEIndex})
			runners[role] = func(ctx context.Context) error { return e.Run(ctx, b, l) }
		case "match":
			m := match.NewMatcher(b, vendors, l)
			m.SetRetroWindow(cfg.RetroWindow)
			runners[role] = m.Run
		case "notify":
			ns, err := BuildNotifiers(cfg, deps.SMTPRootCAs, notify.KVThreads(b.Threads), l)
			if err != nil {
				return err
			}
			rates, err := notify.ParseRates(cfg.ChannelRates)
			if err != nil {
				return fmt.Errorf("VIGIL_CHANNEL_RATES: %w", err)
			}
			d := notify.NewDispatcher(b, ns, redact, l)
			d.SetRates(rates)
			runners[role] = d.Run
		case "store":
			sc := store.Config{Addr: cfg.ClickHouseAddr, Database: cfg.ClickHouseDatabase, User: cfg.ClickHouseUser, Password: cfg.ClickHousePassword}
			o := store.RunOptions{BatchSize: cfg.StoreBatchSize, FlushInterval: cfg.StoreFlushInterval, Retention: cfg.Retention}
			runners[role] = func(ctx context.Context) error { return store.Run(ctx, sc, b, o, l) }
		default:
			return fmt.Errorf("unknown role %q", role)
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, role := range roles {
		run := runners[role]
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(ctx); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", role, err))
				mu.Unlock()
				cancel()
			}
		}()
	}
	log.Info("vigil running", "roles", strings.Join(roles, ","), "nats", b.ClientURL())
	wg.Wait()
	return errors.Join(errs...)
}

// NewHostLimiter spaces requests per host; NVD asks for at most 5 requests
// per 30 s without an API key and 50 with one.
func NewHostLimiter(cfg config.Config) *ingest.HostLimiter {
	l := ingest.NewHostLimiter(cfg.HostInterval, 2)
	if cfg.NVDAPIKey == "" {
		l.Set("services.nvd.nist.gov", 6*time.Second)
	} else {
		l.Set("services.nvd.nist.gov", 600*time.Millisecond)
	}
	return l
}

func serveMetrics(ctx context.Context, addr string, m *ingest.Metrics, log *slog.Logger) (func(), error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen %s: %w (set VIGIL_METRICS_ADDR, or empty to disable)", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	log.Info("metrics", "url", "http://"+l.Addr().String()+"/metrics")
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}, nil
}
