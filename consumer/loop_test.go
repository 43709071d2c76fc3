package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/gcupsert/gcupsert/internal/clock"
	"github.com/gcupsert/gcupsert/sink"
	"github.com/gcupsert/gcupsert/upsert"
)

// fakeTarget records the batches it is sent; fail makes the next calls fail.
type fakeTarget struct {
	mu      sync.Mutex
	batches [][]string
	fail    []error
	block   chan struct{} // when set, Upsert waits for a receive on it
	calls   chan int      // each call sends its batch size
}

func (f *fakeTarget) Name() string   { return "fake" }
func (f *fakeTarget) Schema() string { return "things" }
func (f *fakeTarget) Limits() upsert.Limits {
	return upsert.Limits{MaxRecords: 100, MaxBytes: 1 << 20, Overhead: 2, Separator: 1}
}
func (f *fakeTarget) Prepare(r upsert.Record) (upsert.Item, *upsert.RecordError) {
	if r.Data["bad"] != nil {
		return upsert.Item{}, &upsert.RecordError{Class: "validation", Code: "schema.violation", Message: "bad"}
	}
	return upsert.Item{Record: r, Body: []byte(`{"id":"` + r.Key + `"}`)}, nil
}
func (f *fakeTarget) Upsert(ctx context.Context, items []upsert.Item) (upsert.Result, error) {
	if f.calls != nil {
		f.calls <- len(items)
	}
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return upsert.Result{}, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.fail) > 0 {
		err := f.fail[0]
		f.fail = f.fail[1:]
		return upsert.Result{}, err
	}
	keys := make([]string, len(items))
	res := upsert.Result{Attempts: 1}
	for i, it := range items {
		keys[i] = it.Record.Key
		if it.Record.Data["reject"] != nil {
			res.Outcomes = append(res.Outcomes, upsert.Outcome{Status: upsert.StatusRejected, Attempts: 1,
				Err: &upsert.RecordError{Class: "unique", Code: "unique.violation", Message: "taken"}})
			continue
		}
		res.Outcomes = append(res.Outcomes, upsert.Outcome{Status: upsert.StatusCreated, Written: map[string]any{"id": it.Record.Key, "v": it.Record.Data["v"]}, Attempts: 1})
	}
	f.batches = append(f.batches, keys)
	return res, nil
}

func (f *fakeTarget) sent() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]string(nil), f.batches...)
}

type fakePub struct {
	mu      sync.Mutex
	batches []sink.Batch
	fail    int
}

func (p *fakePub) Publish(ctx context.Context, b sink.Batch) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail > 0 {
		p.fail--
		return errors.New("broker refused")
	}
	p.batches = append(p.batches, b)
	return nil
}

// loopHarness runs a partition worker's loop over a channel of messages.
type loopHarness struct {
	t       *testing.T
	clk     *clock.Fake
	target  *fakeTarget
	pub     *fakePub
	msgs    chan kafka.Message
	mu      sync.Mutex
	commits []int64
	done    chan struct{}
	cancel  context.CancelFunc
	next    int64
}

func newLoop(t *testing.T, cfg Config, target *fakeTarget, pub *fakePub) *loopHarness {
	t.Helper()
	clk := clock.NewFake(time.Unix(0, 0))
	cfg.Brokers = []string{"127.0.0.1:1"}
	cfg.GroupID = "g"
	cfg.Routes = map[string]Target{"t": target}
	cfg.Clock = clk
	c, err := New(cfg, pub)
	if err != nil {
		t.Fatal(err)
	}
	h := &loopHarness{t: t, clk: clk, target: target, pub: pub, msgs: make(chan kafka.Message), done: make(chan struct{})}
	w := &partitionWorker{c: c, topic: "t", partition: 0, target: target, decoder: c.decoder("t"), log: slog.New(slog.DiscardHandler),
		commit: func(_ string, _ int, next int64) {
			h.mu.Lock()
			h.commits = append(h.commits, next)
			h.mu.Unlock()
		}}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { defer close(h.done); w.loop(h.msgs, ctx) }()
	t.Cleanup(func() { cancel(); <-h.done })
	return h
}

func (h *loopHarness) send(key string, bad bool) {
	h.t.Helper()
	data := `{"n":1}`
	if bad {
		data = `{"bad":true}`
	}
	h.sendData(key, data)
}

func (h *loopHarness) sendData(key, data string) {
	h.t.Helper()
	m := kafka.Message{Topic: "t", Offset: h.next, Key: []byte(key), Value: []byte(`{"op":"upsert","data":` + data + `}`)}
	h.next++
	select {
	case h.msgs <- m:
	case <-time.After(5 * time.Second):
		h.t.Fatalf("loop did not take message %d", m.Offset)
	}
}

func (h *loopHarness) lastCommit() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.commits) == 0 {
		return -1
	}
	return h.commits[len(h.commits)-1]
}

func (h *loopHarness) waitCommit(want int64) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for h.lastCommit() != want {
		if time.Now().After(deadline) {
			h.t.Fatalf("last commit %d, want %d", h.lastCommit(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

// advance moves the clock once a timer is armed.
func (h *loopHarness) advance(d time.Duration) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.clk.WaitForTimers(ctx, 1); err != nil {
		h.t.Fatal("no timer armed")
	}
	h.clk.Advance(d)
}

// settle lets the loop goroutines reach their next wait.
func settle() { time.Sleep(20 * time.Millisecond) }

func TestLingerHoldsBatchUntilTimeOnTheClock(t *testing.T) {
	tg := &fakeTarget{}
	h := newLoop(t, Config{Linger: 200 * time.Millisecond}, tg, &fakePub{})
	for i := 0; i < 3; i++ {
		h.send(fmt.Sprint("k", i), false)
	}
	settle()
	if n := len(tg.sent()); n != 0 {
		t.Fatalf("%d batches sent before the linger time passed", n)
	}
	h.advance(199 * time.Millisecond)
	settle()
	if n := len(tg.sent()); n != 0 {
		t.Fatalf("%d batches sent 1ms before the linger time", n)
	}
	h.clk.Advance(time.Millisecond)
	h.waitCommit(3)
	if got := tg.sent(); len(got) != 1 || len(got[0]) != 3 {
		t.Fatalf("batches %v, want one of 3", got)
	}
}

func TestFullBatchesGoWithoutLinger(t *testing.T) {
	tg := &fakeTarget{}
	h := newLoop(t, Config{Linger: time.Hour, MaxRecords: 2}, tg, &fakePub{})
	for i := 0; i < 5; i++ {
		h.send(fmt.Sprint("k", i), false)
	}
	h.waitCommit(4)
	if got := tg.sent(); len(got) != 2 || len(got[0]) != 2 || len(got[1]) != 2 {
		t.Fatalf("batches %v, want two of 2", got)
	}
	h.advance(time.Hour)
	h.waitCommit(5)
}

func TestCollapsedAndRejectedEventsAreCommittedWithTheBatch(t *testing.T) {
	tg := &fakeTarget{}
	pub := &fakePub{}
	h := newLoop(t, Config{Linger: time.Second}, tg, pub)
	h.send("a", false)
	h.send("b", true)
	h.send("a", false)
	h.advance(time.Second)
	h.waitCommit(3)
	if got := tg.sent(); len(got) != 1 || len(got[0]) != 1 || got[0][0] != "a" {
		t.Fatalf("batches %v, want one holding a once", got)
	}
	b := pub.batches[0]
	if len(b.Syncs) != 1 || b.Syncs[0].Source.Offset != 2 || len(b.DeadLetters) != 1 || b.DeadLetters[0].Source.Offset != 1 {
		t.Fatalf("events %+v", b)
	}
	if c := b.Audit.Counts; c.Records != 3 || c.Created != 1 || c.Collapsed != 1 || c.DeadLettered != 1 || b.Audit.Status != "PARTIAL" {
		t.Fatalf("audit %+v", b.Audit)
	}
}

func TestTransientFailureRetriesAfterPauseAndCommitsOnlyAfterSuccess(t *testing.T) {
	tg := &fakeTarget{fail: []error{&upsert.StatusError{Status: 503, Code: "server.too.busy"}}}
	h := newLoop(t, Config{Linger: 0, BatchPause: 5 * time.Second}, tg, &fakePub{})
	h.send("a", false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.clk.WaitForTimers(ctx, 1); err != nil { // the pause
		t.Fatal(err)
	}
	if c := h.lastCommit(); c != -1 {
		t.Fatalf("committed %d after a failed batch", c)
	}
	h.clk.Advance(5 * time.Second)
	h.waitCommit(1)
	if got := tg.sent(); len(got) != 1 {
		t.Fatalf("batches %v", got)
	}
}

func TestPublishFailureHoldsTheCommit(t *testing.T) {
	tg := &fakeTarget{}
	pub := &fakePub{fail: 2}
	h := newLoop(t, Config{Linger: 0, BatchPause: time.Second}, tg, pub)
	h.send("a", false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := 0; i < 2; i++ {
		if err := h.clk.WaitForTimers(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if c := h.lastCommit(); c != -1 {
			t.Fatalf("committed %d before the events were acknowledged", c)
		}
		h.clk.Advance(time.Second)
	}
	h.waitCommit(1)
	if len(tg.sent()) != 1 {
		t.Fatalf("the batch was upserted %d times; only its events needed resending", len(tg.sent()))
	}
}

func TestOneBatchInFlightPerPartition(t *testing.T) {
	tg := &fakeTarget{block: make(chan struct{}), calls: make(chan int, 10)}
	h := newLoop(t, Config{Linger: 0, MaxRecords: 2}, tg, &fakePub{})
	h.send("a", false)
	if n := <-tg.calls; n != 1 {
		t.Fatalf("first batch of %d", n)
	}
	// While it is in flight, the next batch fills to its bound; the loop
	// then stops reading.
	h.send("b", false)
	h.send("c", false)
	select {
	case h.msgs <- kafka.Message{Offset: 3, Key: []byte("d"), Value: []byte(`{"op":"upsert","data":{}}`)}:
		t.Fatal("the loop read past a full batch while another was in flight")
	case <-time.After(50 * time.Millisecond):
	}
	select {
	case n := <-tg.calls:
		t.Fatalf("a second batch of %d went while the first was in flight", n)
	default:
	}
	tg.block <- struct{}{}
	if n := <-tg.calls; n != 2 {
		t.Fatalf("second batch of %d, want 2", n)
	}
	h.waitCommit(1)
	h.send("d", false) // read again now that the full batch is in flight
	tg.block <- struct{}{}
	if n := <-tg.calls; n != 1 {
		t.Fatalf("third batch of %d, want 1", n)
	}
	tg.block <- struct{}{}
	h.waitCommit(4)
}

func TestDrainFinishesTheInFlightBatch(t *testing.T) {
	tg := &fakeTarget{block: make(chan struct{}), calls: make(chan int, 10)}
	h := newLoop(t, Config{Linger: 0}, tg, &fakePub{})
	h.send("a", false)
	<-tg.calls
	h.send("b", false) // pending while a is in flight
	close(h.msgs)      // fetching stopped
	close(tg.block)
	select {
	case <-h.done:
	case <-time.After(5 * time.Second):
		t.Fatal("loop did not return after the drain")
	}
	// The in-flight batch always finishes and is committed. The pending one
	// is abandoned, unless the in-flight batch ended before the loop saw
	// that fetching stopped; then it went out and was committed too.
	switch c, n := h.lastCommit(), len(tg.sent()); {
	case c == 1 && n == 1, c == 2 && n == 2:
	default:
		t.Fatalf("commit %d after %d batches", c, n)
	}
}

// A collapsed event whose newer event the target rejects is sent after all:
// a rejected event never hides an earlier valid one of the same key.
func TestRejectedNewerEventRevivesTheOneItSuperseded(t *testing.T) {
	tg := &fakeTarget{}
	pub := &fakePub{}
	h := newLoop(t, Config{Linger: time.Second}, tg, pub)
	h.sendData("a", `{"v":1}`)
	h.sendData("a", `{"v":2,"reject":true}`)
	h.sendData("a", `{"v":3,"reject":true}`)
	h.sendData("b", `{"v":1}`)
	h.advance(time.Second)
	h.waitCommit(4)
	if got := tg.sent(); len(got) != 3 {
		t.Fatalf("requests %v, want the batch, then a's v2, then a's v1", got)
	}
	b := pub.batches[0]
	if c := b.Audit.Counts; c.Created != 2 || c.DeadLettered != 2 || c.Collapsed != 0 || c.Records != 4 {
		t.Fatalf("counts %+v", c)
	}
	var written []int64
	for _, s := range b.Syncs {
		if s.Key == "a" {
			written = append(written, s.Source.Offset)
			if s.Record["v"] != json.Number("1") {
				t.Errorf("a written as %v, want v1", s.Record)
			}
		}
	}
	if len(written) != 1 || written[0] != 0 {
		t.Fatalf("a's sync events at offsets %v, want [0]", written)
	}
}
