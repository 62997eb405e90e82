package enrich

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

var legalSuffixes = map[string]bool{
	"inc": true, "incorporated": true, "corp": true, "corporation": true, "co": true, "company": true,
	"gmbh": true, "ag": true, "kg": true, "kgaa": true, "se": true, "ltd": true, "limited": true, "llc": true,
	"plc": true, "sa": true, "nv": true, "bv": true, "spa": true, "srl": true, "sas": true, "ab": true, "oy": true,
	"as": true, "asa": true, "pty": true, "lp": true, "llp": true, "kk": true, "sarl": true, "spol": true, "sro": true,
}

// Normalize lower-cases, folds diacritics, turns punctuation into single
// spaces and drops trailing legal suffixes: "B. Braun Melsungen AG" and
// "b braun melsungen" are equal.
func Normalize(s string) string {
	var buf [256]byte
	return string(normalizeAppend(buf[:0], s, true))
}

// normalizeAppend appends the normalised form of s to dst; with
// stripSuffix it also drops trailing legal suffixes. It allocates only
// when dst must grow.
func normalizeAppend(dst []byte, s string, stripSuffix bool) []byte {
	start := len(dst)
	space := true // suppress leading and repeated spaces
	for i := 0; i < len(s); {
		r, size := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		i += size
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			dst = append(dst, byte(r))
			space = false
		case r >= 'A' && r <= 'Z':
			dst = append(dst, byte(r)+'a'-'A')
			space = false
		case r == '&':
			if !space {
				dst = append(dst, ' ')
			}
			dst = append(dst, "and "...)
			space = true
		case r >= utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			dst = appendFolded(dst, unicode.ToLower(r))
			space = false
		default:
			if !space {
				dst = append(dst, ' ')
				space = true
			}
		}
	}
	for len(dst) > start && dst[len(dst)-1] == ' ' {
		dst = dst[:len(dst)-1]
	}
	if stripSuffix {
		for stripped := true; stripped; {
			stripped = false
			if sp := lastSpace(dst[start:]); sp >= 0 && legalSuffixes[string(dst[start+sp+1:])] {
				dst, stripped = dst[:start+sp], true
				continue
			}
			// "S.A.", "N.V.", "S.p.A." arrive as single letters: "s a".
			if cut, ok := spelledSuffix(dst[start:]); ok {
				dst, stripped = dst[:start+cut], true
			}
		}
	}
	return dst
}

// spelledSuffix finds a legal suffix written as separate letters at the end
// of a normalised name ("biomerieux s a"), returning where to cut.
func spelledSuffix(b []byte) (int, bool) {
	var letters [4]byte
	n, i := 0, len(b)
	for n < len(letters) && i >= 2 && b[i-2] == ' ' && b[i-1] != ' ' {
		letters[len(letters)-1-n] = b[i-1]
		n++
		i -= 2
	}
	for k := n; k >= 2; k-- {
		if legalSuffixes[string(letters[len(letters)-k:])] && i+2*(n-k) > 0 {
			return i + 2*(n-k), true
		}
	}
	return 0, false
}

func lastSpace(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == ' ' {
			return i
		}
	}
	return -1
}

// appendFolded writes common European letters the way vendors spell them in
// ASCII: "ä" -> "ae", "é" -> "e", "ß" -> "ss".
func appendFolded(dst []byte, r rune) []byte {
	switch r {
	case 'ä', 'æ':
		return append(dst, "ae"...)
	case 'ö', 'ø', 'œ':
		return append(dst, "oe"...)
	case 'ü':
		return append(dst, "ue"...)
	case 'ß':
		return append(dst, "ss"...)
	case 'á', 'à', 'â', 'ã', 'å':
		return append(dst, 'a')
	case 'é', 'è', 'ê', 'ë':
		return append(dst, 'e')
	case 'í', 'ì', 'î', 'ï':
		return append(dst, 'i')
	case 'ó', 'ò', 'ô', 'õ':
		return append(dst, 'o')
	case 'ú', 'ù', 'û':
		return append(dst, 'u')
	case 'ç':
		return append(dst, 'c')
	case 'ñ':
		return append(dst, 'n')
	}
	return utf8.AppendRune(dst, r)
}

// tokens splits a normalised string at its single spaces.
func tokens(norm string) []string { return strings.Split(norm, " ") }
