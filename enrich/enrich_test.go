package enrich

import (
	"context"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/internal/testenv"
)

var ctx = context.Background()

func TestNormalize(t *testing.T) {
	tests := map[string]string{
		"B. Braun Melsungen AG":              "b braun melsungen",
		"GE HealthCare":                      "ge healthcare",
		"Dräger":                             "draeger",
		"Becton, Dickinson and Company (BD)": "becton dickinson and company bd",
		"Becton Dickinson & Co":              "becton dickinson and",
		"Philips Medical Systems, Inc.":      "philips medical systems",
		"bioMérieux S.A.":                    "biomerieux",
		"  CARESCAPE   B450  ":               "carescape b450",
		"Löwenstein Medical GmbH & Co. KG":   "loewenstein medical gmbh and",
	}
	for in, want := range tests {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestVendorTable(t *testing.T) {
	v := MustLoadVendors()
	if v.Len() < 150 {
		t.Fatalf("%d vendors, want at least 150", v.Len())
	}
	kinds := map[string]int{}
	for _, vd := range v.byID {
		kinds[vd.Kind]++
	}
	if kinds[KindMedical] < 80 || kinds[KindHealthIT] < 20 || kinds[KindIT] < 20 || kinds[KindOT] < 15 {
		t.Fatalf("kinds %v", kinds)
	}
}

func TestResolveSpellingsFormerNamesAndAcquisitions(t *testing.T) {
	v := MustLoadVendors()
	tests := []struct {
		name, want string
		former     bool
	}{
		{"GE Healthcare", "ge-healthcare", false},
		{"General Electric Healthcare", "ge-healthcare", false},
		{"GE HEALTHCARE", "ge-healthcare", false},
		{"General Electric (GE)", "ge-healthcare", false},
		{"B. Braun Melsungen AG", "b-braun", false},
		{"B Braun Medical Inc.", "b-braun", false},
		{"Draeger", "draeger", false},
		{"Dräger", "draeger", false},
		{"Becton Dickinson", "bd", false},
		{"Becton, Dickinson and Company (BD)", "bd", false},
		{"Welch Allyn", "baxter", true},
		{"Hill-Rom", "baxter", true},
		{"Varian", "siemens-healthineers", true},
		{"St. Jude Medical", "abbott", true},
		{"Cerner", "oracle-health", false},
		{"Hospira", "icu-medical", true},
		{"Axis", "axis", false}, // generic word: resolves in a vendor field
	}
	for _, tt := range tests {
		r, ok := v.Resolve(tt.name)
		if !ok || r.Vendor.ID != tt.want || r.Former != tt.former {
			t.Errorf("Resolve(%q) = %+v %v, want %s former=%v", tt.name, r, ok, tt.want, tt.former)
		}
	}
	if _, ok := v.Resolve("Acme Widgets"); ok {
		t.Error("unknown vendor resolved")
	}
}

func TestFind(t *testing.T) {
	v := MustLoadVendors()
	ids := func(text string) []string {
		var out []string
		for _, m := range v.Find(Normalize(text)) {
			out = append(out, m.Vendor.ID)
		}
		return out
	}
	tests := map[string][]string{
		"Siemens Healthineers syngo.via and a Siemens SIMATIC PLC": {"siemens-healthineers", "siemens"},
		"Siemens Healthineers syngo.via":                           {"siemens-healthineers"},
		"Generic office suite update":                              nil,
		"Progress in axis alignment for the carrier":               nil, // generic vendor names are not searched in text
		"Welch Allyn Connex Spot Monitor":                          {"baxter"},
	}
	for text, want := range tests {
		if got := ids(text); !reflect.DeepEqual(got, want) {
			t.Errorf("Find(%q) = %v, want %v", text, got, want)
		}
	}
}

func enrichOne(t *testing.T, e *Enricher, a advisory.Advisory) advisory.Advisory {
	t.Helper()
	if a.Source == "" {
		a.Source, a.ID, a.Revision = "test", a.Title, "1"
	}
	out, _, err := e.Enrich(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestProductKeys(t *testing.T) {
	e := New(MustLoadVendors(), nil)
	tests := []struct {
		name string
		adv  advisory.Advisory
		want []string
	}{
		{"title", advisory.Advisory{Title: "Philips IntelliBridge EC40 and EC80 Hub: Use of Hard-coded Credentials"}, []string{"philips/intellibridge ec40"}},
		{"title with vendor alias", advisory.Advisory{Title: "GE HealthCare CARESCAPE B450 Patient Monitor: Improper Authentication"}, []string{"ge-healthcare/carescape b450 patient monitor"}},
		{"structured, vendor prefix removed", advisory.Advisory{Title: "x", Products: []advisory.Product{{Vendor: "Philips", Name: "Philips IntelliVue MX40"}}}, []string{"philips/intellivue mx40"}},
		{"structured, legal suffix", advisory.Advisory{Title: "x", Products: []advisory.Product{{Vendor: "B. Braun Melsungen AG", Name: "Space Infusion System"}}}, []string{"b-braun/space infusion system"}},
		{"KEV style", advisory.Advisory{Title: "x", Products: []advisory.Product{{Vendor: "Microsoft", Name: "Windows"}}}, []string{"microsoft/windows"}},
		{"unknown vendor", advisory.Advisory{Title: "Acme Widget 3000 flaw"}, []string{}},
		{"CPE only", advisory.Advisory{Title: "x", Products: []advisory.Product{{CPE: "cpe:2.3:h:ge_healthcare:carescape_b450:2.0:*:*:*:*:*:*:*"}}}, []string{"ge-healthcare/carescape b450"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := enrichOne(t, e, tt.adv).Enrichment.ProductKeys
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("product keys %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCategories(t *testing.T) {
	e := New(MustLoadVendors(), nil)
	tests := []struct {
		title, summary string
		first          string
		reason         string
	}{
		{"Baxter Sigma Spectrum Infusion System: cleartext", "", CatInfusionPump, `title mentions "sigma spectrum"`},
		{"Dräger V800: Denial of service", "Das Beatmungsgerät kann neu starten.", CatVentilator, `summary mentions "beatmungsgeraet"`},
		{"Mindray N17: affichage", "Le moniteur patient peut afficher des valeurs erronées.", CatPatientMonitor, `summary mentions "moniteur patient"`},
		{"Siemens Healthineers via", "A DICOM service accepts any peer.", CatPACS, `summary mentions "dicom"`},
		{"Medisch apparaat", "De infuuspomp van het ziekenhuis stopt.", CatInfusionPump, `summary mentions "infuuspomp"`},
		{"Vulnerabilidad", "El ventilador del hospital se reinicia.", CatVentilator, `summary mentions "ventilador"`},
		{"Vulnerabilità", "La pompa per infusione in ospedale si blocca.", CatInfusionPump, `summary mentions "pompa per infusione"`},
		{"Stryker pumps for the ward", "", CatInfusionPump, `title mentions "pumps"`},
		{"Stryker S3", "", CatCareEquipment, "vendor Stryker mainly makes care-equipment"},
		{"Honeywell pumps for the chiller plant", "", CatBuildingOT, "vendor Honeywell makes building and facility OT"},
		{"Medtronic MiniMed 600 Series insulin pump", "", CatInfusionPump, `title mentions "minimed"`},
		{"Epic Systems web patient portal XSS", "", CatEHR, `title mentions "patient portal"`},
		{"InterSystems HealthShare HL7 interface", "", CatIntegration, `title mentions "healthshare"`},
		{"Johnson Controls Metasys building automation", "", CatBuildingOT, `title mentions "metasys"`},
		{"Fortinet FortiOS heap overflow", "", CatGeneralIT, "vendor Fortinet makes general IT"},
		{"Abbott ci laboratory analyzer", "", CatLaboratory, `title mentions "laboratory"`},
		{"Boston Scientific implantable cardiac device", "", CatImplantable, `title mentions "implantable"`},
		{"GE HealthCare Revolution CT: weak credentials", "The computed tomography scanner console...", CatImaging, `summary mentions "computed tomography"`},
	}
	for _, tt := range tests {
		a := enrichOne(t, e, advisory.Advisory{Title: tt.title, Summary: tt.summary})
		if cats := a.Enrichment.Categories; len(cats) == 0 || cats[0].ID != tt.first || cats[0].Reason != tt.reason {
			t.Errorf("%q: categories %+v, want first %s (%s)", tt.title, cats, tt.first, tt.reason)
		}
	}
}

func TestRelevanceAndPatientSafety(t *testing.T) {
	e := New(MustLoadVendors(), nil)
	pump := enrichOne(t, e, advisory.Advisory{ID: "ICSMA-26-001-01", Source: "cisa", Revision: "1",
		Title: "B. Braun Infusomat Space: dose limits can be changed", Summary: "Attackers on the hospital network could change drug library dose limits."})
	patch := enrichOne(t, e, advisory.Advisory{Title: "Microsoft monthly security update", Summary: "Fixes for Windows and Office."})
	alarm := enrichOne(t, e, advisory.Advisory{Title: "Honeywell burglar alarm panel", Summary: "The alarm can be disabled remotely."})
	german := enrichOne(t, e, advisory.Advisory{Title: "Schwachstelle in Krankenhaus-Software", Summary: "Patienten Daten in der Klinik betroffen."})
	if pump.Enrichment.Relevance.Score < 90 || patch.Enrichment.Relevance.Score > 10 {
		t.Fatalf("pump %+v, patch %+v", pump.Enrichment.Relevance, patch.Enrichment.Relevance)
	}
	if !strings.Contains(strings.Join(pump.Enrichment.Relevance.Reasons, ";"), "CISA ICS medical advisory ICSMA-26-001-01") {
		t.Fatalf("reasons %v", pump.Enrichment.Relevance.Reasons)
	}
	if german.Enrichment.Relevance.Score < 15 {
		t.Fatalf("German healthcare words not counted: %+v", german.Enrichment.Relevance)
	}
	if !pump.Enrichment.PatientSafety || patch.Enrichment.PatientSafety || alarm.Enrichment.PatientSafety {
		t.Fatalf("patient safety: pump %v (%v), patch %v, burglar alarm %v (%v)", pump.Enrichment.PatientSafety, pump.Enrichment.SafetyReasons,
			patch.Enrichment.PatientSafety, alarm.Enrichment.PatientSafety, alarm.Enrichment.SafetyReasons)
	}
}

func TestSeverityFromVector(t *testing.T) {
	e := New(MustLoadVendors(), nil)
	a := enrichOne(t, e, advisory.Advisory{Title: "x", CVEs: []string{"CVE-2026-1"}, Vulnerabilities: []advisory.Vulnerability{
		{CVE: "CVE-2026-1", Scores: []advisory.Severity{{Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}}},
		{CVE: "CVE-2026-2", Scores: []advisory.Severity{{CVSSVersion: "3.1", Score: 5.0, Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:H/I:H/A:L"}}},
		{CVE: "CVE-2026-3", Scores: []advisory.Severity{{Vector: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}}},
		{CVE: "CVE-2026-4", Scores: []advisory.Severity{{Vector: "AV:N/AC:M/Au:N/C:N/I:P/A:N"}}},
	}})
	v := a.Vulnerabilities
	if v[0].Scores[0].Score != 9.8 || v[0].Scores[0].CVSSVersion != "3.1" || v[2].Scores[0].Score != 9.3 || v[3].Scores[0].Score != 4.3 {
		t.Fatalf("computed scores %+v", v)
	}
	notes := strings.Join(a.Enrichment.Notes, "\n")
	if !strings.Contains(notes, "CVE-2026-2: CVSS 3.1 score 5.0 given") || !strings.Contains(notes, "computes 9.6") {
		t.Fatalf("notes %q", notes)
	}
	if a.Severity.Score != 9.8 {
		t.Fatalf("severity %+v", a.Severity)
	}
}

func TestKEVFlagAndLateEscalation(t *testing.T) {
	e := New(MustLoadVendors(), nil)
	csaf := advisory.Advisory{Source: "cisa-csaf", ID: "ICSMA-26-010-01", Revision: "1", Title: "Baxter Sigma Spectrum", CVEs: []string{"CVE-2026-9001"}}
	first := enrichOne(t, e, csaf)
	if first.KEV {
		t.Fatal("KEV before KEV knew the CVE")
	}
	kev := advisory.Advisory{Source: "cisa-kev", ID: "CVE-2026-9001", Revision: "k1", Title: "Baxter Sigma Spectrum Vulnerability",
		CVEs: []string{"CVE-2026-9001"}, KEV: true, KEVEntry: &advisory.KEVEntry{DateAdded: "2026-11-20"}}
	_, escalate, err := e.Enrich(ctx, kev)
	if err != nil {
		t.Fatal(err)
	}
	if len(escalate) != 1 || escalate[0].Key() != csaf.Key() || !escalate[0].KEV || escalate[0].Revision != "1+kev.2026-11-20" ||
		escalate[0].Enrichment.KEVDateAdded != "2026-11-20" {
		t.Fatalf("escalation %+v", escalate)
	}
	// A source seen after KEV is flagged at once, and KEV re-seen escalates nothing.
	nvd := enrichOne(t, e, advisory.Advisory{Source: "nvd", ID: "CVE-2026-9001", Revision: "n1", Title: "CVE-2026-9001", CVEs: []string{"CVE-2026-9001"}})
	_, again, _ := e.Enrich(ctx, kev)
	if !nvd.KEV || len(again) != 0 {
		t.Fatalf("nvd KEV %v, second escalation %d", nvd.KEV, len(again))
	}
}

// kevArrives is a State on which a KEV entry arrives just after an
// advisory's first KEV lookup has found nothing.
type kevArrives struct {
	*MemState
	arrived atomic.Bool
	arrive  func()
}

func (k *kevArrives) KEV(ctx context.Context, cve string) (string, bool, error) {
	date, ok, err := k.MemState.KEV(ctx, cve)
	if k.arrived.CompareAndSwap(false, true) {
		k.arrive() // the entry's escalation looks KEV up again: not here
	}
	return date, ok, err
}

// TestKEVArrivingDuringEnrichmentEscalates: an advisory whose KEV lookup
// just missed the entry is still escalated by it.
func TestKEVArrivingDuringEnrichmentEscalates(t *testing.T) {
	st := &kevArrives{MemState: NewMemState()}
	e := New(MustLoadVendors(), st)
	kev := advisory.Advisory{Source: "cisa-kev", ID: "CVE-2026-9101", Revision: "k1", Title: "Baxter Sigma Spectrum Vulnerability",
		CVEs: []string{"CVE-2026-9101"}, KEV: true, KEVEntry: &advisory.KEVEntry{DateAdded: "2026-11-21"}}
	var escalated []advisory.Advisory
	st.arrive = func() {
		_, esc, err := e.Enrich(ctx, kev)
		if err != nil {
			t.Error(err)
		}
		escalated = esc
	}
	csaf := enrichOne(t, e, advisory.Advisory{Source: "cisa-csaf", ID: "ICSMA-26-020-01", Revision: "1", Title: "Baxter Sigma Spectrum", CVEs: []string{"CVE-2026-9101"}})
	if csaf.KEV {
		t.Fatal("the lookup ran before the entry arrived, yet saw it")
	}
	if len(escalated) != 1 || escalated[0].Key() != csaf.Key() || !escalated[0].KEV {
		t.Fatalf("the KEV entry that arrived during enrichment escalated %d advisories, want the CSAF one", len(escalated))
	}
}

// TestClusters runs on both states: in memory, and the key-value state the
// pipeline uses.
func TestClusters(t *testing.T) {
	b := testenv.NATS(t)
	for name, st := range map[string]State{"memory": NewMemState(),
		"kv": &KVState{KEVBucket: b.KEV, Clusters: b.Clusters, Advisories: b.Advisories, CVEIndex: b.CVEIndex}} {
		t.Run(name, func(t *testing.T) { testClusters(t, New(MustLoadVendors(), st)) })
	}
}

func testClusters(t *testing.T, e *Enricher) {
	csaf := enrichOne(t, e, advisory.Advisory{Source: "cisa-csaf", ID: "ICSMA-26-011-01", Revision: "1", Title: "GE HealthCare CARESCAPE",
		URL: "https://www.cisa.gov/news-events/ics-medical-advisories/icsma-26-011-01", CVEs: []string{"CVE-2026-7002", "CVE-2026-7001"}})
	certfr := enrichOne(t, e, advisory.Advisory{Source: "cert-fr-avis", ID: "CERTFR-2026-AVI-0999", Revision: "1", Title: "Vulnérabilité dans GE HealthCare",
		URL: "https://www.cert.ssi.gouv.fr/avis/CERTFR-2026-AVI-0999/", References: []string{"http://cisa.gov/news-events/ics-medical-advisories/icsma-26-011-01/"}})
	nvd := enrichOne(t, e, advisory.Advisory{Source: "nvd", ID: "CVE-2026-7002", Revision: "1", Title: "CVE-2026-7002", CVEs: []string{"CVE-2026-7002"}})
	other := enrichOne(t, e, advisory.Advisory{Source: "nvd", ID: "CVE-2026-7999", Revision: "1", Title: "CVE-2026-7999", CVEs: []string{"CVE-2026-7999"}})
	c := csaf.Enrichment.ClusterID
	if c != "VC-CVE-2026-7001" || certfr.Enrichment.ClusterID != c || nvd.Enrichment.ClusterID != c || other.Enrichment.ClusterID == c {
		t.Fatalf("clusters csaf %s certfr %s nvd %s other %s", c, certfr.Enrichment.ClusterID, nvd.Enrichment.ClusterID, other.Enrichment.ClusterID)
	}
	// Only the first advisory of a cluster opened it: the matcher trusts
	// this flag to skip looking for alerts about the cluster.
	opened := func(a advisory.Advisory) bool { return a.Enrichment.NewCluster }
	if !opened(csaf) || opened(certfr) || opened(nvd) || !opened(other) {
		t.Fatalf("new cluster: csaf %v certfr %v nvd %v other %v; want true false false true", opened(csaf), opened(certfr), opened(nvd), opened(other))
	}
	// A new revision, and an advisory without CVE or URL (its cluster is
	// its own key, registered nowhere), are never new the second time.
	rev2 := enrichOne(t, e, advisory.Advisory{Source: "nvd", ID: "CVE-2026-7999", Revision: "2", Title: "CVE-2026-7999", CVEs: []string{"CVE-2026-7999"}})
	bare := advisory.Advisory{Source: "rss", ID: "note-1", Revision: "1", Title: "GE HealthCare notice"}
	first, again := enrichOne(t, e, bare), enrichOne(t, e, bare)
	if opened(rev2) || opened(first) || opened(again) || first.Enrichment.ClusterID != again.Enrichment.ClusterID {
		t.Fatalf("revision 2 new %v; advisory without keys new %v then %v (clusters %s, %s)", opened(rev2), opened(first), opened(again),
			first.Enrichment.ClusterID, again.Enrichment.ClusterID)
	}
}

// TestResolveDoesNotAllocate: vendor resolution is on the hot path of every
// advisory and every inventory row.
func TestResolveDoesNotAllocate(t *testing.T) {
	v := MustLoadVendors()
	for _, name := range []string{"GE Healthcare", "B. Braun Melsungen AG", "Dräger Medical GmbH", "unknown vendor"} {
		if n := testing.AllocsPerRun(100, func() { v.Resolve(name) }); n != 0 {
			t.Errorf("Resolve(%q) allocates %.0f times", name, n)
		}
	}
}
