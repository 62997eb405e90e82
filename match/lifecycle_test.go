package match

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/enrich"
	"github.com/vigilhealth/vigil/internal/bus"
	"github.com/vigilhealth/vigil/internal/testenv"
	"github.com/vigilhealth/vigil/internal/wire"
)

// TestLifecycleOneAlertPerClusterAcrossSources follows one vulnerability
// through three sources: a CERT bulletin with a version range, the same
// bulletin re-polled, and the KEV entry (no versions).
func TestLifecycleOneAlertPerClusterAcrossSources(t *testing.T) {
	b := testenv.NATS(t)
	ctx := context.Background()
	e := enrich.New(enrich.MustLoadVendors(), nil)
	ix := demoIndex(t)
	clock := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
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
		clock = clock.Add(time.Hour)
		alerts[0].CreatedAt = clock
		publish, err := revise(ctx, b.AlertState, &alerts[0], false)
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
	// The lifecycle travels with every revision: opened at the first,
	// KEV at the second (the third step), no fix yet.
	if want := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC); !a2.OpenedAt.Equal(want) || !a1.OpenedAt.Equal(want) {
		t.Fatalf("opened_at %v / %v, want %v", a1.OpenedAt, a2.OpenedAt, want)
	}
	if want := time.Date(2026, 11, 1, 11, 0, 0, 0, time.UTC); !a2.KEVAt.Equal(want) || !a1.KEVAt.IsZero() || !a2.FixedAt.IsZero() {
		t.Fatalf("kev_at %v (first %v), fixed_at %v", a2.KEVAt, a1.KEVAt, a2.FixedAt)
	}
	fix := cert
	fix.Revision = "2"
	fix.Vulnerabilities = []advisory.Vulnerability{{CVE: "CVE-2026-31001", Remediations: []advisory.Remediation{{Category: "vendor_fix", Details: "Update to 2.1"}}}}
	a3, pub := step(fix)
	if !pub || a3.Revision != "3" || !a3.FixedAt.Equal(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)) || !a3.KEVAt.Equal(a2.KEVAt) || !a3.OpenedAt.Equal(a1.OpenedAt) {
		t.Fatalf("fix: %v revision %s fixed_at %v kev_at %v opened_at %v", pub, a3.Revision, a3.FixedAt, a3.KEVAt, a3.OpenedAt)
	}
}

// The matcher publishes an alert before it stores the alert's state: an
// attempt cut off in between (publish failed, or the process stopped
// before the commit) is retried, and the alert is published exactly once.
func TestAlertIsPublishedBeforeItsStateIsStored(t *testing.T) {
	ctx := context.Background()
	m, b, adv := demoMatcher(t)
	count := func() uint64 { return testenv.StreamMsgs(t, b, bus.StreamAlerts) }
	first := m.index.Load().Match(adv)
	if len(first) != 1 {
		t.Fatalf("%d alerts", len(first))
	}
	// 1. Prepared, never published nor stored (a publish that failed).
	if next, err := prepare(ctx, b.AlertState, &first[0], false, false); err != nil || next == nil || !next.publish {
		t.Fatalf("prepare: %+v %v", next, err)
	}
	// 2. Published, then stopped before the commit.
	if err := m.publishAlert(ctx, &first[0]); err != nil {
		t.Fatal(err)
	}
	// 3. The retry: published again under the same message id (dropped by
	// JetStream), and the state stored this time.
	retry := m.index.Load().Match(adv)
	if err := m.alert(ctx, &retry[0], adv, false); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 1 {
		t.Fatalf("%d alert messages, want 1", n)
	}
	// 4. The state is stored: the same advisory again publishes nothing.
	again := m.index.Load().Match(adv)
	if err := m.alert(ctx, &again[0], adv, false); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 1 || again[0].Revision != "1" {
		t.Fatalf("%d alert messages after a re-poll (revision %s), want 1", n, again[0].Revision)
	}
	// 5. Without step 2 (the publish failed), the retry publishes it.
	other := enriched("GE HealthCare CARESCAPE B450: denial of service", "Firmware prior to 2.1 is affected.")
	al := m.index.Load().Match(other)
	if len(al) != 1 || al[0].ID == first[0].ID {
		t.Fatalf("second advisory: %d alerts %+v", len(al), al)
	}
	if _, err := prepare(ctx, b.AlertState, &al[0], false, false); err != nil {
		t.Fatal(err)
	}
	retry = m.index.Load().Match(other)
	if err := m.alert(ctx, &retry[0], other, false); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 2 {
		t.Fatalf("%d alert messages, want 2: the failed publish was not retried", n)
	}
}

// demoMatcher is a matcher on its own bus over the demo inventory, and an
// advisory that alerts its hospital.
func demoMatcher(t *testing.T) (*Matcher, *bus.Bus, *advisory.Advisory) {
	t.Helper()
	b := testenv.NATS(t)
	m := NewMatcher(b, enrich.MustLoadVendors(), testenv.Logger(t))
	m.index.Store(demoIndex(t))
	return m, b, enriched("GE HealthCare CARESCAPE B450: authentication bypass", "Firmware prior to 2.1 is affected.")
}

// The retro-match stores its alerts' revisions before it publishes them.
// Stopped in between, the next revision of such an alert publishes it;
// once the retro-match published them, nothing is sent again.
func TestAlertStoredByAnInterruptedRetroMatchIsPublishedNext(t *testing.T) {
	ctx := context.Background()
	m, b, adv := demoMatcher(t)
	held := m.index.Load().Match(adv)
	if publish, err := revise(ctx, b.AlertState, &held[0], true); err != nil || !publish {
		t.Fatalf("retro revise: %v %v", publish, err)
	}
	if n := testenv.StreamMsgs(t, b, bus.StreamAlerts); n != 0 {
		t.Fatalf("%d messages before any publish", n)
	}
	// The retro-match stopped here. The same advisory comes again live.
	live := m.index.Load().Match(adv)
	if err := m.alert(ctx, &live[0], adv, false); err != nil {
		t.Fatal(err)
	}
	if n := testenv.StreamMsgs(t, b, bus.StreamAlerts); n != 1 || live[0].Revision != "1" {
		t.Fatalf("%d messages (revision %s), want the stored revision 1 published once", n, live[0].Revision)
	}
	// The mark is gone: the same news again is not a revision to publish
	// (asked of prepare: a republish would be hidden by JetStream's
	// duplicate window).
	again := m.index.Load().Match(adv)
	if next, err := prepare(ctx, b.AlertState, &again[0], false, false); err != nil || next == nil || next.publish {
		t.Fatalf("after the live publish: publish again %v (%v)", next != nil && next.publish, err)
	}
	// A retro-match that completes clears the mark itself.
	other := enriched("GE HealthCare CARESCAPE B450: denial of service", "Firmware prior to 2.1 is affected.")
	done := m.index.Load().Match(other)
	if _, err := revise(ctx, b.AlertState, &done[0], true); err != nil {
		t.Fatal(err)
	}
	if err := m.publishAlert(ctx, &done[0]); err != nil {
		t.Fatal(err)
	}
	if err := markPublished(ctx, b.AlertState, done[0].Tenant, done[0].ID); err != nil {
		t.Fatal(err)
	}
	later := m.index.Load().Match(other)
	if next, err := prepare(ctx, b.AlertState, &later[0], false, false); err != nil || next == nil || next.publish {
		t.Fatalf("a published retro alert would be sent again: %v (%v)", next != nil && next.publish, err)
	}
	if n := testenv.StreamMsgs(t, b, bus.StreamAlerts); n != 2 {
		t.Fatalf("%d messages, want 2", n)
	}
}

// An advisory that opened its cluster makes new alerts: the matcher does
// not read their state. Were one there after all (the flag wrong), the
// state is not overwritten: the attempt fails, and the retry, which reads
// it, publishes the next revision.
func TestFreshClusterSkipsTheStateReadButNeverOverwrites(t *testing.T) {
	ctx := context.Background()
	m, b, adv := demoMatcher(t)
	count := func() uint64 { return testenv.StreamMsgs(t, b, bus.StreamAlerts) }
	first := m.index.Load().Match(adv)
	if err := m.alert(ctx, &first[0], adv, true); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 1 || first[0].Revision != "1" {
		t.Fatalf("%d alert messages (revision %s), want revision 1 once", n, first[0].Revision)
	}
	e, err := b.AlertState.Get(ctx, first[0].Tenant+"."+first[0].ID)
	if err != nil {
		t.Fatalf("state not stored: %v", err)
	}
	if v := string(e.Value()); !strings.Contains(v, `"reasons":[[`) || strings.Contains(v, `"matches"`) {
		t.Fatalf("state stored without shared reasons: %s", v)
	}
	// The same cluster again, claimed new by mistake, with news (KEV).
	kev := *adv
	kev.KEV = true
	claimed := m.index.Load().Match(&kev)
	if err := m.alert(ctx, &claimed[0], &kev, true); err == nil {
		t.Fatal("a wrong fresh claim replaced the stored state")
	}
	retry := m.index.Load().Match(&kev)
	if err := m.alert(ctx, &retry[0], &kev, false); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 2 || retry[0].Revision != "2" || !slices.Contains(retry[0].Changes, "added to KEV") {
		t.Fatalf("%d alert messages, revision %s, changes %v; want revision 2 \"added to KEV\" as the second message", n, retry[0].Revision, retry[0].Changes)
	}
}

// The evidence is stored with each distinct list of reasons once, reads
// back whole, and evidence stored the old way (reasons per asset) still reads.
func TestStoredEvidenceSharesReasons(t *testing.T) {
	why := func(version string) []string {
		return []string{`vendor "GE HealthCare" = "GE HealthCare" (ge-healthcare)`,
			`product "CARESCAPE B450" = "CARESCAPE B450" in the advisory's product list`,
			"version " + version + ` in "vers:generic/<2.1"`, "status known_affected"}
	}
	r1, r2 := why("1.0"), why("2.0")
	ev := sourceEvidence{KEV: true, Fixed: true, Excluded: []string{"MON-9"}, Severity: &advisory.Severity{Score: 9.8}}
	for i := range 12 {
		r := r1
		if i%3 == 0 {
			r = r2
		}
		ev.Matches = append(ev.Matches, AssetMatch{Asset: &Asset{ID: fmt.Sprintf("MON-%02d", i), Vendor: "GE HealthCare", Product: "CARESCAPE B450",
			Version: "1.0", Criticality: LifeCritical, Zone: ZoneClinical}, Confidence: Exact, Rule: "product", Reasons: r})
	}
	data, err := wire.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	old, err := wire.Marshal(storedEvidence{Matches: ev.Matches, Excluded: ev.Excluded, KEV: true, Severity: ev.Severity, Fixed: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), "known_affected"); n != 2 || 2*len(data) > len(old)+len(old)/5 {
		t.Fatalf("stored %d bytes (reasons per asset: %d), the status %d times; want each list of reasons once", len(data), len(old), n)
	}
	for name, stored := range map[string][]byte{"shared": data, "per asset (before)": old} {
		var back sourceEvidence
		if err := wire.Unmarshal(stored, &back); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(back, ev) {
			t.Errorf("%s: read back\n%+v\nwant\n%+v", name, back, ev)
		}
	}
	var bad sourceEvidence
	if err := wire.Unmarshal([]byte(`{"assets":[{"asset":{"id":"X"},"reasons":3}],"reasons":[["a"]]}`), &bad); err == nil {
		t.Error("a match pointing past the stored reasons was read")
	}
}

// The state is stored through storedState as it was through alertState's
// own encoding, byte for byte, and reads back whole; the two types keep
// the same fields.
func TestStateStoredAsBefore(t *testing.T) {
	a := benchAlert()
	ev := sourceEvidence{Matches: a.Assets, Excluded: []string{"MON-900"}, KEV: true, Severity: &advisory.Severity{Score: 8.1}, Fixed: true}
	st := alertState{Sources: map[string]sourceEvidence{"cisa-icsma/ICSMA-26-101-01": ev, "ge/GEHC-2026-04": {Matches: a.Assets[:2]}},
		stateHead: stateHead{Revision: 3, Fingerprint: "fp", Summary: summary{Assets: []string{"MON-000", "MON-001"}, KEV: true, Priority: "P1", Score: 8.1, Fixed: true},
			OpenedAt: a.CreatedAt, FixedAt: a.CreatedAt.Add(time.Hour), KEVAt: a.CreatedAt.Add(2 * time.Hour), Unpublished: true}}
	got, err := encodeState(&st)
	if err != nil {
		t.Fatal(err)
	}
	want, err := wire.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("stored\n%s\nwant (alertState's own encoding)\n%s", got, want)
	}
	var back alertState
	if err := decodeState(want, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, st) {
		t.Errorf("read back\n%+v\nwant\n%+v", back, st)
	}
	if err := decodeState([]byte(`{"sources":{"x/1":{"assets":[{"asset":{"id":"X"},"reasons":1}],"reasons":[["a"]]}}}`), &back); err == nil ||
		!strings.Contains(err.Error(), "x/1") {
		t.Errorf("a match pointing past its reasons: %v; want an error naming the source", err)
	}
	at, ot := reflect.TypeFor[alertState](), reflect.TypeFor[storedState]()
	if at.NumField() != ot.NumField() {
		t.Fatalf("alertState has %d fields, storedState %d", at.NumField(), ot.NumField())
	}
	for i := range at.NumField() {
		if f, g := at.Field(i), ot.Field(i); f.Name != g.Name || f.Tag != g.Tag {
			t.Errorf("field %d: alertState %s %q, storedState %s %q", i, f.Name, f.Tag, g.Name, g.Tag)
		}
	}
}
