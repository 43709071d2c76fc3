// Package demo runs the whole pipeline in one process: an embedded
// Kafka-protocol broker (kfake), the Genesys emulator and the worker, over a
// generated stream with invalid events mixed in. It checks that every event
// has exactly one outcome and that the emulator holds exactly the keys the
// stream leaves behind, and reports what happened.
package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/config"
	"github.com/gcupsert/gcupsert/consumer"
	"github.com/gcupsert/gcupsert/emulator"
	"github.com/gcupsert/gcupsert/internal/app/worker"
	"github.com/gcupsert/gcupsert/internal/inspect"
)

// Options sizes a demo run.
type Options struct {
	// Target is "customobjects" (the default) or "datatables".
	Target       string
	Events       int     // default 10,000 (customobjects) or 4,000 (datatables: 5,000 rows at most)
	Partitions   int     // default 3
	InvalidRatio float64 // default 0.02
	Seed         uint64  // default 1
	// FaultRatio is the share of API requests the emulator fails with a 5xx,
	// to show retries; default 0.01, negative for none.
	FaultRatio float64
	Timeout    time.Duration // default 3m
	Logger     *slog.Logger
	// MetricsAddr serves the worker's /metrics, /healthz and /readyz while
	// the demo runs; "" serves nothing.
	MetricsAddr string
	// Hold keeps the worker and its endpoints up this long after the topic
	// is drained, so they can be looked at.
	Hold time.Duration
	// Started, when set, is called once the worker runs.
	Started func()
	// Inspect, when set, is called after the run with the embedded broker's
	// addresses, before the broker is closed, so that tests can read the
	// outbound topics.
	Inspect func(ctx context.Context, brokers []string) error
}

// Summary is what a demo run measured.
type Summary struct {
	Produced         int
	Created, Updated int
	Deleted          int
	Collapsed        int
	DeadLettered     int
	DeadByReason     map[string]int // "class/code" -> count, from the dead-letter topic headers
	InvalidByKind    map[string]int // what the generator made invalid on purpose
	AuditEvents      int
	SyncEvents       int
	Batches          int
	BatchRetries     int
	Committed, End   map[int]int64 // per partition
	LatencyP50       time.Duration
	LatencyP95       time.Duration
	LatencyP99       time.Duration
	EmulatorRecords  int
	ExpectedKeys     int
	MissingKeys      []string // expected but not in the emulator
	UnexpectedKeys   []string // in the emulator but not expected
	APIRequests      int
	APIStatus        map[int]int
	TooManyRequests  int
	APIByKind        map[string]int
	Target           string
	Elapsed          time.Duration
}

// Upserted counts events whose change reached Genesys.
func (s Summary) Upserted() int { return s.Created + s.Updated + s.Deleted }

// Problems lists every way the run broke a guarantee; none means success.
func (s Summary) Problems() []string {
	var p []string
	if got := s.Upserted() + s.Collapsed + s.DeadLettered; got != s.Produced {
		p = append(p, fmt.Sprintf("outcomes %d (upserted %d + collapsed %d + dead-lettered %d) != produced %d",
			got, s.Upserted(), s.Collapsed, s.DeadLettered, s.Produced))
	}
	if s.SyncEvents != s.Upserted() {
		p = append(p, fmt.Sprintf("sync events %d != upserted %d", s.SyncEvents, s.Upserted()))
	}
	deadTopic := 0
	for _, n := range s.DeadByReason {
		deadTopic += n
	}
	if deadTopic != s.DeadLettered {
		p = append(p, fmt.Sprintf("dead-letter topic holds %d events, batches reported %d", deadTopic, s.DeadLettered))
	}
	if s.AuditEvents != s.Batches {
		p = append(p, fmt.Sprintf("audit events %d != batches %d", s.AuditEvents, s.Batches))
	}
	for part, end := range s.End {
		if end > 0 && s.Committed[part] != end {
			p = append(p, fmt.Sprintf("partition %d committed %d, end offset %d", part, s.Committed[part], end))
		}
	}
	if len(s.MissingKeys) > 0 || len(s.UnexpectedKeys) > 0 || s.EmulatorRecords != s.ExpectedKeys {
		p = append(p, fmt.Sprintf("emulator holds %d records, expected %d (missing %d, unexpected %d)",
			s.EmulatorRecords, s.ExpectedKeys, len(s.MissingKeys), len(s.UnexpectedKeys)))
	}
	return p
}

// Topic names used by the demo.
const (
	InputTopic      = "crm.accounts"
	AuditTopic      = "gcupsert.audit"
	SyncTopic       = "gcupsert.sync"
	DeadLetterTopic = "gcupsert.deadletter"
)

// Run executes a demo and returns its summary. The error is set when the
// run could not complete; guarantees broken by a completed run are in
// Summary.Problems.
func Run(ctx context.Context, opts Options) (Summary, error) {
	switch opts.Target {
	case "":
		opts.Target = "customobjects"
	case "customobjects", "datatables":
	default:
		return Summary{}, fmt.Errorf("demo: unknown target %q (want customobjects or datatables)", opts.Target)
	}
	dt := opts.Target == "datatables"
	if opts.Events == 0 {
		opts.Events = 10_000
		if dt {
			opts.Events = 4_000
		}
	}
	if opts.Partitions == 0 {
		opts.Partitions = 3
	}
	if opts.InvalidRatio == 0 {
		opts.InvalidRatio = 0.02
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	if opts.FaultRatio == 0 {
		opts.FaultRatio = 0.01
	}
	if opts.Timeout == 0 {
		opts.Timeout = 3 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Events < 1 || opts.Partitions < 1 || opts.InvalidRatio < 0 || opts.InvalidRatio >= 1 {
		return Summary{}, errors.New("demo: events and partitions must be positive and the invalid ratio within [0, 1)")
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	began := time.Now()

	cluster, err := kfake.NewCluster(
		kfake.Ports(0),
		kfake.SeedTopics(int32(opts.Partitions), InputTopic),
		kfake.SeedTopics(1, AuditTopic, SyncTopic, DeadLetterTopic),
		kfake.GroupMinSessionTimeout(time.Second),
	)
	if err != nil {
		return Summary{}, fmt.Errorf("demo: embedded broker: %w", err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()

	const clientID, secret = "gcupsert-demo", "demo-secret"
	ecfg := emulator.Config{
		Clients: map[string]string{clientID: secret},
		Seed:    int64(opts.Seed),
	}
	if dt {
		// Data tables: the real per-token budget (300 requests a minute),
		// which rows mode paces itself to, and import jobs for backlogs.
		fx, err := tableFixtures()
		if err != nil {
			return Summary{}, fmt.Errorf("demo: fixtures: %w", err)
		}
		ecfg.Fixtures = fx
		ecfg.ImportProcessingTime = time.Second
	} else {
		ecfg.Schemas = map[string][]byte{SchemaName: []byte(Schema)}
		ecfg.UniqueFields = map[string][]string{SchemaName: {"accountNumber"}}
		ecfg.DisableRateLimit = true
	}
	emu, err := emulator.New(ecfg)
	if err != nil {
		return Summary{}, fmt.Errorf("demo: emulator: %w", err)
	}
	if opts.FaultRatio > 0 {
		if err := emu.SetErrorRatio(opts.FaultRatio, 503); err != nil {
			return Summary{}, fmt.Errorf("demo: emulator: %w", err)
		}
	}
	api := httptest.NewServer(emu.Handler())
	defer api.Close()

	kinds := CustomObjectsKinds
	if dt {
		kinds = DataTablesKinds
	}
	ds := GenerateKinds(opts.Events, opts.Partitions, opts.InvalidRatio, opts.Seed, kinds)
	msgs := make([]inspect.Message, len(ds.Events))
	for i, ev := range ds.Events {
		msgs[i] = inspect.Message{Partition: ev.Partition, Key: ev.Key, Value: ev.Value}
	}
	if err := inspect.Produce(ctx, brokers, InputTopic, msgs); err != nil {
		return Summary{}, err
	}

	dir, err := os.MkdirTemp("", "gcupsert-demo-")
	if err != nil {
		return Summary{}, err
	}
	defer os.RemoveAll(dir)
	schemaFile := filepath.Join(dir, SchemaName+".json")
	if err := os.WriteFile(schemaFile, []byte(Schema), 0o600); err != nil {
		return Summary{}, err
	}

	cfg := config.Default()
	cfg.WorkerID = "demo"
	cfg.Kafka.Brokers = brokers
	cfg.Kafka.GroupID = "gcupsert-demo"
	cfg.Kafka.SessionTimeout = config.Duration(6 * time.Second)
	cfg.Kafka.HeartbeatInterval = config.Duration(time.Second)
	cfg.Kafka.CommitInterval = config.Duration(200 * time.Millisecond)
	cfg.Kafka.MaxWait = config.Duration(100 * time.Millisecond)
	cfg.Genesys.BaseURL = api.URL
	cfg.Genesys.ClientID = clientID
	cfg.Genesys.ClientSecret = secret
	cfg.Retry.InitialInterval = config.Duration(50 * time.Millisecond)
	cfg.Retry.MaxInterval = config.Duration(time.Second)
	cfg.Retry.BatchPause = config.Duration(500 * time.Millisecond)
	cfg.Metrics.Address = opts.MetricsAddr
	cfg.Topics = config.Topics{Audit: AuditTopic, Sync: SyncTopic, DeadLetter: DeadLetterTopic}
	if dt {
		cfg.Routes = []config.Route{{
			Topic: InputTopic, Target: "datatables", Table: SchemaName, ConflictResolution: "upsert",
			UniqueFields: []string{"accountNumber"}, References: map[string]string{"regionId": "Regions"},
			DataTables: config.DataTables{ImportThreshold: 100, ImportPollInterval: config.Duration(200 * time.Millisecond)},
		}}
	} else {
		cfg.Routes = []config.Route{{
			Topic: InputTopic, Target: "customobjects", Schema: SchemaName, SchemaFile: schemaFile,
			ConflictResolution: "upsert", UniqueFields: []string{"accountNumber"}, ReferenceFields: []string{"regionId"},
		}}
	}
	if err := cfg.Validate(); err != nil {
		return Summary{}, err
	}

	tally := newTally()
	w, err := worker.New(cfg, worker.Options{Logger: opts.Logger, Hooks: []consumer.Hook{tally}})
	if err != nil {
		return Summary{}, err
	}
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var runErr error
	wg.Go(func() { runErr = w.Run(runCtx) })

	end, err := inspect.EndOffsets(ctx, brokers, InputTopic)
	if err != nil {
		stop()
		wg.Wait()
		return Summary{}, err
	}
	if opts.Started != nil {
		opts.Started()
	}
	committed, waitErr := inspect.WaitCommitted(ctx, brokers, cfg.Kafka.GroupID, InputTopic, end)
	if waitErr == nil && opts.Hold > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(opts.Hold):
		}
	}
	stop()
	wg.Wait()
	if runErr != nil {
		return Summary{}, fmt.Errorf("demo: worker: %w", runErr)
	}
	if waitErr != nil {
		st := emu.Stats()
		partial := tally.summary()
		partial.APIStatus, partial.APIByKind, partial.TooManyRequests = st.ByStatus, st.ByKind, st.TooManyRequests
		return partial, fmt.Errorf("demo: the worker did not drain the topic: %w", waitErr)
	}
	// Re-read the committed offsets after the worker left the group.
	if c, err := inspect.Committed(ctx, brokers, cfg.Kafka.GroupID, InputTopic); err == nil {
		committed = c
	}

	s := tally.summary()
	s.Produced = len(ds.Events)
	s.InvalidByKind = ds.InvalidByKind
	s.Committed, s.End = committed, end
	s.ExpectedKeys = len(ds.Expected)

	audit, err := inspect.ReadAll(ctx, brokers, AuditTopic)
	if err != nil {
		return s, err
	}
	syncs, err := inspect.ReadAll(ctx, brokers, SyncTopic)
	if err != nil {
		return s, err
	}
	dead, err := inspect.ReadAll(ctx, brokers, DeadLetterTopic)
	if err != nil {
		return s, err
	}
	s.AuditEvents, s.SyncEvents = len(audit), len(syncs)
	s.DeadByReason = map[string]int{}
	for _, m := range dead {
		s.DeadByReason[header(m, "gcupsert.error.class")+"/"+header(m, "gcupsert.error.code")]++
	}

	records := emu.Records(SchemaName)
	if dt {
		id, _ := emu.TableID(SchemaName)
		records = emu.Rows(id)
	}
	s.EmulatorRecords = len(records)
	for k := range ds.Expected {
		if _, ok := records[k]; !ok {
			s.MissingKeys = append(s.MissingKeys, k)
		}
	}
	for k := range records {
		if !ds.Expected[k] {
			s.UnexpectedKeys = append(s.UnexpectedKeys, k)
		}
	}
	sort.Strings(s.MissingKeys)
	sort.Strings(s.UnexpectedKeys)
	st := emu.Stats()
	s.APIStatus = st.ByStatus
	s.TooManyRequests = st.TooManyRequests
	s.APIByKind = st.ByKind
	s.Target = opts.Target
	for _, n := range st.ByStatus {
		s.APIRequests += n
	}
	s.Elapsed = time.Since(began)
	if opts.Inspect != nil {
		if err := opts.Inspect(ctx, brokers); err != nil {
			return s, err
		}
	}
	return s, nil
}

// tableFixtures seeds the emulator with the demo's data table and the
// regions table its regionId references.
func tableFixtures() ([]byte, error) {
	rows := make([]map[string]any, Regions)
	for i := range rows {
		rows[i] = map[string]any{"key": fmt.Sprintf("region-%d", i), "name": fmt.Sprintf("Region %d", i)}
	}
	doc := map[string]any{"tables": []map[string]any{
		{"name": "Regions", "schema": json.RawMessage(RegionsSchema), "rows": rows},
		{"name": SchemaName, "schema": json.RawMessage(TableSchema)},
	}}
	return json.Marshal(doc)
}

func header(m kafka.Message, k string) string {
	for _, h := range m.Headers {
		if h.Key == k {
			return string(h.Value)
		}
	}
	return ""
}

// tally is the demo's consumer hook.
type tally struct {
	mu        sync.Mutex
	s         Summary
	latencies []time.Duration
}

var (
	_ consumer.HookBatchDone  = (*tally)(nil)
	_ consumer.HookBatchRetry = (*tally)(nil)
)

func newTally() *tally { return &tally{} }

func (t *tally) OnBatchDone(b change.Batch) {
	c := b.Counts()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.s.Batches++
	t.s.Created += c.Created
	t.s.Updated += c.Updated
	t.s.Deleted += c.Deleted
	t.s.Collapsed += c.Collapsed
	t.s.DeadLettered += c.DeadLettered
	if b.Items > 0 {
		t.latencies = append(t.latencies, b.Latency)
	}
}

func (t *tally) OnBatchRetry(string, int, string, error) {
	t.mu.Lock()
	t.s.BatchRetries++
	t.mu.Unlock()
}

func (t *tally) summary() Summary {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.s
	l := append([]time.Duration(nil), t.latencies...)
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	q := func(p float64) time.Duration {
		if len(l) == 0 {
			return 0
		}
		i := int(p*float64(len(l))+0.5) - 1
		if i < 0 {
			i = 0
		}
		if i >= len(l) {
			i = len(l) - 1
		}
		return l[i]
	}
	s.LatencyP50, s.LatencyP95, s.LatencyP99 = q(0.50), q(0.95), q(0.99)
	return s
}
