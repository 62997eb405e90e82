package ingest

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"time"

	gocsaf "github.com/gocsaf/csaf/v3/csaf"
	"github.com/gocsaf/csaf/v3/util"

	"github.com/vigilhealth/vigil/feeds"
	"github.com/vigilhealth/vigil/internal/bus"
)

// Check is what `vigil feeds check` reports about one source.
type Check struct {
	Source     string
	Kind       string
	Status     int
	Items      int
	ItemErrors []error
	Detail     string
	Took       time.Duration
	Err        error
}

// Check fetches the source once and parses it, publishing nothing and
// touching no cursor. A CSAF provider is checked down to its newest
// document, hash and signature included.
func (p *Poller) Check(ctx context.Context) Check {
	start := time.Now()
	c := Check{Source: p.Source.Name, Kind: p.Source.Kind}
	switch p.Source.Kind {
	case feeds.KindCSAF:
		p.checkCSAF(ctx, &c)
	case feeds.KindNVD:
		u, err := url.Parse(p.Source.URL)
		if err != nil {
			c.Err = err
			break
		}
		q := u.Query()
		q.Set("lastModStartDate", time.Now().UTC().Add(-24*time.Hour).Format(nvdTimeFmt))
		q.Set("lastModEndDate", time.Now().UTC().Format(nvdTimeFmt))
		q.Set("resultsPerPage", "100")
		u.RawQuery = q.Encode()
		p.checkDocument(ctx, &c, u.String(), feeds.FormatNVD)
	default:
		p.checkDocument(ctx, &c, p.Source.URL, p.Source.Kind)
	}
	c.Took = time.Since(start)
	return c
}

func (p *Poller) checkDocument(ctx context.Context, c *Check, rawURL, format string) {
	resp, err := p.fetch.get(ctx, rawURL, nvdHeader(p.opts.NVDAPIKey, format))
	if resp != nil {
		c.Status = resp.Status
	}
	if err != nil {
		c.Err = err
		return
	}
	res, err := feeds.Parse(format, p.Source.Name, resp.Body, time.Now())
	if err != nil {
		c.Err = err
		return
	}
	c.Items, c.ItemErrors = len(res.Advisories), res.ItemErrors
	c.Detail = fmt.Sprintf("%d bytes", len(resp.Body))
	if res.NVDPage != nil {
		c.Detail += ", " + strconv.Itoa(res.NVDPage.TotalResults) + " CVEs modified in the last 24 h"
	}
}

func (p *Poller) checkCSAF(ctx context.Context, c *Check) {
	lpmd := gocsaf.NewProviderMetadataLoader(p.fetch.client).LoadWithContext(ctx, p.Source.URL)
	if !lpmd.Valid() {
		c.Err = fmt.Errorf("provider metadata: %s", loadMessages(lpmd))
		return
	}
	var pmd gocsaf.ProviderMetadata
	if err := util.ReMarshalJSON(&pmd, lpmd.Document); err != nil {
		c.Err = err
		return
	}
	base, _ := url.Parse(lpmd.URL)
	keys, err := p.openPGPKeys(ctx, base, pmd.PGPKeys)
	if err != nil {
		c.Err = err
		return
	}
	var all []csafFile
	for _, feedURL := range feedURLs(base, pmd.Distributions) {
		resp, err := p.fetch.get(ctx, feedURL, nil)
		if resp != nil {
			c.Status = resp.Status
		}
		if err != nil {
			c.Err = fmt.Errorf("%s: %w", feedURL, err)
			return
		}
		files, err := parseIndex(feedURL, resp.Body)
		if err != nil {
			c.Err = fmt.Errorf("%s: %w", feedURL, err)
			return
		}
		all = append(all, files...)
	}
	c.Items = len(all)
	signed := "unsigned (no keys published)"
	if keys != nil {
		signed = "signatures checked"
	}
	c.Detail = fmt.Sprintf("provider metadata %s, %d documents listed, %s", lpmd.URL, len(all), signed)
	if len(all) == 0 {
		return
	}
	sort.Slice(all, func(i, j int) bool { return all[i].changed.After(all[j].changed) })
	newest := all[0]
	resp, err := p.fetch.get(ctx, newest.url, nil)
	if err != nil {
		c.Err = fmt.Errorf("newest document: %w", err)
		return
	}
	if err := p.verifyHash(ctx, newest, resp.Body); err != nil {
		c.Err = err
		return
	}
	if keys != nil {
		if err := p.verifySignature(ctx, newest, resp.Body, keys); err != nil {
			c.Err = err
			return
		}
	}
	if _, err := feeds.Parse(feeds.FormatCSAF, p.Source.Name, resp.Body, time.Now()); err != nil {
		c.Err = fmt.Errorf("newest document: %w", err)
		return
	}
	c.Detail += ", newest " + newest.url + " verified and parsed"
}

// Backfill rewinds the source's cursor to since and polls it once: NVD
// windows from since, CSAF documents changed since, and a full fetch of
// document sources. What was published before is recognised and skipped.
func (p *Poller) Backfill(ctx context.Context, since time.Time) (Result, error) {
	var cur Cursor
	_ = bus.GetJSON(ctx, p.bus.Cursors, p.Source.Name, &cur)
	cur.ETag, cur.LastModified, cur.Feeds, cur.Since = "", "", nil, since.UTC()
	if err := bus.PutJSON(ctx, p.bus.Cursors, p.Source.Name, cur); err != nil {
		return Result{}, fmt.Errorf("feed %s: rewind cursor: %w", p.Source.Name, err)
	}
	return p.Poll(ctx)
}
