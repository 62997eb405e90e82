package match

import (
	"context"
	"strings"
	"testing"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/enrich"
	"github.com/vigilhealth/vigil/internal/testenv"
)

// TestLifecycleOneAlertPerClusterAcrossSources follows one vulnerability
// through three sources: a CERT bulletin with a version range, the same
// bulletin re-polled, and the KEV entry (no versions).
func TestLifecycleOneAlertPerClusterAcrossSources(t *testing.T) {
	b := testenv.NATS(t)
	ctx := context.Background()
	e := enrich.New(enrich.MustLoadVendors(), nil)
	ix := demoIndex(t)
	step := func(adv advisory.Advisory) (Alert, bool) {
		t.Helper()
		out, _, err := e.Enrich(ctx, adv)
		if err != nil {
			t.Fatal(err)
		}
		alerts := ix.Match(&out)
		if len(alerts) != 1 {
			t.Fatalf("%s: %d alerts", adv.Key(), len(alerts))
		}
		publish, err := revise(ctx, b.AlertState, &alerts[0])
		if err != nil {
			t.Fatal(err)
		}
		return alerts[0], publish
	}
	cert := advisory.Advisory{Source: "cert", ID: "B-1", Revision: "1", Title: "GE HealthCare CARESCAPE B450: authentication bypass",
		Summary: "Firmware prior to 2.1 is affected.", CVEs: []string{"CVE-2026-31001"}}
	a1, pub := step(cert)
	if !pub || a1.Revision != "1" || strings.Join(a1.AssetIDs(), ",") != "MON-ICU-01" {
		t.Fatalf("first: %v %+v", pub, a1)
	}
	if _, pub = step(cert); pub {
		t.Fatal("the same advisory again made an update")
	}
	kev := advisory.Advisory{Source: "kev", ID: "CVE-2026-31001", Revision: "k", Title: "GE HealthCare CARESCAPE B450 Improper Authentication",
		CVEs: []string{"CVE-2026-31001"}, KEV: true, KEVEntry: &advisory.KEVEntry{DateAdded: "2026-11-21"},
		Products: []advisory.Product{{Vendor: "GE HealthCare", Name: "CARESCAPE B450", Status: advisory.StatusAffected}}}
	a2, pub := step(kev)
	// KEV names no versions: MON-ICU-02 would be "possible", but the
	// bulletin showed its 2.1.0 outside the range, so it stays out.
	if !pub || a2.ID != a1.ID || a2.Revision != "2" || strings.Join(a2.AssetIDs(), ",") != "MON-ICU-01" || !a2.Advisory.KEV {
		t.Fatalf("kev: %v %+v", pub, a2)
	}
	if strings.Join(a2.Changes, ";") != "added to KEV;priority P2 -> P1" || a2.Priority != "P1" {
		t.Fatalf("changes %v priority %s", a2.Changes, a2.Priority)
	}
}
