package enrich_test

import (
	"fmt"

	"github.com/vigilhealth/vigil/enrich"
)

func ExampleVendors_Resolve() {
	v := enrich.MustLoadVendors()
	for _, name := range []string{"General Electric Healthcare", "B. Braun Melsungen AG", "Draeger"} {
		vendor, _, _ := v.Resolve(name)
		fmt.Println(vendor.ID)
	}
	// Output:
	// ge-healthcare
	// b-braun
	// draeger
}
