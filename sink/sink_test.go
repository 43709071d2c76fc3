package sink

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/internal/clock"
)

const (
	auditTopic = "gcupsert.audit"
	syncTopic  = "gcupsert.sync"
	dlqTopic   = "gcupsert.dlq"
	partitions = 3
)

var start = time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newCluster(t *testing.T) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.Ports(0), kfake.SeedTopics(partitions, auditTopic, syncTopic, dlqTopic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func newPublisher(t *testing.T, c *kfake.Cluster, clk clock.Clock, mod func(*Config)) *Publisher {
	t.Helper()
	cfg := Config{
		Brokers:    c.ListenAddrs(),
		AuditTopic: auditTopic, SyncTopic: syncTopic, DeadLetterTopic: dlqTopic,
		WorkerID: "worker-1", BatchTimeout: time.Millisecond, WriteTimeout: 5 * time.Second,
		Clock: clk, Logger: quiet(),
	}
	cfg.Retry.Initial, cfg.Retry.Max = 100*time.Millisecond, time.Second
	if mod != nil {
		mod(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

type record struct {
	partition int
	offset    int64
	key       []byte
	value     []byte
	headers   []kafka.Header
}

// readAll returns every record of topic, partition by partition in offset order.
func readAll(t *testing.T, c *kfake.Cluster, topic string) []record {
	t.Helper()
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	cl := &kafka.Client{Addr: kafka.TCP(c.ListenAddrs()...), Transport: tr, Timeout: 5 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []record
	for p := 0; p < partitions; p++ {
		var offset int64
		for {
			res, err := cl.Fetch(ctx, &kafka.FetchRequest{Topic: topic, Partition: p, Offset: offset, MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 50 * time.Millisecond})
			if err != nil {
				t.Fatalf("fetch %s/%d: %v", topic, p, err)
			}
			if res.Error != nil {
				t.Fatalf("fetch %s/%d: %v", topic, p, res.Error)
			}
			for {
				r, err := res.Records.ReadRecord()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("read %s/%d: %v", topic, p, err)
				}
				rec := record{partition: p, offset: r.Offset, headers: append([]kafka.Header(nil), r.Headers...)}
				if r.Key != nil {
					rec.key, _ = kafka.ReadAll(r.Key)
				}
				if r.Value != nil {
					rec.value, _ = kafka.ReadAll(r.Value)
				}
				for i, h := range rec.headers {
					rec.headers[i].Value = bytes.Clone(h.Value)
				}
				out = append(out, rec)
				offset = r.Offset + 1
			}
			if offset >= res.HighWatermark {
				break
			}
		}
	}
	return out
}

func testBatch(first int64) Batch {
	src := func(off int64) change.Source { return change.Source{Topic: "records", Partition: 1, Offset: off} }
	id := BatchID("records", 1, first, first+4)
	return Batch{
		Audit: Audit{
			Target: "customobjects", Schema: "account", Status: StatusPartial,
			Counts:   change.Counts{Records: 5, Created: 1, Updated: 1, Deleted: 1, DeadLettered: 2},
			Attempts: 1, Latency: 12 * time.Millisecond, CorrelationIDs: []string{"corr-a"},
			Topic: "records", Partition: 1, FirstOffset: first, LastOffset: first + 4,
		},
		Syncs: []Sync{
			{BatchID: id, Key: "acc-1", Operation: OperationCreated, Target: "customobjects", Schema: "account",
				Record: map[string]any{"id": "acc-1", "name": "One"}, Source: src(first)},
			{BatchID: id, Key: "acc-2", Operation: OperationUpdated, Target: "customobjects", Schema: "account",
				Record: map[string]any{"id": "acc-2", "name": "Two"}, Source: src(first + 1)},
			{BatchID: id, Key: "acc-3", Operation: OperationDeleted, Target: "customobjects", Schema: "account",
				Source: src(first + 2)},
		},
		DeadLetters: []DeadLetter{
			{Key: []byte("acc-4"), Value: []byte(`{"op":"upsert","key":"acc-4","data":{"name":42}}`), Source: src(first + 3),
				Err: change.RecordError{Class: "validation", Code: "type", Status: 400, Message: "name: not a string",
					Fields: []change.FieldError{{Field: "name", Code: "type", Message: "want string"}}, CorrelationID: "corr-a"}, Attempts: 1},
			{Key: []byte("acc-5"), Value: nil, Source: src(first + 4),
				Err: change.RecordError{Class: "conflict", Code: "not.found", Status: 409, Message: "updateOnly on a missing record"}, Attempts: 1},
		},
	}
}

// expected returns the messages Publish should write for b at time now.
func expected(b Batch, now time.Time) (audit kafka.Message, syncs, dls []kafka.Message) {
	b.Audit.Time, b.Audit.WorkerID = now, "worker-1"
	for _, s := range b.Syncs {
		s.Time = now
		syncs = append(syncs, s.Message())
	}
	for _, d := range b.DeadLetters {
		d.Time = now
		dls = append(dls, d.Message())
	}
	return b.Audit.Message(), syncs, dls
}

// sameMessages checks that got holds exactly want (key, value, headers), in
// order per key, with every key in one partition.
func sameMessages(t *testing.T, topic string, got []record, want []kafka.Message) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d records, want %d", topic, len(got), len(want))
		return
	}
	used := make([]bool, len(got))
	partOf := map[string]int{}
	for _, w := range want {
		found := false
		for i, g := range got {
			if used[i] || !bytes.Equal(g.key, w.Key) || !bytes.Equal(g.value, w.Value) || (g.value == nil) != (w.Value == nil) {
				continue
			}
			if len(g.headers) != len(w.Headers) {
				continue
			}
			ok := true
			for k := range g.headers {
				if g.headers[k].Key != w.Headers[k].Key || !bytes.Equal(g.headers[k].Value, w.Headers[k].Value) {
					ok = false
				}
			}
			if !ok {
				continue
			}
			if p, seen := partOf[string(w.Key)]; seen && p != g.partition && w.Key != nil {
				t.Errorf("%s: key %q in partitions %d and %d", topic, w.Key, p, g.partition)
			}
			partOf[string(w.Key)] = g.partition
			used[i], found = true, true
			break
		}
		if !found {
			t.Errorf("%s: missing message key=%q value=%s", topic, w.Key, w.Value)
		}
	}
}

func TestPublishWritesAllTopics(t *testing.T) {
	c := newCluster(t)
	clk := clock.NewFake(start)
	p := newPublisher(t, c, clk, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	b1, b2 := testBatch(10), testBatch(15)
	if err := p.Publish(ctx, b1); err != nil {
		t.Fatal(err)
	}
	if err := p.Publish(ctx, b2); err != nil {
		t.Fatal(err)
	}

	a1, s1, d1 := expected(b1, start)
	a2, s2, d2 := expected(b2, start)
	audits := readAll(t, c, auditTopic)
	sameMessages(t, auditTopic, audits, []kafka.Message{a1, a2})
	syncs := readAll(t, c, syncTopic)
	sameMessages(t, syncTopic, syncs, append(s1, s2...))
	sameMessages(t, dlqTopic, readAll(t, c, dlqTopic), append(d1, d2...))

	// The audit value is the documented format, time and worker id filled in.
	wantAudit := `{"version":1,"type":"audit","eventId":"records-1-10-14","batchId":"records-1-10-14",` +
		`"target":"customobjects","schema":"account","status":"PARTIAL",` +
		`"counts":{"records":5,"created":1,"updated":1,"deleted":1,"deadLettered":2,"collapsed":0},` +
		`"attempts":1,"latencyMs":12,"correlationIds":["corr-a"],` +
		`"source":{"topic":"records","partition":1,"firstOffset":10,"lastOffset":14},` +
		`"workerId":"worker-1","time":"2026-01-02T03:04:05.123456789Z"}`
	var found bool
	for _, r := range audits {
		if string(r.key) == "records-1-10-14" {
			found = true
			if string(r.value) != wantAudit {
				t.Errorf("audit\n got %s\nwant %s", r.value, wantAudit)
			}
		}
	}
	if !found {
		t.Error("audit of the first batch not found")
	}

	// Each key's events are in one partition, in publish order.
	last := map[string]int64{}
	for _, r := range syncs {
		if !bytes.Contains(r.value, []byte(`"eventId":"records-1-`)) {
			t.Errorf("sync value %s", r.value)
		}
		var off int64
		fmt.Sscanf(string(r.value[bytes.Index(r.value, []byte(`"eventId":"records-1-`))+len(`"eventId":"records-1-`):]), "%d", &off)
		if prev, ok := last[string(r.key)]; ok && off <= prev {
			t.Errorf("key %s: offset %d after %d", r.key, off, prev)
		}
		last[string(r.key)] = off
	}

	// The tombstone dead letter kept its null value.
	for _, r := range readAll(t, c, dlqTopic) {
		if string(r.key) == "acc-5" && r.value != nil {
			t.Errorf("tombstone value = %q", r.value)
		}
	}
}

// failProduce makes the cluster answer produce requests for topic with a
// retriable error while fail returns true.
func failProduce(c *kfake.Cluster, topic string, fail func() bool) *atomic.Int32 {
	var seen atomic.Int32
	c.ControlKey(int16(kmsg.Produce), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kr.(*kmsg.ProduceRequest)
		hit := false
		for _, tp := range req.Topics {
			if tp.Topic == topic {
				hit = true
			}
		}
		if !hit {
			return nil, nil, false
		}
		seen.Add(1)
		if !fail() {
			return nil, nil, false
		}
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, tp := range req.Topics {
			rt := kmsg.NewProduceResponseTopic()
			rt.Topic = tp.Topic
			for _, pp := range tp.Partitions {
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.Partition = pp.Partition
				rp.ErrorCode = 19 // NOT_ENOUGH_REPLICAS, retriable
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	})
	return &seen
}

// publishAsync runs Publish and reports its result on the returned channel.
func publishAsync(ctx context.Context, p *Publisher, b Batch) <-chan error {
	done := make(chan error, 1)
	go func() { done <- p.Publish(ctx, b) }()
	return done
}

func TestPublishRetriesUntilAcknowledged(t *testing.T) {
	c := newCluster(t)
	clk := clock.NewFake(start)
	p := newPublisher(t, c, clk, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	var refuse atomic.Bool
	refuse.Store(true)
	seen := failProduce(c, syncTopic, refuse.Load)

	b := testBatch(0)
	done := publishAsync(ctx, p, b)
	for retries := 0; retries < 3; retries++ {
		// Publish is waiting to retry: it must not have returned.
		if err := clk.WaitForTimers(ctx, 1); err != nil {
			t.Fatalf("no retry timer after %d retries: %v", retries, err)
		}
		select {
		case err := <-done:
			t.Fatalf("Publish returned %v while the broker still refused", err)
		default:
		}
		if retries == 2 {
			refuse.Store(false)
		}
		clk.Advance(time.Second)
	}
	if err := <-done; err != nil {
		t.Fatalf("Publish = %v", err)
	}
	if got := seen.Load(); got < 4 {
		t.Errorf("sync produce requests = %d, want at least 4", got)
	}

	a, s, d := expected(b, start)
	// Nothing lost, and the audit and dead letters, acknowledged on the
	// first attempt, were not sent again.
	sameMessages(t, syncTopic, readAll(t, c, syncTopic), s)
	sameMessages(t, auditTopic, readAll(t, c, auditTopic), []kafka.Message{a})
	sameMessages(t, dlqTopic, readAll(t, c, dlqTopic), d)
}

func TestPublishCancelledWhileBrokerRefuses(t *testing.T) {
	c := newCluster(t)
	clk := clock.NewFake(start)
	p := newPublisher(t, c, clk, nil)
	failProduce(c, syncTopic, func() bool { return true })

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := publishAsync(ctx, p, testBatch(0))
	wctx, wcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer wcancel()
	for i := 0; i < 2; i++ { // two failed attempts, then cancel during the wait
		if err := clk.WaitForTimers(wctx, 1); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			clk.Advance(time.Second)
		}
	}
	cancel()
	err := <-done
	if err == nil {
		t.Fatal("Publish returned nil with unacknowledged events")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	var pe *PublishError
	if !errors.As(err, &pe) || pe.Unacked != 3 || pe.Attempts != 2 || pe.Last == nil {
		t.Errorf("err = %#v, want a PublishError with 3 unacked events after 2 attempts", err)
	}
	if got := readAll(t, c, syncTopic); len(got) != 0 {
		t.Errorf("sync topic has %d records", len(got))
	}

	// A context cancelled before the call: nothing is sent.
	if err := p.Publish(ctx, testBatch(5)); !errors.Is(err, context.Canceled) {
		t.Errorf("Publish(cancelled) = %v", err)
	}
}

func TestPublishMissingTopicIsRetried(t *testing.T) {
	c := newCluster(t)
	clk := clock.NewFake(start)
	p := newPublisher(t, c, clk, func(cfg *Config) { cfg.AuditTopic = "absent" })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := publishAsync(ctx, p, testBatch(0))
	wctx, wcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer wcancel()
	if err := clk.WaitForTimers(wctx, 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err == nil || !errors.Is(err, context.Canceled) {
		t.Errorf("Publish to a missing topic = %v, want a cancellation error", err)
	}
}

func TestPublishTooLargeIsPermanent(t *testing.T) {
	c := newCluster(t)
	p := newPublisher(t, c, clock.NewFake(start), func(cfg *Config) { cfg.BatchBytes = 1024 })
	b := testBatch(0)
	b.DeadLetters[0].Value = bytes.Repeat([]byte("x"), 2048)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Publish(ctx, b); !errors.Is(err, ErrInvalidEvent) {
		t.Errorf("Publish(too large) = %v, want ErrInvalidEvent", err)
	}
}

func TestPublishRejectsInvalidEvents(t *testing.T) {
	p, err := New(Config{Brokers: []string{"127.0.0.1:1"}, AuditTopic: "a", SyncTopic: "s", DeadLetterTopic: "d", Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ok := testBatch(0)
	for name, mod := range map[string]func(*Batch){
		"audit status": func(b *Batch) { b.Audit.Status = "" },
		"audit no id":  func(b *Batch) { b.Audit.Topic = "" },
		"sync op":      func(b *Batch) { b.Syncs = []Sync{{Key: "k", Operation: "upserted"}} },
		"sync key":     func(b *Batch) { b.Syncs = []Sync{{Operation: OperationCreated}} },
		"sync record": func(b *Batch) {
			b.Syncs = []Sync{{Key: "k", Operation: OperationCreated, Record: map[string]any{"f": func() {}}}}
		},
	} {
		b := ok
		mod(&b)
		if err := p.Publish(context.Background(), b); !errors.Is(err, ErrInvalidEvent) {
			t.Errorf("%s: Publish = %v, want ErrInvalidEvent", name, err)
		}
	}
}

func TestCloseTwiceAndPublishAfterClose(t *testing.T) {
	c := newCluster(t)
	p := newPublisher(t, c, clock.NewFake(start), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Publish(ctx, testBatch(0)); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if err := p.Publish(ctx, testBatch(5)); !errors.Is(err, ErrClosed) {
		t.Errorf("Publish after Close = %v, want ErrClosed", err)
	}
}

func TestCloseStopsRetryingPublish(t *testing.T) {
	c := newCluster(t)
	clk := clock.NewFake(start)
	p := newPublisher(t, c, clk, nil)
	failProduce(c, syncTopic, func() bool { return true })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := publishAsync(ctx, p, testBatch(0))
	if err := clk.WaitForTimers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	for range 2 { // concurrent Close calls
		go func() { defer wg.Done(); p.Close() }()
	}
	wg.Wait()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Errorf("Publish during Close = %v, want ErrClosed", err)
	}
}

func TestNewValidates(t *testing.T) {
	valid := func() Config {
		return Config{Brokers: []string{"localhost:9092"}, AuditTopic: "a", SyncTopic: "s", DeadLetterTopic: "d"}
	}
	for name, mod := range map[string]func(*Config){
		"no brokers":     func(c *Config) { c.Brokers = nil },
		"empty broker":   func(c *Config) { c.Brokers = []string{""} },
		"no audit topic": func(c *Config) { c.AuditTopic = "" },
		"no sync topic":  func(c *Config) { c.SyncTopic = "" },
		"no dlq topic":   func(c *Config) { c.DeadLetterTopic = "" },
		"same topics":    func(c *Config) { c.DeadLetterTopic = "s" },
		"tls and transport": func(c *Config) {
			c.Transport = &kafka.Transport{}
			c.TLS = &tls.Config{}
		},
		"negative timeout": func(c *Config) { c.WriteTimeout = -1 },
		"max below initial": func(c *Config) {
			c.Retry.Initial, c.Retry.Max = time.Second, time.Millisecond
		},
	} {
		cfg := valid()
		mod(&cfg)
		if _, err := New(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: New = %v, want ErrConfig", name, err)
		}
	}

	p, err := New(valid())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	cfg := p.cfg
	if cfg.BatchTimeout != DefaultBatchTimeout || cfg.WriteTimeout != DefaultWriteTimeout ||
		cfg.Retry.Initial != DefaultRetryInitial || cfg.Retry.Max != DefaultRetryMax ||
		cfg.BatchBytes != DefaultMaxMessageBytes || cfg.Clock == nil || cfg.Logger == nil || cfg.WorkerID == "" {
		t.Errorf("defaults not filled: %+v", cfg)
	}
	if p.transport == nil || p.transport == kafka.DefaultTransport || !p.ownsTr {
		t.Error("Publisher does not own a transport of its own")
	}
}

func TestPublishConcurrent(t *testing.T) {
	c := newCluster(t)
	p := newPublisher(t, c, clock.NewFake(start), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	var syncs, dls, audits []kafka.Message
	for i := range n {
		b := testBatch(int64(i * 5))
		a, s, d := expected(b, start)
		audits, syncs, dls = append(audits, a), append(syncs, s...), append(dls, d...)
		wg.Add(1)
		go func() { defer wg.Done(); errs <- p.Publish(ctx, b) }()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	sameMessages(t, auditTopic, readAll(t, c, auditTopic), audits)
	sameMessages(t, syncTopic, readAll(t, c, syncTopic), syncs)
	sameMessages(t, dlqTopic, readAll(t, c, dlqTopic), dls)
}
