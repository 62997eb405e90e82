package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/vigilhealth/vigil/enrich"
	"github.com/vigilhealth/vigil/internal/bus"
	"github.com/vigilhealth/vigil/match"
	"github.com/vigilhealth/vigil/notify"
)

// sent is one advisory of the load: its id and when it was published,
// from the start of the load.
type sent struct {
	id string
	at time.Duration
}

// replay is what the fan-out baseline repeats of a load: when each
// advisory was published, how many deliveries it made, and the mean size
// of the messages on each hop.
type replay struct {
	sched     []sent         // deliveries of ids not in it (alerts not seen) are not replayed
	fanout    map[string]int // advisory id -> deliveries
	advBytes  int
	alertSize int
}

// Header names of the fan-out baseline's messages.
const (
	hdrAt     = "Bench-At"     // scheduled publish time, Unix nanoseconds
	hdrFanout = "Bench-Fanout" // deliveries the advisory made in the load
	hdrTenant = "Bench-Tenant" // the alert's hospital, its key at the last hop
)

// fanoutBaseline replays a load on bare JetStream: every advisory is
// published at the same moment of the run, with the same size, through
// the pipeline's hops (raw → enriched → one alert per delivery the
// advisory made → delivery record), each hop consumed with as many
// workers as the stage it stands for, and no work in between: no key-value
// reads or writes, no matching, no HTTP. It returns each delivery's
// latency (ms) from the publish to its receipt at the last hop, measured
// where the dispatcher measures its deliveries: what the bus alone allows
// under this load's schedule and fan-out, the floor under the pipeline's
// latency.
func fanoutBaseline(ctx context.Context, b *bus.Bus, r replay) ([]float64, error) {
	const stream = "BENCH_FANOUT"
	if _, err := b.JS.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{"bench.fan.>"}, Storage: jetstream.FileStorage, MaxAge: 10 * time.Minute}); err != nil {
		return nil, err
	}
	defer func() { _ = b.JS.DeleteStream(context.Background(), stream) }()
	want := 0
	for _, s := range r.sched {
		want += r.fanout[s.id]
	}
	advBody, alertBody := filler(r.advBytes), filler(r.alertSize)
	var (
		mu   sync.Mutex
		lat  = make([]float64, 0, want)
		done = make(chan struct{})
	)
	cctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }()
	failed := make(chan error, 3)
	hop := func(durable, subject string, workers int, key func(jetstream.Msg) string, h bus.Handler) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			spec := bus.ConsumerSpec{Stream: stream, Durable: durable, Stage: "bench-" + durable, Filter: []string{subject}}
			if err := b.ConsumeParallel(cctx, spec, workers, key, h); err != nil && cctx.Err() == nil {
				failed <- fmt.Errorf("hop %s: %w", durable, err)
			}
		}()
	}
	msgKey := func(m jetstream.Msg) string { return m.Headers().Get(jetstream.MsgIDHeader) }
	forward := func(m jetstream.Msg, subject, id string, body []byte, hdr ...string) *nats.Msg {
		out := nats.NewMsg(subject)
		out.Data = body
		out.Header.Set(hdrAt, m.Headers().Get(hdrAt))
		out.Header.Set(jetstream.MsgIDHeader, id)
		for i := 0; i+1 < len(hdr); i += 2 {
			out.Header.Set(hdr[i], hdr[i+1])
		}
		return out
	}
	// enrich: the raw advisory becomes the enriched one.
	hop("enrich", "bench.fan.raw", enrich.Workers, msgKey, func(ctx context.Context, m jetstream.Msg) error {
		id := m.Headers().Get(jetstream.MsgIDHeader)
		_, err := b.JS.PublishMsg(ctx, forward(m, "bench.fan.enriched", "enriched/"+id, advBody, hdrFanout, m.Headers().Get(hdrFanout)))
		return err
	})
	// match: one alert per delivery, published side by side as the
	// matcher publishes an advisory's alerts.
	hop("match", "bench.fan.enriched", match.Workers, msgKey, func(ctx context.Context, m jetstream.Msg) error {
		n, _ := strconv.Atoi(m.Headers().Get(hdrFanout))
		id := m.Headers().Get(jetstream.MsgIDHeader)
		var g errgroup.Group // AlertWorkers at once, as the matcher
		g.SetLimit(match.AlertWorkers)
		for t := range n {
			g.Go(func() error {
				tenant := "h" + strconv.Itoa(t)
				_, err := b.JS.PublishMsg(ctx, forward(m, "bench.fan.alert."+tenant, id+"/"+tenant, alertBody, hdrTenant, tenant))
				return err
			})
		}
		return g.Wait()
	})
	// notify: the alert is "delivered", its latency taken, and its record
	// published.
	hop("notify", "bench.fan.alert.>", notify.Workers, func(m jetstream.Msg) string { return m.Subject() }, func(ctx context.Context, m jetstream.Msg) error {
		at, _ := strconv.ParseInt(m.Headers().Get(hdrAt), 10, 64)
		ms := float64(time.Since(time.Unix(0, at))) / float64(time.Millisecond)
		id := m.Headers().Get(jetstream.MsgIDHeader)
		if _, err := b.JS.PublishMsg(ctx, forward(m, "bench.fan.record", "record/"+id, advBody[:min(len(advBody), 300)])); err != nil {
			return err
		}
		mu.Lock()
		lat = append(lat, ms)
		if len(lat) == want {
			close(done)
		}
		mu.Unlock()
		return nil
	})
	if want == 0 {
		return nil, fmt.Errorf("bench: fan-out baseline: the load made no deliveries")
	}
	pub := newPublisher(b)
	start := time.Now()
	for _, s := range r.sched {
		if w := time.Until(start.Add(s.at)); w > 0 {
			time.Sleep(w)
		}
		m := nats.NewMsg("bench.fan.raw")
		m.Data = advBody
		m.Header.Set(hdrAt, strconv.FormatInt(time.Now().UnixNano(), 10))
		m.Header.Set(hdrFanout, strconv.Itoa(r.fanout[s.id]))
		if err := pub.publish(m, s.id); err != nil {
			return nil, err
		}
	}
	if err := pub.wait(); err != nil {
		return nil, err
	}
	select {
	case <-done:
	case err := <-failed:
		return nil, err
	case <-time.After(2 * time.Minute):
		mu.Lock()
		defer mu.Unlock()
		return nil, fmt.Errorf("bench: fan-out baseline: %d of %d deliveries after 2 minutes", len(lat), want)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	mu.Lock()
	defer mu.Unlock()
	return append([]float64(nil), lat...), nil
}

// filler is a message body of n bytes.
func filler(n int) []byte {
	p := make([]byte, max(n, 1))
	for i := range p {
		p[i] = 'a' + byte(i%26)
	}
	return p
}
