// Package docs embeds the documentation that code depends on: the analyst
// queries of analytics.md are run by the tests, timed by `vigil bench
// store` and shown by the Grafana dashboard.
package docs

import (
	_ "embed"
	"regexp"
	"strings"
)

//go:embed analytics.md
var analytics string

// Query is one numbered query of analytics.md.
type Query struct {
	Title string // "1. Time to alert per source"
	SQL   string
}

var queryRE = regexp.MustCompile("(?s)### (\\d+\\. [^\\n]+)\\n.*?```sql\\n(.*?)```")

// AnalyticsQueries returns the documented queries in order.
func AnalyticsQueries() []Query {
	var out []Query
	for _, m := range queryRE.FindAllStringSubmatch(analytics, -1) {
		out = append(out, Query{Title: m[1], SQL: strings.TrimSpace(m[2])})
	}
	return out
}
