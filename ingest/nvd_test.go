package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilhealth/vigil/feeds"
	"github.com/vigilhealth/vigil/internal/bus"
	"github.com/vigilhealth/vigil/internal/testenv"
)

func nvdCVE(id, lastMod string) string {
	return fmt.Sprintf(`{"cve":{"id":%q,"published":"2026-11-01T00:00:00.000","lastModified":%q,"vulnStatus":"Analyzed",
		"descriptions":[{"lang":"en","value":"Example Imaging PACS flaw."}],"metrics":{},
		"configurations":[{"nodes":[{"operator":"OR","negate":false,"cpeMatch":[{"vulnerable":true,"criteria":"cpe:2.3:a:example:pacs:*:*:*:*:*:*:*:*","versionEndExcluding":"8.2"}]}]}],
		"references":[]}}`, id, lastMod)
}

func TestNVDPagesWindowsAndAPIKey(t *testing.T) {
	const apiKey = "nvd-api-key-secret-0123"
	cves := []string{nvdCVE("CVE-2026-60001", "2026-11-19T10:00:00.000"), nvdCVE("CVE-2026-60002", "2026-11-19T11:00:00.000"), nvdCVE("CVE-2026-60003", "2026-11-19T12:00:00.000")}
	var mu sync.Mutex
	var windows []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("apiKey") != apiKey {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		q := r.URL.Query()
		mu.Lock()
		windows = append(windows, q.Get("lastModStartDate")+".."+q.Get("lastModEndDate")+"@"+q.Get("startIndex"))
		mu.Unlock()
		start, _ := strconv.Atoi(q.Get("startIndex"))
		per := 2 // the server pages by 2 whatever we ask
		end := min(start+per, len(cves))
		fmt.Fprintf(w, `{"resultsPerPage":%d,"startIndex":%d,"totalResults":%d,"format":"NVD_CVE","version":"2.0","timestamp":"2026-11-20T00:00:00.000","vulnerabilities":[%s]}`,
			end-start, start, len(cves), strings.Join(cves[start:end], ","))
	}))
	defer srv.Close()
	b := testenv.NATS(t)
	src := feeds.Source{Name: "nvd", Kind: feeds.KindNVD, URL: srv.URL + "/rest/json/cves/2.0", Internal: true}
	m := NewMetrics()
	p := NewPoller(src, b, Options{Timeout: 2 * time.Second, MaxBytes: 1 << 20, NVDAPIKey: apiKey, Metrics: m}, testenv.Logger(t))
	now := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	p.now = func() time.Time { return now }
	res, err := p.Poll(context.Background())
	if err != nil || res.Published != 3 {
		t.Fatalf("poll %+v %v", res, err)
	}
	if len(windows) != 2 || windows[0] != "2026-11-19T00:00:00.000Z..2026-11-20T00:00:00.000Z@0" || !strings.HasSuffix(windows[1], "@2") {
		t.Fatalf("requests %v", windows)
	}
	var cur Cursor
	if err := bus.GetJSON(context.Background(), b.Cursors, "nvd", &cur); err != nil || !cur.Since.Equal(now) {
		t.Fatalf("cursor %+v %v", cur, err)
	}
	// The next poll asks only for what changed since.
	now = now.Add(2 * time.Hour)
	if _, err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(windows[2], "2026-11-20T00:00:00.000Z..2026-11-20T02:00:00.000Z") {
		t.Fatalf("second window %v", windows[2])
	}
	// A refused key: the error names the source, never the key.
	p.opts.NVDAPIKey = "wrong-" + apiKey
	now = now.Add(time.Hour)
	_, err = p.Poll(context.Background())
	if err == nil || strings.Contains(err.Error(), apiKey) || !strings.Contains(err.Error(), "feed nvd") {
		t.Fatalf("err %v", err)
	}
	var out bytes.Buffer
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	out.Write(rec.Body.Bytes())
	for _, want := range []string{`vigil_ingest_published_total{source="nvd"} 3`, `vigil_ingest_polls_total{result="http_Forbidden",source="nvd"} 1`, `vigil_ingest_last_success_timestamp_seconds{source="nvd"}`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("metrics lack %s:\n%s", want, out.String())
		}
	}
}

func TestGzipBombAndTruncatedBody(t *testing.T) {
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	_, _ = zw.Write([]byte("<rss version=\"2.0\"><channel><title>"))
	_, _ = io.Copy(zw, io.LimitReader(zeroReader{}, 50<<20))
	_ = zw.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/truncated" {
			w.Header().Set("Content-Length", "10000")
			_, _ = w.Write([]byte("<rss version=\"2.0\"><channel>"))
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(bomb.Bytes())
	}))
	defer srv.Close()
	if bomb.Len() > 1<<20 {
		t.Fatalf("bomb is %d bytes compressed", bomb.Len())
	}
	b := testenv.NATS(t)
	_, err := newPoller(t, b, srv.URL+"/bomb", 1<<20).Poll(context.Background())
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("gzip bomb (%d bytes compressed, 50 MiB inflated): err %v", bomb.Len(), err)
	}
	_, err = newPoller(t, b, srv.URL+"/truncated", 1<<20).Poll(context.Background())
	if err == nil || !strings.Contains(err.Error(), "feed test-feed") {
		t.Fatalf("truncated body: err %v", err)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}
