package advisory_test

import (
	"fmt"

	"github.com/vigilhealth/vigil/advisory"
)

func ExampleExtractCVEs() {
	fmt.Println(advisory.ExtractCVEs("Fixes cve-2024-1234 and CVE-2023-45678 (see CVE-2024-1234)."))
	// Output: [CVE-2023-45678 CVE-2024-1234]
}
