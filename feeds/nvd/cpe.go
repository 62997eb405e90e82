package nvd

import "strings"

// CPE is a parsed CPE 2.3 formatted string.
type CPE struct {
	Part, Vendor, Product, Version, Update string
}

// ParseCPE reads "cpe:2.3:part:vendor:product:version:update:..." honouring
// backslash escapes; vendor and product come back readable ("wp_maintenance"
// -> "wp maintenance", "\&" -> "&").
func ParseCPE(s string) (CPE, bool) {
	if !strings.HasPrefix(s, "cpe:2.3:") {
		return CPE{}, false
	}
	var fields []string
	var cur strings.Builder
	esc := false
	for _, r := range s[len("cpe:2.3:"):] {
		switch {
		case esc:
			cur.WriteRune(r)
			esc = false
		case r == '\\':
			esc = true
		case r == ':':
			fields = append(fields, cur.String())
			cur.Reset()
		default:
			cur.WriteRune(r)
		}
	}
	fields = append(fields, cur.String())
	if len(fields) < 5 {
		return CPE{}, false
	}
	readable := func(v string) string { return strings.TrimSpace(strings.ReplaceAll(v, "_", " ")) }
	return CPE{Part: fields[0], Vendor: readable(fields[1]), Product: readable(fields[2]), Version: fields[3], Update: fields[4]}, true
}
