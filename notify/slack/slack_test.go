package slack

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vigilhealth/vigil/internal/testenv"
	"github.com/vigilhealth/vigil/notify"
	"github.com/vigilhealth/vigil/notify/notifytest"
)

const token = "xoxb-1111-2222-secretsecret"

func newNotifier(t *testing.T, url string) *Notifier {
	n, err := New(Config{Token: token, APIURL: url}, testenv.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPostsBlockKitMessageNamingTheAssets(t *testing.T) {
	srv := testenv.Slack(t, token)
	n := newNotifier(t, srv.URL)
	retry, err := n.Notify(context.Background(), notifytest.Tenant(), notifytest.Alert("GE HealthCare CARESCAPE B450: Improper Authentication"))
	if err != nil || retry {
		t.Fatalf("Notify: retry=%v err=%v", retry, err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || msgs[0].Channel != "#vigil-alerts" {
		t.Fatalf("messages %+v", msgs)
	}
	var blocks []map[string]any
	if err := json.Unmarshal(msgs[0].Blocks, &blocks); err != nil {
		t.Fatalf("blocks are not JSON: %v", err)
	}
	var decoded []any
	_ = json.Unmarshal(msgs[0].Blocks, &decoded)
	body := flatten(decoded)
	for _, want := range []string{"MON-ICU-01", "ICU bed 1", "CVE-2026-31001", "KEV", "version 2.0.2 &lt; 2.1", "Read the advisory"} {
		if !strings.Contains(body, want) {
			t.Errorf("message lacks %q: %s", want, body)
		}
	}
	if blocks[0]["type"] != "header" || !strings.HasPrefix(msgs[0].Text, "[P1]") {
		t.Errorf("first block %v, fallback %q", blocks[0], msgs[0].Text)
	}
}

func TestFeedTextCannotMentionOrSpoofLinks(t *testing.T) {
	blocks, fallback := Render(notifytest.Alert(notifytest.HostileTitle))
	raw, _ := json.Marshal(blocks)
	all := string(raw) + fallback
	// JSON escapes '<' as \u003c: decode the strings before looking.
	var decoded []any
	_ = json.Unmarshal(raw, &decoded)
	text := fallback + flatten(decoded)
	for _, bad := range []string{"<!channel>", "<@U0ADMIN>", "<https://evil.example|"} {
		if strings.Contains(text, bad) {
			t.Fatalf("hostile markup %q survived:\n%s", bad, all)
		}
	}
	if !strings.Contains(text, "&lt;!channel&gt;") {
		t.Fatalf("title not escaped:\n%s", text)
	}
	if strings.ContainsAny(fallback, "\r\n") {
		t.Fatalf("fallback keeps line breaks: %q", fallback)
	}
}

func flatten(v any) string {
	switch x := v.(type) {
	case string:
		return x + "\n"
	case []any:
		var b strings.Builder
		for _, e := range x {
			b.WriteString(flatten(e))
		}
		return b.String()
	case map[string]any:
		var b strings.Builder
		for _, e := range x {
			b.WriteString(flatten(e))
		}
		return b.String()
	}
	return ""
}

func TestErrorsAreClassified(t *testing.T) {
	srv := testenv.Slack(t, token)
	n := newNotifier(t, srv.URL)
	ctx := context.Background()

	srv.RateLimitNext(1, 3*time.Second)
	retry, err := n.Notify(ctx, notifytest.Tenant(), notifytest.Alert("x"))
	var ra *notify.RetryAfterError
	if !retry || !errors.As(err, &ra) || ra.After != 3*time.Second {
		t.Fatalf("429: retry=%v err=%v", retry, err)
	}

	srv.RejectChannel("#vigil-alerts")
	retry, err = n.Notify(ctx, notifytest.Tenant(), notifytest.Alert("x"))
	if retry || err == nil || !strings.Contains(err.Error(), "channel_not_found") {
		t.Fatalf("unknown channel: retry=%v err=%v", retry, err)
	}

	bad, _ := New(Config{Token: "xoxb-wrong-token-value", APIURL: srv.URL}, testenv.Logger(t))
	retry, err = bad.Notify(ctx, notifytest.Tenant(), notifytest.Alert("x"))
	if retry || err == nil || strings.Contains(err.Error(), "xoxb-wrong-token-value") {
		t.Fatalf("bad token: retry=%v err=%v", retry, err)
	}
}
