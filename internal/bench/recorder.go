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
	alertLat  []float64         // raw publish -> alert made
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
		CreatedAt time.Time `json:"created_at"`
	}
	if wire.Unmarshal(m.Data, &a) != nil {
		return
	}
	r.mu.Lock()
	r.alerts++
	r.alertBytes += len(m.Data)
	if !a.Advisory.FetchedAt.IsZero() {
		r.alertLat = append(r.alertLat, float64(a.CreatedAt.Sub(a.Advisory.FetchedAt).Milliseconds()))
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
