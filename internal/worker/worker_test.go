package worker_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/gcupsert/gcupsert/config"
	"github.com/gcupsert/gcupsert/emulator"
	"github.com/gcupsert/gcupsert/internal/demo"
	"github.com/gcupsert/gcupsert/internal/inspect"
	"github.com/gcupsert/gcupsert/internal/worker"
)

// The worker's metrics move during a run, and readiness follows the API:
// false while the emulator is down, true once it answers again.
func TestMetricsAndReadinessDuringARun(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.Ports(0), kfake.SeedTopics(2, "in"),
		kfake.SeedTopics(1, "a", "s", "d"), kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	emu, err := emulator.New(emulator.Config{Clients: map[string]string{"id": "secret"},
		Schemas: map[string][]byte{demo.SchemaName: []byte(demo.Schema)}, DisableRateLimit: true})
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(emu.Handler())
	defer api.Close()
	schema := filepath.Join(t.TempDir(), "s.json")
	if err := os.WriteFile(schema, []byte(demo.Schema), 0o600); err != nil {
		t.Fatal(err)
	}

	cfg := config.Default()
	cfg.Kafka.Brokers = cluster.ListenAddrs()
	cfg.Kafka.GroupID = "g"
	cfg.Kafka.SessionTimeout = config.Duration(6 * time.Second)
	cfg.Kafka.HeartbeatInterval = config.Duration(500 * time.Millisecond)
	cfg.Kafka.CommitInterval = config.Duration(50 * time.Millisecond)
	cfg.Kafka.MaxWait = config.Duration(100 * time.Millisecond)
	cfg.Batch.Linger = config.Duration(10 * time.Millisecond)
	cfg.Genesys.BaseURL, cfg.Genesys.ClientID, cfg.Genesys.ClientSecret = api.URL, "id", "secret"
	cfg.Retry.InitialInterval = config.Duration(20 * time.Millisecond)
	cfg.Retry.MaxInterval = config.Duration(100 * time.Millisecond)
	cfg.Retry.MaxElapsed = config.Duration(300 * time.Millisecond)
	cfg.Retry.BatchPause = config.Duration(100 * time.Millisecond)
	cfg.Topics = config.Topics{Audit: "a", Sync: "s", DeadLetter: "d"}
	cfg.Metrics.Address = "127.0.0.1:0"
	cfg.Routes = []config.Route{{Topic: "in", Target: "customobjects", Schema: demo.SchemaName, SchemaFile: schema, ConflictResolution: "upsert"}}
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
		t.Fatalf("ready before starting: %d", code)
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
	wait("unreadiness while the API is down", func() bool {
		c, body := scrape("/readyz")
		return c == http.StatusServiceUnavailable && strings.Contains(body, "unreachable")
	})
	wait("a batch kept for another attempt", func() bool {
		_, body := scrape("/metrics")
		return strings.Contains(body, `gcupsert_batch_retries_total{stage="upsert"}`)
	})
	if code, _ := scrape("/healthz"); code != http.StatusOK {
		t.Errorf("healthz %d while merely retrying", code)
	}
	emu.Down(false)
	wait("readiness after the API is back", func() bool { c, _ := scrape("/readyz"); return c == http.StatusOK })
	wait("more records created", func() bool { return created() > first })
	_, body := scrape("/metrics")
	for _, want := range []string{"gcupsert_http_responses_total{code=\"503\",kind=\"api\"}",
		"gcupsert_consumer_lag{", "gcupsert_offset_commit_duration_seconds_count", "gcupsert_token_requests_total{result=\"ok\"} 1"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
