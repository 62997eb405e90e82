package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ProtonMail/gopenpgp/v2/crypto"
	gocsaf "github.com/gocsaf/csaf/v3/csaf"
	"github.com/gocsaf/csaf/v3/util"
)

// FeedCursor is the state of one ROLIE feed or changes.csv of a provider.
type FeedCursor struct {
	ETag         string    `json:"etag,omitempty"`
	LastModified string    `json:"last_modified,omitempty"`
	Since        time.Time `json:"since"`
}

// ErrVerification means a CSAF document's hash or signature did not check.
var ErrVerification = errors.New("verification failed")

// csafFirstLook is how far back the first poll of a provider looks; older
// documents come with `vigil ingest backfill`.
const csafFirstLook = 30 * 24 * time.Hour

// pollCSAF follows a CSAF provider as the standard says: provider-metadata
// (given URL, else the domain's well-known path, else security.txt, through
// gocsaf's loader), then each ROLIE feed, or changes.csv of each directory
// distribution, fetched conditionally; only documents changed since that
// feed's cursor are downloaded, their hashes checked, and their OpenPGP
// signatures verified when the provider publishes keys.
func (p *Poller) pollCSAF(ctx context.Context, cur Cursor) (Result, Cursor, error) {
	next := cur
	var res Result
	lpmd := gocsaf.NewProviderMetadataLoader(p.fetch.client).LoadWithContext(ctx, p.Source.URL)
	if !lpmd.Valid() {
		return res, next, fmt.Errorf("provider metadata: %s", loadMessages(lpmd))
	}
	var pmd gocsaf.ProviderMetadata
	if err := util.ReMarshalJSON(&pmd, lpmd.Document); err != nil {
		return res, next, fmt.Errorf("provider metadata %s: %w", lpmd.URL, err)
	}
	base, _ := url.Parse(lpmd.URL)
	keys, err := p.openPGPKeys(ctx, base, pmd.PGPKeys)
	if err != nil {
		return res, next, err
	}
	if next.Feeds == nil {
		next.Feeds = map[string]FeedCursor{}
	}
	var errs []error
	feedList := feedURLs(base, pmd.Distributions)
	unchanged := 0
	for _, feedURL := range feedList {
		fc, ok := next.Feeds[feedURL]
		if !ok || fc.Since.IsZero() {
			fc.Since = firstSince(cur.Since, p.now())
		}
		r, nfc, err := p.csafFeed(ctx, feedURL, fc, keys)
		res.add(r)
		if r.NotModified {
			unchanged++
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", feedURL, err))
			continue // this feed's cursor stays: nothing of it is missed
		}
		next.Feeds[feedURL] = nfc
	}
	res.NotModified = len(feedList) > 0 && unchanged == len(feedList)
	if len(errs) == 0 && len(next.Feeds) == 0 {
		return res, next, fmt.Errorf("provider metadata %s lists no ROLIE feed or directory", lpmd.URL)
	}
	return res, next, errors.Join(errs...)
}

func firstSince(backfill time.Time, now time.Time) time.Time {
	if !backfill.IsZero() {
		return backfill
	}
	return now.Add(-csafFirstLook)
}

// feedURLs lists the ROLIE feeds and directory changes.csv files.
func feedURLs(base *url.URL, dists []gocsaf.Distribution) []string {
	var out []string
	for _, d := range dists {
		if d.Rolie != nil {
			for _, f := range d.Rolie.Feeds {
				if f.URL != nil {
					out = append(out, resolve(base, string(*f.URL)))
				}
			}
		}
		if d.DirectoryURL != "" {
			out = append(out, resolve(base, strings.TrimSuffix(d.DirectoryURL, "/")+"/changes.csv"))
		}
	}
	return out
}

func resolve(base *url.URL, ref string) string {
	u, err := url.Parse(ref)
	if err != nil || base == nil {
		return ref
	}
	return base.ResolveReference(u).String()
}

type csafFile struct {
	url, sha256, sha512, sign string
	changed                   time.Time
}

// csafFeed processes one ROLIE feed or changes.csv.
func (p *Poller) csafFeed(ctx context.Context, feedURL string, fc FeedCursor, keys *crypto.KeyRing) (Result, FeedCursor, error) {
	var res Result
	hdr := http.Header{}
	if fc.ETag != "" {
		hdr.Set("If-None-Match", fc.ETag)
	}
	if fc.LastModified != "" {
		hdr.Set("If-Modified-Since", fc.LastModified)
	}
	resp, err := p.fetch.get(ctx, feedURL, hdr)
	if err != nil {
		return res, fc, err
	}
	if resp.Status == http.StatusNotModified {
		res.NotModified = true
		return res, fc, nil
	}
	files, err := parseIndex(feedURL, resp.Body)
	if err != nil {
		return res, fc, err
	}
	newest := fc.Since
	var transient []error
	var todo []csafFile
	for _, f := range files {
		if f.changed.After(fc.Since) {
			todo = append(todo, f)
		}
	}
	for i, f := range todo {
		p.opts.progress(i, len(todo))
		r, err := p.csafDocument(ctx, f, keys)
		res.add(r)
		switch {
		case errors.Is(err, ErrVerification):
			res.Rejected++
			p.log.Error("CSAF document rejected and not published", "url", f.url, "err", err)
			p.deadLetter(ctx, []byte(f.url), err)
		case err != nil:
			transient = append(transient, fmt.Errorf("%s: %w", f.url, err))
			continue
		}
		if f.changed.After(newest) {
			newest = f.changed
		}
	}
	p.opts.progress(len(todo), len(todo))
	if len(transient) > 0 {
		// Keep the cursor: the failed documents are tried again next poll,
		// the others are recognised by their seen revisions.
		return res, fc, errors.Join(transient...)
	}
	return res, FeedCursor{ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified"), Since: newest}, nil
}

// parseIndex reads a ROLIE feed or a directory's changes.csv.
func parseIndex(indexURL string, body []byte) ([]csafFile, error) {
	if strings.HasSuffix(indexURL, "/changes.csv") {
		return changesCSV(indexURL, body)
	}
	return rolieEntries(indexURL, body)
}

func rolieEntries(feedURL string, body []byte) ([]csafFile, error) {
	feed, err := gocsaf.LoadROLIEFeed(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("ROLIE feed: %w", err)
	}
	base, _ := url.Parse(feedURL)
	var out []csafFile
	feed.Entries(func(e *gocsaf.Entry) {
		f := csafFile{changed: time.Time(e.Updated)}
		for _, l := range e.Link {
			href := resolve(base, l.HRef)
			switch l.Rel {
			case "self":
				f.url = href
			case "signature":
				f.sign = href
			case "hash":
				switch {
				case strings.HasSuffix(strings.ToLower(href), ".sha512"):
					f.sha512 = href
				case strings.HasSuffix(strings.ToLower(href), ".sha256"):
					f.sha256 = href
				}
			}
		}
		if f.url == "" && e.Content.Src != "" {
			f.url = resolve(base, string(e.Content.Src))
		}
		if f.url != "" {
			out = append(out, f)
		}
	})
	return out, nil
}

func changesCSV(csvURL string, body []byte) ([]csafFile, error) {
	base, _ := url.Parse(strings.TrimSuffix(csvURL, "changes.csv"))
	r := csv.NewReader(bytes.NewReader(body))
	r.FieldsPerRecord = -1
	var out []csafFile
	for line := 1; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("changes.csv line %d: %w", line, err)
		}
		if len(rec) < 2 {
			return nil, fmt.Errorf("changes.csv line %d: want path,time", line)
		}
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(rec[1]))
		if err != nil {
			return nil, fmt.Errorf("changes.csv line %d: time: %w", line, err)
		}
		doc := resolve(base, strings.TrimSpace(rec[0]))
		out = append(out, csafFile{url: doc, sha256: doc + ".sha256", sha512: doc + ".sha512", sign: doc + ".asc", changed: t})
	}
}

// csafDocument downloads, verifies and publishes one document.
func (p *Poller) csafDocument(ctx context.Context, f csafFile, keys *crypto.KeyRing) (Result, error) {
	resp, err := p.fetch.get(ctx, f.url, nil)
	if err != nil {
		return Result{}, err
	}
	if err := p.verifyHash(ctx, f, resp.Body); err != nil {
		return Result{}, err
	}
	if keys != nil {
		if err := p.verifySignature(ctx, f, resp.Body, keys); err != nil {
			return Result{}, err
		}
	}
	res, _, err := p.parseAndPublish(ctx, "csaf", resp.Body)
	return res, err
}

// verifyHash checks the strongest published hash; a document whose hash
// files are all missing is accepted (and logged), a mismatch is rejected.
func (p *Poller) verifyHash(ctx context.Context, f csafFile, doc []byte) error {
	for _, h := range []struct {
		url string
		sum func([]byte) string
	}{
		{f.sha512, func(b []byte) string { s := sha512.Sum512(b); return hex.EncodeToString(s[:]) }},
		{f.sha256, func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }},
	} {
		if h.url == "" {
			continue
		}
		resp, err := p.fetch.get(ctx, h.url, nil)
		var se *StatusError
		if errors.As(err, &se) && se.Code == http.StatusNotFound {
			continue
		}
		if err != nil {
			return err
		}
		fields := strings.Fields(string(resp.Body))
		if len(fields) == 0 || !strings.EqualFold(fields[0], h.sum(doc)) {
			return fmt.Errorf("%w: %s does not match the document", ErrVerification, h.url)
		}
		return nil
	}
	p.log.Warn("CSAF document has no hash file", "url", f.url)
	return nil
}

func (p *Poller) verifySignature(ctx context.Context, f csafFile, doc []byte, keys *crypto.KeyRing) error {
	if f.sign == "" {
		return fmt.Errorf("%w: the provider publishes OpenPGP keys but lists no signature for %s", ErrVerification, f.url)
	}
	resp, err := p.fetch.get(ctx, f.sign, nil)
	var se *StatusError
	if errors.As(err, &se) && se.Code == http.StatusNotFound {
		return fmt.Errorf("%w: signature %s missing", ErrVerification, f.sign)
	}
	if err != nil {
		return err
	}
	sig, err := crypto.NewPGPSignatureFromArmored(string(resp.Body))
	if err != nil {
		return fmt.Errorf("%w: signature %s: %v", ErrVerification, f.sign, err)
	}
	if err := keys.VerifyDetached(crypto.NewPlainMessage(doc), sig, crypto.GetUnixTime()); err != nil {
		return fmt.Errorf("%w: signature %s: %v", ErrVerification, f.sign, err)
	}
	return nil
}

// openPGPKeys loads the provider's public keys, checking fingerprints. No
// keys listed: nil (signatures are not checked). Keys listed but none
// usable: an error, so no unverifiable document is published.
func (p *Poller) openPGPKeys(ctx context.Context, base *url.URL, listed []gocsaf.PGPKey) (*crypto.KeyRing, error) {
	if len(listed) == 0 {
		return nil, nil
	}
	ring, err := crypto.NewKeyRing(nil)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, k := range listed {
		if k.URL == nil {
			continue
		}
		u := resolve(base, *k.URL)
		resp, err := p.fetch.get(ctx, u, nil)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		key, err := crypto.NewKeyFromArmored(string(resp.Body))
		if err != nil {
			errs = append(errs, fmt.Errorf("key %s: %w", u, err))
			continue
		}
		if fp := string(k.Fingerprint); fp != "" && !strings.EqualFold(fp, key.GetFingerprint()) {
			errs = append(errs, fmt.Errorf("key %s: fingerprint %s, provider metadata says %s", u, key.GetFingerprint(), fp))
			continue
		}
		if err := ring.AddKey(key); err != nil {
			errs = append(errs, err)
		}
	}
	if ring.CountEntities() == 0 {
		return nil, fmt.Errorf("provider lists OpenPGP keys but none could be loaded: %w", errors.Join(errs...))
	}
	return ring, nil
}

func loadMessages(l *gocsaf.LoadedProviderMetadata) string {
	var parts []string
	for _, m := range l.Messages {
		parts = append(parts, m.Message)
	}
	if len(parts) == 0 {
		return "not found or invalid"
	}
	return strings.Join(parts, "; ")
}
