package enrich

import (
	"fmt"
	"math"
	"strings"

	gocvss20 "github.com/pandatix/go-cvss/20"
	gocvss30 "github.com/pandatix/go-cvss/30"
	gocvss31 "github.com/pandatix/go-cvss/31"
	gocvss40 "github.com/pandatix/go-cvss/40"

	"github.com/vigilhealth/vigil/advisory"
)

// scoreVector computes the base score of a CVSS vector (v2, v3.0, v3.1 or
// v4.0) with go-cvss, and names the version it found.
func scoreVector(vector string) (float64, string, error) {
	switch {
	case strings.HasPrefix(vector, "CVSS:4.0/"):
		c, err := gocvss40.ParseVector(vector)
		if err != nil {
			return 0, "", err
		}
		return c.Score(), "4.0", nil
	case strings.HasPrefix(vector, "CVSS:3.1/"):
		c, err := gocvss31.ParseVector(vector)
		if err != nil {
			return 0, "", err
		}
		return c.BaseScore(), "3.1", nil
	case strings.HasPrefix(vector, "CVSS:3.0/"):
		c, err := gocvss30.ParseVector(vector)
		if err != nil {
			return 0, "", err
		}
		return c.BaseScore(), "3.0", nil
	case strings.HasPrefix(vector, "AV:") || strings.HasPrefix(vector, "(AV:"):
		c, err := gocvss20.ParseVector(strings.Trim(vector, "()"))
		if err != nil {
			return 0, "", err
		}
		return c.BaseScore(), "2.0", nil
	}
	return 0, "", fmt.Errorf("unknown CVSS vector %q", vector)
}

// checkSeverity fills in scores the source left out (computed from their
// vector) and notes scores that disagree with their vector. It returns the
// notes; the advisory's severity becomes the highest score.
func checkSeverity(a *advisory.Advisory) []string {
	var notes []string
	var all []advisory.Severity
	for i := range a.Vulnerabilities {
		v := &a.Vulnerabilities[i]
		for j := range v.Scores {
			s := &v.Scores[j]
			if s.Vector == "" {
				continue
			}
			computed, version, err := scoreVector(s.Vector)
			if err != nil {
				notes = append(notes, fmt.Sprintf("%s: vector %q does not parse: %v", v.CVE, s.Vector, err))
				continue
			}
			if s.CVSSVersion == "" {
				s.CVSSVersion = version
			}
			switch {
			case s.Score == 0:
				s.Score = computed
				notes = append(notes, fmt.Sprintf("%s: CVSS %s score computed from the vector: %.1f", v.CVE, version, computed))
			case math.Abs(s.Score-computed) > 0.05:
				notes = append(notes, fmt.Sprintf("%s: CVSS %s score %.1f given, vector %s computes %.1f", v.CVE, version, s.Score, s.Vector, computed))
			}
		}
		all = append(all, v.Scores...)
	}
	if len(all) > 0 {
		a.Severity = advisory.MaxSeverity(all)
	}
	return notes
}
