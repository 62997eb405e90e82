package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vigilhealth/vigil/internal/testenv"
	"github.com/vigilhealth/vigil/match"
	"github.com/vigilhealth/vigil/notify"
	"github.com/vigilhealth/vigil/notify/notifytest"
	"github.com/vigilhealth/vigil/notify/webhook"
)

const secret = "whsec-0123456789abcdef-secret"

func tenantFor(url string) match.Tenant {
	t := notifytest.Tenant()
	t.Channels.Webhook = &match.WebhookChannel{URL: url, Secret: secret}
	return t
}

func TestConformance(t *testing.T) {
	notifytest.Conformance(t, func(t *testing.T) notifytest.Harness {
		w := testenv.Webhook(t, secret)
		return notifytest.Harness{
			Notifier: webhook.New(webhook.Config{}, testenv.Logger(t)), Tenant: tenantFor(w.URL), Secrets: []string{secret},
			Messages: func() []notifytest.Message {
				var out []notifytest.Message
				for _, e := range w.Events() {
					// The receiver reads JSON: its strings are the text.
					var v any
					_ = json.Unmarshal(e.Body, &v)
					out = append(out, notifytest.Message{Text: strings.Join(stringsOf(v), "\n"), ID: e.Header.Get(webhook.HeaderDelivery)})
				}
				return out
			},
			FailNext: func(k int, heals bool) {
				if heals {
					w.FailNext(k, 503, 0)
				} else {
					w.FailNext(k, 410, 0)
				}
			},
		}
	})
}

func stringsOf(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, stringsOf(e)...)
		}
		return out
	case map[string]any:
		var out []string
		for _, e := range x {
			out = append(out, stringsOf(e)...)
		}
		return out
	}
	return nil
}

func TestPayloadIsVersionedAndSigned(t *testing.T) {
	w := testenv.Webhook(t, secret)
	n := webhook.New(webhook.Config{}, testenv.Logger(t))
	a := notifytest.Alert("GE HealthCare CARESCAPE B450: Improper Authentication")
	if _, err := n.Notify(context.Background(), tenantFor(w.URL), a); err != nil {
		t.Fatal(err)
	}
	ev := w.Events()
	if len(ev) != 1 {
		t.Fatalf("%d events", len(ev))
	}
	e := ev[0]
	if e.Event.Version != webhook.PayloadVersion || e.Event.Type != "alert" || e.Event.Tenant != "st-example" ||
		e.Event.Alert == nil || e.Event.Alert.ID != a.ID || len(e.Event.Alert.Assets) != 2 {
		t.Fatalf("payload %+v", e.Event)
	}
	if e.Header.Get(webhook.HeaderEvent) != "alert" || e.Header.Get(webhook.HeaderDelivery) != webhook.DeliveryID(a) {
		t.Fatalf("headers %v", e.Header)
	}
	sig := e.Header.Get(webhook.HeaderSignature)
	now := time.Now()
	if err := webhook.Verify([]byte(secret), sig, e.Body, now, 0); err != nil {
		t.Fatalf("signature does not verify: %v", err)
	}
	// Tampering, a wrong secret, a stale timestamp and no header all fail.
	tampered := bytes.Replace(e.Body, []byte("CARESCAPE"), []byte("CARESCAPF"), 1)
	for name, err := range map[string]error{
		"tampered body":  webhook.Verify([]byte(secret), sig, tampered, now, 0),
		"wrong secret":   webhook.Verify([]byte("another-secret-entirely"), sig, e.Body, now, 0),
		"replayed later": webhook.Verify([]byte(secret), sig, e.Body, now.Add(10*time.Minute), 0),
		"no header":      webhook.Verify([]byte(secret), "", e.Body, now, 0),
	} {
		if err == nil {
			t.Errorf("%s: verified", name)
		}
	}
	if all, rejected := w.Requests(); all != 1 || rejected != 0 {
		t.Fatalf("requests %d rejected %d", all, rejected)
	}
}

func TestReceiverRejectsWrongSecret(t *testing.T) {
	w := testenv.Webhook(t, secret)
	n := webhook.New(webhook.Config{}, testenv.Logger(t))
	tenant := tenantFor(w.URL)
	tenant.Channels.Webhook.Secret = "not-the-receivers-secret"
	retry, err := n.Notify(context.Background(), tenant, notifytest.Alert("x"))
	if err == nil || retry || !strings.Contains(err.Error(), "HTTP 401") {
		t.Fatalf("retry=%v err=%v, want a permanent 401", retry, err)
	}
	if strings.Contains(err.Error(), "not-the-receivers-secret") {
		t.Fatal("error carries the secret")
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	w := testenv.Webhook(t, secret)
	n := webhook.New(webhook.Config{}, testenv.Logger(t))
	w.FailNext(1, 429, 7*time.Second)
	retry, err := n.Notify(context.Background(), tenantFor(w.URL), notifytest.Alert("x"))
	var ra *notify.RetryAfterError
	if !retry || !errors.As(err, &ra) || ra.After != 7*time.Second || !strings.Contains(err.Error(), "HTTP 429") {
		t.Fatalf("retry=%v err=%v, want a retry after 7s", retry, err)
	}
}
