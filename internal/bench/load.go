package bench

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/enrich"
	"github.com/vigilhealth/vigil/match"
)

// product is one product line of the synthetic market.
type product struct{ vendor, name, model string }

// market is 20 medical, health-IT and IT vendors of the real vendor table
// with 300 product lines each; hospitals run some lines, advisories are
// about any.
func market(v *enrich.Vendors) []product {
	var out []product
	for _, id := range []string{"ge-healthcare", "philips", "siemens-healthineers", "baxter", "bd", "medtronic", "b-braun", "fresenius",
		"draeger", "mindray", "nihon-kohden", "stryker", "abbott", "roche", "carestream", "canon-medical", "epic", "microsoft", "citrix", "fortinet"} {
		vd, ok := v.Get(id)
		if !ok {
			continue
		}
		for i := range 300 {
			out = append(out, product{vendor: vd.Name, name: fmt.Sprintf("Line%d Unit %c%d", i, 'A'+i%26, 100+i), model: fmt.Sprintf("M%d-%s", i, id[:2])})
		}
	}
	return out
}

var versions = []string{"1.0", "1.2.3", "2.0.2", "2.1", "3.4.1", "4.0", "4.2", "5.1.7"}

// hospitals draws tenants × assets: each hospital runs 40 product lines of
// the market (popular ones more often), several units of each.
func hospitals(tenants, assets int, mk []product, webhookURL, secret string) ([]match.Tenant, map[string][]match.Asset) {
	rng := rand.New(rand.NewPCG(7, 11))
	popular := rand.NewZipf(rng, 1.1, 20, uint64(len(mk)-1))
	ts := make([]match.Tenant, tenants)
	inv := map[string][]match.Asset{}
	for i := range ts {
		id := "h" + strconv.Itoa(i)
		ts[i] = match.Tenant{ID: id, Name: "Hospital " + strconv.Itoa(i), TLPClearance: advisory.TLPAmber,
			Channels: match.Channels{Webhook: &match.WebhookChannel{URL: webhookURL, Secret: secret}},
			Delivery: match.DeliveryPolicy{GroupWindow: "0s"}} // each alert alone: latency is what is measured
		lines := make([]product, 40)
		for k := range lines {
			lines[k] = mk[popular.Uint64()]
		}
		list := make([]match.Asset, assets)
		for j := range list {
			p := lines[rng.IntN(len(lines))]
			list[j] = match.Asset{ID: "A" + strconv.Itoa(j), Vendor: p.vendor, Product: p.name, Model: p.model, Version: versions[rng.IntN(len(versions))],
				Criticality: []string{match.LifeCritical, match.High, match.Medium}[j%3], Zone: match.ZoneClinical, Location: "Ward " + strconv.Itoa(j%30)}
		}
		ts[i].Channels.Webhook = &match.WebhookChannel{URL: webhookURL, Secret: secret}
		inv[id] = list
	}
	return ts, inv
}

// advisoryGen makes CSAF-like advisories: a few products with version
// ranges and statuses, CVSS, CVEs, remediations, a summary of realistic
// length.
type advisoryGen struct {
	rng *rand.Rand
	mk  []product
	n   int
	// share of advisories about the product lines hospitals run; the
	// others are about lines nobody in the benchmark owns, as most
	// advisories are for any one set of hospitals
	share float64
}

func (g *advisoryGen) next(now time.Time) advisory.Advisory {
	g.n++
	id := fmt.Sprintf("BENCH-%08d", g.n)
	cve := fmt.Sprintf("CVE-2026-%05d", g.n%100000)
	a := advisory.Advisory{
		Schema: advisory.Schema, Source: "bench-csaf", ID: id, Revision: "1", Title: "Synthetic advisory " + id + ": improper authentication in a medical device",
		URL: "https://csaf.example.org/advisories/" + id + ".json", Published: now, Updated: now, FetchedAt: now, TLP: advisory.TLPClear,
		Summary: "Successful exploitation of this vulnerability could allow an attacker on the clinical network to read or alter " +
			"patient data and device settings. The vendor recommends updating to the fixed release and isolating the device network.",
		CVEs:     []string{cve},
		Severity: &advisory.Severity{Score: 6.5 + float64(g.n%35)/10, Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N"},
	}
	owned := g.rng.Float64() < g.share
	for k := range 1 + g.n%3 {
		p := g.mk[g.rng.IntN(len(g.mk))]
		if !owned {
			p.name = "Other " + p.name // same vendors, lines no hospital runs
		}
		a.Products = append(a.Products, advisory.Product{ID: fmt.Sprintf("CSAFPID-%d", k), Vendor: p.vendor, Name: p.name,
			Versions: []string{"vers:generic/<2.1"}, Status: advisory.StatusAffected, CVEs: []string{cve}},
			advisory.Product{ID: fmt.Sprintf("CSAFPID-F%d", k), Vendor: p.vendor, Name: p.name, Versions: []string{"2.1"}, Status: advisory.StatusFixed, CVEs: []string{cve}})
	}
	a.Vulnerabilities = []advisory.Vulnerability{{CVE: cve, Title: "Improper Authentication", Remediations: []advisory.Remediation{{Category: "vendor_fix", Details: "Update to 2.1 or later."}}}}
	return a
}
