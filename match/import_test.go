package match

import (
	"os"
	"strings"
	"testing"
)

func TestParseInventoryJSON(t *testing.T) {
	data, err := os.ReadFile("testdata/inventory.json")
	if err != nil {
		t.Fatal(err)
	}
	inv, err := ParseInventory("inventory.json", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Assets) != 2 || inv.Assets[0].Location != "Ward 7" {
		t.Fatalf("assets %+v", inv.Assets)
	}
	var msgs []string
	for _, e := range inv.Errors {
		msgs = append(msgs, e.Error())
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{`inventory.json:3: field "id": is required`, `inventory.json:4: field "zone"`, `inventory.json:5: assets[4]: json: unknown field "colour"`} {
		if !strings.Contains(all, want) {
			t.Errorf("errors lack %q:\n%s", want, all)
		}
	}
}

func TestParseInventoryCycloneDX(t *testing.T) {
	data, err := os.ReadFile("testdata/sbom.cdx.json")
	if err != nil {
		t.Fatal(err)
	}
	inv, err := ParseInventory("sbom.cdx.json", data)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Asset{}
	for _, a := range inv.Assets {
		got[a.ID] = a
	}
	if a := got["pump-fw"]; a.Vendor != "B. Braun Melsungen AG" || a.Product != "Space Infusion System" || a.Version != "L81" || a.Category != "device" {
		t.Errorf("device %+v", a)
	}
	if a := got["pkg:generic/openssl@1.0.2k"]; a.Vendor != "openssl" || a.CPE == "" || a.PURL == "" {
		t.Errorf("library %+v", a)
	}
	if len(inv.Errors) != 1 || !strings.Contains(inv.Errors[0].Error(), `field "vendor": is required`) {
		t.Errorf("busybox has no vendor and must be reported: %v", inv.Errors)
	}
}
