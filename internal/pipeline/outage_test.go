package pipeline

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilhealth/vigil/feeds"
	"github.com/vigilhealth/vigil/internal/chlocal"
	"github.com/vigilhealth/vigil/internal/testenv"
	"github.com/vigilhealth/vigil/store"
)

func rssItems(n int) []byte {
	var b strings.Builder
	b.WriteString(`<rss version="2.0"><channel><title>outage</title>`)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, `<item><title>GE HealthCare CARESCAPE B450 issue %d</title><guid>OUT-%d</guid><description>CARESCAPE B450 firmware prior to 2.1 (CVE-2026-4%04d)</description></item>`, i, i, i)
	}
	b.WriteString(`</channel></rss>`)
	return []byte(b.String())
}

// TestClickHouseOutageLosesNothing stops ClickHouse mid-stream: alerts keep
// reaching Slack and email, and when ClickHouse returns the store catches up
// from JetStream with every row once.
func TestClickHouseOutageLosesNothing(t *testing.T) {
	if _, err := chlocal.Binary(); err != nil {
		testenv.Unavailable(t, "%v", err)
	}
	e := setup(t, smtpPassword, slackToken)
	ctx := context.Background()
	dir := t.TempDir()
	srv, err := chlocal.Start(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	_, portStr, _ := net.SplitHostPort(srv.Addr)
	port, _ := strconv.Atoi(portStr)
	defer func() { srv.Stop() }()

	var body atomic.Value
	body.Store(rssItems(2))
	feed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body.Load().([]byte)) }))
	defer feed.Close()
	e.deps.Sources = []feeds.Source{{Name: "outage-cert", Kind: feeds.KindRSS, URL: feed.URL, Internal: true}}
	e.cfg.ClickHouseAddr, e.cfg.ClickHouseDatabase = srv.Addr, "vigil_outage"
	stop := e.start(t)
	defer stop()

	db, err := store.Open(ctx, store.Config{Addr: srv.Addr, Database: "vigil_outage", User: "default"})
	if err != nil {
		t.Fatal(err)
	}
	waitRows := func(want uint64) {
		t.Helper()
		testenv.Eventually(t, 60*time.Second, 200*time.Millisecond, func() error {
			n, err := db.Count(ctx, "alerts")
			if err != nil {
				return err
			}
			d, err := db.Count(ctx, "deliveries")
			if err != nil {
				return err
			}
			if n != want || d != 2*want {
				return fmt.Errorf("alerts %d deliveries %d, want %d and %d", n, d, want, 2*want)
			}
			return nil
		})
	}
	waitRows(2)
	db.Close()

	srv.Stop()
	body.Store(rssItems(5))
	testenv.Eventually(t, 30*time.Second, 100*time.Millisecond, func() error {
		if n := len(e.slack.Messages()); n != 5 || len(e.smtp.Mails()) != 5 {
			return fmt.Errorf("with ClickHouse down: %d slack, %d mails, want 5 each", n, len(e.smtp.Mails()))
		}
		return nil
	})

	if srv, err = chlocal.StartOn(ctx, dir, port); err != nil {
		t.Fatal(err)
	}
	if db, err = store.Open(ctx, store.Config{Addr: srv.Addr, Database: "vigil_outage", User: "default"}); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	waitRows(5)
	if strings.Contains(e.logs.String(), "panic") {
		t.Fatal("panic in logs")
	}
}
