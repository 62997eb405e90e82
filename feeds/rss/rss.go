// Package rss parses RSS 2.0, Atom, RDF and JSON Feed documents (through
// gofeed) into advisories.
package rss

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/mmcdole/gofeed"
	ext "github.com/mmcdole/gofeed/extensions"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/feeds/internal/itemerr"
)

// ErrNoItemIdentity means an item had no guid, link or title to identify it.
var ErrNoItemIdentity = errors.New("item has no guid, link or title")

// Parse reads one feed document published by source. A document that cannot
// be parsed at all returns an error naming the source; items that cannot be
// used are returned as ItemErrors beside the good advisories.
func Parse(source string, r io.Reader, fetched time.Time) ([]advisory.Advisory, []error, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, fmt.Errorf("feed %s: read: %w", source, err)
	}
	feed, err := gofeed.NewParser().Parse(bytes.NewReader(data))
	if err != nil {
		return nil, nil, fmt.Errorf("feed %s: parse: %w", source, err)
	}
	var (
		out     []advisory.Advisory
		itemErr []error
	)
	for i, it := range feed.Items {
		if it == nil {
			continue
		}
		a, err := fromItem(source, it, fetched)
		if err != nil {
			itemErr = append(itemErr, itemerr.New("feed", source, fmt.Sprintf("item %d", i+1), err, it))
			continue
		}
		out = append(out, a)
	}
	return out, itemErr, nil
}

func fromItem(source string, it *gofeed.Item, fetched time.Time) (advisory.Advisory, error) {
	title := cleanText(it.Title)
	summary := cleanText(firstNonEmpty(it.Description, it.Content))
	link := strings.TrimSpace(it.Link)
	id := strings.TrimSpace(firstNonEmpty(it.GUID, link, title))
	if id == "" {
		return advisory.Advisory{}, ErrNoItemIdentity
	}
	a := advisory.Advisory{
		Schema:    advisory.Schema,
		Source:    source,
		ID:        id,
		Title:     title,
		URL:       link,
		Summary:   summary,
		FetchedAt: fetched.UTC(),
		// Namespaced extensions (JVN's sec:references, say) carry CVE ids too.
		CVEs:     advisory.ExtractCVEs(it.Title, it.Description, it.Content, extensionText(it.Extensions)),
		Products: []advisory.Product{},
	}
	if it.PublishedParsed != nil {
		a.Published = it.PublishedParsed.UTC()
	}
	if it.UpdatedParsed != nil {
		a.Updated = it.UpdatedParsed.UTC()
	}
	if a.Published.IsZero() {
		a.Published = firstTime(a.Updated, a.FetchedAt)
	}
	if a.Updated.IsZero() {
		a.Updated = a.Published
	}
	// An explicit update time is the source's own revision; otherwise the
	// content decides, so an edited item becomes a new revision.
	if it.UpdatedParsed != nil {
		a.Revision = a.Updated.Format(time.RFC3339)
	} else {
		a.Revision = advisory.ContentRevision(title, summary, link)
	}
	for _, l := range it.Links {
		if l != "" && l != link {
			a.References = append(a.References, l)
		}
	}
	if len(it.Categories) > 0 {
		a.VendorHint = strings.Join(it.Categories, ", ")
	}
	return a, nil
}

// extensionText flattens the values and attributes of namespaced elements.
func extensionText(exts ext.Extensions) string {
	var b strings.Builder
	var walk func(e ext.Extension)
	walk = func(e ext.Extension) {
		b.WriteString(e.Value)
		b.WriteByte(' ')
		for _, v := range e.Attrs {
			b.WriteString(v)
			b.WriteByte(' ')
		}
		for _, children := range e.Children {
			for _, c := range children {
				walk(c)
			}
		}
	}
	for _, byName := range exts {
		for _, list := range byName {
			for _, e := range list {
				walk(e)
			}
		}
	}
	return b.String()
}

var tagRE = regexp.MustCompile(`(?s)<[^>]*>`)

// cleanText strips markup and entity encoding (feeds often carry encoded
// HTML) and collapses white space.
func cleanText(s string) string {
	for i := 0; i < 2 && strings.ContainsAny(s, "<&"); i++ {
		s = html.UnescapeString(tagRE.ReplaceAllString(s, " "))
	}
	s = tagRE.ReplaceAllString(s, " ")
	return strings.Join(strings.Fields(s), " ")
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}

func firstTime(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}
