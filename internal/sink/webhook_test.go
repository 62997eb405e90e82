package sink

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/vigilhealth/vigil/notify/webhook/signature"
)

func post(t *testing.T, url, secret string, body []byte) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Vigil-Signature", signature.Sign([]byte(secret), time.Now(), body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// The recording receiver keeps events for tests to inspect; the counting
// one (benchmarks) verifies and decodes the same way and keeps none.
func TestWebhookRecordsOrCounts(t *testing.T) {
	body := []byte(`{"version":1,"type":"alert","delivery":"d-1","tenant":"h1","alert":{"id":"A-1","revision":"1","priority":"P1","assets":[]}}`)
	for _, keep := range []bool{true, false} {
		w := StartWebhook("s3cret-s3cret")
		if !keep {
			w = StartCountingWebhook("s3cret-s3cret")
		}
		for range 3 {
			if code := post(t, w.URL, "s3cret-s3cret", body); code != http.StatusNoContent {
				t.Fatalf("keep=%v: status %d", keep, code)
			}
		}
		if code := post(t, w.URL, "wrong-secret", body); code != http.StatusUnauthorized {
			t.Fatalf("keep=%v: a bad signature got %d", keep, code)
		}
		if code := post(t, w.URL, "s3cret-s3cret", []byte(`[1, 2]`)); code != http.StatusBadRequest {
			t.Fatalf("keep=%v: a signed body that is no event got %d", keep, code)
		}
		all, rejected := w.Requests()
		if w.Count() != 3 || all != 5 || rejected != 1 {
			t.Fatalf("keep=%v: count %d, requests %d, rejected %d", keep, w.Count(), all, rejected)
		}
		if ev := w.Events(); keep && (len(ev) != 3 || ev[0].Event.Alert.ID != "A-1") || !keep && len(ev) != 0 {
			t.Fatalf("keep=%v: events %+v", keep, ev)
		}
		w.Close()
	}
}
