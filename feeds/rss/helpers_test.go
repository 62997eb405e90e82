package rss

import "github.com/vigilhealth/vigil/advisory"

// extractAll finds CVE ids in raw text, entity-encoded or not.
func extractAll(raw string) []string { return advisory.ExtractCVEs(raw) }
