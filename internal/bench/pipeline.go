package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vigilhealth/vigil/enrich"
	"github.com/vigilhealth/vigil/internal/bus"
	"github.com/vigilhealth/vigil/internal/config"
	"github.com/vigilhealth/vigil/internal/pipeline"
	"github.com/vigilhealth/vigil/internal/sink"
	"github.com/vigilhealth/vigil/match"
)

// DefaultMatchShare is the share of advisories about products the
// hospitals run unless told otherwise: most advisories are about products
// a given set of hospitals does not run.
const DefaultMatchShare = 0.05

// PipelineOptions shape `vigil bench`.
type PipelineOptions struct {
	Tenants, Assets int
	Rate            float64       // advisories/s; 0: as fast as the pipeline takes them
	Duration        time.Duration // of the load
	PollInterval    time.Duration // for time-to-alert; 0 skips that phase
	ClickHouseAddr  string        // "": no store role
	JSON            bool
	// MatchShare is the share of advisories about products the hospitals
	// run, from 0 (none: the cost of advisories alone) to 1;
	// DefaultMatchShare is what `vigil bench` uses.
	MatchShare float64
	// Warmup is the pause between start-up and load.
	Warmup time.Duration
	// OnLoad, when set, is called as the load starts; the function it
	// returns is called when the pipeline has drained it (the CLI profiles
	// this phase).
	OnLoad func() (done func())
}

// PipelineReport is what `vigil bench --json` prints.
type PipelineReport struct {
	Tenants        int     `json:"tenants"`
	Assets         int     `json:"assets"`
	TargetRate     float64 `json:"target_rate"`
	Advisories     int     `json:"advisories"`
	MessageBytes   int     `json:"message_bytes"`
	AdvisoriesPerS float64 `json:"advisories_per_s"`
	AlertsPerS     float64 `json:"alerts_per_s"`
	DeliveriesPerS float64 `json:"deliveries_per_s"`
	LatencyP50MS   float64 `json:"latency_p50_ms"`
	LatencyP95MS   float64 `json:"latency_p95_ms"`
	LatencyP99MS   float64 `json:"latency_p99_ms"`
	// The first part of that latency: from the raw publish to the alert
	// published by the matcher (enrich and match, with their queues).
	AlertLatencyP50MS float64 `json:"alert_latency_p50_ms"`
	AlertLatencyP99MS float64 `json:"alert_latency_p99_ms"`
	// From the raw publish to the enriched advisory (every advisory).
	EnrichLatencyP50MS float64 `json:"enrich_latency_p50_ms"`
	EnrichLatencyP99MS float64 `json:"enrich_latency_p99_ms"`
	// The fan-out that makes the tail: the advisory that reached the most
	// hospitals (its deliveries, the latency of its last), how fast the
	// advisories of 100 deliveries or more went out once they began, and
	// how many advisories the slowest 1% of deliveries belong to.
	LargestFanout       int     `json:"largest_fanout"`
	LargestFanoutLastMS float64 `json:"largest_fanout_last_ms"`
	BurstDeliveriesPerS float64 `json:"burst_deliveries_per_s"`
	TailAdvisories      int     `json:"tail_advisories"`
	CPUSeconds          float64 `json:"cpu_seconds"`
	PeakRSSMB           float64 `json:"peak_rss_mb"`
	// MemoryLimitMB is the Go runtime's soft memory limit during the run
	// (GOMEMLIMIT, or 90% of the container's); 0: none.
	MemoryLimitMB float64 `json:"memory_limit_mb"`
	BaselinePerS  float64 `json:"baseline_per_s"`
	// The latency the bus alone allows under the same load (see
	// fanoutBaseline); measured at a target rate only.
	FanoutBaselineP50MS float64 `json:"fanout_baseline_p50_ms"`
	FanoutBaselineP99MS float64 `json:"fanout_baseline_p99_ms"`
	AlertBytes          int     `json:"alert_bytes"`
	BaselineHops        int     `json:"baseline_hops"`
	RatioToBaseline     float64 `json:"ratio_to_baseline"`
	TimeToAlertMS       float64 `json:"time_to_alert_ms"`
	PollIntervalMS      float64 `json:"poll_interval_ms"`
	StoreClickHouse     bool    `json:"store_clickhouse"`
	IndexLoadSeconds    float64 `json:"index_load_s"`
	MatchShare          float64 `json:"match_share"`
}

// Pipeline runs the real pipeline (embedded NATS, enrich, match, notify
// to a local webhook receiver, store when ClickHouse is given) under
// synthetic load, then the same hops on bare JetStream, then time-to-alert
// through a feed.
func Pipeline(ctx context.Context, cfg config.Config, o PipelineOptions, out io.Writer, log *slog.Logger) (*PipelineReport, error) {
	rep := &PipelineReport{Tenants: o.Tenants, Assets: o.Assets, TargetRate: o.Rate, StoreClickHouse: o.ClickHouseAddr != "", BaselineHops: 4,
		PollIntervalMS: float64(o.PollInterval.Milliseconds())}
	say := func(format string, args ...any) {
		if !o.JSON {
			fmt.Fprintf(out, format+"\n", args...)
		}
	}
	dir, err := os.MkdirTemp("", "vigil-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	b, err := bus.Open(ctx, bus.Options{DataDir: filepath.Join(dir, "nats"), Listen: "127.0.0.1:-1", MaxAge: time.Hour, AckWait: 30 * time.Second, MaxDeliver: 5}, log)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	hook := sink.StartCountingWebhook("bench-webhook-secret-0123456789")
	defer hook.Close()
	vendors := enrich.MustLoadVendors()
	mk := market(vendors)
	tenants, inv := hospitals(o.Tenants, o.Assets, mk, hook.URL, hook.Secret)
	start := time.Now()
	for _, t := range tenants {
		if err := match.PutTenant(ctx, b, t); err != nil {
			return nil, err
		}
		if err := match.PutInventory(ctx, b, t.ID, inv[t.ID]); err != nil {
			return nil, err
		}
	}
	say("%d hospitals × %d assets stored in %s", o.Tenants, o.Assets, time.Since(start).Round(time.Millisecond))
	inv = nil // the matcher's index holds what it needs

	c := cfg
	c.ChannelRates, c.RetroWindow, c.MetricsAddr = "webhook=1000000/s:1000000", 0, ""
	roles := []string{"enrich", "match", "notify"}
	if o.ClickHouseAddr != "" {
		c.ClickHouseAddr, c.ClickHouseDatabase = o.ClickHouseAddr, "vigil_bench"
		roles = append(roles, "store")
	}
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	perr := make(chan error, 1)
	go func() { perr <- pipeline.Run(pctx, c, roles, b, pipeline.Deps{}, log) }()

	var rec recorder
	sub, err := b.NC.Subscribe(bus.SubjectDeliveries+".>", rec.delivery)
	if err != nil {
		return nil, err
	}
	defer sub.Unsubscribe()
	asub, err := b.NC.Subscribe(bus.SubjectAlerts+".>", rec.alert)
	if err != nil {
		return nil, err
	}
	defer asub.Unsubscribe()
	esub, err := b.NC.Subscribe(bus.SubjectEnriched+".>", rec.enriched)
	if err != nil {
		return nil, err
	}
	defer esub.Unsubscribe()

	// Ready when a probe about a product hospital h0 runs is delivered.
	start = time.Now()
	gen := &advisoryGen{rng: rand.New(rand.NewPCG(3, 5)), mk: mk, share: o.MatchShare}
	if err := probe(ctx, b, gen, tenants, &rec, perr); err != nil {
		return nil, err
	}
	rep.IndexLoadSeconds, rep.MatchShare = time.Since(start).Seconds(), o.MatchShare
	say("pipeline ready (index of %d assets loaded, first alert delivered) in %.1fs", o.Tenants*o.Assets, rep.IndexLoadSeconds)
	// Start-up (the index build and the garbage collections after it) is
	// reported above, not mixed into the steady state measured below.
	time.Sleep(o.Warmup)
	rec.reset()

	// Load.
	var ru0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	say("load: %s at %s", o.Duration, rateText(o.Rate))
	done := func() {}
	if o.OnLoad != nil {
		done = o.OnLoad()
	}
	t0 := time.Now()
	sched, size, err := load(ctx, b, gen, o.Rate, o.Duration)
	if err != nil {
		done()
		return nil, fmt.Errorf("load: %w", err)
	}
	n := len(sched)
	rep.Advisories, rep.MessageBytes = n, size
	end, err := drained(ctx, b, 2*time.Minute)
	done()
	if err != nil {
		select {
		case perr := <-perr:
			return nil, fmt.Errorf("the pipeline stopped: %v", perr)
		default:
		}
		return nil, fmt.Errorf("drain: %w (ctx %v)", err, ctx.Err())
	}
	el := end.Sub(t0).Seconds()
	var ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	rep.CPUSeconds = tv(ru1.Utime) + tv(ru1.Stime) - tv(ru0.Utime) - tv(ru0.Stime)
	// The pipeline's peak (start-up and load), before the baseline and the
	// time-to-alert runs add their own messages to the process.
	rep.PeakRSSMB = float64(ru1.Maxrss) / 1024
	if l := debug.SetMemoryLimit(-1); l < math.MaxInt64 {
		rep.MemoryLimitMB = float64(l) / (1 << 20)
	}
	alerts, lat, alat, elat := rec.snapshot()
	rep.AdvisoriesPerS = float64(n) / el
	rep.AlertsPerS = float64(alerts) / el
	rep.DeliveriesPerS = float64(len(lat)) / el
	rep.LatencyP50MS, rep.LatencyP95MS, rep.LatencyP99MS = pct(lat, 0.5), pct(lat, 0.95), pct(lat, 0.99)
	rep.AlertLatencyP50MS, rep.AlertLatencyP99MS = pct(alat, 0.5), pct(alat, 0.99)
	rep.EnrichLatencyP50MS, rep.EnrichLatencyP99MS = pct(elat, 0.5), pct(elat, 0.99)
	bs := rec.bursts()
	rep.LargestFanout, rep.LargestFanoutLastMS, rep.BurstDeliveriesPerS, rep.TailAdvisories = bs.largest, bs.largestLast, bs.drainPerS, bs.tailAdvisories
	say("  %d advisories in, %d alerts, %d deliveries in %.1fs", n, alerts, len(lat), el)

	// The bus alone: the same message size through as many hops.
	base, err := baseline(ctx, b, size, max(n, 20000), rep.BaselineHops)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	rep.BaselinePerS = base
	if base > 0 {
		rep.RatioToBaseline = rep.AdvisoriesPerS / base
	}
	// The bus alone under this load: same schedule, same fan-out.
	fan, alertSize := rec.fanout()
	rep.AlertBytes = alertSize
	switch {
	case o.Rate > 0 && len(lat) == 0:
		say("fan-out baseline skipped: the load made no deliveries (try a larger --match-share or more tenants)")
	case o.Rate > 0:
		say("fan-out baseline: the load's %d advisories and %d deliveries again on bare JetStream...", n, len(lat))
		flat, err := fanoutBaseline(ctx, b, replay{sched: sched, fanout: fan, advBytes: size, alertSize: alertSize})
		if err != nil {
			return nil, err
		}
		rep.FanoutBaselineP50MS, rep.FanoutBaselineP99MS = pct(flat, 0.5), pct(flat, 0.99)
	}

	// Time to alert through a feed, with the poll interval given.
	if o.PollInterval > 0 {
		say("time-to-alert: waiting for a poll every %s (VIGIL_POLL_INTERVAL or --poll-interval)...", o.PollInterval)
		tta, err := timeToAlert(ctx, b, c, gen, tenants, mk, o.PollInterval, &rec, log)
		if err != nil {
			return nil, fmt.Errorf("time to alert: %w", err)
		}
		rep.TimeToAlertMS = float64(tta.Milliseconds())
	}
	stop()
	<-perr
	if o.JSON {
		return rep, json.NewEncoder(out).Encode(rep)
	}
	printReport(out, rep)
	return rep, nil
}

func rateText(r float64) string {
	if r <= 0 {
		return "as fast as possible"
	}
	return fmt.Sprintf("%.0f advisories/s", r)
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

func pct(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[min(int(p*float64(len(s))), len(s)-1)]
}

// owned returns an advisory about the product of an asset.
func owned(gen *advisoryGen, now time.Time, as match.Asset) (string, []byte) {
	a := gen.next(now)
	a.Products[0].Vendor, a.Products[0].Name = as.Vendor, as.Product
	a.Products[1].Vendor, a.Products[1].Name = as.Vendor, as.Product
	data, _ := json.Marshal(a)
	return a.ID, data
}

// probe publishes an advisory about hospital h0's first asset and waits
// until its alert is delivered: the index is loaded and every role works.
// It gives up when the pipeline stops, or after 5 minutes.
func probe(ctx context.Context, b *bus.Bus, gen *advisoryGen, tenants []match.Tenant, rec *recorder, stopped <-chan error) error {
	inv, err := match.GetInventory(ctx, b, tenants[0].ID)
	if err != nil || len(inv) == 0 {
		return fmt.Errorf("bench: inventory of %s: %v", tenants[0].ID, err)
	}
	id, data := owned(gen, time.Now(), inv[0])
	if err := publishRaw(ctx, b, id, data); err != nil {
		return err
	}
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		if _, ok := rec.deliveredAt(id); ok {
			return nil
		}
		select {
		case err := <-stopped: // a role that failed to start: say so now, not in 5 minutes
			return fmt.Errorf("bench: the pipeline stopped before the probe advisory was delivered: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("bench: the probe advisory was not delivered within 5 minutes")
}

func publishRaw(ctx context.Context, b *bus.Bus, id string, data []byte) error {
	m := nats.NewMsg(bus.Raw("bench-csaf"))
	m.Data = data
	m.Header.Set(bus.HeaderSource, "bench-csaf")
	_, err := b.JS.PublishMsg(ctx, m, jetstream.WithMsgID("bench-csaf/"+id+"/1"))
	return err
}

// load publishes advisories at the rate for d; each carries its
// publication time as fetched_at, from which every delivery's latency is
// measured. At rate 0 it publishes as fast as the pipeline takes them:
// it pauses while more than 2,000 advisories wait for enrich or match, so
// the figure is the pipeline's pace, not the size of a backlog.
func load(ctx context.Context, b *bus.Bus, gen *advisoryGen, rate float64, d time.Duration) ([]sent, int, error) {
	t0 := time.Now()
	end := t0.Add(d)
	var n, bytes int
	var sched []sent
	var every time.Duration
	if rate > 0 {
		every = time.Duration(float64(time.Second) / rate)
	}
	next := time.Now()
	pub := newPublisher(b)
	for time.Now().Before(end) && ctx.Err() == nil {
		if every == 0 && n%200 == 0 {
			for backlog(ctx, b) > 2000 && time.Now().Before(end) {
				time.Sleep(5 * time.Millisecond)
			}
		}
		if every > 0 {
			if w := time.Until(next); w > 0 {
				time.Sleep(w)
			}
			next = next.Add(every)
		}
		now := time.Now()
		a := gen.next(now)
		data, _ := json.Marshal(a)
		bytes += len(data)
		n++
		sched = append(sched, sent{id: a.ID, at: now.Sub(t0)})
		m := nats.NewMsg(bus.Raw(a.Source))
		m.Data = data
		m.Header.Set(bus.HeaderSource, a.Source)
		if err := pub.publish(m, a.MsgID()); err != nil {
			return sched, 0, err
		}
	}
	if err := pub.wait(); err != nil {
		return sched, bytes / max(n, 1), err
	}
	return sched, bytes / max(n, 1), nil
}

// backlog is how many advisories wait for enrich or match.
func backlog(ctx context.Context, b *bus.Bus) uint64 {
	s, err := b.JS.Stream(ctx, bus.StreamAdvisories)
	if err != nil {
		return 0
	}
	var n uint64
	for _, d := range []string{"enrich", "match"} {
		if c, err := s.Consumer(ctx, d); err == nil {
			if info, err := c.Info(ctx); err == nil {
				n += info.NumPending + uint64(info.NumAckPending)
			}
		}
	}
	return n
}

// drained waits until enrich, match and notify have nothing pending.
func drained(ctx context.Context, b *bus.Bus, limit time.Duration) (time.Time, error) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		idle := true
		for _, c := range []struct{ stream, durable string }{{bus.StreamAdvisories, "enrich"}, {bus.StreamAdvisories, "match"}, {bus.StreamAlerts, "notify"}} {
			s, err := b.JS.Stream(ctx, c.stream)
			if err != nil {
				return time.Time{}, err
			}
			cons, err := s.Consumer(ctx, c.durable)
			if err != nil {
				idle = false
				continue
			}
			info, err := cons.Info(ctx)
			if err != nil || info.NumPending > 0 || info.NumAckPending > 0 {
				idle = false
			}
		}
		if idle {
			return time.Now(), nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Time{}, fmt.Errorf("bench: the pipeline did not drain within %s", limit)
}

func printReport(w io.Writer, r *PipelineReport) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "\n%d hospitals × %d assets, %s, store %v\n", r.Tenants, r.Assets, rateText(r.TargetRate), r.StoreClickHouse)
	fmt.Fprintf(tw, "advisories in\t%.0f/s\t(%d of %d bytes each)\n", r.AdvisoriesPerS, r.Advisories, r.MessageBytes)
	fmt.Fprintf(tw, "alerts out\t%.0f/s\t(%.0f%% of advisories about products the hospitals run)\n", r.AlertsPerS, 100*r.MatchShare)
	fmt.Fprintf(tw, "deliveries out\t%.0f/s\t(signed webhook, local receiver)\n", r.DeliveriesPerS)
	fmt.Fprintf(tw, "latency publish -> delivered\tp50 %.0f ms\tp95 %.0f ms\tp99 %.0f ms\n", r.LatencyP50MS, r.LatencyP95MS, r.LatencyP99MS)
	fmt.Fprintf(tw, "  of which publish -> alert out\tp50 %.0f ms\t\tp99 %.0f ms\t(enrich and match)\n", r.AlertLatencyP50MS, r.AlertLatencyP99MS)
	fmt.Fprintf(tw, "  publish -> enriched\tp50 %.0f ms\t\tp99 %.0f ms\t(every advisory)\n", r.EnrichLatencyP50MS, r.EnrichLatencyP99MS)
	if r.LargestFanout > 0 {
		of := fmt.Sprintf("%d advisories", r.TailAdvisories)
		if r.TailAdvisories == 1 {
			of = "1 advisory"
		}
		fmt.Fprintf(tw, "largest fan-out\t%d deliveries\tlast at %.0f ms\t(one advisory; the slowest 1%% of deliveries: %s)\n",
			r.LargestFanout, r.LargestFanoutLastMS, of)
	}
	if r.BurstDeliveriesPerS > 0 {
		fmt.Fprintf(tw, "  bursts drain at\t%.0f deliveries/s\t\t(advisories of %d+ deliveries, first to last)\n", r.BurstDeliveriesPerS, burstSize)
	}
	fmt.Fprintf(tw, "CPU\t%.1f s\t(load phase, all cores)\n", r.CPUSeconds)
	limit := "no soft memory limit"
	if r.MemoryLimitMB > 0 {
		limit = fmt.Sprintf("soft memory limit %.0f MB", r.MemoryLimitMB)
	}
	fmt.Fprintf(tw, "peak RSS\t%.0f MB\t(%s)\n", r.PeakRSSMB, limit)
	fmt.Fprintf(tw, "JetStream baseline\t%.0f msgs/s\t(%d publish/consume hops, same size, no work)\n", r.BaselinePerS, r.BaselineHops)
	fmt.Fprintf(tw, "pipeline / baseline\t%.0f%%\n", 100*r.RatioToBaseline)
	if r.FanoutBaselineP99MS > 0 {
		fmt.Fprintf(tw, "latency, bus alone\tp50 %.0f ms\t\tp99 %.0f ms\t(same schedule and fan-out, %d-byte alerts, no work)\n", r.FanoutBaselineP50MS, r.FanoutBaselineP99MS, r.AlertBytes)
	}
	if r.PollIntervalMS > 0 {
		fmt.Fprintf(tw, "time to alert\t%.0f ms\t(poll interval %.0f ms; item published just after a poll)\n", r.TimeToAlertMS, r.PollIntervalMS)
	}
	_ = tw.Flush()
}
