package ingest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// NVD API limits: a lastModified window of at most 120 days, 2,000 results
// per page.
const (
	nvdMaxWindow = 120 * 24 * time.Hour
	nvdPageSize  = 2000
	nvdTimeFmt   = "2006-01-02T15:04:05.000Z"
)

// pollNVD fetches every CVE modified since the cursor (the first poll looks
// back one day; `vigil ingest backfill` goes further), page by page, in
// windows of at most 120 days. The cursor moves only past complete windows.
func (p *Poller) pollNVD(ctx context.Context, cur Cursor) (Result, Cursor, error) {
	next := cur
	now := p.now().UTC()
	since := cur.Since
	if since.IsZero() {
		since = now.Add(-24 * time.Hour)
	}
	var total Result
	for since.Before(now) {
		end := since.Add(nvdMaxWindow)
		if end.After(now) {
			end = now
		}
		res, err := p.nvdWindow(ctx, since, end)
		total.add(res)
		total.Status = res.Status
		if err != nil {
			return total, next, err
		}
		next.Since = end
		since = end
	}
	return total, next, nil
}

// nvdWindow fetches all pages of one lastModified window.
func (p *Poller) nvdWindow(ctx context.Context, start, end time.Time) (Result, error) {
	var total Result
	hdr := nvdHeader(p.opts.NVDAPIKey, "nvd")
	for index := 0; index >= 0; {
		u, err := url.Parse(p.Source.URL)
		if err != nil {
			return total, err
		}
		q := u.Query()
		q.Set("lastModStartDate", start.Format(nvdTimeFmt))
		q.Set("lastModEndDate", end.Format(nvdTimeFmt))
		q.Set("resultsPerPage", strconv.Itoa(nvdPageSize))
		q.Set("startIndex", strconv.Itoa(index))
		u.RawQuery = q.Encode()
		resp, err := p.fetch.get(ctx, u.String(), hdr)
		if resp != nil {
			total.Status = resp.Status
		}
		if err != nil {
			return total, fmt.Errorf("fetch page at %d: %w", index, err)
		}
		res, page, err := p.parseAndPublish(ctx, "nvd", resp.Body)
		total.add(res)
		if err != nil {
			return total, fmt.Errorf("page at %d: %w", index, err)
		}
		if page != nil {
			p.opts.progress(page.StartIndex+page.ResultsPerPage, page.TotalResults)
		}
		index = page.Next()
	}
	return total, nil
}

// nvdHeader carries the API key to NVD, and to nothing else.
func nvdHeader(apiKey, format string) http.Header {
	hdr := http.Header{}
	if apiKey != "" && format == "nvd" {
		hdr.Set("apiKey", apiKey)
	}
	return hdr
}
