package slack

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vigilhealth/vigil/internal/sink"
	"github.com/vigilhealth/vigil/internal/testenv"
	"github.com/vigilhealth/vigil/notify/notifytest"
)

func messages(srv *sink.Slack) func() []notifytest.Message {
	return func() []notifytest.Message {
		var out []notifytest.Message
		for _, m := range srv.Messages() {
			var decoded []any
			_ = json.Unmarshal(m.Blocks, &decoded)
			out = append(out, notifytest.Message{Text: m.Text + "\n" + flatten(decoded), ID: m.TS, Thread: m.ThreadTS})
		}
		return out
	}
}

func checkHostile(t *testing.T, m notifytest.Message) {
	for _, bad := range []string{"<!channel>", "<@U0ADMIN>", "<https://evil.example|"} {
		if strings.Contains(m.Text, bad) {
			t.Errorf("hostile markup %q reached Slack:\n%s", bad, m.Text)
		}
	}
}

func TestConformanceBotToken(t *testing.T) {
	notifytest.Conformance(t, func(t *testing.T) notifytest.Harness {
		srv := testenv.Slack(t, token)
		n, err := New(Config{Token: token, APIURL: srv.URL, Threads: &notifytest.MemThreads{}}, testenv.Logger(t))
		if err != nil {
			t.Fatal(err)
		}
		return notifytest.Harness{
			Notifier: n, Tenant: notifytest.Tenant(), Messages: messages(srv), Threads: true, Secrets: []string{token},
			FailNext: func(k int, heals bool) {
				if heals {
					srv.RateLimitNext(k, 0)
				} else {
					srv.FailNext(k, "channel_not_found")
				}
			},
			CheckHostile: checkHostile,
		}
	})
}

func TestConformanceIncomingWebhook(t *testing.T) {
	const hookSecret = "hOoKsEcReT0123456789"
	notifytest.Conformance(t, func(t *testing.T) notifytest.Harness {
		srv := testenv.Slack(t, token)
		n, err := New(Config{APIURL: srv.URL}, testenv.Logger(t)) // no bot token at all
		if err != nil {
			t.Fatal(err)
		}
		tenant := notifytest.Tenant()
		tenant.Channels.Slack.Channel, tenant.Channels.Slack.WebhookURL = "", srv.IncomingWebhook(hookSecret)
		return notifytest.Harness{
			Notifier: n, Tenant: tenant, Messages: messages(srv), Secrets: []string{hookSecret, tenant.Channels.Slack.WebhookURL},
			FailNext: func(k int, heals bool) {
				if heals {
					srv.RateLimitNext(k, 0)
				} else {
					srv.FailNext(k, "no_service")
				}
			},
			CheckHostile: checkHostile,
		}
	})
}
