// Package notifytest has the alert and tenant every notifier test uses,
// including feed-controlled text that tries to inject markup and headers.
package notifytest

import (
	"time"

	"github.com/vigilhealth/vigil/match"
)

// HostileTitle is an advisory title written by an attacker.
const HostileTitle = "Infusion pump flaw <!channel> <@U0ADMIN> <https://evil.example|click here>\r\nBcc: victim@example.org"

// Alert returns a P1 alert with two assets.
func Alert(title string) *match.Alert {
	return &match.Alert{
		Schema: match.AlertSchema, ID: "A-0123456789abcdef", Tenant: "st-example", Revision: "1",
		Priority: "P1", Confidence: match.Exact,
		Advisory: match.AdvisoryRef{
			Source: "cisa-icsma", ID: "ICSMA-26-001-01", Revision: "2026-11-15T10:00:00Z", Title: title,
			URL: "https://www.cisa.gov/news-events/ics-medical-advisories/icsma-26-001-01", Summary: "Firmware prior to 2.1 <b>is</b> affected.",
			Published: time.Date(2026, 11, 15, 10, 0, 0, 0, time.UTC), FetchedAt: time.Now().Add(-2 * time.Second),
			CVEs: []string{"CVE-2026-31001"}, KEV: true,
		},
		Assets: []match.AssetMatch{
			{Asset: &match.Asset{ID: "MON-ICU-01", Vendor: "GE Healthcare", Product: "CARESCAPE B450", Version: "2.0.2", Location: "ICU bed 1", Criticality: match.LifeCritical},
				Confidence: match.Exact, Reasons: []string{`vendor "GE Healthcare" = "GE HealthCare"`, `product "CARESCAPE B450" in advisory text`, "version 2.0.2 < 2.1"}},
			{Asset: &match.Asset{ID: "MON-ICU-03", Vendor: "GE Healthcare", Product: "CARESCAPE B450", Version: "1.9", Location: "ICU bed 3", Criticality: match.LifeCritical},
				Confidence: match.Exact, Reasons: []string{"version 1.9 < 2.1"}},
		},
		CreatedAt: time.Now(),
	}
}

// Tenant has both channels.
func Tenant() match.Tenant {
	return match.Tenant{
		ID: "st-example", Name: "St Example General Hospital", TLPClearance: "AMBER",
		Channels: match.Channels{
			Slack: &match.SlackChannel{Channel: "#vigil-alerts"},
			Email: &match.EmailChannel{To: []string{"secops@example-hospital.org"}},
		},
	}
}
