package notify_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/vigilhealth/vigil/internal/bus"
	"github.com/vigilhealth/vigil/internal/testenv"
	"github.com/vigilhealth/vigil/match"
	"github.com/vigilhealth/vigil/notify"
	"github.com/vigilhealth/vigil/notify/notifytest"
	"github.com/vigilhealth/vigil/notify/webhook"
)

// benchRig runs a dispatcher with only the webhook notifier, for tenants
// that all post to one local receiver.
func benchRig(b *testing.B, tenants int, policy match.DeliveryPolicy, rates string) (*bus.Bus, func() int, func()) {
	b.Helper()
	bs := testenv.NATS(b)
	hook := testenv.Webhook(b, hookSecret)
	for i := range tenants {
		t := match.Tenant{ID: fmt.Sprintf("h%03d", i), Name: fmt.Sprintf("Hospital %d", i), TLPClearance: "AMBER", Delivery: policy,
			Channels: match.Channels{Webhook: &match.WebhookChannel{URL: hook.URL, Secret: hookSecret}}}
		if err := match.PutTenant(context.Background(), bs, t); err != nil {
			b.Fatal(err)
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	d := notify.NewDispatcher(bs, []notify.Notifier{webhook.New(webhook.Config{}, log)}, notify.NewRedactor(), log)
	rs, _ := notify.ParseRates(rates)
	d.SetRates(rs)
	d.SetTick(100 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	run := func() {
		go func() { _ = d.Run(ctx); close(done) }()
		b.Cleanup(func() { cancel(); <-done })
	}
	return bs, hook.Count, run
}

// BenchmarkDeliveriesToWebhook queues P1 alerts for 50 hospitals, then
// starts the dispatcher and reports deliveries per second through all of
// it (tenant lookup, delivery keys, signed POST, delivery records).
func BenchmarkDeliveriesToWebhook(b *testing.B) {
	bs, events, run := benchRig(b, 50, match.DeliveryPolicy{GroupWindow: "0s"}, "webhook=100000/s:100000")
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		a := notifytest.Alert("Bench advisory")
		a.Tenant, a.ID = fmt.Sprintf("h%03d", i%50), fmt.Sprintf("A-%016x", i)
		if _, err := bs.Publish(ctx, bus.Alerts(a.Tenant), a.MsgID(), a, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start := time.Now()
	run()
	for events() < b.N {
		if time.Since(start) > 5*time.Minute {
			b.Fatalf("%d of %d delivered", events(), b.N)
		}
		time.Sleep(time.Millisecond)
	}
	el := time.Since(start)
	b.ReportMetric(float64(b.N)/el.Seconds(), "deliveries/s")
}

// BenchmarkBurstOfOneTenant publishes 500 P2-P4 alerts for one hospital
// at once (a 2s grouping window, default rates) and reports how many
// messages they became.
func BenchmarkBurstOfOneTenant(b *testing.B) {
	for n := 0; n < b.N; n++ {
		bs, events, run := benchRig(b, 1, match.DeliveryPolicy{GroupWindow: "2s"}, notify.DefaultRates)
		run()
		ctx := context.Background()
		p1 := 0
		for i := range 500 {
			a := notifytest.Alert("Burst advisory")
			a.Tenant, a.ID, a.Priority = "h000", fmt.Sprintf("A-%016x", i), []string{"P2", "P3", "P4"}[i%3]
			if i%100 == 0 {
				a.Priority = "P1"
				p1++
			}
			if _, err := bs.Publish(ctx, bus.Alerts(a.Tenant), a.MsgID(), a, nil); err != nil {
				b.Fatal(err)
			}
		}
		start := time.Now()
		var last, stable int
		for stable < 30 && time.Since(start) < time.Minute {
			time.Sleep(100 * time.Millisecond)
			if e := events(); e == last {
				stable++
			} else {
				last, stable = e, 0
			}
		}
		b.ReportMetric(float64(last), "messages/500-alerts")
		b.ReportMetric(float64(p1), "P1-alerts")
	}
}
