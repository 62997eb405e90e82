// Package timefmt parses the timestamps advisory formats use: RFC 3339 with
// or without a zone or fraction (NVD writes none), or a bare date.
package timefmt

import "time"

var layouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.000", "2006-01-02T15:04:05", "2006-01-02"}

// Parse returns the time in UTC, or the zero time when s is none of them.
func Parse(s string) time.Time {
	for _, layout := range layouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}
