package bench

import (
	"context"
	"fmt"
	"html"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vigilhealth/vigil/feeds"
	"github.com/vigilhealth/vigil/ingest"
	"github.com/vigilhealth/vigil/internal/bus"
	"github.com/vigilhealth/vigil/internal/config"
	"github.com/vigilhealth/vigil/internal/pipeline"
	"github.com/vigilhealth/vigil/match"
)

// publisher publishes asynchronously with at most 256 messages waiting
// for their acks.
type publisher struct {
	b        *bus.Bus
	inflight chan struct{}
	wg       sync.WaitGroup
	failed   atomic.Int32
}

func newPublisher(b *bus.Bus) *publisher {
	return &publisher{b: b, inflight: make(chan struct{}, 256)}
}

func (p *publisher) publish(m *nats.Msg, id string) error {
	p.inflight <- struct{}{}
	fut, err := p.b.JS.PublishMsgAsync(m, jetstream.WithMsgID(id))
	if err != nil {
		<-p.inflight
		return err
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		select {
		case <-fut.Ok():
		case <-fut.Err():
			p.failed.Add(1)
		}
		<-p.inflight
	}()
	return nil
}

// wait waits for every ack and reports failed publishes.
func (p *publisher) wait() error {
	p.wg.Wait()
	if f := p.failed.Load(); f > 0 {
		return fmt.Errorf("bench: %d publishes failed", f)
	}
	return nil
}

// baseline pushes n messages of size bytes through hops JetStream
// publish/consume hops on the same server, each hop's consumer publishing
// to the next and waiting for the ack as the pipeline's stages do, with no
// work in between. It returns messages per second end to end.
func baseline(ctx context.Context, b *bus.Bus, size, n, hops int) (float64, error) {
	const stream = "BENCH_BASELINE"
	s, err := b.JS.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{"bench.hop.>"}, Storage: jetstream.FileStorage, MaxAge: 10 * time.Minute})
	if err != nil {
		return 0, err
	}
	defer func() { _ = b.JS.DeleteStream(context.Background(), stream) }()
	payload := filler(size)
	var done atomic.Int64
	finished := make(chan struct{})
	var stops []jetstream.ConsumeContext
	defer func() {
		for _, c := range stops {
			c.Stop()
		}
	}()
	for h := 1; h <= hops; h++ {
		subj := "bench.hop." + strconv.Itoa(h)
		c, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "hop" + strconv.Itoa(h), FilterSubject: subj, AckPolicy: jetstream.AckExplicitPolicy})
		if err != nil {
			return 0, err
		}
		last := h == hops
		next := "bench.hop." + strconv.Itoa(h+1)
		cc, err := c.Consume(func(m jetstream.Msg) {
			if !last {
				if _, err := b.JS.Publish(ctx, next, m.Data(), jetstream.WithMsgID(next+"/"+m.Headers().Get(nats.MsgIdHdr))); err != nil {
					_ = m.Nak()
					return
				}
			}
			_ = m.Ack()
			if last && done.Add(1) == int64(n) {
				close(finished)
			}
		})
		if err != nil {
			return 0, err
		}
		stops = append(stops, cc)
	}
	start := time.Now()
	pub := newPublisher(b)
	for i := range n {
		m := nats.NewMsg("bench.hop.1")
		m.Data = payload
		if err := pub.publish(m, "b"+strconv.Itoa(i)); err != nil {
			return 0, err
		}
	}
	if err := pub.wait(); err != nil {
		return 0, err
	}
	select {
	case <-finished:
	case <-time.After(5 * time.Minute):
		return 0, fmt.Errorf("bench: baseline: %d of %d through after 5 minutes", done.Load(), n)
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// timeToAlert serves an RSS feed, lets the ingest role poll it every
// interval, publishes an advisory about a product hospital h0 runs just
// after a poll (the worst case), and returns the time until its alert is
// delivered.
func timeToAlert(ctx context.Context, b *bus.Bus, cfg config.Config, gen *advisoryGen, tenants []match.Tenant, mk []product, interval time.Duration, rec *recorder, log *slog.Logger) (time.Duration, error) {
	inv, err := match.GetInventory(ctx, b, tenants[0].ID)
	if err != nil {
		return 0, err
	}
	var target match.Asset
	for _, a := range inv {
		if a.Version == "1.0" || a.Version == "2.0.2" {
			target = a
			break
		}
	}
	var mu sync.Mutex
	var items string
	polls := make(chan struct{}, 16)
	mux := http.NewServeMux()
	mux.HandleFunc("/feed.rss", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		body := `<?xml version="1.0"?><rss version="2.0"><channel><title>Bench CERT</title><link>http://bench.example/</link><description>bench</description>` + items + `</channel></rss>`
		mu.Unlock()
		w.Header().Set("Content-Type", "application/rss+xml")
		_, _ = w.Write([]byte(body))
		select {
		case polls <- struct{}{}:
		default:
		}
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	src := feeds.Source{Name: "bench-feed", Kind: feeds.KindRSS, URL: "http://" + l.Addr().String() + "/feed.rss", Internal: true, Interval: interval}
	ictx, stop := context.WithCancel(ctx)
	defer stop()
	o := ingest.Options{Interval: interval, Timeout: cfg.HTTPTimeout, MaxBytes: cfg.MaxFeedBytes, Limiter: pipeline.NewHostLimiter(cfg)}
	go func() { _ = ingest.Run(ictx, []feeds.Source{src}, b, o, log) }()
	select {
	case <-polls:
	case <-time.After(30 * time.Second):
		return 0, fmt.Errorf("bench: the feed was not polled")
	}
	time.Sleep(200 * time.Millisecond) // the first poll has finished
	gen.n++
	id := fmt.Sprintf("BENCH-TTA-%d", gen.n)
	mu.Lock()
	items = fmt.Sprintf(`<item><title>%s %s: Improper Authentication</title><link>http://bench.example/%s</link><guid>%s</guid><pubDate>%s</pubDate><description>%s</description></item>`,
		html.EscapeString(target.Vendor), html.EscapeString(target.Product), id, id, time.Now().UTC().Format(time.RFC1123Z),
		html.EscapeString(fmt.Sprintf("%s %s versions prior to 2.1 allow an attacker to bypass authentication (CVE-2026-99%03d).", target.Vendor, target.Product, gen.n%1000)))
	mu.Unlock()
	published := time.Now()
	deadline := published.Add(interval + 2*time.Minute)
	for time.Now().Before(deadline) {
		if at, ok := rec.deliveredAt(id); ok {
			return at.Sub(published), nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return 0, fmt.Errorf("bench: no alert for the feed item within the poll interval plus 2 minutes")
}
