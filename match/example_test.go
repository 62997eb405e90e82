package match_test

import (
	"fmt"

	"github.com/vigilhealth/vigil/match"
)

func ExampleParseBound() {
	b, _ := match.ParseBound("IntelliBridge EC40 firmware C.00.04 and prior are affected")
	fmt.Println(b.Version, b.Inclusive, b.Affects("C.00.03"), b.Affects("C.00.05"))
	// Output: C.00.04 true true false
}

func ExampleCompareVersions() {
	fmt.Println(match.CompareVersions("V3.1 SR2", "V3.1 SR10"), match.CompareVersions("2.1", "2.0.9"))
	// Output: -1 1
}
