package metrics

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/consumer"
	"github.com/gcupsert/gcupsert/internal/clock"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
	return w.Code, w.Body.String()
}

func TestBatchReportsBecomeSeries(t *testing.T) {
	m := New(nil, 0)
	m.OnBatchStarted("t", 0)
	if v := testutil.ToFloat64(m.inFlight); v != 1 {
		t.Fatalf("in flight %v", v)
	}
	m.OnBatchDone(testBatch("t", "customobjects", map[change.Status]int{change.StatusCreated: 3, change.StatusUpdated: 2, change.StatusCollapsed: 1},
		map[string]int{"decode/invalid.json": 2}, 5, 900, 40*time.Millisecond))
	if v := testutil.ToFloat64(m.events.WithLabelValues("customobjects", "created")); v != 3 {
		t.Errorf("created %v", v)
	}
	if v := testutil.ToFloat64(m.deadLetters.WithLabelValues("customobjects", "decode", "invalid.json")); v != 2 {
		t.Errorf("dead letters %v", v)
	}
	if v := testutil.ToFloat64(m.batches.WithLabelValues("customobjects", "partial")); v != 1 {
		t.Errorf("partial batches %v", v)
	}
	if v := testutil.ToFloat64(m.inFlight); v != 0 {
		t.Errorf("in flight %v", v)
	}
	m.OnFetched("t", 2, 41)
	m.OnCommitted("t", 2, 100, time.Millisecond)
	m.OnBatchRetry("t", 2, "publish", errors.New("x"))
	_, body := get(t, m.Handler(), "/metrics")
	for _, want := range []string{
		`gcupsert_consumer_lag{partition="2",topic="t"} 41`,
		`gcupsert_committed_offset{partition="2",topic="t"} 100`,
		`gcupsert_publish_failures_total 1`,
		`gcupsert_batch_retries_total{stage="publish"} 1`,
		`gcupsert_upsert_duration_seconds_count{result="partial",target="customobjects"} 1`,
		`gcupsert_batch_size_bytes_sum{target="customobjects"} 900`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestTransportCountsResponsesBudgetAndReadiness(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("inin-ratelimit-allowed", "300")
		w.Header().Set("inin-ratelimit-count", "120")
		w.Header().Set("inin-ratelimit-reset", "17")
		w.WriteHeader(status)
	}))
	defer srv.Close()
	m := New(nil, 0)
	c := &http.Client{Transport: m.Transport(nil)}
	do := func(path string) {
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if ok, why := m.Ready(); ok || len(why) != 3 {
		t.Fatalf("ready before anything happened: %v", why)
	}
	do("/oauth/token")
	m.OnAssigned(1, make([]consumer.Partition, 3))
	m.SchemasLoaded()
	if ok, why := m.Ready(); !ok {
		t.Fatalf("not ready: %v", why)
	}
	if code, _ := get(t, m.Handler(), "/readyz"); code != 200 {
		t.Fatalf("readyz %d", code)
	}
	// An API outage does not pull the pod: it shows in the metrics.
	status = http.StatusServiceUnavailable
	do("/api/v2/x")
	if code, body := get(t, m.Handler(), "/readyz"); code != 200 {
		t.Fatalf("readyz while the API answers 503: %d %q; want ready (an outage is not the pod's)", code, body)
	}
	if v := testutil.ToFloat64(m.reachable); v != 0 {
		t.Errorf("api reachable %v while it answers 503", v)
	}
	status = http.StatusOK
	do("/api/v2/x")
	if v := testutil.ToFloat64(m.reachable); v != 1 {
		t.Errorf("api reachable %v after it recovered", v)
	}
	if v := testutil.ToFloat64(m.budgetLeft); v != 180 {
		t.Errorf("budget left %v", v)
	}
	if v := testutil.ToFloat64(m.responses.WithLabelValues("api", "503")); v != 1 {
		t.Errorf("503 responses %v", v)
	}
	if v := testutil.ToFloat64(m.retries.WithLabelValues("5xx")); v != 1 {
		t.Errorf("5xx retries %v", v)
	}
	if v := testutil.ToFloat64(m.tokens.WithLabelValues("ok")); v != 1 {
		t.Errorf("tokens %v", v)
	}
	// An unreachable host.
	srv.Close()
	if _, err := c.Get(srv.URL + "/api/v2/x"); err == nil {
		t.Fatal("request to a closed server succeeded")
	}
	if ok, why := m.Ready(); !ok || testutil.ToFloat64(m.reachable) != 0 {
		t.Fatalf("unreachable API: ready %v %v, reachable %v", ok, why, testutil.ToFloat64(m.reachable))
	}
}

// A batch in flight for longer than the wedge timeout fails /healthz, even
// while it retries: retries are not progress.
func TestHealthFailsWhenABatchMakesNoProgress(t *testing.T) {
	clk := clock.NewFake(time.Unix(0, 0))
	m := New(clk, time.Minute)
	m.OnBatchStarted("t", 0)
	clk.Advance(50 * time.Second)
	m.OnBatchRetry("t", 0, "upsert", errors.New("503"))
	if code, _ := get(t, m.Handler(), "/healthz"); code != 200 {
		t.Fatalf("unhealthy 50s into a batch")
	}
	clk.Advance(11 * time.Second)
	if code, body := get(t, m.Handler(), "/healthz"); code != 503 || !strings.Contains(body, "t/0") {
		t.Fatalf("healthz %d %q, want 503 naming the partition", code, body)
	}
	m.OnBatchAbandoned("t", 0)
	if code, _ := get(t, m.Handler(), "/healthz"); code != 200 {
		t.Fatal("still unhealthy after the batch ended")
	}
}

// A partition another member owns after a rebalance keeps no series here.
func TestRevokedPartitionsLoseTheirSeries(t *testing.T) {
	m := New(nil, 0)
	parts := []consumer.Partition{{Topic: "t", ID: 0}, {Topic: "t", ID: 1}}
	m.OnAssigned(1, parts)
	m.OnFetched("t", 0, 5)
	m.OnFetched("t", 1, 7)
	m.OnCommitted("t", 1, 100, time.Millisecond)
	m.OnRevoked(1, parts)
	m.OnAssigned(2, parts[:1])
	m.OnFetched("t", 0, 3)
	_, body := get(t, m.Handler(), "/metrics")
	for _, gone := range []string{`gcupsert_consumer_lag{partition="1"`, `gcupsert_committed_offset{partition="1"`} {
		if strings.Contains(body, gone) {
			t.Errorf("%s still exposed after the partition was revoked", gone)
		}
	}
	if !strings.Contains(body, `gcupsert_consumer_lag{partition="0",topic="t"} 3`) {
		t.Error("the partition still owned lost its lag")
	}
}

// testBatch is a finished batch with n entries of each status and the dead
// letters named "class/code".
func testBatch(topic, target string, n map[change.Status]int, dead map[string]int, items, bytes int, latency time.Duration) change.Batch {
	b := change.Batch{Topic: topic, Target: target, Items: items, Bytes: bytes, Latency: latency}
	add := func(o change.Outcome) {
		b.Entries = append(b.Entries, change.Entry{Offset: int64(len(b.Entries)), Outcome: o})
	}
	for st, k := range n {
		for range k {
			add(change.Outcome{Status: st})
		}
	}
	for reason, k := range dead {
		class, code, _ := strings.Cut(reason, "/")
		for range k {
			add(change.Outcome{Status: change.StatusRejected, Err: &change.RecordError{Class: class, Code: code}})
		}
	}
	return b
}
