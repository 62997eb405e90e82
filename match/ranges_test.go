package match

import "testing"

func TestRanges(t *testing.T) {
	tests := []struct {
		expr, version string
		want          RangeVerdict
	}{
		{"<4.2", "4.1.9", InRange},
		{"<4.2", "4.2", OutOfRange},
		{"<=4.2", "4.2", InRange},
		{">=1.0 <2.1", "2.0.2", InRange},
		{">=1.0 <2.1", "0.9", OutOfRange},
		{"=2.0.2", "2.0.2", InRange},
		{"=2.0.2", "2.0.3", OutOfRange},
		{"*", "9.9", InRange},
		{"vers:all/*", "1", InRange},
		{"vers:generic/>=1.0|<2.1", "1.5", InRange},
		{"vers:generic/>=1.0|<2.1", "2.1", OutOfRange},
		{"vers:generic/1.2.3|1.2.4", "1.2.4", InRange},
		{"4.2 and prior", "4.2", InRange},
		{"prior to 4.2", "4.2", OutOfRange},
		{"all versions", "7", InRange},
		{"3.x", "3.14", InRange},
		{"4.X | 5.X", "5.1", InRange},
		{"4.X | 5.X", "6.0", OutOfRange},
		{"<= U61 |<= L81", "U60", InRange},
		{"<= U61 |<= L81", "L82", OutOfRange},
		{"<=N", "M", InRange},
		{">= 1.0.0 | <= 1.1.1", "1.1.0", InRange},
		{"< 1.8.4 Service Pack 01", "1.8.3", InRange},
		{"<=11.2 on Windows 8.1 with IIS 7.5", "11.1", InRange},
		{"MMT-1715 | MMT-1754", "4.2", Unknown},
		{"<4.2", "", Unknown},
		{"<4.2", "R2.3", Unknown},
		{"V3.1 SR2", "V3.1 SR2", InRange},
	}
	for _, tt := range tests {
		r, ok := ParseRange(tt.expr)
		if !ok {
			t.Errorf("ParseRange(%q) failed", tt.expr)
			continue
		}
		if got, why := r.Check(tt.version); got != tt.want {
			t.Errorf("%q.Check(%q) = %v (%s), want %v", tt.expr, tt.version, got, why, tt.want)
		}
	}
	for _, bad := range []string{"see vendor site", "contact support"} {
		if _, ok := ParseRange(bad); ok {
			t.Errorf("ParseRange(%q) accepted", bad)
		}
	}
}
