package match

import (
	"fmt"
	"regexp"
	"strings"
)

// Range is a version range from an advisory: alternatives, each a
// conjunction of constraints ("4.X | 5.X", ">= 1.0 <2.1").
type Range struct {
	Text string
	Any  bool
	alts [][]constraint
}

type constraint struct {
	op string // <, <=, >, >=, =, != or "prefix"
	v  string
}

func (c constraint) String() string {
	if c.op == "prefix" {
		return c.v + "*"
	}
	return c.op + c.v
}

var opRE = regexp.MustCompile(`(<=|>=|!=|<|>|=)\s*([0-9A-Za-z][0-9A-Za-z._\-+]*)`)

// ParseRange reads a range expression as the parsers write them (see
// advisory.Product): "<4.2", ">=1.0 <2.1", "=2.0.2", "*", "vers:generic/<2.1",
// "4.2 and prior", "prior to 4.2", "all versions", "3.x", "4.X | 5.X",
// "<= U61 |<= L81". ok is false when nothing in it is a range.
func ParseRange(expr string) (Range, bool) {
	r := Range{Text: strings.TrimSpace(expr)}
	low := strings.ToLower(r.Text)
	switch low {
	case "", "*", "-", "all", "all versions", "vers:all/*", "any":
		r.Any = low != ""
		return r, low != ""
	}
	if strings.HasPrefix(low, "vers:") {
		return parseVers(r)
	}
	for _, alt := range strings.Split(r.Text, "|") {
		alt = strings.TrimSpace(alt)
		if alt == "" {
			continue
		}
		cs, ok := parseAlternative(alt)
		if !ok {
			return r, false
		}
		r.alts = append(r.alts, cs)
	}
	return r, len(r.alts) > 0
}

func parseAlternative(alt string) ([]constraint, bool) {
	low := strings.ToLower(alt)
	if low == "all versions" || low == "*" {
		return []constraint{{op: "prefix", v: ""}}, true
	}
	if ms := opRE.FindAllStringSubmatch(alt, -1); len(ms) > 0 {
		var cs []constraint
		for _, m := range ms {
			cs = append(cs, constraint{op: m[1], v: strings.TrimRight(m[2], ".-")})
		}
		return cs, true
	}
	if b, ok := ParseBound(alt); ok {
		op := "<"
		if b.Inclusive {
			op = "<="
		}
		return []constraint{{op: op, v: b.Version}}, true
	}
	// "3.x", "4.X", "2.1.*": a prefix.
	for _, suffix := range []string{".x", ".*"} {
		if strings.HasSuffix(low, suffix) && len(low) > len(suffix) {
			return []constraint{{op: "prefix", v: alt[:len(alt)-len(suffix)+1]}}, true
		}
	}
	if f := strings.Fields(alt); len(f) <= 3 && versionLike(alt) {
		return []constraint{{op: "=", v: alt}}, true
	}
	return nil, false
}

// parseVers reads a purl-style "vers:<scheme>/<c1>|<c2>..." range: equal
// constraints are alternatives, comparisons hold together.
func parseVers(r Range) (Range, bool) {
	_, spec, ok := strings.Cut(r.Text, "/")
	if !ok {
		return r, false
	}
	var cmp []constraint
	for _, part := range strings.Split(spec, "|") {
		part = strings.TrimSpace(part)
		if part == "*" {
			r.Any = true
			return r, true
		}
		m := opRE.FindStringSubmatch(part)
		switch {
		case m != nil && m[1] != "=":
			cmp = append(cmp, constraint{op: m[1], v: m[2]})
		case m != nil:
			r.alts = append(r.alts, []constraint{{op: "=", v: m[2]}})
		case versionLike(part):
			r.alts = append(r.alts, []constraint{{op: "=", v: part}})
		default:
			return r, false
		}
	}
	if len(cmp) > 0 {
		r.alts = append(r.alts, cmp)
	}
	return r, len(r.alts) > 0
}

func versionLike(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool { return r >= '0' && r <= '9' }) >= 0
}

// comparable reports whether two versions are of one style: both start
// with a number, or with the same letters ("U61" and "U70", not "L81"), so
// that a model number in a version field is not compared as a version.
func comparable(a, b string) bool {
	var ba, bb [12]string
	pa, pb := appendVersionParts(ba[:0], a), appendVersionParts(bb[:0], b)
	if len(pa) == 0 || len(pb) == 0 {
		return false
	}
	da, db := isDigits(pa[0]), isDigits(pb[0])
	if da || db {
		return da && db
	}
	if len(pa) == 1 && len(pb) == 1 {
		return true // firmware letters: "M" <= "N"
	}
	return strings.EqualFold(pa[0], pb[0])
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// RangeVerdict is what a range says of a version.
type RangeVerdict int

// Verdicts.
const (
	InRange    RangeVerdict = iota // the version is inside the range
	OutOfRange                     // outside it
	Unknown                        // the version or the range cannot be compared
)

// Check compares version v with the range and explains the comparison.
func (r Range) Check(v string) (RangeVerdict, string) {
	verdict := r.verdict(v)
	switch {
	case r.Any:
		return verdict, fmt.Sprintf("all versions affected (%q)", r.Text)
	case strings.TrimSpace(v) == "":
		return verdict, fmt.Sprintf("asset version unknown; advisory range %q", r.Text)
	case verdict == InRange:
		return verdict, fmt.Sprintf("version %s in %q", v, r.Text)
	case verdict == Unknown:
		return verdict, fmt.Sprintf("version %s not comparable with %q", v, r.Text)
	}
	return verdict, fmt.Sprintf("version %s outside %q", v, r.Text)
}

// verdict is Check without the wording: matching words only the evidence
// that wins.
func (r Range) verdict(v string) RangeVerdict {
	if r.Any {
		return InRange
	}
	if strings.TrimSpace(v) == "" {
		return Unknown
	}
	compared := false
alts:
	for _, alt := range r.alts {
		for _, c := range alt {
			if c.op != "prefix" && !comparable(v, c.v) {
				continue alts // another version series ("L81" for a "U60")
			}
		}
		compared = true
		ok := true
		for _, c := range alt {
			if !c.holds(v) {
				ok = false
				break
			}
		}
		if ok {
			return InRange
		}
	}
	if !compared {
		return Unknown
	}
	return OutOfRange
}

func (c constraint) holds(v string) bool {
	switch c.op {
	case "prefix":
		return strings.HasPrefix(strings.ToLower(v), strings.ToLower(c.v))
	}
	cmp := CompareVersions(v, c.v)
	switch c.op {
	case "<":
		return cmp < 0
	case "<=":
		return cmp <= 0
	case ">":
		return cmp > 0
	case ">=":
		return cmp >= 0
	case "!=":
		return cmp != 0
	}
	return cmp == 0
}
