package match

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// CompareVersions orders vendor version strings: both are split into runs of
// digits and of letters ("R2.3.1 SP1" -> R 2 3 1 SP 1); digit runs compare as
// numbers, letter runs case-insensitively, and a version that is a prefix of
// the other is the smaller ("2.1" < "2.1.1"). It returns -1, 0 or 1.
func CompareVersions(a, b string) int {
	pa, pb := versionParts(a), versionParts(b)
	for i := 0; i < len(pa) && i < len(pb); i++ {
		x, y := pa[i], pb[i]
		xn, xerr := strconv.ParseUint(x, 10, 64)
		yn, yerr := strconv.ParseUint(y, 10, 64)
		switch {
		case xerr == nil && yerr == nil:
			if xn != yn {
				if xn < yn {
					return -1
				}
				return 1
			}
		case xerr == nil: // a number sorts after a letter run ("2.0" > "2.beta")
			return 1
		case yerr == nil:
			return -1
		default:
			if c := strings.Compare(strings.ToLower(x), strings.ToLower(y)); c != 0 {
				return c
			}
		}
	}
	switch {
	case len(pa) < len(pb):
		return -1
	case len(pa) > len(pb):
		return 1
	}
	return 0
}

func versionParts(v string) []string {
	var parts []string
	var cur strings.Builder
	kind := 0 // 1 digit, 2 letter
	flush := func() {
		if cur.Len() > 0 {
			parts = append(parts, cur.String())
			cur.Reset()
		}
	}
	for _, r := range strings.TrimSpace(v) {
		k := 0
		switch {
		case unicode.IsDigit(r):
			k = 1
		case unicode.IsLetter(r):
			k = 2
		}
		if k == 0 || k != kind {
			flush()
		}
		kind = k
		if k != 0 {
			cur.WriteRune(r)
		}
	}
	flush()
	// A leading "v" or "V" ("V3.1") is not part of the version.
	if len(parts) > 1 && strings.EqualFold(parts[0], "v") {
		parts = parts[1:]
	}
	return parts
}

// Bound is an upper version bound read from advisory text.
type Bound struct {
	Version   string
	Inclusive bool   // "2.1 and prior" includes 2.1; "prior to 2.1" does not
	Phrase    string // the words it was read from
}

// Affects reports whether version v is inside the bound.
func (b Bound) Affects(v string) bool {
	c := CompareVersions(v, b.Version)
	return c < 0 || (b.Inclusive && c == 0)
}

// verPat is a version token: digits with an optional short letter prefix
// ("V3.1", "R2.3", "C.00.04", "L81") and dotted or dashed parts.
const verPat = `(?:[A-Za-z]{1,2}\.?)?\d+(?:[.\-]\w+)*`

var (
	exclusiveRE = regexp.MustCompile(`(?i)\b(?:prior to|before|earlier than|older than|lower than|below)\s+(?:version\s+|firmware\s+|release\s+)?(` + verPat + `)`)
	lessRE      = regexp.MustCompile(`(?i)(?:^|\s)(<=?)\s*(` + verPat + `)`)
	inclusiveRE = regexp.MustCompile(`(?i)\b(?:versions?\s+|firmware\s+)?(` + verPat + `)\s+(?:and|or)\s+(?:prior|earlier|below|older)\b`)
	upToRE      = regexp.MustCompile(`(?i)\bup to (?:and including\s+)?(?:version\s+)?(` + verPat + `)`)
)

// ParseBound finds the first upper version bound stated in text: "prior to
// 2.1", "before 2.1", "< 2.1", "<= 2.1", "2.1 and prior", "up to 2.1".
func ParseBound(text string) (Bound, bool) {
	best, found := Bound{}, false
	at := len(text) + 1
	consider := func(loc []int, ver string, incl bool) {
		if loc != nil && loc[0] < at {
			at = loc[0]
			best = Bound{Version: strings.TrimRight(ver, ".-"), Inclusive: incl, Phrase: strings.TrimSpace(text[loc[0]:loc[1]])}
			found = true
		}
	}
	if m := exclusiveRE.FindStringSubmatchIndex(text); m != nil {
		consider(m[:2], text[m[2]:m[3]], false)
	}
	if m := lessRE.FindStringSubmatchIndex(text); m != nil {
		consider(m[:2], text[m[4]:m[5]], text[m[2]:m[3]] == "<=")
	}
	if m := inclusiveRE.FindStringSubmatchIndex(text); m != nil {
		consider(m[:2], text[m[2]:m[3]], true)
	}
	if m := upToRE.FindStringSubmatchIndex(text); m != nil {
		consider(m[:2], text[m[2]:m[3]], true)
	}
	return best, found
}
