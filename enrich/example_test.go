package enrich_test

import (
	"fmt"

	"github.com/vigilhealth/vigil/enrich"
)

func ExampleVendors_Resolve() {
	v := enrich.MustLoadVendors()
	for _, name := range []string{"General Electric Healthcare", "B. Braun Melsungen AG", "Draeger", "Welch Allyn"} {
		r, _ := v.Resolve(name)
		fmt.Println(r.Vendor.ID, r.Former)
	}
	// Output:
	// ge-healthcare false
	// b-braun false
	// draeger false
	// baxter true
}
