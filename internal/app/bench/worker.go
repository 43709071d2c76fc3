package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/config"
	"github.com/gcupsert/gcupsert/consumer"
	"github.com/gcupsert/gcupsert/internal/app/demo"
	"github.com/gcupsert/gcupsert/internal/app/worker"
	"github.com/gcupsert/gcupsert/internal/inspect"
)

// workerConfig is the worker configuration of the bench: defaults, the
// embedded broker, the emulator and one route of the given target.
func workerConfig(brokers []string, apiURL, group, target, schemaFile string) config.Config {
	cfg := config.Default()
	cfg.WorkerID = "bench"
	cfg.Kafka.Brokers = brokers
	cfg.Kafka.GroupID = group
	cfg.Kafka.SessionTimeout = config.Duration(6 * time.Second)
	cfg.Kafka.HeartbeatInterval = config.Duration(time.Second)
	cfg.Kafka.MaxWait = config.Duration(100 * time.Millisecond)
	cfg.Genesys.BaseURL = apiURL
	cfg.Genesys.ClientID = clientID
	cfg.Genesys.ClientSecret = clientSecret
	cfg.Topics = config.Topics{Audit: auditTopic, Sync: syncTopic, DeadLetter: deadLetterTopic}
	switch target {
	case "datatables":
		cfg.Routes = []config.Route{{Topic: inputTopic, Target: "datatables", Table: tableName, ConflictResolution: "upsert"}}
	default:
		cfg.Routes = []config.Route{{Topic: inputTopic, Target: "customobjects", Schema: demo.SchemaName, SchemaFile: schemaFile,
			ConflictResolution: "upsert", UniqueFields: []string{"accountNumber"}, ReferenceFields: []string{"regionId"}}}
	}
	return cfg
}

// writeSchema writes the customobjects schema into dir.
func writeSchema(dir string) (string, error) {
	p := filepath.Join(dir, demo.SchemaName+".json")
	return p, os.WriteFile(p, []byte(demo.Schema), 0o600)
}

// tally counts what the worker reports.
type tally struct {
	mu       sync.Mutex
	assigned time.Time
	written  int // created + updated + deleted
	batches  int
	dead     int
	retries  int
	latency  []time.Duration
	onDone   func(change.Batch)
	assignN  atomic.Int32
}

func (t *tally) OnAssigned(int32, []consumer.Partition) {
	t.mu.Lock()
	if t.assigned.IsZero() {
		t.assigned = time.Now()
	}
	t.mu.Unlock()
	t.assignN.Add(1)
}

func (t *tally) OnBatchDone(b change.Batch) {
	c := b.Counts()
	t.mu.Lock()
	t.written += c.Created + c.Updated + c.Deleted
	t.batches++
	t.dead += c.DeadLettered
	if b.Items > 0 {
		t.latency = append(t.latency, b.Latency)
	}
	f := t.onDone
	t.mu.Unlock()
	if f != nil {
		f(b)
	}
}

func (t *tally) OnBatchRetry(string, int, string, error) {
	t.mu.Lock()
	t.retries++
	t.mu.Unlock()
}

func (t *tally) snapshot() (written, batches, dead, retries int, assigned time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.written, t.batches, t.dead, t.retries, t.assigned
}

// runningWorker is an in-process worker and its stop function.
type runningWorker struct {
	stop func() error
}

func startWorker(ctx context.Context, cfg config.Config, hooks ...consumer.Hook) (*runningWorker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	w, err := worker.NewContext(ctx, cfg, worker.Options{Hooks: hooks})
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var runErr error
	wg.Go(func() { runErr = w.Run(runCtx) })
	return &runningWorker{stop: func() error {
		cancel()
		wg.Wait()
		return runErr
	}}, nil
}

// produce writes msgs to the input topic.
func produce(ctx context.Context, brokers []string, msgs []inspect.Message) error {
	if err := inspect.Produce(ctx, brokers, inputTopic, msgs); err != nil {
		return fmt.Errorf("bench: produce: %w", err)
	}
	return nil
}

func sum(m map[int]int64) int64 {
	var n int64
	for _, v := range m {
		if v > 0 {
			n += v
		}
	}
	return n
}

// waitCommitted waits, five minutes at most, until cfg's group has
// committed end on the input topic.
func waitCommitted(ctx context.Context, cfg config.Config, end map[int]int64) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	_, err := inspect.WaitCommitted(ctx, cfg.Kafka.Brokers, cfg.Kafka.GroupID, inputTopic, end)
	return err
}
