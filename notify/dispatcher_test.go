package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigilhealth/vigil/internal/bus"
	"github.com/vigilhealth/vigil/internal/sink"
	"github.com/vigilhealth/vigil/internal/testenv"
	"github.com/vigilhealth/vigil/match"
	"github.com/vigilhealth/vigil/notify"
	"github.com/vigilhealth/vigil/notify/email"
	"github.com/vigilhealth/vigil/notify/notifytest"
	"github.com/vigilhealth/vigil/notify/slack"
)

type rig struct {
	bus   *bus.Bus
	slack *sink.Slack
	smtp  *sink.SMTP
	stop  func()
}

func start(t *testing.T) *rig {
	t.Helper()
	r := &rig{bus: testenv.NATS(t), slack: testenv.Slack(t, "xoxb-dispatch-test"), smtp: testenv.SMTP(t, sink.SMTPOptions{RequireTLS: true})}
	sl, err := slack.New(slack.Config{Token: "xoxb-dispatch-test", APIURL: r.slack.URL}, testenv.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	em, err := email.New(email.Config{Host: r.smtp.Host, Port: r.smtp.Port, TLS: "starttls", From: "vigil@example.org", RootCAs: r.smtp.RootCAs}, testenv.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := match.PutTenant(context.Background(), r.bus, notifytest.Tenant()); err != nil {
		t.Fatal(err)
	}
	d := notify.NewDispatcher(r.bus, []notify.Notifier{sl, em}, notify.NewRedactor("xoxb-dispatch-test"), testenv.Logger(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = d.Run(ctx); close(done) }()
	r.stop = func() { cancel(); <-done }
	t.Cleanup(r.stop)
	return r
}

func (r *rig) publish(t *testing.T, a *match.Alert, msgID string) {
	t.Helper()
	if _, err := r.bus.Publish(context.Background(), bus.Alerts(a.Tenant), msgID, a, nil); err != nil {
		t.Fatal(err)
	}
}

func (r *rig) deliveries(t *testing.T) []notify.Delivery {
	t.Helper()
	ctx := context.Background()
	s, err := r.bus.JS.Stream(ctx, bus.StreamDeliveries)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := s.Info(ctx)
	var out []notify.Delivery
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			continue
		}
		var d notify.Delivery
		_ = json.Unmarshal(m.Data, &d)
		out = append(out, d)
	}
	return out
}

func TestSlack429ThenOKDeliversExactlyOnce(t *testing.T) {
	r := start(t)
	r.slack.RateLimitNext(1, time.Second)
	a := notifytest.Alert("GE HealthCare CARESCAPE B450")
	r.publish(t, a, a.MsgID())
	testenv.Eventually(t, 20*time.Second, 50*time.Millisecond, func() error {
		if n := len(r.slack.Messages()); n != 1 {
			return fmt.Errorf("%d slack messages", n)
		}
		return nil
	})
	time.Sleep(300 * time.Millisecond)
	if n, reqs := len(r.slack.Messages()), r.slack.Requests(); n != 1 || reqs != 2 {
		t.Fatalf("slack: %d messages after %d requests, want 1 after 2", n, reqs)
	}
	// Email went through on the first attempt and was not resent by the retry.
	if n := len(r.smtp.Mails()); n != 1 {
		t.Fatalf("%d mails, want 1", n)
	}
	var statuses []string
	for _, d := range r.deliveries(t) {
		statuses = append(statuses, fmt.Sprintf("%s/%d/%s", d.Channel, d.Attempt, d.Status))
	}
	want := "[slack/1/retrying email/1/delivered slack/2/delivered]"
	if fmt.Sprint(statuses) != want {
		t.Fatalf("delivery records %v, want %s", statuses, want)
	}
}

func TestRedeliveryAfterConfirmedSendDoesNotResend(t *testing.T) {
	r := start(t)
	a := notifytest.Alert("Baxter Sigma Spectrum")
	r.publish(t, a, a.MsgID())
	testenv.Eventually(t, 10*time.Second, 50*time.Millisecond, func() error {
		if len(r.slack.Messages()) != 1 || len(r.smtp.Mails()) != 1 {
			return fmt.Errorf("%d slack, %d mail", len(r.slack.Messages()), len(r.smtp.Mails()))
		}
		return nil
	})
	// The same revision again, as JetStream redelivers it when the process
	// died after the channels confirmed but before the ack.
	r.publish(t, a, a.MsgID()+"/redelivered")
	// A new revision is a new delivery.
	b := *a
	b.Revision = "2"
	r.publish(t, &b, b.MsgID())
	testenv.Eventually(t, 10*time.Second, 50*time.Millisecond, func() error {
		if len(r.slack.Messages()) != 2 || len(r.smtp.Mails()) != 2 {
			return fmt.Errorf("%d slack, %d mail", len(r.slack.Messages()), len(r.smtp.Mails()))
		}
		return nil
	})
	time.Sleep(300 * time.Millisecond)
	if len(r.slack.Messages()) != 2 || len(r.smtp.Mails()) != 2 {
		t.Fatalf("the redelivered revision was resent: %d slack, %d mail", len(r.slack.Messages()), len(r.smtp.Mails()))
	}
}

func TestPermanentFailureGoesToDeadLetters(t *testing.T) {
	r := start(t)
	r.slack.RejectChannel("#vigil-alerts")
	a := notifytest.Alert("Philips IntelliBridge")
	r.publish(t, a, a.MsgID())
	ctx := context.Background()
	dl, err := r.bus.JS.Stream(ctx, bus.StreamDeadLetters)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, 50*time.Millisecond, func() error {
		m, err := dl.GetLastMsgForSubject(ctx, bus.DeadLetter("notify"))
		if err != nil {
			return err
		}
		if got := m.Header.Get(bus.HeaderError); got != "notify: slack #vigil-alerts: channel_not_found" {
			return fmt.Errorf("dead letter reason %q", got)
		}
		return nil
	})
	fs, err := notify.FailedDeliveries(ctx, r.bus, time.Now().Add(-time.Hour), "st-example")
	if err != nil || len(fs) != 1 || fs[0].Channel != "slack" || fs[0].AlertID != a.ID || fs[0].Title != "Philips IntelliBridge" ||
		!strings.Contains(fs[0].Reason, "channel_not_found") {
		t.Fatalf("failed deliveries %+v (%v)", fs, err)
	}
	if other, _ := notify.FailedDeliveries(ctx, r.bus, time.Now().Add(-time.Hour), "another-tenant"); len(other) != 0 {
		t.Fatalf("another tenant sees %+v", other)
	}
	var out strings.Builder
	if err := notify.PrintFailed(&out, fs); err != nil || !strings.Contains(out.String(), "channel_not_found") || !strings.Contains(out.String(), "slack") {
		t.Fatalf("table %q (%v)", out.String(), err)
	}
	var failed int
	for _, d := range r.deliveries(t) {
		if d.Channel == "slack" && d.Status == notify.StatusFailed && d.Error != "" {
			failed++
		}
	}
	if failed != 1 || len(r.smtp.Mails()) != 1 {
		t.Fatalf("failed slack records %d, mails %d", failed, len(r.smtp.Mails()))
	}
}

func TestRedactor(t *testing.T) {
	r := notify.NewRedactor("xoxb-secret-token", "", "pw")
	err := r.Error(fmt.Errorf("post https://slack/api?token=xoxb-secret-token: refused"))
	if err.Error() != "post https://slack/api?token=[redacted]: refused" {
		t.Fatalf("%v", err)
	}
	if r.String("pw is too short to redact safely") != "pw is too short to redact safely" {
		t.Fatal("redacted a 2-character value")
	}
}
