package pipeline

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigilhealth/vigil/internal/bus"
	"github.com/vigilhealth/vigil/internal/testenv"
	"github.com/vigilhealth/vigil/match"
	"github.com/vigilhealth/vigil/store"
)

// TestRetroMatchNewTenant: a hospital that joins after advisories were
// published gets alerts for what affects it, marked retro, in one digest.
func TestRetroMatchNewTenant(t *testing.T) {
	e := setup(t, smtpPassword, slackToken)
	stop := e.start(t)
	defer stop()
	ctx := context.Background()
	testenv.Eventually(t, 30*time.Second, 100*time.Millisecond, func() error {
		if n := len(e.slack.Messages()); n != 1 {
			return fmt.Errorf("%d slack messages", n)
		}
		return nil
	})
	// Wait until the matcher has seen every advisory: they are history now.
	testenv.Eventually(t, 30*time.Second, 100*time.Millisecond, func() error {
		s, err := e.bus.JS.Stream(ctx, bus.StreamAdvisories)
		if err != nil {
			return err
		}
		si, _ := s.Info(ctx)
		c, err := s.Consumer(ctx, "match")
		if err != nil {
			return err
		}
		ci, _ := c.Info(ctx)
		if ci.Delivered.Stream < si.State.LastSeq || ci.NumAckPending > 0 || si.State.Msgs < 4 {
			return fmt.Errorf("matcher at %d of %d", ci.Delivered.Stream, si.State.LastSeq)
		}
		return nil
	})
	newcomer := match.Tenant{ID: "st-other", Name: "St Other", TLPClearance: "GREEN",
		Channels: match.Channels{Slack: &match.SlackChannel{Channel: "#other-secops"}},
		Delivery: match.DeliveryPolicy{GroupWindow: "0s"}}
	if err := match.PutTenant(ctx, e.bus, newcomer); err != nil {
		t.Fatal(err)
	}
	assets := []match.Asset{
		{ID: "MON-9", Vendor: "GE Healthcare", Product: "CARESCAPE B450", Version: "2.0.1", Criticality: match.LifeCritical, Zone: match.ZoneClinical},
		{ID: "PLC-1", Vendor: "Siemens", Product: "SIMATIC S7-1500", Version: "V3.0", Criticality: match.Medium, Zone: match.ZoneClinical},
	}
	if err := match.PutInventory(ctx, e.bus, newcomer.ID, assets); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, 100*time.Millisecond, func() error {
		var other []string
		for _, m := range e.slack.Messages() {
			if m.Channel == "#other-secops" {
				other = append(other, string(m.Blocks))
			}
		}
		if len(other) != 1 {
			return fmt.Errorf("%d messages to the newcomer", len(other))
		}
		if !strings.Contains(other[0], "Retro-match: 2 open advisories") || !strings.Contains(other[0], "MON-9") || !strings.Contains(other[0], "PLC-1") {
			return fmt.Errorf("digest: %s", other[0])
		}
		return nil
	})
	testenv.Eventually(t, 20*time.Second, 200*time.Millisecond, func() error {
		rows, err := e.db.Alerts(ctx, store.AlertFilter{Tenant: "st-other"})
		if err != nil || len(rows) != 3 {
			return fmt.Errorf("st-other has %d alert rows (%v), want 2 retro alerts and the digest", len(rows), err)
		}
		batched := 0
		for _, r := range rows {
			if strings.Join(r.Delivered, ",") == "slack:batched" {
				batched++
			}
		}
		if batched != 2 {
			return fmt.Errorf("%d alerts batched into the digest: %+v", batched, rows)
		}
		return nil
	})
	// The first hospital heard nothing more.
	if n := len(e.slack.Messages()); n != 2 {
		t.Fatalf("%d slack messages in all, want 2", n)
	}
}
