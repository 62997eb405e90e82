package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilhealth/vigil/feeds"
	"github.com/vigilhealth/vigil/internal/bus"
	"github.com/vigilhealth/vigil/internal/config"
	"github.com/vigilhealth/vigil/internal/sink"
	"github.com/vigilhealth/vigil/internal/testenv"
	"github.com/vigilhealth/vigil/match"
	"github.com/vigilhealth/vigil/store"
)

const (
	slackToken   = "xoxb-e2e-0000-supersecret"
	smtpPassword = "e2e-smtp-password-secret"
)

type env struct {
	cfg   config.Config
	bus   *bus.Bus
	slack *sink.Slack
	smtp  *sink.SMTP
	db    *store.DB
	hits  *atomic.Int32
	deps  Deps
	logs  *testenv.SyncBuffer
	log   *slog.Logger
}

func setup(t *testing.T, smtpPass, token string) *env {
	t.Helper()
	body, err := os.ReadFile("testdata/feed.rss.xml")
	if err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int32
	feed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Header.Get("If-None-Match") == `"e2e-1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"e2e-1"`)
		_, _ = w.Write(body)
	}))
	t.Cleanup(feed.Close)

	addr, database := testenv.ClickHouse(t)
	e := &env{bus: testenv.NATS(t), slack: testenv.Slack(t, slackToken), hits: &hits, logs: &testenv.SyncBuffer{}}
	e.smtp = testenv.SMTP(t, sink.SMTPOptions{User: "vigil", Password: smtpPassword, RequireTLS: true})
	e.log = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pipeline log:\n%s", e.logs.String())
		}
	})

	for _, k := range []string{"VIGIL_FEEDS_FILE", "VIGIL_SLACK_TOKEN", "VIGIL_SMTP_PASSWORD"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	cfg.PollInterval = time.Second
	cfg.MetricsAddr = ""
	cfg.ClickHouseAddr, cfg.ClickHouseDatabase = addr, database
	cfg.StoreBatchSize, cfg.StoreFlushInterval = 100, 100*time.Millisecond
	cfg.SlackToken, cfg.SlackAPIURL = token, e.slack.URL
	cfg.SMTPHost, cfg.SMTPPort, cfg.SMTPTLS, cfg.SMTPUser, cfg.SMTPPassword = e.smtp.Host, e.smtp.Port, "starttls", "vigil", smtpPass
	cfg.SMTPFrom = "vigil@example-hospital.org"
	e.cfg = cfg
	e.deps = Deps{
		Sources:     []feeds.Source{{Name: "example-cert", Kind: feeds.KindRSS, URL: feed.URL, Internal: true}},
		SMTPRootCAs: e.smtp.RootCAs,
	}

	ctx := context.Background()
	tenant := match.Tenant{ID: "st-example", Name: "St Example General Hospital", TLPClearance: "GREEN",
		Channels: match.Channels{Slack: &match.SlackChannel{Channel: "#vigil-alerts"}, Email: &match.EmailChannel{To: []string{"secops@example-hospital.org"}}},
		Delivery: match.DeliveryPolicy{GroupWindow: "0s"}} // each alert alone: these tests count messages
	if err := match.PutTenant(ctx, e.bus, tenant); err != nil {
		t.Fatal(err)
	}
	inv, err := match.ParseCSV("inventory.csv", strings.NewReader(
		"id,vendor,product,version,criticality,location,zone\n"+
			"MON-ICU-01,GE Healthcare,CARESCAPE B450,2.0.2,life-critical,ICU bed 1,clinical\n"+
			"MON-ICU-02,GE Healthcare,CARESCAPE B450,2.1.0,life-critical,ICU bed 2,clinical\n"+
			"PACS-01,Agfa,Enterprise Imaging,8.1,high,Data centre,clinical\n"))
	if err != nil || len(inv.Errors) != 0 {
		t.Fatal(err, inv.Errors)
	}
	if err := match.PutInventory(ctx, e.bus, tenant.ID, inv.Assets); err != nil {
		t.Fatal(err)
	}
	if e.db, err = store.Open(ctx, store.Config{Addr: addr, Database: database, User: "default"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.db.Close() })
	return e
}

func (e *env) start(t *testing.T) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, e.cfg, AllRoles, e.bus, e.deps, e.log) }()
	return func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("pipeline: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("pipeline did not stop within 30s of cancellation")
		}
	}
}

func TestEndToEndFeedToSlackEmailAndClickHouse(t *testing.T) {
	e := setup(t, smtpPassword, slackToken)
	stop := e.start(t)
	ctx := context.Background()

	testenv.Eventually(t, 60*time.Second, 100*time.Millisecond, func() error {
		if n := len(e.slack.Messages()); n != 1 {
			return fmt.Errorf("slack has %d messages", n)
		}
		if n := len(e.smtp.Mails()); n != 1 {
			return fmt.Errorf("smtp has %d mails", n)
		}
		rows, err := e.db.Alerts(ctx, store.AlertFilter{Tenant: "st-example"})
		if err != nil {
			return err
		}
		if len(rows) != 1 || len(rows[0].Delivered) != 2 {
			return fmt.Errorf("clickhouse alerts %+v", rows)
		}
		return nil
	})
	msg := e.slack.Messages()[0]
	if !strings.Contains(string(msg.Blocks), "MON-ICU-01") || strings.Contains(string(msg.Blocks), "MON-ICU-02") {
		t.Fatalf("slack message should name MON-ICU-01 (2.0.2) and not MON-ICU-02 (2.1.0, fixed): %s", msg.Blocks)
	}
	mail := e.smtp.Mails()[0]
	if !mail.TLS || !bytes.Contains(mail.Data, []byte("MON-ICU-01")) {
		t.Fatalf("email: tls=%v\n%s", mail.TLS, mail.Data)
	}
	rows, _ := e.db.Alerts(ctx, store.AlertFilter{Tenant: "st-example"})
	if r := rows[0]; r.Title != "GE HealthCare CARESCAPE B450 Patient Monitor: Improper Authentication" ||
		strings.Join(r.Assets, ",") != "MON-ICU-01" || strings.Join(r.Delivered, ",") != "email:delivered,slack:delivered" {
		t.Fatalf("clickhouse row %+v", r)
	}

	// Later polls of the unchanged feed produce no second alert.
	before := e.hits.Load()
	testenv.Eventually(t, 20*time.Second, 100*time.Millisecond, func() error {
		if e.hits.Load() < before+2 {
			return fmt.Errorf("feed polled %d times", e.hits.Load())
		}
		return nil
	})
	time.Sleep(500 * time.Millisecond) // let anything a poll would cause travel the pipeline
	if n := len(e.slack.Messages()); n != 1 {
		t.Fatalf("slack has %d messages after re-polling, want 1", n)
	}
	if n := testenv.StreamMsgs(t, e.bus, bus.StreamAlerts); n != 1 {
		t.Fatalf("ALERTS holds %d alerts after re-polling, want 1", n)
	}
	n, err := e.db.Count(ctx, "advisories")
	if err != nil || n != 2 {
		t.Fatalf("clickhouse advisories %d (%v), want 2", n, err)
	}
	stop()

	// A restart with the same state republishes nothing and resends nothing.
	stop = e.start(t)
	testenv.Eventually(t, 20*time.Second, 100*time.Millisecond, func() error {
		if e.hits.Load() < before+4 {
			return fmt.Errorf("feed polled %d times", e.hits.Load())
		}
		return nil
	})
	stop()
	if n := len(e.slack.Messages()); n != 1 || len(e.smtp.Mails()) != 1 {
		t.Fatalf("after restart: %d slack messages, %d mails", n, len(e.smtp.Mails()))
	}
	if strings.Contains(e.logs.String(), slackToken) || strings.Contains(e.logs.String(), smtpPassword) {
		t.Fatal("logs contain a secret")
	}
}

// TestSecretsNeverLeak runs the pipeline with credentials the servers
// refuse, and searches everything Vigil wrote (logs, delivery records, dead
// letters, ClickHouse) for them.
func TestSecretsNeverLeak(t *testing.T) {
	wrongToken, wrongPass := "xoxb-wrong-"+slackToken, "wrong-"+smtpPassword
	e := setup(t, wrongPass, wrongToken)
	stop := e.start(t)
	ctx := context.Background()
	testenv.Eventually(t, 60*time.Second, 100*time.Millisecond, func() error {
		if n := testenv.StreamMsgs(t, e.bus, bus.StreamDeadLetters); n < 1 {
			return fmt.Errorf("%d dead letters", n)
		}
		rows, err := e.db.Alerts(ctx, store.AlertFilter{Tenant: "st-example"})
		if err != nil || len(rows) != 1 || len(rows[0].Delivered) != 2 {
			return fmt.Errorf("delivery failures not stored yet: %+v %v", rows, err)
		}
		return nil
	})
	stop()
	var everything strings.Builder
	everything.WriteString(e.logs.String())
	for _, stream := range []string{bus.StreamDeliveries, bus.StreamDeadLetters} {
		s, _ := e.bus.JS.Stream(ctx, stream)
		info, _ := s.Info(ctx)
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
			m, err := s.GetMsg(ctx, seq)
			if err != nil {
				continue
			}
			everything.Write(m.Data)
			fmt.Fprint(&everything, m.Header)
		}
	}
	rows, err := e.db.Conn.Query(ctx, "SELECT error FROM deliveries")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		everything.WriteString(s)
	}
	rows.Close()
	all := everything.String()
	if !strings.Contains(all, "invalid_auth") || !strings.Contains(all, "535") {
		t.Fatalf("the failures themselves were not recorded:\n%s", all)
	}
	for _, secret := range []string{wrongToken, wrongPass, slackToken, smtpPassword} {
		if strings.Contains(all, secret) {
			t.Fatalf("secret %q found in what Vigil wrote", secret)
		}
	}
	if len(e.slack.Messages()) != 0 || len(e.smtp.Mails()) != 0 {
		t.Fatal("refused credentials still delivered")
	}
}
