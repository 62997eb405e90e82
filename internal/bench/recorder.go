package bench

import (
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/vigilhealth/vigil/internal/wire"
	"github.com/vigilhealth/vigil/notify"
)

// recorder collects alerts and delivery latencies from the bus.
type recorder struct {
	mu        sync.Mutex
	alerts    int
	lat       []float64
	alertLat  []float64         // raw publish -> alert published
	enrichLat []float64         // raw publish -> enriched
	byAlert   map[string]string // alert id -> advisory id
	delivered map[string]time.Time
	// deliveredAlerts is the alert id of each delivery since the reset,
	// alertBytes the size of the alerts: the fan-out baseline replays them.
	deliveredAlerts []string
	alertBytes      int
}

func (r *recorder) alert(m *nats.Msg) {
	var a struct {
		ID       string `json:"id"`
		Advisory struct {
			ID        string    `json:"id"`
			FetchedAt time.Time `json:"fetched_at"`
		} `json:"advisory"`
	}
	// When it reaches this subscriber, not its created_at: that is when
	// its advisory was matched, the same for each of the advisory's
	// alerts, however long the last of them then waited to go out.
	at := time.Now()
	if wire.Unmarshal(m.Data, &a) != nil {
		return
	}
	r.mu.Lock()
	r.alerts++
	r.alertBytes += len(m.Data)
	if !a.Advisory.FetchedAt.IsZero() {
		r.alertLat = append(r.alertLat, float64(at.Sub(a.Advisory.FetchedAt).Milliseconds()))
	}
	if r.byAlert == nil {
		r.byAlert = map[string]string{}
	}
	r.byAlert[a.ID] = a.Advisory.ID
	r.mu.Unlock()
}

func (r *recorder) delivery(m *nats.Msg) {
	var d notify.Delivery
	if wire.Unmarshal(m.Data, &d) != nil || d.Status != notify.StatusDelivered {
		return
	}
	r.mu.Lock()
	r.lat = append(r.lat, float64(d.LatencyMS))
	r.deliveredAlerts = append(r.deliveredAlerts, d.AlertID)
	if r.delivered == nil {
		r.delivered = map[string]time.Time{}
	}
	if adv, ok := r.byAlert[d.AlertID]; ok {
		if _, seen := r.delivered[adv]; !seen {
			r.delivered[adv] = time.Now()
		}
	}
	r.mu.Unlock()
}

func (r *recorder) reset() {
	r.mu.Lock()
	r.alerts, r.lat, r.alertLat, r.enrichLat = 0, nil, nil, nil
	r.deliveredAlerts, r.alertBytes = nil, 0
	r.mu.Unlock()
}

func (r *recorder) snapshot() (alerts int, lat, alertLat, enrichLat []float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.alerts, append([]float64(nil), r.lat...), append([]float64(nil), r.alertLat...), append([]float64(nil), r.enrichLat...)
}

func (r *recorder) enriched(m *nats.Msg) {
	var a struct {
		FetchedAt  time.Time `json:"fetched_at"`
		Enrichment struct {
			EnrichedAt time.Time `json:"enriched_at"`
		} `json:"enrichment"`
	}
	if wire.Unmarshal(m.Data, &a) != nil || a.FetchedAt.IsZero() {
		return
	}
	r.mu.Lock()
	r.enrichLat = append(r.enrichLat, float64(a.Enrichment.EnrichedAt.Sub(a.FetchedAt).Milliseconds()))
	r.mu.Unlock()
}

func (r *recorder) deliveredAt(advisoryID string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.delivered[advisoryID]
	return t, ok
}

// fanout counts the deliveries of each advisory since the reset, and
// returns the mean size of an alert message.
func (r *recorder) fanout() (map[string]int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for _, id := range r.deliveredAlerts {
		out[r.byAlert[id]]++ // "": a delivery whose alert was not seen
	}
	return out, r.alertBytes / max(r.alerts, 1)
}

// burstStats describes the advisories that reached the most hospitals,
// whose last deliveries make the latency's tail.
type burstStats struct {
	largest     int     // deliveries of the advisory with the most
	largestLast float64 // latency of its last delivery, ms
	// deliveries per second while an advisory of at least burstSize
	// deliveries went out: its deliveries over the span from its first to
	// its last, summed over those advisories
	drainPerS float64
	// how many advisories the slowest 1% of deliveries belong to
	tailAdvisories int
}

const burstSize = 100

func (r *recorder) bursts() burstStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	type span struct {
		n           int
		first, last float64
	}
	by := map[string]*span{}
	for i, id := range r.deliveredAlerts {
		adv, l := r.byAlert[id], r.lat[i]
		s := by[adv]
		if s == nil {
			s = &span{first: l, last: l}
			by[adv] = s
		}
		s.n++
		s.first, s.last = min(s.first, l), max(s.last, l)
	}
	var st burstStats
	var n, ms float64
	for adv, s := range by {
		if adv == "" {
			continue // a delivery whose alert was not seen
		}
		if s.n > st.largest {
			st.largest, st.largestLast = s.n, s.last
		}
		if s.n >= burstSize && s.last > s.first {
			n, ms = n+float64(s.n), ms+s.last-s.first
		}
	}
	if ms > 0 {
		st.drainPerS = n / ms * 1000
	}
	p99 := pct(r.lat, 0.99)
	tail := map[string]bool{}
	for i, id := range r.deliveredAlerts {
		if adv := r.byAlert[id]; r.lat[i] >= p99 && adv != "" {
			tail[adv] = true
		}
	}
	st.tailAdvisories = len(tail)
	return st
}
