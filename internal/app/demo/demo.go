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
	if opts.Target == "externalcontacts" {
		return runCRM(ctx, opts, began)
	}

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
	if err := st.runMirror(ctx, cfg, dir, opts.Logger, &s, st.tableChecks(opts.Target)); err != nil {
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
	case "customobjects", "datatables", "externalcontacts":
	default:
		return o, fmt.Errorf("demo: unknown target %q (want customobjects, datatables or externalcontacts)", o.Target)
	}
	if o.Events == 0 {
		o.Events = 10_000
		switch o.Target {
		case "datatables":
			o.Events = 4_000
		case "externalcontacts":
			o.Events = 6_000
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
	inputs := []string{InputTopic}
	if opts.Target == "externalcontacts" {
		inputs = []string{OrganizationsTopic, ContactsTopic}
	}
	cluster, err := kfake.NewCluster(
		kfake.Ports(0),
		kfake.SeedTopics(int32(opts.Partitions), inputs...),
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
	switch opts.Target {
	case "externalcontacts":
		crmEmulator(&ecfg, opts.FaultRatio)
	case "datatables":
		// Data tables: the real per-token budget (300 requests a minute),
		// which rows mode paces itself to, and import jobs for backlogs.
		fx, err := tableFixtures()
		if err != nil {
			return nil, fmt.Errorf("demo: fixtures: %w", err)
		}
		ecfg.Fixtures = fx
		ecfg.ImportProcessingTime = time.Second
	default:
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
	cfg := st.baseConfig(opts)
	cfg.Routes = []config.Route{route(opts.Target, schemaFile)}
	if err := cfg.Validate(); err != nil {
		return config.Config{}, err
	}
	return cfg, nil
}

// baseConfig is the worker's configuration without routes: short timings,
// the stack's broker and emulator.
func (st *stack) baseConfig(opts Options) config.Config {
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
	return cfg
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
	ends, comm, err := st.runWorkerOn(ctx, cfg, opts, t, InputTopic)
	return ends[InputTopic], comm[InputTopic], err
}

// runWorkerOn is runWorker for the input topics named, by topic.
func (st *stack) runWorkerOn(ctx context.Context, cfg config.Config, opts Options, t *tally, topics ...string) (end, committed map[string]map[int]int64, err error) {
	w, err := worker.New(cfg, worker.Options{Logger: opts.Logger, Hooks: []consumer.Hook{t}})
	if err != nil {
		return nil, nil, err
	}
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var runErr error
	wg.Go(func() { runErr = w.Run(runCtx) })

	end, committed = map[string]map[int]int64{}, map[string]map[int]int64{}
	for _, topic := range topics {
		if end[topic], err = inspect.EndOffsets(ctx, st.brokers, topic); err != nil {
			stop()
			wg.Wait()
			return nil, nil, err
		}
	}
	if opts.Started != nil {
		opts.Started()
	}
	var waitErr error
	for _, topic := range topics {
		if committed[topic], waitErr = inspect.WaitCommitted(ctx, st.brokers, cfg.Kafka.GroupID, topic, end[topic]); waitErr != nil {
			break
		}
	}
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
	for _, topic := range topics {
		if c, err := inspect.Committed(ctx, st.brokers, cfg.Kafka.GroupID, topic); err == nil {
			committed[topic] = c
		}
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
