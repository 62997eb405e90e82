package notify_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vigilhealth/vigil/internal/bus"
	"github.com/vigilhealth/vigil/internal/sink"
	"github.com/vigilhealth/vigil/internal/testenv"
	"github.com/vigilhealth/vigil/match"
	"github.com/vigilhealth/vigil/notify"
	"github.com/vigilhealth/vigil/notify/email"
	"github.com/vigilhealth/vigil/notify/notifytest"
	"github.com/vigilhealth/vigil/notify/slack"
	"github.com/vigilhealth/vigil/notify/webhook"
)

const hookSecret = "whsec-router-test-0123456789"

// routerRig runs a dispatcher over Slack, email and webhook sinks for a
// tenant with the given delivery policy.
type routerRig struct {
	rig
	hook  *sink.Webhook
	clock atomic.Pointer[time.Time] // nil: real time
	logs  *testenv.SyncBuffer
	d     *notify.Dispatcher
}

func startRouter(t *testing.T, policy match.DeliveryPolicy, rates string, tune func(*routerRig, *match.Tenant)) *routerRig {
	t.Helper()
	r := &routerRig{hook: testenv.Webhook(t, hookSecret), logs: &testenv.SyncBuffer{}}
	r.bus, r.slack = testenv.NATS(t), testenv.Slack(t, "xoxb-router-test")
	r.smtp = testenv.SMTP(t, sink.SMTPOptions{RequireTLS: true})
	log := slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	threads := notify.KVThreads(r.bus.Threads)
	sl, _ := slack.New(slack.Config{Token: "xoxb-router-test", APIURL: r.slack.URL, Threads: threads}, log)
	em, err := email.New(email.Config{Host: r.smtp.Host, Port: r.smtp.Port, TLS: "starttls", From: "vigil@example.org", RootCAs: r.smtp.RootCAs, Threads: threads}, log)
	if err != nil {
		t.Fatal(err)
	}
	wh := webhook.New(webhook.Config{}, log)
	tenant := notifytest.Tenant()
	tenant.Channels.Webhook = &match.WebhookChannel{URL: r.hook.URL, Secret: hookSecret}
	tenant.Delivery = policy
	if tune != nil {
		tune(r, &tenant)
	}
	if err := match.PutTenant(context.Background(), r.bus, tenant); err != nil {
		t.Fatal(err)
	}
	d := notify.NewDispatcher(r.bus, []notify.Notifier{sl, em, wh}, notify.NewRedactor("xoxb-router-test"), log)
	if rates != "" {
		rs, err := notify.ParseRates(rates)
		if err != nil {
			t.Fatal(err)
		}
		d.SetRates(rs)
	}
	r.d = d
	d.SetTick(50 * time.Millisecond)
	d.SetClock(func() time.Time {
		if c := r.clock.Load(); c != nil {
			return *c
		}
		return time.Now()
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = d.Run(ctx); close(done) }()
	r.stop = func() { cancel(); <-done }
	t.Cleanup(r.stop)
	return r
}

func alertN(i int, priority string) *match.Alert {
	a := notifytest.Alert(fmt.Sprintf("Advisory %03d about an infusion pump", i))
	a.ID, a.Priority = fmt.Sprintf("A-%016x", i), priority
	return a
}

func (r *routerRig) counts() (slack, mail, hook int) {
	return len(r.slack.Messages()), len(r.smtp.Mails()), len(r.hook.Events())
}

// byStatus counts delivery records of a status per channel, and in all.
func (r *routerRig) byStatus(t *testing.T, status string) (map[string]int, int) {
	out, all := map[string]int{}, 0
	for _, d := range r.deliveries(t) {
		if d.Status == status {
			out[d.Channel]++
			all++
		}
	}
	return out, all
}

// waitDelivered waits until every channel has delivered n alerts.
func (r *routerRig) waitDelivered(t *testing.T, n int) {
	t.Helper()
	testenv.Eventually(t, 15*time.Second, 50*time.Millisecond, func() error {
		d, _ := r.byStatus(t, notify.StatusDelivered)
		if d["slack"] != n || d["email"] != n || d["webhook"] != n {
			return fmt.Errorf("delivered %v, want %d per channel", d, n)
		}
		return nil
	})
}

func TestBurstBecomesOneMessagePerChannelAndP1DoesNotWait(t *testing.T) {
	r := startRouter(t, match.DeliveryPolicy{GroupWindow: "2s"}, "", nil)
	// The clock stands still while the burst arrives (however slowly a
	// loaded machine handles it), then moves past the window.
	t0 := time.Now()
	r.clock.Store(&t0)
	start := time.Now()
	p1 := alertN(999, "P1")
	r.publish(t, p1, p1.MsgID())
	testenv.Eventually(t, 5*time.Second, 20*time.Millisecond, func() error {
		if s, m, h := r.counts(); s != 1 || m != 1 || h != 1 {
			return fmt.Errorf("P1: %d slack, %d mail, %d webhook", s, m, h)
		}
		return nil
	})
	if waited := time.Since(start); waited > 1500*time.Millisecond {
		t.Fatalf("P1 took %s: it waited for the window", waited)
	}
	for i := range 120 {
		a := alertN(i, []string{"P2", "P3", "P4"}[i%3])
		r.publish(t, a, a.MsgID())
	}
	testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() error {
		_, queued := r.byStatus(t, notify.StatusQueued)
		if queued != 360 {
			return fmt.Errorf("%d alerts queued, want 120 per channel", queued)
		}
		return nil
	})
	if s, m, h := r.counts(); s != 1 || m != 1 || h != 1 {
		t.Fatalf("sent before the window ended: %d slack, %d mail, %d webhook", s, m, h)
	}
	later := t0.Add(2100 * time.Millisecond)
	r.clock.Store(&later)
	r.waitDelivered(t, 121)
	time.Sleep(300 * time.Millisecond)
	if s, m, h := r.counts(); s != 2 || m != 2 || h != 2 {
		t.Fatalf("120 alerts in one window became %d slack, %d mail, %d webhook messages; want one each (+ the P1)", s-1, m-1, h-1)
	}
	ev := r.hook.Events()[1]
	if ev.Event.Type != "alert.group" || ev.Event.Group == nil || len(ev.Event.Group.Alerts) != 120 || ev.Event.Group.Kind != notify.GroupWindow {
		t.Fatalf("webhook group event: type %q, group %+v", ev.Event.Type, ev.Event.Group)
	}
	if !strings.Contains(r.slack.Messages()[1].Text, "120 alerts") {
		t.Fatalf("slack group message: %q", r.slack.Messages()[1].Text)
	}
	if keys, _ := r.bus.Pending.Keys(context.Background()); len(keys) != 0 {
		t.Fatalf("pending entries left: %v", keys)
	}
	// The sent group left delete markers; the periodic purge removes them.
	if n := testenv.StreamMsgs(t, r.bus, "KV_"+bus.BucketPending); n == 0 {
		t.Fatal("no delete markers after a group was sent: the purge below tests nothing")
	}
	if err := r.d.PurgeMarkers(context.Background(), -1); err != nil {
		t.Fatal(err)
	}
	if n := testenv.StreamMsgs(t, r.bus, "KV_"+bus.BucketPending); n != 0 {
		t.Fatalf("%d messages left in the pending bucket after the purge", n)
	}
}

// Alerts sent alone write nothing to the pending bucket: no delete marker
// per delivery piling up for flushDue to list every tick. (Rates high
// enough that none is paced into a group.)
func TestAlertsSentAloneLeaveThePendingBucketEmpty(t *testing.T) {
	r := startRouter(t, match.DeliveryPolicy{}, "slack=1000/s:1000,email=1000/s:1000,webhook=1000/s:1000", nil)
	for i := range 20 {
		a := alertN(i, "P1")
		r.publish(t, a, a.MsgID())
	}
	r.waitDelivered(t, 20)
	if s, m, h := r.counts(); s != 20 || m != 20 || h != 20 {
		t.Fatalf("%d slack, %d mail, %d webhook messages; want 20 each", s, m, h)
	}
	if n := testenv.StreamMsgs(t, r.bus, "KV_"+bus.BucketPending); n != 0 {
		t.Fatalf("%d messages in the pending bucket after 20 alerts sent alone", n)
	}
}

// TestNewerRevisionSentAloneSupersedesTheHeldOne: a P4 revision waits for
// the hourly digest; its next revision, now P1, goes at once and takes the
// waiting one out of the digest.
func TestNewerRevisionSentAloneSupersedesTheHeldOne(t *testing.T) {
	r := startRouter(t, match.DeliveryPolicy{GroupWindow: "0s", Digest: match.Digest{Priorities: []string{"P4"}, Every: "hourly"}}, "", nil)
	at := time.Date(2026, 11, 22, 10, 30, 0, 0, time.UTC)
	r.clock.Store(&at)
	held := alertN(7, "P4")
	r.publish(t, held, held.MsgID())
	testenv.Eventually(t, 10*time.Second, 20*time.Millisecond, func() error {
		if _, queued := r.byStatus(t, notify.StatusQueued); queued != 3 {
			return fmt.Errorf("%d revisions held, want one per channel", queued)
		}
		return nil
	})
	if n := testenv.StreamMsgs(t, r.bus, "KV_"+bus.BucketPending); n != 3 {
		t.Fatalf("%d entries in the pending bucket, want 3", n)
	}
	now := alertN(7, "P1")
	now.Revision = "2"
	r.publish(t, now, now.MsgID())
	r.waitDelivered(t, 1)
	if n := testenv.StreamMsgs(t, r.bus, "KV_"+bus.BucketPending); n != 3 {
		t.Fatalf("%d messages in the pending bucket, want the 3 delete markers of the superseded entries", n)
	}
	keys, err := r.bus.Pending.ListKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for k := range keys.Keys() {
		t.Errorf("still waiting after the newer revision was sent: %s", k)
	}
	next := at.Add(time.Hour)
	r.clock.Store(&next)
	time.Sleep(1500 * time.Millisecond) // the flush looks every 50 ms
	if s, m, h := r.counts(); s != 1 || m != 1 || h != 1 {
		t.Fatalf("%d slack, %d mail, %d webhook messages; want the P1 revision alone, no digest of the older one", s, m, h)
	}
}

func TestChannelRatePacesAFloodOfP1(t *testing.T) {
	r := startRouter(t, match.DeliveryPolicy{GroupWindow: "0s"}, "slack=1/s:3,email=1/s:3,webhook=1/s:3", nil)
	t0 := time.Now()
	r.clock.Store(&t0) // no token comes back until the clock moves
	for i := range 40 {
		a := alertN(i, "P1")
		r.publish(t, a, a.MsgID())
	}
	testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() error {
		_, queued := r.byStatus(t, notify.StatusQueued)
		if s, m, h := r.counts(); s != 3 || m != 3 || h != 3 || queued != 3*37 {
			return fmt.Errorf("%d slack, %d mail, %d webhook sent, %d queued; want the burst of 3 each, 37 each waiting", s, m, h, queued)
		}
		return nil
	})
	later := t0.Add(1100 * time.Millisecond)
	r.clock.Store(&later)
	r.waitDelivered(t, 40)
	// 3 at once, then the other 37 together in the next message allowed.
	if s, m, h := r.counts(); s != 4 || m != 4 || h != 4 {
		t.Fatalf("40 P1 alerts became %d slack, %d mail, %d webhook messages; want 4 each", s, m, h)
	}
}

func TestDigestWaitsForTheEndOfTheHour(t *testing.T) {
	r := startRouter(t, match.DeliveryPolicy{GroupWindow: "0s", Digest: match.Digest{Priorities: []string{"P4"}, Every: "hourly"}}, "", nil)
	at := time.Date(2026, 11, 22, 10, 59, 0, 0, time.UTC)
	r.clock.Store(&at)
	for i := range 3 {
		a := alertN(i, "P4")
		r.publish(t, a, a.MsgID())
	}
	p3 := alertN(50, "P3")
	r.publish(t, p3, p3.MsgID())
	testenv.Eventually(t, 5*time.Second, 20*time.Millisecond, func() error {
		if s, m, h := r.counts(); s != 1 || m != 1 || h != 1 {
			return fmt.Errorf("P3: %d slack, %d mail, %d webhook", s, m, h)
		}
		return nil
	})
	time.Sleep(500 * time.Millisecond)
	if s, _, _ := r.counts(); s != 1 {
		t.Fatalf("the P4 digest went out before the hour: %d slack messages", s)
	}
	next := at.Add(time.Minute)
	r.clock.Store(&next)
	testenv.Eventually(t, 5*time.Second, 20*time.Millisecond, func() error {
		if s, m, h := r.counts(); s != 2 || m != 2 || h != 2 {
			return fmt.Errorf("digest: %d slack, %d mail, %d webhook", s, m, h)
		}
		return nil
	})
	if ev := r.hook.Events()[1]; ev.Event.Group == nil || ev.Event.Group.Kind != notify.GroupHourly || len(ev.Event.Group.Alerts) != 3 {
		t.Fatalf("digest event %+v", ev.Event.Group)
	}
}

func TestSubscriptionsChooseChannels(t *testing.T) {
	r := startRouter(t, match.DeliveryPolicy{GroupWindow: "0s"}, "", nil)
	a := alertN(1, "P2")
	a.Channels = []string{"webhook"}
	r.publish(t, a, a.MsgID())
	testenv.Eventually(t, 5*time.Second, 20*time.Millisecond, func() error {
		if _, _, h := r.counts(); h != 1 {
			return fmt.Errorf("%d webhook events", h)
		}
		return nil
	})
	time.Sleep(300 * time.Millisecond)
	if s, m, _ := r.counts(); s != 0 || m != 0 {
		t.Fatalf("an alert routed to the webhook reached slack %d, email %d", s, m)
	}
}

func TestSMTPDownThenUpDeliversOnce(t *testing.T) {
	r := startRouter(t, match.DeliveryPolicy{GroupWindow: "0s"}, "", nil)
	r.smtp.FailNextWith(2, 421) // "service not available"
	a := alertN(7, "P1")
	r.publish(t, a, a.MsgID())
	testenv.Eventually(t, 20*time.Second, 50*time.Millisecond, func() error {
		if _, m, _ := r.counts(); m != 1 {
			return fmt.Errorf("%d mails", m)
		}
		return nil
	})
	time.Sleep(300 * time.Millisecond)
	if s, m, h := r.counts(); s != 1 || m != 1 || h != 1 {
		t.Fatalf("after the outage: %d slack, %d mail, %d webhook; want exactly one each", s, m, h)
	}
}

func TestUpdatesThreadAcrossTheDispatcher(t *testing.T) {
	r := startRouter(t, match.DeliveryPolicy{GroupWindow: "0s"}, "", nil)
	a := alertN(3, "P1")
	r.publish(t, a, a.MsgID())
	up := *a
	up.Revision, up.Changes = "2", []string{"fix released"}
	r.publish(t, &up, up.MsgID())
	testenv.Eventually(t, 10*time.Second, 20*time.Millisecond, func() error {
		if s, m, _ := r.counts(); s != 2 || m != 2 {
			return fmt.Errorf("%d slack, %d mail", s, m)
		}
		return nil
	})
	ms := r.slack.Messages()
	if ms[1].ThreadTS != ms[0].TS {
		t.Fatalf("slack update thread_ts %q, first ts %q", ms[1].ThreadTS, ms[0].TS)
	}
	first, _ := r.smtp.Mails()[0].Parsed()
	second, _ := r.smtp.Mails()[1].Parsed()
	if id := first.Header.Get("Message-Id"); second.Header.Get("In-Reply-To") != id || second.Header.Get("References") != id {
		t.Fatalf("email update In-Reply-To %q References %q, want %q", second.Header.Get("In-Reply-To"), second.Header.Get("References"), id)
	}
	if u := first.Header.Get("List-Unsubscribe"); !strings.HasPrefix(u, "<mailto:vigil@example.org?subject=unsubscribe") {
		t.Fatalf("List-Unsubscribe %q", u)
	}
}

func TestWebhookSecretsNeverLeak(t *testing.T) {
	const urlToken = "tok-0f1e2d3c4b5a69788796"
	r := startRouter(t, match.DeliveryPolicy{GroupWindow: "0s"}, "", func(r *routerRig, tn *match.Tenant) {
		tn.Channels.Webhook.URL += "?token=" + urlToken
		tn.Channels.Slack = &match.SlackChannel{WebhookURL: strings.TrimSuffix(r.slack.URL, "/api/") + "/services/T0/B0/" + urlToken} // unknown: 404
	})
	r.hook.FailNext(1, 410, 0)
	a := alertN(11, "P1")
	r.publish(t, a, a.MsgID())
	dl, _ := r.bus.JS.Stream(context.Background(), bus.StreamDeadLetters)
	testenv.Eventually(t, 10*time.Second, 50*time.Millisecond, func() error {
		failed := map[string]bool{}
		for _, d := range r.deliveries(t) {
			if d.Status == notify.StatusFailed {
				failed[d.Channel] = true
			}
		}
		if !failed["webhook"] || !failed["slack"] {
			return fmt.Errorf("failed channels %v", failed)
		}
		_, err := dl.GetLastMsgForSubject(context.Background(), bus.DeadLetter("notify"))
		return err
	})
	var records strings.Builder
	for _, d := range r.deliveries(t) {
		fmt.Fprintf(&records, "%+v\n", d)
	}
	m, _ := dl.GetLastMsgForSubject(context.Background(), bus.DeadLetter("notify"))
	everything := r.logs.String() + records.String() + m.Header.Get(bus.HeaderError)
	if !strings.Contains(everything, "HTTP 410") {
		t.Fatalf("the webhook failure is not reported:\n%s", everything)
	}
	for _, secret := range []string{urlToken, hookSecret, "xoxb-router-test"} {
		if strings.Contains(everything, secret) {
			t.Fatalf("%q leaked into logs, delivery records or dead letters", secret)
		}
	}
}

// countingKV counts the reads of a key-value bucket.
type countingKV struct {
	jetstream.KeyValue
	gets atomic.Int64
}

func (c *countingKV) Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	c.gets.Add(1)
	return c.KeyValue.Get(ctx, key)
}

// A first revision, delivered for the first time, cannot supersede an
// older one: the dispatcher does not look for one in the pending bucket. A
// second revision does, once per channel.
func TestFirstRevisionDoesNotLookForAHeldOne(t *testing.T) {
	pending := &countingKV{}
	r := startRouter(t, match.DeliveryPolicy{GroupWindow: "0s"}, "", func(r *routerRig, _ *match.Tenant) {
		pending.KeyValue = r.bus.Pending
		r.bus.Pending = pending
	})
	first := alertN(1, "P1")
	if first.Revision != "1" {
		t.Fatalf("revision %q", first.Revision)
	}
	r.publish(t, first, first.MsgID())
	r.waitDelivered(t, 1)
	if n := pending.gets.Load(); n != 0 {
		t.Fatalf("%d reads of the pending bucket for a first revision, want 0", n)
	}
	second := alertN(1, "P1")
	second.Revision = "2"
	r.publish(t, second, second.MsgID())
	r.waitDelivered(t, 2)
	if n := pending.gets.Load(); n != 3 {
		t.Fatalf("%d reads of the pending bucket for a second revision, want 3 (one per channel)", n)
	}
}
