package ingest

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/gopenpgp/v2/crypto"

	"github.com/vigilhealth/vigil/feeds"
	"github.com/vigilhealth/vigil/internal/bus"
	"github.com/vigilhealth/vigil/internal/testenv"
)

// provider is a CSAF provider served over TLS from memory.
type provider struct {
	t     *testing.T
	srv   *httptest.Server
	mu    sync.Mutex
	files map[string][]byte
	hits  map[string]int
	key   *crypto.KeyRing
	fp    string
}

func newProvider(t *testing.T, rolie, signed bool) *provider {
	p := &provider{t: t, files: map[string][]byte{}, hits: map[string]int{}}
	p.srv = httptest.NewTLSServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	base := p.srv.URL + "/.well-known/csaf"
	pmd := map[string]any{
		"canonical_url":              base + "/provider-metadata.json",
		"last_updated":               "2026-11-20T10:00:00Z",
		"list_on_CSAF_aggregators":   true,
		"metadata_version":           "2.0",
		"mirror_on_CSAF_aggregators": true,
		"publisher":                  map[string]string{"category": "vendor", "name": "Example Infusion GmbH", "namespace": "https://infusion.example"},
		"role":                       "csaf_provider",
	}
	if rolie {
		pmd["distributions"] = []any{map[string]any{"rolie": map[string]any{"feeds": []any{
			map[string]any{"summary": "WHITE advisories", "tlp_label": "WHITE", "url": base + "/white/feed-tlp-white.json"}}}}}
	} else {
		pmd["distributions"] = []any{map[string]any{"directory_url": base + "/white/"}}
	}
	if signed {
		key, err := crypto.GenerateKey("Example PSIRT", "psirt@infusion.example", "x25519", 0)
		if err != nil {
			t.Fatal(err)
		}
		pub, _ := key.GetArmoredPublicKey()
		p.files["/.well-known/csaf/openpgp/key.asc"] = []byte(pub)
		p.key, _ = crypto.NewKeyRing(key)
		p.fp = key.GetFingerprint()
		pmd["public_openpgp_keys"] = []any{map[string]string{"fingerprint": strings.ToUpper(p.fp), "url": base + "/openpgp/key.asc"}}
	}
	p.put("/.well-known/csaf/provider-metadata.json", mustJSON(t, pmd))
	return p
}

func (p *provider) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	body, ok := p.files[r.URL.Path]
	p.hits[r.URL.Path]++
	p.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	etag := fmt.Sprintf(`"%x"`, sha256.Sum256(body))
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("ETag", etag)
	_, _ = w.Write(body)
}

func (p *provider) put(path string, body []byte) {
	p.mu.Lock()
	p.files[path] = body
	p.mu.Unlock()
}

func (p *provider) hitsOf(path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hits[path]
}

// publish adds a document with hashes and, when signing, a signature.
func (p *provider) publish(name string, doc []byte, updated time.Time) {
	path := "/.well-known/csaf/white/2026/" + name
	p.put(path, doc)
	s256, s512 := sha256.Sum256(doc), sha512.Sum512(doc)
	p.put(path+".sha256", []byte(hex.EncodeToString(s256[:])+"  "+name+"\n"))
	p.put(path+".sha512", []byte(hex.EncodeToString(s512[:])+"  "+name+"\n"))
	if p.key != nil {
		sig, err := p.key.SignDetached(crypto.NewPlainMessage(doc))
		if err != nil {
			p.t.Fatal(err)
		}
		arm, _ := sig.GetArmored()
		p.put(path+".asc", []byte(arm))
	}
	p.mu.Lock()
	p.hits["entries:"+name] = int(updated.Unix())
	p.mu.Unlock()
	p.index()
}

// index rewrites the ROLIE feed and changes.csv from the published documents.
func (p *provider) index() {
	p.mu.Lock()
	type doc struct {
		name    string
		updated time.Time
	}
	var docs []doc
	for k, v := range p.hits {
		if strings.HasPrefix(k, "entries:") {
			docs = append(docs, doc{strings.TrimPrefix(k, "entries:"), time.Unix(int64(v), 0).UTC()})
		}
	}
	p.mu.Unlock()
	base := p.srv.URL + "/.well-known/csaf/white/2026/"
	var entries []any
	var csv strings.Builder
	for _, d := range docs {
		u := base + d.name
		entries = append(entries, map[string]any{
			"id": d.name, "title": d.name, "published": d.updated.Format(time.RFC3339), "updated": d.updated.Format(time.RFC3339),
			"link": []any{
				map[string]string{"rel": "self", "href": u},
				map[string]string{"rel": "hash", "href": u + ".sha256"},
				map[string]string{"rel": "hash", "href": u + ".sha512"},
				map[string]string{"rel": "signature", "href": u + ".asc"},
			},
			"content": map[string]string{"type": "application/json", "src": u},
			"format":  map[string]string{"schema": "https://docs.oasis-open.org/csaf/csaf/v2.0/csaf_json_schema.json", "version": "2.0"},
		})
		fmt.Fprintf(&csv, "\"2026/%s\",\"%s\"\n", d.name, d.updated.Format(time.RFC3339))
	}
	feed := map[string]any{"feed": map[string]any{
		"id": "example-white", "title": "Example WHITE", "updated": time.Now().UTC().Format(time.RFC3339),
		"link":     []any{map[string]string{"rel": "self", "href": p.srv.URL + "/.well-known/csaf/white/feed-tlp-white.json"}},
		"category": []any{map[string]string{"scheme": "urn:ietf:params:rolie:category:information-type", "term": "csaf"}},
		"entry":    entries,
	}}
	p.put("/.well-known/csaf/white/feed-tlp-white.json", mustJSON(p.t, feed))
	p.put("/.well-known/csaf/white/changes.csv", []byte(csv.String()))
}

func csafPoller(t *testing.T, b *bus.Bus, p *provider) *Poller {
	host := strings.TrimPrefix(p.srv.URL, "https://")
	src := feeds.Source{Name: "example-csaf", Kind: feeds.KindCSAF, URL: host, Internal: true}
	return NewPoller(src, b, Options{Timeout: 5 * time.Second, MaxBytes: 1 << 20, Transport: p.srv.Client().Transport}, testenv.Logger(t))
}

func readFixture(t *testing.T, name string) []byte {
	b, err := os.ReadFile("testdata/csaf/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCSAFProviderROLIESignedOnlyNewDocuments(t *testing.T) {
	b := testenv.NATS(t)
	prov := newProvider(t, true, true)
	now := time.Now().UTC().Truncate(time.Second)
	prov.publish("vhc-2026-0042.json", readFixture(t, "vhc-2026-0042.json"), now.Add(-time.Hour))
	poller := csafPoller(t, b, prov)
	ctx := context.Background()

	res, err := poller.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Published != 1 || res.Rejected != 0 {
		t.Fatalf("first poll %+v", res)
	}
	// Unchanged feed: one conditional request, no document downloaded again.
	res, err = poller.Poll(ctx)
	if err != nil || !res.NotModified || prov.hitsOf("/.well-known/csaf/white/2026/vhc-2026-0042.json") != 1 {
		t.Fatalf("second poll %+v %v (document fetched %d times)", res, err, prov.hitsOf("/.well-known/csaf/white/2026/vhc-2026-0042.json"))
	}
	// A new document: only it is downloaded.
	prov.publish("vhc-2026-0043.json", readFixture(t, "vhc-2026-0043.json"), now)
	res, err = poller.Poll(ctx)
	if err != nil || res.Published != 1 || prov.hitsOf("/.well-known/csaf/white/2026/vhc-2026-0042.json") != 1 {
		t.Fatalf("third poll %+v %v", res, err)
	}
	if n := testenv.StreamMsgs(t, b, bus.StreamAdvisories); n != 2 {
		t.Fatalf("%d raw advisories, want 2", n)
	}
}

func TestCSAFDocumentsFailingVerificationAreNotPublished(t *testing.T) {
	b := testenv.NATS(t)
	prov := newProvider(t, true, true)
	now := time.Now().UTC().Truncate(time.Second)
	prov.publish("vhc-2026-0042.json", readFixture(t, "vhc-2026-0042.json"), now.Add(-time.Hour))
	prov.publish("vhc-2026-0043.json", readFixture(t, "vhc-2026-0043.json"), now)
	// Tamper with one document after it was hashed and signed.
	prov.put("/.well-known/csaf/white/2026/vhc-2026-0043.json", []byte(strings.Replace(string(readFixture(t, "vhc-2026-0043.json")), "second advisory", "tampered", 1)))
	res, err := csafPoller(t, b, prov).Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Published != 1 || res.Rejected != 1 {
		t.Fatalf("poll %+v", res)
	}
	// Hash right, signature by another key: also rejected.
	other := newProvider(t, true, true)
	doc := readFixture(t, "vhc-2026-0042.json")
	other.publish("vhc-2026-0042.json", doc, now)
	other.put("/.well-known/csaf/white/2026/vhc-2026-0042.json.asc", prov.files["/.well-known/csaf/white/2026/vhc-2026-0042.json.asc"])
	res, err = csafPoller(t, testenv.NATS(t), other).Poll(context.Background())
	if err != nil || res.Rejected != 1 || res.Published != 0 {
		t.Fatalf("wrong signature: %+v %v", res, err)
	}
	if n := testenv.StreamMsgs(t, b, bus.StreamDeadLetters); n != 1 {
		t.Fatalf("%d dead letters, want 1", n)
	}
}

func TestCSAFDirectoryProviderWithChangesCSV(t *testing.T) {
	b := testenv.NATS(t)
	prov := newProvider(t, false, false)
	now := time.Now().UTC().Truncate(time.Second)
	prov.publish("vhc-2026-0042.json", readFixture(t, "vhc-2026-0042.json"), now.Add(-time.Hour))
	prov.publish("vhc-2026-0043.json", readFixture(t, "vhc-2026-0043.json"), now.Add(-40*24*time.Hour)) // before the first look
	res, err := csafPoller(t, b, prov).Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Published != 1 {
		t.Fatalf("poll %+v: want only the document changed in the last 30 days", res)
	}
}

func TestCSAFProviderMetadataMissing(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	src := feeds.Source{Name: "nowhere", Kind: feeds.KindCSAF, URL: strings.TrimPrefix(srv.URL, "https://"), Internal: true}
	p := NewPoller(src, testenv.NATS(t), Options{Timeout: 2 * time.Second, MaxBytes: 1 << 20, Transport: srv.Client().Transport}, testenv.Logger(t))
	if _, err := p.Poll(context.Background()); err == nil || !strings.Contains(err.Error(), "feed nowhere: provider metadata") {
		t.Fatalf("err %v", err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := jsonMarshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
