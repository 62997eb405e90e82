package match

import "testing"

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"2.0.2", "2.1", -1},
		{"2.1", "2.1", 0},
		{"2.1", "2.1.1", -1},
		{"10.0", "9.9", 1},
		{"V3.1 SR2", "V3.1 SR10", -1},
		{"R2.3.1 SP1", "R2.3.1", 1},
		{"v8.1", "8.1", 0},
		{"2.0.2.3", "2.0.2", 1},
		{"2.beta", "2.0", -1},
	}
	for _, tt := range tests {
		if got := CompareVersions(tt.a, tt.b); got != tt.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := CompareVersions(tt.b, tt.a); got != -tt.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d (antisymmetry)", tt.b, tt.a, got, -tt.want)
		}
	}
}

func TestParseBound(t *testing.T) {
	tests := []struct {
		text      string
		version   string
		inclusive bool
		ok        bool
	}{
		{"Affected: CARESCAPE B450 firmware versions prior to 2.1.", "2.1", false, true},
		{"All versions before V3.2 SP1 are affected", "V3.2", false, true},
		{"Sigma Spectrum 8.00.01 and prior", "8.00.01", true, true},
		{"affects firmware <= 4.2", "4.2", true, true},
		{"versions < 1.8.4 Service Pack 01", "1.8.4", false, true},
		{"up to and including 7.0", "7.0", true, true},
		{"no version information here", "", false, false},
		{"IntelliBridge EC40 and EC80 firmware C.00.04 and prior", "C.00.04", true, true},
		{"Software L81 and prior is affected; L82 fixes it", "L81", true, true},
		{"SIMATIC S7-1500 CPUs prior to V3.1.", "V3.1", false, true},
	}
	for _, tt := range tests {
		b, ok := ParseBound(tt.text)
		if ok != tt.ok || b.Version != tt.version || b.Inclusive != tt.inclusive {
			t.Errorf("ParseBound(%q) = %+v %v, want %q incl=%v ok=%v", tt.text, b, ok, tt.version, tt.inclusive, tt.ok)
		}
	}
	b := Bound{Version: "2.1"}
	if !b.Affects("2.0.2") || b.Affects("2.1") || b.Affects("2.2") {
		t.Error("exclusive bound wrong")
	}
	b.Inclusive = true
	if !b.Affects("2.1") {
		t.Error("inclusive bound excludes its version")
	}
}
