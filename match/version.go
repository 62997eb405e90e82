package match

import (
	"cmp"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// CompareVersions orders vendor version strings: both are split into runs of
// digits and of letters ("R2.3.1 SP1" -> R 2 3 1 SP 1); digit runs compare as
// numbers, letter runs case-insensitively, and a version that is a prefix of
// the other is the smaller ("2.1" < "2.1.1"). It returns -1, 0 or 1.
func CompareVersions(a, b string) int {
	var ba, bb [12]string
	pa, pb := appendVersionParts(ba[:0], a), appendVersionParts(bb[:0], b)
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
			if c := compareFold(x, y); c != 0 {
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

// appendVersionParts appends v's runs of digits and of letters to dst; the
// runs are substrings of v, so with a buffer on the caller's stack nothing
// is allocated.
func appendVersionParts(dst []string, v string) []string {
	v = strings.TrimSpace(v)
	n0 := len(dst)
	start, kind := -1, 0 // kind: 1 digit, 2 letter
	for i, r := range v {
		k := 0
		switch {
		case r < utf8.RuneSelf && r >= '0' && r <= '9', r >= utf8.RuneSelf && unicode.IsDigit(r):
			k = 1
		case r < utf8.RuneSelf && (r|0x20 >= 'a' && r|0x20 <= 'z'), r >= utf8.RuneSelf && unicode.IsLetter(r):
			k = 2
		}
		if k != kind || k == 0 {
			if start >= 0 {
				dst = append(dst, v[start:i])
				start = -1
			}
			if k != 0 {
				start = i
			}
		}
		kind = k
	}
	if start >= 0 {
		dst = append(dst, v[start:])
	}
	// A leading "v" or "V" ("V3.1") is not part of the version.
	if len(dst)-n0 > 1 && strings.EqualFold(dst[n0], "v") {
		dst = append(dst[:n0], dst[n0+1:]...)
	}
	return dst
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

// compareFold compares ASCII case-insensitively (other runes as bytes).
func compareFold(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return cmp.Compare(x, y)
		}
	}
	return cmp.Compare(len(a), len(b))
}
