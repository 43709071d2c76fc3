package integration

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/gcupsert/gcupsert/config"
	"github.com/gcupsert/gcupsert/emulator"
	"github.com/gcupsert/gcupsert/internal/app/demo"
	"github.com/gcupsert/gcupsert/internal/app/worker"
	"github.com/gcupsert/gcupsert/internal/inspect"
)

const (
	clientID   = "it-client"
	secret     = "it-secret"
	partitions = 3
)

// env is one test's broker, topics and emulator.
type env struct {
	t       *testing.T
	cluster Cluster
	brokers []string
	topics  Topics
	emu     *emulator.Server
	apiURL  string
	schema  string // schema file path
}

func newEnv(t *testing.T, c Cluster) *env {
	t.Helper()
	brokers, topics := c.Open(t, partitions)
	emu, err := emulator.New(emulator.Config{
		Clients:      map[string]string{clientID: secret},
		Schemas:      map[string][]byte{demo.SchemaName: []byte(demo.Schema)},
		UniqueFields: map[string][]string{demo.SchemaName: {"accountNumber"}},
		// A budget no test reaches: the worker paces itself by the
		// advertised limit, so the limit is raised rather than turned off.
		RateLimitPerMinute: 1_000_000,
		Seed:               7,
	})
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(emu.Handler())
	t.Cleanup(api.Close)
	schema := filepath.Join(t.TempDir(), "schema.json")
	if err := os.WriteFile(schema, []byte(demo.Schema), 0o600); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, cluster: c, brokers: brokers, topics: topics, emu: emu, apiURL: api.URL, schema: schema}
}

// group returns a consumer group id unique to this test.
func (e *env) group(prefix string) string { return e.cluster.Unique(e.t, prefix) }

func (e *env) config(group string) config.Config {
	cfg := config.Default()
	cfg.WorkerID = group
	cfg.Kafka.Brokers = e.brokers
	cfg.Kafka.GroupID = group
	cfg.Kafka.SessionTimeout = config.Duration(6 * time.Second)
	cfg.Kafka.HeartbeatInterval = config.Duration(500 * time.Millisecond)
	cfg.Kafka.RebalanceTimeout = config.Duration(10 * time.Second)
	cfg.Kafka.CommitInterval = config.Duration(50 * time.Millisecond)
	cfg.Kafka.MaxWait = config.Duration(100 * time.Millisecond)
	cfg.Batch.Linger = config.Duration(20 * time.Millisecond)
	cfg.Genesys.BaseURL = e.apiURL
	cfg.Genesys.ClientID = clientID
	cfg.Genesys.ClientSecret = secret
	cfg.Retry.InitialInterval = config.Duration(20 * time.Millisecond)
	cfg.Retry.MaxInterval = config.Duration(200 * time.Millisecond)
	cfg.Retry.MaxElapsed = config.Duration(500 * time.Millisecond)
	cfg.Retry.BatchPause = config.Duration(100 * time.Millisecond)
	cfg.ShutdownTimeout = config.Duration(15 * time.Second)
	cfg.Topics = config.Topics{Audit: e.topics.Audit, Sync: e.topics.Sync, DeadLetter: e.topics.DeadLetter}
	cfg.Routes = []config.Route{{
		Topic: e.topics.Input, Target: "customobjects", Schema: demo.SchemaName, SchemaFile: e.schema,
		ConflictResolution: "upsert", UniqueFields: []string{"accountNumber"}, ReferenceFields: []string{"regionId"},
	}}
	if err := cfg.Validate(); err != nil {
		e.t.Fatal(err)
	}
	return cfg
}

// running is a worker running in the background.
type running struct {
	w    *worker.Worker
	stop func()
	done chan error
}

func (e *env) start(cfg config.Config) *running {
	e.t.Helper()
	w, err := worker.New(cfg, worker.Options{Logger: testLogger(e.t)})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{w: w, stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- w.Run(ctx) }()
	e.t.Cleanup(func() { r.halt(e.t) })
	return r
}

// halt stops the worker gracefully and waits for it.
func (r *running) halt(t *testing.T) {
	t.Helper()
	r.stop()
	select {
	case err, ok := <-r.done:
		if ok && err != nil {
			t.Errorf("worker: %v", err)
		}
		if ok {
			close(r.done)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("worker did not stop within 30s")
	}
}

// LogEnv, when set, makes the workers under test log to standard error.
const LogEnv = "GCUPSERT_TEST_LOG"

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv(LogEnv) != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.DiscardHandler)
}

func (e *env) produce(evs []demo.Event) {
	e.t.Helper()
	msgs := make([]inspect.Message, len(evs))
	for i, ev := range evs {
		msgs[i] = inspect.Message{Partition: ev.Partition, Key: ev.Key, Value: ev.Value}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := inspect.Produce(ctx, e.brokers, e.topics.Input, msgs); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) ends() map[int]int64 {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	end, err := inspect.EndOffsets(ctx, e.brokers, e.topics.Input)
	if err != nil {
		e.t.Fatal(err)
	}
	return end
}

func (e *env) committed(group string) map[int]int64 {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := inspect.Committed(ctx, e.brokers, group, e.topics.Input)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) waitCommitted(group string, want map[int]int64, within time.Duration) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	if _, err := inspect.WaitCommitted(ctx, e.brokers, group, e.topics.Input, want); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) read(topic string) []kafka.Message {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msgs, err := inspect.ReadAll(ctx, e.brokers, topic)
	if err != nil {
		e.t.Fatal(err)
	}
	return msgs
}

func header(m kafka.Message, k string) string {
	for _, h := range m.Headers {
		if h.Key == k {
			return string(h.Value)
		}
	}
	return ""
}

// checkEveryOffsetHasAnOutcome checks that the audit events' offset ranges
// cover every produced offset exactly once or more (at-least-once), that
// each dead letter and sync event falls inside a covered range, and that
// the emulator holds exactly the expected keys.
func (e *env) checkEveryOffsetHasAnOutcome(ds demo.Dataset) {
	e.t.Helper()
	end := e.ends()
	covered := map[int]map[int64]bool{}
	for _, m := range e.read(e.topics.Audit) {
		var a struct {
			Source struct {
				Partition   int   `json:"partition"`
				FirstOffset int64 `json:"firstOffset"`
				LastOffset  int64 `json:"lastOffset"`
			} `json:"source"`
			Counts struct {
				Records int `json:"records"`
			} `json:"counts"`
		}
		if err := json.Unmarshal(m.Value, &a); err != nil {
			e.t.Fatalf("audit event is not JSON: %v", err)
		}
		if covered[a.Source.Partition] == nil {
			covered[a.Source.Partition] = map[int64]bool{}
		}
		for o := a.Source.FirstOffset; o <= a.Source.LastOffset; o++ {
			covered[a.Source.Partition][o] = true
		}
	}
	for p, n := range end {
		for o := int64(0); o < n; o++ {
			if !covered[p][o] {
				e.t.Fatalf("partition %d offset %d has no outcome in any audit event", p, o)
			}
		}
	}
	records := e.emu.Records(demo.SchemaName)
	var missing, extra []string
	for k := range ds.Expected {
		if _, ok := records[k]; !ok {
			missing = append(missing, k)
		}
	}
	for k := range records {
		if !ds.Expected[k] {
			extra = append(extra, k)
		}
	}
	if len(missing) > 0 || len(extra) > 0 {
		e.t.Fatalf("emulator holds %d records, want %d: missing %v, unexpected %v", len(records), len(ds.Expected), head(missing), head(extra))
	}
}

func head(s []string) []string {
	if len(s) > 5 {
		return append(s[:5:5], "…"+strconv.Itoa(len(s)-5)+" more")
	}
	return s
}

// syncDuplicates counts sync events beyond the first per source offset.
func syncDuplicates(msgs []kafka.Message) int {
	seen := map[string]bool{}
	dup := 0
	for _, m := range msgs {
		var s struct {
			EventID string `json:"eventId"`
		}
		_ = json.Unmarshal(m.Value, &s)
		if seen[s.EventID] {
			dup++
		}
		seen[s.EventID] = true
	}
	return dup
}

// eventually polls cond until it holds or within passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
