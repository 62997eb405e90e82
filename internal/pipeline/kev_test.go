package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilhealth/vigil/feeds"
	"github.com/vigilhealth/vigil/internal/bus"
	"github.com/vigilhealth/vigil/internal/testenv"
	"github.com/vigilhealth/vigil/store"
)

// TestCVEEnteringKEVEscalatesTheAlert: an alert raised from a CERT feed is
// updated (same alert id, new revision, KEV mark, higher priority) when
// the CVE later enters CISA's KEV catalogue.
func TestCVEEnteringKEVEscalatesTheAlert(t *testing.T) {
	e := setup(t, smtpPassword, slackToken)
	var inKEV atomic.Bool
	kev := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		var entries []string
		if inKEV.Load() {
			entries = append(entries, `{"cveID":"CVE-2026-31001","vendorProject":"GE HealthCare","product":"CARESCAPE B450",
				"vulnerabilityName":"GE HealthCare CARESCAPE B450 Improper Authentication","dateAdded":"2026-11-21",
				"shortDescription":"x","requiredAction":"Apply updates.","dueDate":"2026-12-12","knownRansomwareCampaignUse":"Unknown","notes":"","cwes":[]}`)
		}
		fmt.Fprintf(w, `{"title":"KEV","catalogVersion":"2026.11.21","dateReleased":"2026-11-21T00:00:00Z","count":%d,"vulnerabilities":[%s]}`,
			len(entries), strings.Join(entries, ","))
	}))
	defer kev.Close()
	e.deps.Sources = append(e.deps.Sources, feeds.Source{Name: "test-kev", Kind: feeds.KindKEV, URL: kev.URL, Internal: true})
	stop := e.start(t)
	defer stop()
	ctx := context.Background()

	testenv.Eventually(t, 30*time.Second, 100*time.Millisecond, func() error {
		if n := len(e.slack.Messages()); n != 1 {
			return fmt.Errorf("%d slack messages", n)
		}
		return nil
	})
	inKEV.Store(true)
	testenv.Eventually(t, 30*time.Second, 100*time.Millisecond, func() error {
		if n := len(e.slack.Messages()); n != 2 {
			return fmt.Errorf("%d slack messages after the CVE entered KEV", n)
		}
		return nil
	})
	second := string(e.slack.Messages()[1].Blocks)
	if !strings.Contains(second, "known exploited (KEV)") || !strings.Contains(second, "MON-ICU-01") {
		t.Fatalf("escalated message: %s", second)
	}
	// One alert id, two revisions, the second flagged KEV with a higher priority.
	s, _ := e.bus.JS.Stream(ctx, bus.StreamAlerts)
	info, _ := s.Info(ctx)
	type alertMsg struct {
		ID, Revision, Priority string
		Advisory               struct{ KEV bool }
	}
	var alerts []alertMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			continue
		}
		var a alertMsg
		_ = json.Unmarshal(m.Data, &a)
		alerts = append(alerts, a)
	}
	if len(alerts) != 2 || alerts[0].ID != alerts[1].ID || alerts[0].Revision == alerts[1].Revision ||
		alerts[0].Advisory.KEV || !alerts[1].Advisory.KEV || alerts[1].Priority >= alerts[0].Priority {
		t.Fatalf("alerts %+v", alerts)
	}
	testenv.Eventually(t, 20*time.Second, 200*time.Millisecond, func() error {
		rows, err := e.db.Alerts(ctx, store.AlertFilter{Tenant: "st-example"})
		if err != nil || len(rows) != 2 {
			return fmt.Errorf("clickhouse alert revisions %d (%v)", len(rows), err)
		}
		return nil
	})
}
