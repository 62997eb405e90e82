package ingest

import (
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is per-source ingest health for Prometheus.
type Metrics struct {
	registry    *prometheus.Registry
	lastSuccess *prometheus.GaugeVec
	lastError   *prometheus.GaugeVec
	polls       *prometheus.CounterVec
	items       *prometheus.CounterVec
	published   *prometheus.CounterVec
	itemErrors  *prometheus.CounterVec
	rejected    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
}

// NewMetrics registers the ingest metrics in a registry of their own.
func NewMetrics() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vigil_ingest_last_success_timestamp_seconds",
			Help: "Unix time of the source's last successful poll."}, []string{"source"}),
		lastError: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vigil_ingest_last_error_timestamp_seconds",
			Help: "Unix time of the source's last failed poll."}, []string{"source"}),
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_ingest_polls_total",
			Help: "Polls by source and result (ok, not_modified, error, http_<code>)."}, []string{"source", "result"}),
		items: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_ingest_items_total",
			Help: "Advisories parsed."}, []string{"source"}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_ingest_published_total",
			Help: "New or changed advisory revisions published."}, []string{"source"}),
		itemErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_ingest_item_errors_total",
			Help: "Items that could not be parsed (sent to the dead letters)."}, []string{"source"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_ingest_rejected_total",
			Help: "Documents that failed hash or signature verification."}, []string{"source"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "vigil_ingest_poll_duration_seconds",
			Help: "Time of one poll.", Buckets: prometheus.ExponentialBuckets(0.01, 3, 10)}, []string{"source"}),
	}
	m.registry.MustRegister(m.lastSuccess, m.lastError, m.polls, m.items, m.published, m.itemErrors, m.rejected, m.latency)
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// Registry lets other stages register their metrics beside these.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

func (m *Metrics) observe(source string, r Result, err error) {
	if m == nil {
		return
	}
	now := float64(time.Now().Unix())
	result := "ok"
	switch {
	case err != nil:
		result = "error"
		var se *StatusError
		if errors.As(err, &se) {
			result = "http_" + http.StatusText(se.Code)
		}
		m.lastError.WithLabelValues(source).Set(now)
	case r.NotModified:
		result = "not_modified"
	}
	if err == nil {
		m.lastSuccess.WithLabelValues(source).Set(now)
	}
	m.polls.WithLabelValues(source, result).Inc()
	m.items.WithLabelValues(source).Add(float64(r.Items))
	m.published.WithLabelValues(source).Add(float64(r.Published))
	m.itemErrors.WithLabelValues(source).Add(float64(len(r.ItemErrors)))
	m.rejected.WithLabelValues(source).Add(float64(r.Rejected))
	m.latency.WithLabelValues(source).Observe(r.Duration.Seconds())
}
