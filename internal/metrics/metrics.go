// Package metrics exposes the worker's Prometheus metrics and its health
// endpoints. A Metrics value is a consumer hook (batches, commits, lag,
// assignments) and wraps the Genesys HTTP transport (responses by status,
// retryable failures, the rate budget from the inin-ratelimit-* headers,
// token requests). Handler serves /metrics, /healthz and /readyz.
//
// /healthz answers 200 while the process is not wedged: no batch has been
// in flight longer than the wedge timeout (retries are not progress), and
// the consumer has not stopped on a permanent failure. /readyz answers 200
// once the member has joined the group, a token was obtained and the
// targets' schemas are loaded; an API outage does not pull the pod (it
// shows in gcupsert_api_reachable and, past the wedge timeout, in /healthz).
// All methods are safe for concurrent use.
package metrics

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gcupsert/gcupsert/internal/health"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/consumer"
	"github.com/gcupsert/gcupsert/internal/clock"
)

// Metrics collects the worker's metrics and health.
type Metrics struct {
	reg   *prometheus.Registry
	clock clock.Clock
	wedge time.Duration

	events        *prometheus.CounterVec
	deadLetters   *prometheus.CounterVec
	batches       *prometheus.CounterVec
	batchRecords  *prometheus.HistogramVec
	batchBytes    *prometheus.HistogramVec
	upsertSeconds *prometheus.HistogramVec
	batchRetries  *prometheus.CounterVec
	abandoned     prometheus.Counter
	inFlight      prometheus.Gauge
	lag           *prometheus.GaugeVec
	committed     *prometheus.GaugeVec
	commitSeconds prometheus.Histogram
	commitErrors  prometheus.Counter
	publishFails  prometheus.Counter
	assigned      prometheus.Gauge
	responses     *prometheus.CounterVec
	retries       *prometheus.CounterVec
	budgetAllowed prometheus.Gauge
	budgetLeft    prometheus.Gauge
	budgetReset   prometheus.Gauge
	tokens        *prometheus.CounterVec
	reachable     prometheus.Gauge

	lagMu    sync.Mutex
	lagCache map[string]prometheus.Gauge

	stopped     atomic.Value // string: why the consumer stopped, "" while it runs
	joined      atomic.Bool
	tokenOK     atomic.Bool
	schemasOK   atomic.Bool
	unreachable atomic.Bool
	lastErr     atomic.Value // string

	flightMu sync.Mutex
	flights  map[string]time.Time // topic/partition -> last activity of its in-flight batch
}

// New registers every metric on a new registry, with the Go and process
// collectors. wedge is the /healthz timeout (default 10m).
func New(c clock.Clock, wedge time.Duration) *Metrics {
	if c == nil {
		c = clock.Real
	}
	if wedge <= 0 {
		wedge = 10 * time.Minute
	}
	reg := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m := &Metrics{reg: reg, clock: c, wedge: wedge, lagCache: map[string]prometheus.Gauge{}, flights: map[string]time.Time{}}
	m.lastErr.Store("")
	m.stopped.Store("")
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gcupsert_events_total",
		Help: "Input events by outcome: created, updated, deleted, collapsed (superseded inside a batch), dead_lettered."}, []string{"target", "outcome"})
	m.deadLetters = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gcupsert_dead_letters_total",
		Help: "Dead-lettered events by error class and code."}, []string{"target", "class", "code"})
	m.batches = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gcupsert_batches_total",
		Help: "Batches done, by target and audit status."}, []string{"target", "status"})
	m.batchRecords = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "gcupsert_batch_records",
		Help: "Records sent per batch.", Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000}}, []string{"target"})
	m.batchBytes = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "gcupsert_batch_size_bytes",
		Help: "Request body bytes per batch.", Buckets: prometheus.ExponentialBuckets(256, 4, 9)}, []string{"target"})
	m.upsertSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "gcupsert_upsert_duration_seconds",
		Help: "Time to upsert a batch, retries included, by target and result.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}, []string{"target", "result"})
	m.batchRetries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gcupsert_batch_retries_total",
		Help: "Batches kept for another attempt, by stage (upsert: no outcome yet; publish: events not acknowledged)."}, []string{"stage"})
	m.abandoned = prometheus.NewCounter(prometheus.CounterOpts{Name: "gcupsert_batches_abandoned_total",
		Help: "Batches given up uncommitted (rebalance or drain timeout); they are redelivered."})
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{Name: "gcupsert_batches_in_flight", Help: "Batches being upserted or published."})
	m.lag = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "gcupsert_consumer_lag",
		Help: "Messages after the last fetched one, per partition."}, []string{"topic", "partition"})
	m.committed = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "gcupsert_committed_offset",
		Help: "Last committed offset (next to read), per partition."}, []string{"topic", "partition"})
	m.commitSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "gcupsert_offset_commit_duration_seconds",
		Help: "Offset commit latency.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)})
	m.commitErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: "gcupsert_offset_commit_failures_total", Help: "Failed offset commits (retried)."})
	m.publishFails = prometheus.NewCounter(prometheus.CounterOpts{Name: "gcupsert_publish_failures_total",
		Help: "Outbound publishes (audit, sync, dead letters) not acknowledged; retried."})
	m.assigned = prometheus.NewGauge(prometheus.GaugeOpts{Name: "gcupsert_assigned_partitions", Help: "Partitions this member owns."})
	m.responses = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gcupsert_http_responses_total",
		Help: "Genesys API and login responses by kind (api, token) and status code."}, []string{"kind", "code"})
	m.retries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gcupsert_http_retryable_failures_total",
		Help: "Genesys requests that failed in a retryable way, by reason (429, 5xx, network)."}, []string{"reason"})
	m.budgetAllowed = prometheus.NewGauge(prometheus.GaugeOpts{Name: "gcupsert_rate_limit_allowed", Help: "Requests allowed per rate window (inin-ratelimit-allowed)."})
	m.budgetLeft = prometheus.NewGauge(prometheus.GaugeOpts{Name: "gcupsert_rate_limit_remaining", Help: "Requests left in the current rate window (allowed - count)."})
	m.budgetReset = prometheus.NewGauge(prometheus.GaugeOpts{Name: "gcupsert_rate_limit_reset_seconds", Help: "Seconds until the rate window resets (inin-ratelimit-reset)."})
	m.tokens = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gcupsert_token_requests_total",
		Help: "OAuth token requests by result (ok, refused, failed)."}, []string{"result"})
	m.reachable = prometheus.NewGauge(prometheus.GaugeOpts{Name: "gcupsert_api_reachable",
		Help: "1 while the last Genesys request got an answer, 0 after a network error, 502, 503 or 504."})
	m.reachable.Set(1)
	for _, c := range []prometheus.Collector{m.reachable, m.events, m.deadLetters, m.batches, m.batchRecords, m.batchBytes, m.upsertSeconds,
		m.batchRetries, m.abandoned, m.inFlight, m.lag, m.committed, m.commitSeconds, m.commitErrors, m.publishFails,
		m.assigned, m.responses, m.retries, m.budgetAllowed, m.budgetLeft, m.budgetReset, m.tokens} {
		f(c)
	}
	return m
}

// Registry returns the registry, for tests and extra collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// SchemasLoaded marks the targets' schemas as loaded.
func (m *Metrics) SchemasLoaded() { m.schemasOK.Store(true) }

// OnAssigned implements consumer.HookAssigned.
func (m *Metrics) OnAssigned(_ int32, partitions []consumer.Partition) {
	m.joined.Store(true)
	m.assigned.Set(float64(len(partitions)))
}

// OnRevoked implements consumer.HookRevoked: the partitions' lag and
// committed-offset series go, so that a partition another member now owns
// does not show this member's frozen values.
func (m *Metrics) OnRevoked(_ int32, parts []consumer.Partition) {
	m.assigned.Set(0)
	m.lagMu.Lock()
	defer m.lagMu.Unlock()
	for _, p := range parts {
		id := strconv.Itoa(p.ID)
		m.lag.DeleteLabelValues(p.Topic, id)
		m.committed.DeleteLabelValues(p.Topic, id)
		delete(m.lagCache, p.Topic+"\x00"+id)
	}
}

// OnFetched implements consumer.HookFetched.
func (m *Metrics) OnFetched(topic string, partition int, lag int64) {
	k := topic + "\x00" + strconv.Itoa(partition)
	m.lagMu.Lock()
	g, ok := m.lagCache[k]
	if !ok {
		g = m.lag.WithLabelValues(topic, strconv.Itoa(partition))
		m.lagCache[k] = g
	}
	m.lagMu.Unlock()
	g.Set(float64(lag))
}

func flightKey(topic string, partition int) string { return topic + "/" + strconv.Itoa(partition) }

// touch marks a partition's batch started (start) or ended.
func (m *Metrics) touch(topic string, partition int, start bool) {
	m.flightMu.Lock()
	defer m.flightMu.Unlock()
	if k := flightKey(topic, partition); start {
		m.flights[k] = m.clock.Now()
	} else {
		delete(m.flights, k)
	}
}

// OnBatchStarted implements consumer.HookBatchStarted.
func (m *Metrics) OnBatchStarted(topic string, partition int) {
	m.inFlight.Inc()
	m.touch(topic, partition, true)
}

// OnBatchDone implements consumer.HookBatchDone.
func (m *Metrics) OnBatchDone(b change.Batch) {
	m.inFlight.Dec()
	m.touch(b.Topic, b.Partition, false)
	for i := range b.Entries {
		if o := &b.Entries[i].Outcome; o.Status == change.StatusRejected && o.Err != nil {
			m.deadLetters.WithLabelValues(b.Target, o.Err.Class, o.Err.Code).Inc()
		} else if o.Status == change.StatusRejected {
			m.deadLetters.WithLabelValues(b.Target, change.ClassAPI, "rejected").Inc()
		}
	}
	c := b.Counts()
	for outcome, n := range map[string]int{"created": c.Created, "updated": c.Updated, "deleted": c.Deleted, "collapsed": c.Collapsed, "dead_lettered": c.DeadLettered} {
		if n > 0 {
			m.events.WithLabelValues(b.Target, outcome).Add(float64(n))
		}
	}
	status := "success"
	switch {
	case c.DeadLettered > 0 && c.Created+c.Updated+c.Deleted == 0:
		status = "failed"
	case c.DeadLettered > 0:
		status = "partial"
	}
	m.batches.WithLabelValues(b.Target, status).Inc()
	if b.Items > 0 {
		m.batchRecords.WithLabelValues(b.Target).Observe(float64(b.Items))
		m.batchBytes.WithLabelValues(b.Target).Observe(float64(b.Bytes))
		m.upsertSeconds.WithLabelValues(b.Target, status).Observe(b.Latency.Seconds())
	}
}

// OnBatchRetry implements consumer.HookBatchRetry. A retry is not
// progress: the batch's wedge clock keeps running.
func (m *Metrics) OnBatchRetry(_ string, _ int, stage string, _ error) {
	m.batchRetries.WithLabelValues(stage).Inc()
	if stage == "publish" {
		m.publishFails.Inc()
	}
}

// OnBatchAbandoned implements consumer.HookBatchAbandoned.
func (m *Metrics) OnBatchAbandoned(topic string, partition int) {
	m.inFlight.Dec()
	m.abandoned.Inc()
	m.touch(topic, partition, false)
}

// OnCommitted implements consumer.HookCommitted.
func (m *Metrics) OnCommitted(topic string, partition int, next int64, took time.Duration) {
	m.committed.WithLabelValues(topic, strconv.Itoa(partition)).Set(float64(next))
	m.commitSeconds.Observe(took.Seconds())
}

// OnCommitFailed implements consumer.HookCommitFailed.
func (m *Metrics) OnCommitFailed(error) { m.commitErrors.Inc() }

// OnStopped implements consumer.HookStopped: /healthz fails from then on.
func (m *Metrics) OnStopped(err error) { m.stopped.Store(err.Error()) }

// Transport wraps base (nil: http.DefaultTransport) so that every Genesys
// response is counted and read for the rate budget.
func (m *Metrics) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{base: base, m: m}
}

type transport struct {
	base http.RoundTripper
	m    *Metrics
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	token := strings.HasSuffix(req.URL.Path, "/oauth/token")
	m := t.m
	if err != nil {
		if req.Context().Err() == nil {
			m.retries.WithLabelValues("network").Inc()
			m.unreachableNow(fmt.Sprintf("%s %s: %v", req.Method, req.URL.Host, unwrapNet(err)))
		}
		if token {
			m.tokens.WithLabelValues("failed").Inc()
		}
		return resp, err
	}
	kind := "api"
	if token {
		kind = "token"
		switch {
		case resp.StatusCode == http.StatusOK:
			m.tokens.WithLabelValues("ok").Inc()
			m.tokenOK.Store(true)
		case resp.StatusCode == 400 || resp.StatusCode == 401 || resp.StatusCode == 403:
			m.tokens.WithLabelValues("refused").Inc()
			m.tokenOK.Store(false)
		default:
			m.tokens.WithLabelValues("failed").Inc()
		}
	}
	m.responses.WithLabelValues(kind, strconv.Itoa(resp.StatusCode)).Inc()
	switch sc := resp.StatusCode; {
	case sc == http.StatusTooManyRequests:
		m.retries.WithLabelValues("429").Inc()
		m.reachableNow()
	case sc == 502 || sc == 503 || sc == 504:
		m.retries.WithLabelValues("5xx").Inc()
		m.unreachableNow(fmt.Sprintf("%s %s: HTTP %d", req.Method, req.URL.Path, sc))
	case sc >= 500 && sc != 501:
		m.retries.WithLabelValues("5xx").Inc()
		m.reachableNow()
	default:
		m.reachableNow()
	}
	if a, err := strconv.Atoi(resp.Header.Get("inin-ratelimit-allowed")); err == nil {
		m.budgetAllowed.Set(float64(a))
		if c, err := strconv.Atoi(resp.Header.Get("inin-ratelimit-count")); err == nil {
			m.budgetLeft.Set(float64(a - c))
		}
	}
	if r, err := strconv.ParseFloat(resp.Header.Get("inin-ratelimit-reset"), 64); err == nil {
		m.budgetReset.Set(r)
	}
	return resp, nil
}

func (m *Metrics) unreachableNow(why string) {
	m.unreachable.Store(true)
	m.reachable.Set(0)
	m.lastErr.Store(why)
}

func unwrapNet(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		return op
	}
	return err
}

// Healthy reports whether no batch is wedged, with the reason if one is.
func (m *Metrics) Healthy() (bool, string) {
	if why := m.stopped.Load().(string); why != "" {
		return false, why
	}
	m.flightMu.Lock()
	defer m.flightMu.Unlock()
	now := m.clock.Now()
	for k, at := range m.flights {
		if d := now.Sub(at); d > m.wedge {
			return false, fmt.Sprintf("batch of %s in flight for %s without progress", k, d.Round(time.Second))
		}
	}
	return true, "ok"
}

func (m *Metrics) reachableNow() {
	m.unreachable.Store(false)
	m.reachable.Set(1)
}

// Ready reports whether the worker can do its job, with the reasons if
// not: it has joined the group, obtained a token and loaded its targets'
// schemas. An outage of the API is not a reason: every pod would be
// pulled at once (blocking node drains); it shows in the metrics
// (gcupsert_api_reachable) and, when a batch makes no progress for the
// wedge timeout, in /healthz.
func (m *Metrics) Ready() (bool, []string) {
	var why []string
	if !m.joined.Load() {
		why = append(why, "not joined the consumer group yet")
	}
	if !m.tokenOK.Load() {
		why = append(why, "no access token obtained")
	}
	if !m.schemasOK.Load() {
		why = append(why, "target schemas not loaded")
	}

	return len(why) == 0, why
}

// Handler serves /metrics, /healthz and /readyz.
func (m *Metrics) Handler() http.Handler {
	return health.Handler(m.reg, health.OneReason(m.Healthy), m.Ready)
}
