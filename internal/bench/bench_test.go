package bench

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/vigilhealth/vigil/internal/config"
	"github.com/vigilhealth/vigil/internal/testenv"
	"github.com/vigilhealth/vigil/store"
)

// TestPipelineBenchReportsWhatItMeasured runs a small `vigil bench` and
// checks the report holds together: every advisory went through, latencies
// are ordered, the baseline ran, and time-to-alert is within the poll
// interval plus a second.
func TestPipelineBenchReportsWhatItMeasured(t *testing.T) {
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	o := PipelineOptions{Tenants: 20, Assets: 50, Rate: 100, Duration: 2 * time.Second, PollInterval: 2 * time.Second, MatchShare: 0.5}
	rep, err := Pipeline(context.Background(), cfg, o, &out, testenv.Logger(t))
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Log(out.String())
	if rep.Advisories < 150 || rep.AdvisoriesPerS <= 0 || rep.AlertsPerS <= 0 || rep.DeliveriesPerS <= 0 {
		t.Fatalf("throughput %+v", rep)
	}
	if !(rep.LatencyP50MS <= rep.LatencyP95MS && rep.LatencyP95MS <= rep.LatencyP99MS) || rep.LatencyP99MS <= 0 {
		t.Fatalf("latencies %v %v %v", rep.LatencyP50MS, rep.LatencyP95MS, rep.LatencyP99MS)
	}
	// Each alert is made before it is delivered.
	if rep.AlertLatencyP50MS > rep.AlertLatencyP99MS || rep.AlertLatencyP99MS > rep.LatencyP99MS {
		t.Fatalf("publish -> alert p50 %v p99 %v, publish -> delivered p99 %v", rep.AlertLatencyP50MS, rep.AlertLatencyP99MS, rep.LatencyP99MS)
	}
	if rep.BaselinePerS <= 0 || rep.RatioToBaseline <= 0 || rep.PeakRSSMB <= 0 || rep.CPUSeconds <= 0 || rep.MessageBytes < 1000 {
		t.Fatalf("report %+v", rep)
	}
	if rep.TimeToAlertMS <= 0 || rep.TimeToAlertMS > float64(o.PollInterval.Milliseconds())+1000 {
		t.Fatalf("time to alert %.0f ms with a %s poll interval", rep.TimeToAlertMS, o.PollInterval)
	}
	if rep.FanoutBaselineP99MS <= 0 || rep.FanoutBaselineP50MS > rep.FanoutBaselineP99MS || rep.AlertBytes < 500 {
		t.Fatalf("fan-out baseline p50 %v p99 %v, alerts of %d bytes", rep.FanoutBaselineP50MS, rep.FanoutBaselineP99MS, rep.AlertBytes)
	}
	if rep.LargestFanout < 1 || rep.LargestFanout > o.Tenants || rep.TailAdvisories < 1 || rep.TailAdvisories > rep.Advisories {
		t.Fatalf("largest fan-out %d (last at %v ms), slowest 1%% of deliveries of %d advisories", rep.LargestFanout, rep.LargestFanoutLastMS, rep.TailAdvisories)
	}
	for _, want := range []string{"advisories in", "JetStream baseline", "bus alone", "memory limit", "time to alert", "largest fan-out"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// The burst figures come from which advisory each delivery was of: two
// bursts (150 and 120 deliveries, drained over 149 and 59 ms) and a few
// single alerts.
func TestBurstsNameTheFanOutOfTheTail(t *testing.T) {
	var r recorder
	r.byAlert = map[string]string{}
	add := func(adv string, n int, first, last float64) {
		for i := range n {
			id := fmt.Sprintf("%s-%d", adv, i)
			r.byAlert[id] = adv
			r.deliveredAlerts = append(r.deliveredAlerts, id)
			r.lat = append(r.lat, first+(last-first)*float64(i)/float64(max(n-1, 1)))
		}
	}
	add("A", 150, 10, 159) // 150 deliveries, 1 ms apart
	add("B", 120, 1, 60)
	for i := range 30 {
		add(fmt.Sprintf("S%d", i), 1, 5, 5)
	}
	st := r.bursts()
	if st.largest != 150 || st.largestLast != 159 {
		t.Fatalf("largest %d, last at %v ms; want 150 at 159", st.largest, st.largestLast)
	}
	// (150 + 120) deliveries over (149 + 59) ms.
	if want := 270.0 / 208 * 1000; math.Abs(st.drainPerS-want) > 0.01 {
		t.Fatalf("drain %.1f/s, want %.1f", st.drainPerS, want)
	}
	// The slowest 1% of 300 deliveries: A's last three.
	if st.tailAdvisories != 1 {
		t.Fatalf("slowest 1%% of deliveries of %d advisories, want 1 (A)", st.tailAdvisories)
	}
}

func TestStoreBenchTimesEveryDocumentedQuery(t *testing.T) {
	addr, database := testenv.ClickHouse(t)
	var out bytes.Buffer
	rep, err := Store(context.Background(), store.Config{Addr: addr, Database: database + "_bench", User: "default"},
		StoreOptions{Alerts: 20000, WriterRows: 5000, Tenants: 10, Runs: 1}, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if rep.AlertRows < 20000 || rep.WriterRowsPerS <= 0 || rep.QueriesDocumented < 10 || len(rep.Queries) != rep.QueriesDocumented {
		t.Fatalf("report %+v", rep)
	}
	for _, q := range rep.Queries {
		if q.Err != "" || q.Median <= 0 {
			t.Errorf("%s: %s (%.1f ms)", q.Title, q.Err, q.Median)
		}
	}
}

// TestFanoutBaselineReplaysEveryDelivery replays a small schedule on the
// bare bus: one latency per delivery the load made, each measured from its
// advisory's own publish, not from the start of the replay.
func TestFanoutBaselineReplaysEveryDelivery(t *testing.T) {
	b := testenv.NATS(t)
	r := replay{
		sched:    []sent{{"a", 0}, {"b", 0}, {"c", 1500 * time.Millisecond}},
		fanout:   map[string]int{"b": 40, "c": 3, "": 7}, // "": deliveries of alerts not seen, not replayed
		advBytes: 1500, alertSize: 4000,
	}
	lat, err := fanoutBaseline(context.Background(), b, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(lat) != 43 {
		t.Fatalf("%d latencies, want 43 (40 + 3)", len(lat))
	}
	late := 0
	for _, ms := range lat {
		if ms < 0 {
			t.Fatalf("negative latency %v", ms)
		}
		if ms >= 1500 {
			late++
		}
	}
	if late > 0 {
		t.Fatalf("%d latencies of 1.5 s or more: measured from the start of the replay, not from each publish (%v)", late, lat)
	}
	if _, err := fanoutBaseline(context.Background(), b, replay{sched: []sent{{"a", 0}}, fanout: map[string]int{}}); err == nil || !strings.Contains(err.Error(), "no deliveries") {
		t.Fatalf("a load without deliveries: %v", err)
	}
}

// TestPipelineBenchWithoutDeliveriesSkipsTheFanoutBaseline: a load that
// reaches no hospital still reports, without a replay of nothing.
func TestPipelineBenchWithoutDeliveriesSkipsTheFanoutBaseline(t *testing.T) {
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	o := PipelineOptions{Tenants: 5, Assets: 20, Rate: 50, Duration: time.Second, MatchShare: 0}
	rep, err := Pipeline(context.Background(), cfg, o, &out, testenv.Logger(t))
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if rep.DeliveriesPerS != 0 || rep.FanoutBaselineP99MS != 0 || !strings.Contains(out.String(), "fan-out baseline skipped") {
		t.Fatalf("deliveries %v/s, fan-out baseline p99 %v\n%s", rep.DeliveriesPerS, rep.FanoutBaselineP99MS, out.String())
	}
}
