package slack

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigilhealth/vigil/internal/testenv"
	"github.com/vigilhealth/vigil/match"
	"github.com/vigilhealth/vigil/notify"
	"github.com/vigilhealth/vigil/notify/notifytest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestPayloadsMatchGoldenFiles posts through the Slack API server and
// compares what it received (channel, fallback text, blocks) with
// testdata/*.golden.json; `go test ./notify/slack -update` rewrites them
// after a deliberate change, to be reviewed in the diff.
func TestPayloadsMatchGoldenFiles(t *testing.T) {
	update := *update
	fixed := func(a *notifyAlert) *notifyAlert {
		a.CreatedAt = time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
		return a
	}
	p2 := fixed(notifytest.Alert("Baxter Sigma Spectrum: hard-coded credentials"))
	p2.Priority, p2.Advisory.KEV, p2.Advisory.URL = "P2", false, "https://example.org/advisories/1?a=1&b=2"
	up := fixed(notifytest.Alert("GE HealthCare CARESCAPE B450: Improper Authentication"))
	up.Revision, up.Changes = "3", []string{"fix released", "2 more assets"}
	cases := map[string]func(*Notifier) error{
		"alert-p1-kev": func(n *Notifier) error {
			_, err := n.Notify(ctxBG(), notifytest.Tenant(), fixed(notifytest.Alert("GE HealthCare CARESCAPE B450: Improper Authentication")))
			return err
		},
		"alert-p2-link": func(n *Notifier) error { _, err := n.Notify(ctxBG(), notifytest.Tenant(), p2); return err },
		"alert-update":  func(n *Notifier) error { _, err := n.Notify(ctxBG(), notifytest.Tenant(), up); return err },
		"alert-hostile": func(n *Notifier) error {
			_, err := n.Notify(ctxBG(), notifytest.Tenant(), fixed(notifytest.Alert(notifytest.HostileTitle)))
			return err
		},
		"group-window-3": func(n *Notifier) error {
			g := &notify.Group{Kind: notify.GroupWindow, Alerts: []*notifyAlert{p2, up, fixed(notifytest.Alert(notifytest.HostileTitle))}}
			_, err := n.NotifyGroup(ctxBG(), notifytest.Tenant(), g)
			return err
		},
	}
	for name, send := range cases {
		t.Run(name, func(t *testing.T) {
			srv := testenv.Slack(t, token)
			n := newNotifier(t, srv.URL)
			if err := send(n); err != nil {
				t.Fatal(err)
			}
			ms := srv.Messages()
			if len(ms) != 1 {
				t.Fatalf("%d messages", len(ms))
			}
			var raw any
			if err := json.Unmarshal(ms[0].Blocks, &raw); err != nil {
				t.Fatalf("blocks are not JSON: %v", err)
			}
			got, _ := json.MarshalIndent(map[string]any{"channel": ms[0].Channel, "text": ms[0].Text, "blocks": raw}, "", "  ")
			got = append(got, '\n')
			path := filepath.Join("testdata", name+".golden.json")
			if update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if string(got) != string(want) {
				t.Fatalf("payload differs from %s:\n--- got\n%s\n--- want\n%s", path, got, want)
			}
		})
	}
}

type notifyAlert = match.Alert

func ctxBG() context.Context { return context.Background() }
