package mirror

import (
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gcupsert/gcupsert/internal/health"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/gcupsert/gcupsert/internal/clock"
)

// Metrics are the mirror's Prometheus metrics and health. /healthz fails
// once a transaction has kept failing for longer than the wedge timeout,
// or after a permanent failure stopped the mirror; /readyz is ready once
// the database is prepared and the member has joined its group.
type Metrics struct {
	reg     *prometheus.Registry
	clock   clock.Clock
	wedge   time.Duration
	events  *prometheus.CounterVec
	lag     *prometheus.GaugeVec
	txSecs  prometheus.Histogram
	txFails prometheus.Counter

	joined, storeReady atomic.Bool
	stopped            atomic.Value // string
	failingSince       atomic.Int64 // unix nanos of the first failure of a run of failures; 0 none
}

// NewMetrics registers the metrics on a new registry; wedge is the
// /healthz timeout (default 10m).
func NewMetrics(c clock.Clock, wedge time.Duration) *Metrics {
	if c == nil {
		c = clock.Real
	}
	if wedge <= 0 {
		wedge = 10 * time.Minute
	}
	m := &Metrics{reg: prometheus.NewRegistry(), clock: c, wedge: wedge}
	m.stopped.Store("")
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gcupsert_mirror_events_total",
		Help: "Messages applied, by outcome: upserted, deleted, stale (older than the stored version: skipped), failure (kept in the errors table)."}, []string{"outcome"})
	m.lag = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "gcupsert_mirror_lag",
		Help: "Messages after the last fetched one, per partition."}, []string{"topic", "partition"})
	m.txSecs = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "gcupsert_mirror_transaction_duration_seconds",
		Help: "Time to apply one batch, retries included.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)})
	m.txFails = prometheus.NewCounter(prometheus.CounterOpts{Name: "gcupsert_mirror_transaction_failures_total",
		Help: "Transactions that failed and were retried."})
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.events, m.lag, m.txSecs, m.txFails)
	return m
}

func (m *Metrics) lagOf(topic string, partition int, lag int64) {
	m.lag.WithLabelValues(topic, strconv.Itoa(partition)).Set(float64(lag))
}

func (m *Metrics) applied(a Applied, took time.Duration) {
	m.failingSince.Store(0)
	m.txSecs.Observe(took.Seconds())
	for outcome, n := range map[string]int{"upserted": a.Upserted, "deleted": a.Deleted, "stale": a.Stale, "failure": a.Failures} {
		if n > 0 {
			m.events.WithLabelValues(outcome).Add(float64(n))
		}
	}
}

func (m *Metrics) failed() {
	m.txFails.Inc()
	m.failingSince.CompareAndSwap(0, m.clock.Now().UnixNano())
}

// Healthy reports whether the mirror is not wedged, with the reason.
func (m *Metrics) Healthy() (bool, string) {
	if why := m.stopped.Load().(string); why != "" {
		return false, why
	}
	if since := m.failingSince.Load(); since != 0 {
		if d := m.clock.Now().Sub(time.Unix(0, since)); d > m.wedge {
			return false, fmt.Sprintf("transactions failing for %s", d.Round(time.Second))
		}
	}
	return true, "ok"
}

// Ready reports whether the database is prepared and the group joined.
func (m *Metrics) Ready() (bool, []string) {
	var why []string
	if !m.storeReady.Load() {
		why = append(why, "database not prepared yet")
	}
	if !m.joined.Load() {
		why = append(why, "not joined the consumer group yet")
	}
	return len(why) == 0, why
}

// Handler serves /metrics, /healthz and /readyz.
func (m *Metrics) Handler() http.Handler {
	return health.Handler(m.reg, health.OneReason(m.Healthy), m.Ready)
}
