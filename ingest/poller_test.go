package ingest

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilhealth/vigil/feeds"
	"github.com/vigilhealth/vigil/internal/bus"
	"github.com/vigilhealth/vigil/internal/testenv"
)

func feedServer(t *testing.T, body []byte, etag string) (*httptest.Server, *atomic.Int32, *atomic.Int32) {
	t.Helper()
	var hits, notModified atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if !strings.HasPrefix(r.Header.Get("User-Agent"), "Vigil/") {
			http.Error(w, "no user agent", http.StatusForbidden)
			return
		}
		if r.Header.Get("If-None-Match") == etag {
			notModified.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits, &notModified
}

func newPoller(t *testing.T, b *bus.Bus, url string, maxBytes int64) *Poller {
	src := feeds.Source{Name: "test-feed", Kind: feeds.KindRSS, URL: url, Internal: true}
	return NewPoller(src, b, Options{Timeout: 2 * time.Second, MaxBytes: maxBytes}, testenv.Logger(t))
}

func TestPollPublishesOnceAndUsesETag(t *testing.T) {
	body, err := os.ReadFile("testdata/feed.rss.xml")
	if err != nil {
		t.Fatal(err)
	}
	srv, hits, notModified := feedServer(t, body, `"v1"`)
	b := testenv.NATS(t)
	p := newPoller(t, b, srv.URL, 1<<20)
	ctx := context.Background()

	res, err := p.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Items != 3 || res.Published != 3 || len(res.ItemErrors) != 1 {
		t.Fatalf("first poll: %+v", res)
	}
	res, err = p.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !res.NotModified || notModified.Load() != 1 || hits.Load() != 2 {
		t.Fatalf("second poll should be a 304: %+v (hits %d)", res, hits.Load())
	}
	// Cursor lost (e.g. the source dropped its ETag): the seen records still
	// stop republication.
	if err := b.Cursors.Delete(ctx, "test-feed"); err != nil {
		t.Fatal(err)
	}
	res, err = p.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Published != 0 || res.Unchanged != 3 {
		t.Fatalf("third poll republished: %+v", res)
	}
	if n := testenv.StreamMsgs(t, b, bus.StreamAdvisories); n != 3 {
		t.Fatalf("stream holds %d raw advisories, want 3", n)
	}
}

func TestPollChangedItemIsNewRevision(t *testing.T) {
	b := testenv.NATS(t)
	doc := func(desc string) []byte {
		return []byte(`<rss version="2.0"><channel><title>x</title><item><title>Pump advisory</title><guid>A-1</guid><description>` + desc + `</description></item></channel></rss>`)
	}
	var body atomic.Value
	body.Store(doc("initial"))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body.Load().([]byte)) }))
	defer srv.Close()
	p := newPoller(t, b, srv.URL, 1<<20)
	for i, want := range []int{1, 0} {
		res, err := p.Poll(context.Background())
		if err != nil || res.Published != want {
			t.Fatalf("poll %d: %+v %v", i, res, err)
		}
	}
	body.Store(doc("fix released in 2.1"))
	res, err := p.Poll(context.Background())
	if err != nil || res.Published != 1 {
		t.Fatalf("edited item not republished: %+v %v", res, err)
	}
}

func TestPollFailuresAreReportedWithTheSourceName(t *testing.T) {
	b := testenv.NATS(t)
	big := "<rss version=\"2.0\"><channel><title>" + strings.Repeat("x", 4096) + "</title></channel></rss>"
	tests := []struct {
		name    string
		handler http.HandlerFunc
		check   func(error) bool
	}{
		{"server error", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "boom", 500) },
			func(err error) bool { var se *StatusError; return errors.As(err, &se) && se.Code == 500 }},
		{"rate limited", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "120")
			w.WriteHeader(429)
		}, func(err error) bool {
			var se *StatusError
			return errors.As(err, &se) && se.RetryAfter == 2*time.Minute
		}},
		{"malformed xml", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("<rss><channel><item><title>cut")) },
			func(err error) bool { return strings.Contains(err.Error(), "parse") }},
		{"too large", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(big)) },
			func(err error) bool { return errors.Is(err, ErrTooLarge) }},
		{"slow", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
			}
		}, func(err error) bool { return strings.Contains(err.Error(), "fetch") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			_, err := newPoller(t, b, srv.URL, 2048).Poll(context.Background())
			if err == nil || !strings.Contains(err.Error(), "feed test-feed") || !tt.check(err) {
				t.Fatalf("err = %v", err)
			}
			var cur Cursor
			if gerr := bus.GetJSON(context.Background(), b.Cursors, "test-feed", &cur); gerr != nil || cur.LastError == "" {
				t.Fatalf("cursor does not record the error: %+v %v", cur, gerr)
			}
		})
	}
}

func TestExternalSourceCannotReachLoopbackOrLinkLocal(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("secret")) }))
	defer target.Close()
	for _, dest := range []string{target.URL, "http://169.254.169.254/latest/meta-data/"} {
		c := NewClient(2*time.Second, false)
		req, _ := http.NewRequest(http.MethodGet, dest, nil)
		_, err := c.Do(req)
		if !errors.Is(err, ErrBlockedAddress) {
			t.Fatalf("GET %s from an external source: err %v, want ErrBlockedAddress", dest, err)
		}
	}
}

func TestBackoffIsCapped(t *testing.T) {
	if backoff(time.Minute, 1) != time.Minute || backoff(time.Minute, 3) != 4*time.Minute || backoff(time.Minute, 20) != time.Hour {
		t.Fatal("backoff not exponential with a 1h cap")
	}
}

func TestBadItemGoesToDeadLettersWithItsBytes(t *testing.T) {
	body, err := os.ReadFile("../feeds/kev/testdata/catalog.json")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) }))
	defer srv.Close()
	b := testenv.NATS(t)
	src := feeds.Source{Name: "kev-test", Kind: feeds.KindKEV, URL: srv.URL, Internal: true}
	res, err := NewPoller(src, b, Options{Timeout: 2 * time.Second, MaxBytes: 1 << 20}, testenv.Logger(t)).Poll(context.Background())
	if err != nil || res.Published != 2 || len(res.ItemErrors) != 1 {
		t.Fatalf("poll %+v %v", res, err)
	}
	s, _ := b.JS.Stream(context.Background(), bus.StreamDeadLetters)
	m, err := s.GetLastMsgForSubject(context.Background(), bus.DeadLetter("ingest"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(m.Data), "not-a-cve") || !strings.Contains(m.Header.Get(bus.HeaderError), "vulnerabilities[2]") {
		t.Fatalf("dead letter %s / %v", m.Data, m.Header)
	}
}

// TestRedirectToInternalAddressRefused plays a public feed server (the
// dialer is told to let its first hop through) that redirects to loopback
// and to the cloud metadata address.
func TestRedirectToInternalAddressRefused(t *testing.T) {
	for _, target := range []string{"http://127.0.0.1:1/feed", "http://169.254.169.254/latest/meta-data/", "http://localhost/feed"} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target, http.StatusFound)
		}))
		c := NewClient(2*time.Second, false)
		tr := http.DefaultTransport.(*http.Transport).Clone() // dials anything: stands for the public first hop
		c.Transport = userAgent{tr}
		resp, err := c.Get(srv.URL)
		if resp != nil {
			resp.Body.Close()
		}
		srv.Close()
		if !errors.Is(err, ErrBlockedAddress) {
			t.Errorf("redirect to %s: err %v, want ErrBlockedAddress", target, err)
		}
	}
}
