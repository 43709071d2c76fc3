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
	// BufferKeys, when set, is the worker's batch.buffer_keys (a batch that
	// gathers while another is sent); 1 keeps every batch one request.
	BufferKeys int
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
	// MirrorRan says gcupsert mirror applied the sync topic to SQLite;
	// MirrorRows are its live rows and MirrorDiffs how they differ from the
	// emulator's records, field by field (none when equal).
	MirrorRan   bool
	MirrorRows  int
	MirrorDiffs []string
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
	if s.MirrorRan && (len(s.MirrorDiffs) > 0 || s.MirrorRows != s.EmulatorRecords) {
		p = append(p, fmt.Sprintf("the mirror holds %d rows, the emulator %d records; %d differ", s.MirrorRows, s.EmulatorRecords, len(s.MirrorDiffs)))
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

// The worker's OAuth client on the emulator.
const clientID, clientSecret = "gcupsert-demo", "demo-secret"

// Run executes a demo and returns its summary. The error is set when the
// run could not complete; guarantees broken by a completed run are in
// Summary.Problems.
func Run(ctx context.Context, opts Options) (Summary, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return Summary{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	began := time.Now()

	st, err := startStack(opts)
	if err != nil {
		return Summary{}, err
	}
	defer st.Close()
	ds, err := st.produceStream(ctx, opts)
	if err != nil {
		return Summary{}, err
	}
	dir, err := os.MkdirTemp("", "gcupsert-demo-")
	if err != nil {
		return Summary{}, err
	}
	defer os.RemoveAll(dir)
	cfg, err := st.workerConfig(opts, dir)
	if err != nil {
		return Summary{}, err
	}

	t := newTally()
	end, committed, err := st.runWorker(ctx, cfg, opts, t)
	if errors.Is(err, errNotDrained) {
		partial := t.summary()
		st.addAPIStats(&partial)
		return partial, err
	}
	if err != nil {
		return Summary{}, err
	}
	s, err := st.summary(ctx, t, ds, end, committed, opts.Target)
	if err != nil {
		return s, err
	}
	if err := st.runMirror(ctx, cfg, dir, opts.Target, opts.Logger, &s); err != nil {
		return s, err
	}
	s.Elapsed = time.Since(began)
	if opts.Inspect != nil {
		if err := opts.Inspect(ctx, st.brokers); err != nil {
			return s, err
		}
	}
	return s, nil
}

// withDefaults fills in the options left zero and checks them.
func (o Options) withDefaults() (Options, error) {
	switch o.Target {
	case "":
		o.Target = "customobjects"
	case "customobjects", "datatables":
	default:
		return o, fmt.Errorf("demo: unknown target %q (want customobjects or datatables)", o.Target)
	}
	if o.Events == 0 {
		o.Events = 10_000
		if o.Target == "datatables" {
			o.Events = 4_000
		}
	}
	if o.Partitions == 0 {
		o.Partitions = 3
	}
	if o.InvalidRatio == 0 {
		o.InvalidRatio = 0.02
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.FaultRatio == 0 {
		o.FaultRatio = 0.01
	}
	if o.Timeout == 0 {
		o.Timeout = 3 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Events < 1 || o.Partitions < 1 || o.InvalidRatio < 0 || o.InvalidRatio >= 1 {
		return o, errors.New("demo: events and partitions must be positive and the invalid ratio within [0, 1)")
	}
	return o, nil
}

// stack is what the worker runs against: the embedded broker, and the
// emulator behind an HTTP server.
type stack struct {
	cluster *kfake.Cluster
	brokers []string
	emu     *emulator.Server
	api     *httptest.Server
}

// startStack starts the broker, with the input topic on opts.Partitions
// partitions and the outbound topics, and the emulator set up for
// opts.Target, failing opts.FaultRatio of the API requests.
func startStack(opts Options) (*stack, error) {
	cluster, err := kfake.NewCluster(
		kfake.Ports(0),
		kfake.SeedTopics(int32(opts.Partitions), InputTopic),
		kfake.SeedTopics(1, AuditTopic, SyncTopic, DeadLetterTopic),
		kfake.GroupMinSessionTimeout(time.Second),
	)
	if err != nil {
		return nil, fmt.Errorf("demo: embedded broker: %w", err)
	}
	emu, err := newEmulator(opts)
	if err != nil {
		cluster.Close()
		return nil, err
	}
	return &stack{cluster: cluster, brokers: cluster.ListenAddrs(), emu: emu, api: httptest.NewServer(emu.Handler())}, nil
}

func (st *stack) Close() {
	st.api.Close()
	st.cluster.Close()
}

// newEmulator makes the emulator for opts.Target, failing opts.FaultRatio
// of the API requests with a 503.
func newEmulator(opts Options) (*emulator.Server, error) {
	ecfg := emulator.Config{
		Clients: map[string]string{clientID: clientSecret},
		Seed:    int64(opts.Seed),
	}
	if opts.Target == "datatables" {
		// Data tables: the real per-token budget (300 requests a minute),
		// which rows mode paces itself to, and import jobs for backlogs.
		fx, err := tableFixtures()
		if err != nil {
			return nil, fmt.Errorf("demo: fixtures: %w", err)
		}
		ecfg.Fixtures = fx
		ecfg.ImportProcessingTime = time.Second
	} else {
		// Custom objects: the schema, and no rate limit.
		ecfg.Schemas = map[string][]byte{SchemaName: []byte(Schema)}
		ecfg.UniqueFields = map[string][]string{SchemaName: {"accountNumber"}}
		ecfg.DisableRateLimit = true
	}
	emu, err := emulator.New(ecfg)
	if err != nil {
		return nil, fmt.Errorf("demo: emulator: %w", err)
	}
	if opts.FaultRatio > 0 {
		if err := emu.SetErrorRatio(opts.FaultRatio, 503); err != nil {
			return nil, fmt.Errorf("demo: emulator: %w", err)
		}
	}
	return emu, nil
}

// produceStream generates the run's stream, with the invalid kinds of the
// target, and produces it to the input topic.
func (st *stack) produceStream(ctx context.Context, opts Options) (Dataset, error) {
	kinds := CustomObjectsKinds
	if opts.Target == "datatables" {
		kinds = DataTablesKinds
	}
	ds := GenerateKinds(opts.Events, opts.Partitions, opts.InvalidRatio, opts.Seed, kinds)
	msgs := make([]inspect.Message, len(ds.Events))
	for i, ev := range ds.Events {
		msgs[i] = inspect.Message{Partition: ev.Partition, Key: ev.Key, Value: ev.Value}
	}
	if err := inspect.Produce(ctx, st.brokers, InputTopic, msgs); err != nil {
		return Dataset{}, err
	}
	return ds, nil
}

// workerConfig is the worker's validated configuration: short timings,
// the stack's broker and emulator, and one route to the target. The
// customobjects schema is written into dir for the route to read.
func (st *stack) workerConfig(opts Options, dir string) (config.Config, error) {
	schemaFile := filepath.Join(dir, SchemaName+".json")
	if err := os.WriteFile(schemaFile, []byte(Schema), 0o600); err != nil {
		return config.Config{}, err
	}
	cfg := config.Default()
	cfg.WorkerID = "demo"
	cfg.Kafka.Brokers = st.brokers
	cfg.Kafka.GroupID = "gcupsert-demo"
	cfg.Kafka.SessionTimeout = config.Duration(6 * time.Second)
	cfg.Kafka.HeartbeatInterval = config.Duration(time.Second)
	cfg.Kafka.CommitInterval = config.Duration(200 * time.Millisecond)
	cfg.Kafka.MaxWait = config.Duration(100 * time.Millisecond)
	cfg.Genesys.BaseURL = st.api.URL
	cfg.Genesys.ClientID = clientID
	cfg.Genesys.ClientSecret = clientSecret
	cfg.Retry.InitialInterval = config.Duration(50 * time.Millisecond)
	cfg.Retry.MaxInterval = config.Duration(time.Second)
	cfg.Retry.BatchPause = config.Duration(500 * time.Millisecond)
	cfg.Metrics.Address = opts.MetricsAddr
	if opts.BufferKeys > 0 {
		cfg.Batch.BufferKeys = opts.BufferKeys
	}
	cfg.Topics = config.Topics{Audit: AuditTopic, Sync: SyncTopic, DeadLetter: DeadLetterTopic}
	cfg.Routes = []config.Route{route(opts.Target, schemaFile)}
	if err := cfg.Validate(); err != nil {
		return config.Config{}, err
	}
	return cfg, nil
}

// route is the input topic's route to the target.
func route(target, schemaFile string) config.Route {
	if target == "datatables" {
		return config.Route{
			Topic: InputTopic, Target: "datatables", Table: SchemaName, ConflictResolution: "upsert",
			UniqueFields: []string{"accountNumber"}, References: map[string]string{"regionId": "Regions"},
			DataTables: config.DataTables{ImportThreshold: 100, ImportPollInterval: config.Duration(200 * time.Millisecond)},
		}
	}
	return config.Route{
		Topic: InputTopic, Target: "customobjects", Schema: SchemaName, SchemaFile: schemaFile,
		ConflictResolution: "upsert", UniqueFields: []string{"accountNumber"}, ReferenceFields: []string{"regionId"},
	}
}

// errNotDrained marks a run whose worker stopped before its group had
// committed the end of the input topic.
var errNotDrained = errors.New("demo: the worker did not drain the topic")

// runWorker runs the worker, with t as its hook, until its group has
// committed the end of the input topic, keeps it up opts.Hold longer, and
// stops it. It returns the end offsets and the committed ones, read again
// after the worker left the group.
func (st *stack) runWorker(ctx context.Context, cfg config.Config, opts Options, t *tally) (end, committed map[int]int64, err error) {
	w, err := worker.New(cfg, worker.Options{Logger: opts.Logger, Hooks: []consumer.Hook{t}})
	if err != nil {
		return nil, nil, err
	}
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var runErr error
	wg.Go(func() { runErr = w.Run(runCtx) })

	end, err = inspect.EndOffsets(ctx, st.brokers, InputTopic)
	if err != nil {
		stop()
		wg.Wait()
		return nil, nil, err
	}
	if opts.Started != nil {
		opts.Started()
	}
	committed, waitErr := inspect.WaitCommitted(ctx, st.brokers, cfg.Kafka.GroupID, InputTopic, end)
	if waitErr == nil && opts.Hold > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(opts.Hold):
		}
	}
	stop()
	wg.Wait()
	if runErr != nil {
		return nil, nil, fmt.Errorf("demo: worker: %w", runErr)
	}
	if waitErr != nil {
		return nil, nil, fmt.Errorf("%w: %w", errNotDrained, waitErr)
	}
	// Re-read the committed offsets after the worker left the group.
	if c, err := inspect.Committed(ctx, st.brokers, cfg.Kafka.GroupID, InputTopic); err == nil {
		committed = c
	}
	return end, committed, nil
}

// summary is what the run did: the tally of the worker's batches, the
// stream and the offsets, what the outbound topics hold, and how the
// emulator's records and requests compare with what was expected.
func (st *stack) summary(ctx context.Context, t *tally, ds Dataset, end, committed map[int]int64, target string) (Summary, error) {
	s := t.summary()
	s.Produced = len(ds.Events)
	s.InvalidByKind = ds.InvalidByKind
	s.Committed, s.End = committed, end
	s.ExpectedKeys = len(ds.Expected)
	if err := st.countOutbound(ctx, &s); err != nil {
		return s, err
	}
	records := st.emu.Records(SchemaName)
	if target == "datatables" {
		id, _ := st.emu.TableID(SchemaName)
		records = st.emu.Rows(id)
	}
	compareKeys(&s, records, ds.Expected)
	st.addAPIStats(&s)
	s.Target = target
	for _, n := range s.APIStatus {
		s.APIRequests += n
	}
	return s, nil
}

// countOutbound counts the audit and sync events and the dead letters by
// reason.
func (st *stack) countOutbound(ctx context.Context, s *Summary) error {
	audit, err := inspect.ReadAll(ctx, st.brokers, AuditTopic)
	if err != nil {
		return err
	}
	syncs, err := inspect.ReadAll(ctx, st.brokers, SyncTopic)
	if err != nil {
		return err
	}
	dead, err := inspect.ReadAll(ctx, st.brokers, DeadLetterTopic)
	if err != nil {
		return err
	}
	s.AuditEvents, s.SyncEvents = len(audit), len(syncs)
	s.DeadByReason = map[string]int{}
	for _, m := range dead {
		s.DeadByReason[header(m, "gcupsert.error.class")+"/"+header(m, "gcupsert.error.code")]++
	}
	return nil
}

// compareKeys records the emulator's records against the expected keys.
func compareKeys(s *Summary, records map[string]map[string]any, expected map[string]bool) {
	s.EmulatorRecords = len(records)
	for k := range expected {
		if _, ok := records[k]; !ok {
			s.MissingKeys = append(s.MissingKeys, k)
		}
	}
	for k := range records {
		if !expected[k] {
			s.UnexpectedKeys = append(s.UnexpectedKeys, k)
		}
	}
	sort.Strings(s.MissingKeys)
	sort.Strings(s.UnexpectedKeys)
}

// addAPIStats records the emulator's responses by status and requests by
// kind.
func (st *stack) addAPIStats(s *Summary) {
	stats := st.emu.Stats()
	s.APIStatus, s.APIByKind, s.TooManyRequests = stats.ByStatus, stats.ByKind, stats.TooManyRequests
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
