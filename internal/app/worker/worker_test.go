package worker_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gcupsert/gcupsert/internal/app/demo"
	"github.com/gcupsert/gcupsert/internal/app/worker"
	"github.com/gcupsert/gcupsert/internal/inspect"
)

// The worker's metrics move during a run; readiness does not follow the
// API (an outage would pull every pod at once): it shows in
// gcupsert_api_reachable.
func TestMetricsAndReadinessDuringARun(t *testing.T) {
	st := newStack(t, 2)
	emu, cfg := st.emu, st.cfg
	cfg.Metrics.Address = "127.0.0.1:0"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	w, err := worker.New(cfg, worker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := w.Metrics().Handler()
	scrape := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		b, _ := io.ReadAll(rec.Body)
		return rec.Code, string(b)
	}
	created := func() float64 {
		_, body := scrape("/metrics")
		m := regexp.MustCompile(`gcupsert_events_total\{outcome="created",target="customobjects"\} (\d+)`).FindStringSubmatch(body)
		if m == nil {
			return 0
		}
		f, _ := strconv.ParseFloat(m[1], 64)
		return f
	}
	if code, _ := scrape("/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("ready before joining: %d", code)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()

	produce := func(ds demo.Dataset) {
		msgs := make([]inspect.Message, len(ds.Events))
		for i, e := range ds.Events {
			msgs[i] = inspect.Message{Partition: e.Partition % 2, Key: e.Key, Value: e.Value}
		}
		if err := inspect.Produce(ctx, cfg.Kafka.Brokers, "in", msgs); err != nil {
			t.Fatal(err)
		}
	}
	wait := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	produce(demo.Generate(300, 2, 0, 1))
	wait("records created", func() bool { return created() > 0 })
	wait("readiness", func() bool { c, _ := scrape("/readyz"); return c == http.StatusOK })
	first := created()

	emu.Down(true)
	produce(demo.Generate(300, 2, 0, 2))
	wait("the API shown unreachable", func() bool {
		_, body := scrape("/metrics")
		return strings.Contains(body, "gcupsert_api_reachable 0")
	})
	if code, _ := scrape("/readyz"); code != http.StatusOK {
		t.Errorf("readyz %d while the API is down; an outage is not the pod's", code)
	}
	wait("a batch kept for another attempt", func() bool {
		_, body := scrape("/metrics")
		return strings.Contains(body, `gcupsert_batch_retries_total{stage="upsert"}`)
	})
	if code, _ := scrape("/healthz"); code != http.StatusOK {
		t.Errorf("healthz %d while merely retrying", code)
	}
	emu.Down(false)
	wait("the API reachable again", func() bool { _, body := scrape("/metrics"); return strings.Contains(body, "gcupsert_api_reachable 1") })
	wait("more records created", func() bool { return created() > first })
	_, body := scrape("/metrics")
	for _, want := range []string{"gcupsert_http_responses_total{code=\"503\",kind=\"api\"}",
		"gcupsert_consumer_lag{", "gcupsert_offset_commit_duration_seconds_count", "gcupsert_token_requests_total{result=\"ok\"} 1"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// A worker on a quiet topic turns ready once it has joined: the token is
// fetched at start, not at the first batch, so a rolling update does not
// stall.
func TestReadyOnAQuietTopic(t *testing.T) {
	st := newStack(t, 1)
	w, err := worker.New(st.cfg, worker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, why := w.Metrics().Ready()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready on a quiet topic: %v", why)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
