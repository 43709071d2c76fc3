package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/decode"
	"github.com/gcupsert/gcupsert/internal/kafkaread"
	"github.com/gcupsert/gcupsert/internal/retry"
	"github.com/gcupsert/gcupsert/sink"
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
func (f *fakeTarget) Limits() change.Limits {
	return change.Limits{MaxRecords: 100, MaxBytes: 1 << 20, Overhead: 2, Separator: 1}
}
func (f *fakeTarget) Prepare(r change.Record) (change.Item, *change.RecordError) {
	if r.Data["bad"] != nil {
		return change.Item{}, &change.RecordError{Class: "validation", Code: "schema.violation", Message: "bad"}
	}
	return change.Item{Record: r, Body: []byte(`{"id":"` + r.Key + `"}`)}, nil
}
func (f *fakeTarget) Upsert(ctx context.Context, items []change.Item) (change.Result, error) {
	if f.calls != nil {
		f.calls <- len(items)
	}
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return change.Result{}, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.fail) > 0 {
		err := f.fail[0]
		f.fail = f.fail[1:]
		return change.Result{}, err
	}
	keys := make([]string, len(items))
	res := change.Result{Attempts: 1}
	for i, it := range items {
		keys[i] = it.Record.Key
		if it.Record.Data["reject"] != nil {
			res.Outcomes = append(res.Outcomes, change.Outcome{Status: change.StatusRejected, Attempts: 1,
				Err: &change.RecordError{Class: "unique", Code: "unique.violation", Message: "taken"}})
			continue
		}
		res.Outcomes = append(res.Outcomes, change.Outcome{Status: change.StatusCreated, Written: map[string]any{"id": it.Record.Key, "v": it.Record.Data["v"]}, Attempts: 1})
	}
	f.batches = append(f.batches, keys)
	return res, nil
}

func (f *fakeTarget) sent() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]string(nil), f.batches...)
}

// fakePub keeps the events of each batch; its first fail calls fail with
// err (a plain error when nil).
type fakePub struct {
	mu      sync.Mutex
	batches []sink.Batch
	fail    int
	err     error
	block   chan struct{} // when set, each publish waits for a receive on it
}

func (p *fakePub) PublishOutcomes(ctx context.Context, b change.Batch) error {
	if p.block != nil {
		select {
		case <-p.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail > 0 {
		p.fail--
		if p.err != nil {
			return p.err
		}
		return errors.New("broker refused")
	}
	p.batches = append(p.batches, sink.BatchOf(b))
	return nil
}

func (p *fakePub) published() []sink.Batch {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]sink.Batch(nil), p.batches...)
}

// loopHarness runs a partition worker's loop over a channel of messages,
// inside a synctest bubble: time stands still until every goroutine of
// the bubble is blocked, and synctest.Wait lets the loop settle before a
// test asserts that something did not happen.
type loopHarness struct {
	t       *testing.T
	target  Target
	pub     *fakePub
	c       *Consumer
	msgs    chan kafkaread.Message
	mu      sync.Mutex
	commits []int64
	done    chan struct{}
	next    int64
}

// newLoop must be called inside synctest.Test.
func newLoop(t *testing.T, cfg Config, target Target, pub *fakePub) *loopHarness {
	t.Helper()
	dec, err := decode.New(decode.FormatPlain, decode.Mapping{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Brokers = []string{"127.0.0.1:1"}
	cfg.GroupID = "g"
	cfg.Routes = map[string]Route{"t": {Decoder: dec, Target: target}}
	c, err := New(cfg, pub)
	if err != nil {
		t.Fatal(err)
	}
	h := &loopHarness{t: t, target: target, pub: pub, c: c, msgs: make(chan kafkaread.Message), done: make(chan struct{})}
	w := c.newPartitionWorker("t", 0, 0, func(_ string, _ int, next int64) {
		h.mu.Lock()
		h.commits = append(h.commits, next)
		h.mu.Unlock()
	})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { defer close(h.done); w.loop(ctx, h.msgs) }()
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
	h.msgs <- kafkaread.Message{Offset: h.next, Key: []byte(key), Value: []byte(`{"op":"upsert","data":` + data + `}`)}
	h.next++
}

// lastCommit lets the loop settle and returns its last commit, -1 for none.
func (h *loopHarness) lastCommit() int64 {
	synctest.Wait()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.commits) == 0 {
		return -1
	}
	return h.commits[len(h.commits)-1]
}

func (h *loopHarness) wantCommit(want int64) {
	h.t.Helper()
	if got := h.lastCommit(); got != want {
		h.t.Fatalf("last commit %d, want %d", got, want)
	}
}

func TestLingerHoldsBatchUntilItsTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tg := &fakeTarget{}
		h := newLoop(t, Config{Linger: 200 * time.Millisecond}, tg, &fakePub{})
		for i := 0; i < 3; i++ {
			h.send(fmt.Sprint("k", i), false)
		}
		time.Sleep(199 * time.Millisecond)
		synctest.Wait()
		if n := len(tg.sent()); n != 0 {
			t.Fatalf("%d batches sent 1ms before the linger time", n)
		}
		time.Sleep(time.Millisecond)
		h.wantCommit(3)
		if got := tg.sent(); len(got) != 1 || len(got[0]) != 3 {
			t.Fatalf("batches %v, want one of 3", got)
		}
	})
}

func TestFullBatchesGoWithoutLinger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tg := &fakeTarget{}
		h := newLoop(t, Config{Linger: time.Hour, MaxRecords: 2, BufferKeys: 2}, tg, &fakePub{})
		for i := 0; i < 5; i++ {
			h.send(fmt.Sprint("k", i), false)
		}
		h.wantCommit(4)
		if got := tg.sent(); len(got) != 2 || len(got[0]) != 2 || len(got[1]) != 2 {
			t.Fatalf("batches %v, want two of 2", got)
		}
		time.Sleep(time.Hour)
		h.wantCommit(5)
	})
}

func TestCollapsedAndRejectedEventsAreCommittedWithTheBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tg := &fakeTarget{}
		pub := &fakePub{}
		h := newLoop(t, Config{Linger: time.Second}, tg, pub)
		h.send("a", false)
		h.send("b", true)
		h.send("a", false)
		time.Sleep(time.Second)
		h.wantCommit(3)
		if got := tg.sent(); len(got) != 1 || len(got[0]) != 1 || got[0][0] != "a" {
			t.Fatalf("batches %v, want one holding a once", got)
		}
		b := pub.published()[0]
		if len(b.Syncs) != 1 || b.Syncs[0].Source.Offset != 2 || len(b.DeadLetters) != 1 || b.DeadLetters[0].Source.Offset != 1 {
			t.Fatalf("events %+v", b)
		}
		if c := b.Audit.Counts; c.Records != 3 || c.Created != 1 || c.Collapsed != 1 || c.DeadLettered != 1 || b.Audit.Status != "PARTIAL" {
			t.Fatalf("audit %+v", b.Audit)
		}
	})
}

func TestTransientFailureIsRetriedAndCommittedOnlyAfterSuccess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tg := &fakeTarget{fail: []error{errors.New("HTTP 503 after the retry budget")}}
		h := newLoop(t, Config{Retry: retry.Policy{Initial: 5 * time.Second}}, tg, &fakePub{})
		h.send("a", false)
		time.Sleep(2 * time.Second) // the first wait is at least 2.5s (5s, jitter 0.5)
		h.wantCommit(-1)
		if got := tg.sent(); len(got) != 0 {
			t.Fatalf("batches %v before the retry", got)
		}
		time.Sleep(6 * time.Second)
		h.wantCommit(1)
		if got := tg.sent(); len(got) != 1 {
			t.Fatalf("batches %v", got)
		}
	})
}

func TestPublishFailureHoldsTheCommit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tg := &fakeTarget{}
		pub := &fakePub{fail: 2}
		h := newLoop(t, Config{Retry: retry.Policy{Initial: time.Second, Max: time.Second}}, tg, pub)
		h.send("a", false)
		h.wantCommit(-1)
		time.Sleep(time.Second / 2) // the first wait is at least 0.5s
		h.wantCommit(-1)
		time.Sleep(3 * time.Second)
		h.wantCommit(1)
		if len(tg.sent()) != 1 {
			t.Fatalf("the batch was upserted %d times; only its events needed resending", len(tg.sent()))
		}
	})
}

// A failure that can never succeed stops the consumer: nothing is retried
// forever, nothing is committed, and the hooks are told.
func TestPermanentPublishFailureStopsTheConsumer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pub := &fakePub{fail: 1, err: retry.Permanent(errors.New("event larger than the topic allows"))}
		stopped := &stopHook{}
		h := newLoop(t, Config{Hooks: []Hook{stopped}}, &fakeTarget{}, pub)
		h.send("a", false)
		<-h.done // the loop returned without committing
		h.wantCommit(-1)
		var se *StoppedError
		if !errors.As(stopped.err, &se) || se.Stage != "publish" || se.Partition != 0 {
			t.Fatalf("hook told %v, want a StoppedError of stage publish", stopped.err)
		}
		if len(pub.published()) != 0 {
			t.Fatal("the batch was published after a permanent failure")
		}
	})
}

type stopHook struct{ err error }

func (s *stopHook) OnStopped(err error) { s.err = err }

func TestOneBatchInFlightPerPartition(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tg := &fakeTarget{block: make(chan struct{}), calls: make(chan int, 10)}
		h := newLoop(t, Config{Linger: 0, MaxRecords: 2, BufferKeys: 2}, tg, &fakePub{})
		h.send("a", false)
		if n := <-tg.calls; n != 1 {
			t.Fatalf("first batch of %d", n)
		}
		// While it is in flight, the next batch fills to its bound; the loop
		// holds the first message that does not fit and then stops reading.
		h.send("b", false)
		h.send("c", false)
		h.send("d", false)
		read := make(chan struct{})
		go func() {
			h.msgs <- kafkaread.Message{Offset: 4, Key: []byte("e"), Value: []byte(`{"op":"upsert","data":{}}`)}
			close(read)
		}()
		synctest.Wait()
		select {
		case <-read:
			t.Fatal("the loop read past a full batch while another was in flight")
		case n := <-tg.calls:
			t.Fatalf("a second batch of %d went while the first was in flight", n)
		default:
		}
		tg.block <- struct{}{}
		if n := <-tg.calls; n != 2 {
			t.Fatalf("second batch of %d, want 2", n)
		}
		<-read // read again now that the full batch is in flight
		h.wantCommit(1)
		tg.block <- struct{}{}
		if n := <-tg.calls; n != 2 {
			t.Fatalf("third batch of %d, want 2 (d and e)", n)
		}
		tg.block <- struct{}{}
		h.wantCommit(5)
	})
}

func TestDrainFinishesTheInFlightBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tg := &fakeTarget{block: make(chan struct{}), calls: make(chan int, 10)}
		h := newLoop(t, Config{Linger: 0}, tg, &fakePub{})
		h.send("a", false)
		<-tg.calls
		h.send("b", false) // pending while a is in flight
		close(h.msgs)      // fetching stopped
		synctest.Wait()
		close(tg.block)
		<-h.done
		// The in-flight batch finishes and is committed; the pending one
		// is abandoned.
		if c, n := h.lastCommit(), len(tg.sent()); c != 1 || n != 1 {
			t.Fatalf("commit %d after %d batches, want 1 after 1", c, n)
		}
	})
}

// A collapsed event whose newer event the target rejects is sent after all:
// a rejected event never hides an earlier valid one of the same key.
func TestRejectedNewerEventRevivesTheOneItSuperseded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tg := &fakeTarget{}
		pub := &fakePub{}
		h := newLoop(t, Config{Linger: time.Second}, tg, pub)
		h.sendData("a", `{"v":1}`)
		h.sendData("a", `{"v":2,"reject":true}`)
		h.sendData("a", `{"v":3,"reject":true}`)
		h.sendData("b", `{"v":1}`)
		time.Sleep(time.Second)
		h.wantCommit(4)
		if got := tg.sent(); len(got) != 3 {
			t.Fatalf("requests %v, want the batch, then a's v2, then a's v1", got)
		}
		b := pub.published()[0]
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
	})
}

// The next batch's requests go while the previous batch's events are
// written; its events follow the previous batch's, and offsets are
// committed in order, each once both are done.
func TestRequestsGoWhileThePreviousEventsAreWritten(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tg := &fakeTarget{calls: make(chan int, 10)}
		pub := &fakePub{block: make(chan struct{})}
		h := newLoop(t, Config{Linger: 0, MaxRecords: 1}, tg, pub)
		h.send("a", false)
		<-tg.calls // batch 1 upserted; its publish waits
		h.send("b", false)
		synctest.Wait()
		select {
		case <-tg.calls: // batch 2 upserted while batch 1's events wait
		default:
			t.Fatal("the next batch waited for the previous batch's events")
		}
		h.wantCommit(-1)
		if n := len(pub.published()); n != 0 {
			t.Fatalf("%d batches published", n)
		}
		// A third batch waits: one upserted and one publishing at most.
		h.send("c", false)
		synctest.Wait()
		select {
		case <-tg.calls:
			t.Fatal("a third batch went with two in flight")
		default:
		}
		pub.block <- struct{}{}
		h.wantCommit(1)
		if p := pub.published(); len(p) != 1 || p[0].Syncs[0].Key != "a" {
			t.Fatalf("published %+v, want batch a first", p)
		}
		pub.block <- struct{}{}
		<-tg.calls
		pub.block <- struct{}{}
		h.wantCommit(3)
		var keys []string
		for _, b := range pub.published() {
			keys = append(keys, b.Syncs[0].Key)
		}
		if fmt.Sprint(keys) != "[a b c]" {
			t.Fatalf("events published in the order %v", keys)
		}
	})
}

// While a batch is being sent, the next one gathers the latest event of
// each key beyond a request's worth, up to the buffer's bounds: a backlog
// of a few hot keys goes as few records, each older event collapsed into
// its key's latest and committed with it.
func TestBacklogCoalescesWhileTheSenderIsBusy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tg := &fakeTarget{block: make(chan struct{}), calls: make(chan int, 10)}
		pub := &fakePub{}
		h := newLoop(t, Config{Linger: 0, MaxRecords: 2, BufferKeys: 3}, tg, pub)
		h.send("a", false)
		if n := <-tg.calls; n != 1 {
			t.Fatalf("first batch of %d", n)
		}
		for i := 0; i < 30; i++ { // offsets 1..30 over keys h0..h2
			h.send(fmt.Sprint("h", i%3), false)
		}
		h.send("new-key", false) // a fourth key does not fit the buffer: it waits
		read := make(chan struct{})
		go func() {
			h.sendData("later", `{"n":2}`) // and the loop reads no further
			close(read)
		}()
		synctest.Wait()
		select {
		case <-read:
			t.Fatal("the loop read on past a full buffer")
		default:
		}
		tg.block <- struct{}{}
		if n := <-tg.calls; n != 3 {
			t.Fatalf("the coalesced batch has %d records, want 3 (one per key)", n)
		}
		// While that batch is sent, the loop reads on: the waiting key and
		// the one after it gather into the next batch before the sender is free.
		<-read
		synctest.Wait()
		tg.block <- struct{}{}
		if n := <-tg.calls; n != 2 {
			t.Fatalf("the batch after it has %d records, want 2", n)
		}
		tg.block <- struct{}{}
		h.wantCommit(33)
		collapsed := 0
		for _, b := range pub.published() {
			collapsed += b.Audit.Counts.Collapsed
		}
		if collapsed != 27 {
			t.Errorf("%d events collapsed, want 27", collapsed)
		}
	})
}

// Without a busy sender nothing coalesces past a request's worth.
func TestBatchesStayARequestWhenTheSenderIsFree(t *testing.T) {
	l := batchLimits{target: change.Limits{MaxRecords: 2, MaxBytes: 1000}, maxRecords: 2, maxBytes: 1000,
		maxEntries: 100, maxRetained: 1000, bufferKeys: 10, free: 2000}
	b := newBatch("t", 0)
	for i := 0; i < 2; i++ {
		b.addItem(int64(i), nil, nil, change.Item{Record: change.Record{Key: fmt.Sprint(i)}, Body: []byte("{}")}, false, false)
	}
	if b.fits(l, "x", 2, 0, false, false, nil) || !b.full(l, false) {
		t.Error("a request's worth is not full when the sender is free")
	}
	if !b.fits(l, "x", 2, 0, true, false, nil) || b.full(l, true) {
		t.Error("a busy sender's buffer is full at a request's worth")
	}
}

// Beyond a request's worth of memory, a coalescing batch takes bytes from
// the budget all partitions share, and fits nothing more once it is spent.
func TestCoalescingTakesFromTheSharedBudget(t *testing.T) {
	l := batchLimits{target: change.Limits{MaxRecords: 2, MaxBytes: 1000}, maxRecords: 2, maxBytes: 1000,
		maxEntries: 100, maxRetained: 1000, bufferKeys: 1000, free: 4 * entryOverhead}
	shared := semaphore.NewWeighted(reserveChunk)
	b := newBatch("t", 0)
	added := 0
	for i := 0; b.fits(l, fmt.Sprint(i), 100, 100, true, false, shared); i++ {
		b.addItem(int64(i), []byte("k"), make([]byte, 99), change.Item{Record: change.Record{Key: fmt.Sprint(i)}, Body: make([]byte, 100)}, true, false)
		added++
	}
	if b.reserved != reserveChunk || shared.TryAcquire(1) {
		t.Fatalf("reserved %d of the budget; it should all be taken", b.reserved)
	}
	if want := (reserveChunk + 4*entryOverhead) / (entryOverhead + 100 + itemFactor*100); added < want-1 || added > want {
		t.Errorf("%d records fit, want about %d", added, want)
	}
	// Once it is spent, a new key waits; so does, once the last chunk is
	// used up, an event of a key in the batch (its entry costs memory too).
	if b.fits(l, "new", 100, 100, true, false, shared) {
		t.Error("a new key fits past the spent budget")
	}
	for i := 0; b.fits(l, "0", 100, 100, true, false, shared); i++ {
		b.addItem(int64(1000+i), []byte("k"), make([]byte, 99), change.Item{Record: change.Record{Key: "0"}, Body: make([]byte, 100)}, true, false)
		if i > reserveChunk/entryOverhead {
			t.Fatal("events of a key in the batch fit without end")
		}
	}
}

// A coalescing batch keeps the key and value of only the latest event a
// key's record superseded; older ones are compacted.
func TestCoalescingCompactsOlderSupersededEvents(t *testing.T) {
	b := newBatch("t", 0)
	for i := 0; i < 4; i++ {
		b.addItem(int64(i), []byte("k"), []byte("value"), change.Item{Record: change.Record{Key: "k"}, Body: []byte("{}")}, true, false)
	}
	for i, e := range b.entries {
		kept := e.Value != nil
		if want := i >= 2; kept != want {
			t.Errorf("entry %d: value kept %v, want %v", i, kept, want)
		}
	}
	if b.retained != 2*len("kvalue") {
		t.Errorf("retained %d bytes, want %d", b.retained, 2*len("kvalue"))
	}
}

// mergingTarget is a fake target whose writes merge into what is stored:
// an upsert keeps the fields it leaves out, so a delete followed by an
// upsert of the key cannot stand for both.
type mergingTarget struct {
	fakeTarget
	mu   sync.Mutex
	sent []change.Item
}

func (m *mergingTarget) Supersedes(older, newer change.Record) bool {
	if newer.Op == change.OpDelete {
		return true
	}
	if older.Op == change.OpDelete {
		return false
	}
	for k := range older.Data {
		if newer.Data[k] == nil {
			return false
		}
	}
	return true
}

func (m *mergingTarget) Upsert(ctx context.Context, items []change.Item) (change.Result, error) {
	m.mu.Lock()
	m.sent = append(m.sent, items...)
	m.mu.Unlock()
	return m.fakeTarget.Upsert(ctx, items)
}

// For a target whose writes merge, the newer upsert of a key stands for an
// older one only when it sets every field the older sets, and never for a
// delete before it: then both are sent, in order.
func TestCoalescerKeepsWhatMergingWritesMean(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tg := &mergingTarget{}
		pub := &fakePub{}
		h := newLoop(t, Config{Linger: time.Second, MaxRecords: 10}, tg, pub)
		h.sendData("a", `{"n":1}`)
		h.msgs <- kafkaread.Message{Offset: 1, Key: []byte("a"), Value: []byte(`{"op":"delete"}`)}
		h.next++
		h.sendData("a", `{"n":2}`)
		h.sendData("a", `{"m":3}`)
		h.sendData("a", `{"m":4,"n":5}`)
		h.sendData("b", `{"x":1}`)
		time.Sleep(time.Second)
		h.wantCommit(6)
		var got []string
		for _, it := range tg.sent {
			got = append(got, fmt.Sprint(it.Record.Key, " ", it.Record.Op, " ", it.Record.Data))
		}
		want := []string{"a delete map[]", "a upsert map[n:2]", "a upsert map[m:4 n:5]", "b upsert map[x:1]"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("sent %q, want %q", got, want)
		}
		c := pub.published()[0].Audit.Counts
		if c.Collapsed != 2 || c.Records != 6 {
			t.Errorf("counts %+v, want 2 collapsed of 6", c)
		}
	})
}

// When the target rejects an event that superseded an older one, the older
// is sent after all, and then again every later event of its key that was
// written: the key's last write stays its newest event.
func TestReviveResendsTheKeysLaterWrites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tg := &mergingTarget{}
		pub := &fakePub{}
		h := newLoop(t, Config{Linger: time.Second, MaxRecords: 10}, tg, pub)
		h.sendData("a", `{"n":1}`)
		h.sendData("a", `{"n":2,"reject":true}`) // supersedes the first; the target rejects it
		h.sendData("a", `{"m":3}`)               // does not supersede: sent beside it
		time.Sleep(time.Second)
		h.wantCommit(3)
		var got []string
		for _, it := range tg.sent {
			got = append(got, fmt.Sprint(it.Record.Data))
		}
		want := []string{"map[n:2 reject:true]", "map[m:3]", "map[n:1]", "map[m:3]"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("sent %q, want %q", got, want)
		}
		c := pub.published()[0].Audit.Counts
		if c.Created != 2 || c.DeadLettered != 1 || c.Collapsed != 0 {
			t.Errorf("counts %+v, want 2 written and 1 dead-lettered", c)
		}
	})
}

// A partition with a backlog gathers past a request's worth even while its
// sender is free, so that the backlog goes in whole requests: the batch goes
// once the partition has caught up, the buffer is full, or it has gathered
// for five seconds.
func TestBacklogGathersWhileBehind(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tg := &fakeTarget{calls: make(chan int, 10)}
		h := newLoop(t, Config{Linger: 10 * time.Millisecond, MaxRecords: 2, BufferKeys: 100}, tg, &fakePub{})
		behind := func(key string, hwm int64) {
			h.msgs <- kafkaread.Message{Offset: h.next, Key: []byte(key), Value: []byte(`{"op":"upsert","data":{}}`), HighWaterMark: hwm}
			h.next++
		}
		for i := 0; i < 10; i++ { // offsets 0..9; the last one has caught up
			behind(fmt.Sprint("k", i), 10)
		}
		if n := <-tg.calls; n != 10 {
			t.Fatalf("the backlog went as a batch of %d, want 10", n)
		}
		h.wantCommit(10)
		// Still behind, and nothing more comes: the batch goes after 5 s.
		behind("x", 100)
		behind("y", 100)
		behind("z", 100)
		time.Sleep(4999 * time.Millisecond)
		synctest.Wait()
		select {
		case n := <-tg.calls:
			t.Fatalf("a batch of %d went before the gathering time", n)
		default:
		}
		time.Sleep(time.Millisecond)
		if n := <-tg.calls; n != 3 {
			t.Fatalf("batch of %d, want 3", n)
		}
		h.wantCommit(13)
	})
}
