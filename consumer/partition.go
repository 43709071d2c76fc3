package consumer

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/gcupsert/gcupsert/internal/clock"
	"github.com/gcupsert/gcupsert/upsert"
)

// partitionWorker owns one assigned partition for one generation.
type partitionWorker struct {
	c         *Consumer
	topic     string
	partition int
	start     int64
	target    Target
	decoder   Decoder
	commit    func(topic string, partition int, next int64)
	log       *slog.Logger
}

// sent is what the sender goroutine reports back.
type sent struct {
	next int64 // offset to commit; valid when err is nil
	err  error
}

func (w *partitionWorker) limits() batchLimits {
	tl := w.target.Limits()
	l := batchLimits{target: tl, maxRecords: tl.MaxRecords, maxBytes: tl.MaxBytes}
	if m := w.c.cfg.MaxRecords; m > 0 && m < l.maxRecords {
		l.maxRecords = m
	}
	if m := w.c.cfg.MaxBytes; m > 0 && m < l.maxBytes {
		l.maxBytes = m
	}
	l.maxEntries = 10 * l.maxRecords
	if l.maxEntries < 1000 {
		l.maxEntries = 1000
	}
	l.maxRetained = 4 * l.maxBytes
	return l
}

// run reads the partition until fetchCtx ends, then waits for the in-flight
// batch (bounded by workCtx) and returns. The current unsent batch is
// abandoned uncommitted.
func (w *partitionWorker) run(fetchCtx, workCtx context.Context) {
	cfg := w.c.cfg
	w.log = w.c.log.With("topic", w.topic, "partition", w.partition)
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:        cfg.Brokers,
		Topic:          w.topic,
		Partition:      w.partition,
		Dialer:         cfg.Dialer,
		MinBytes:       1,
		MaxBytes:       8 << 20,
		MaxWait:        cfg.MaxWait,
		ReadBackoffMin: 100 * time.Millisecond,
		ReadBackoffMax: 2 * time.Second,
	})
	defer r.Close()
	if err := r.SetOffset(w.start); err != nil {
		w.log.Error("cannot position the partition reader", "offset", w.start, "err", err)
		return
	}

	msgs := make(chan kafka.Message, 64)
	fetchDone := make(chan struct{})
	go func() {
		defer close(fetchDone)
		defer close(msgs)
		for {
			m, err := r.FetchMessage(fetchCtx)
			if err != nil {
				if fetchCtx.Err() != nil {
					return
				}
				w.log.Warn("fetch failed; retrying", "err", err)
				if clock.Sleep(fetchCtx, cfg.Clock, time.Second) != nil {
					return
				}
				continue
			}
			select {
			case msgs <- m:
			case <-fetchCtx.Done():
				return
			}
		}
	}()
	defer func() { <-fetchDone }()
	w.loop(msgs, workCtx)
}

// loop batches messages and hands full or lingered batches to the sender.
func (w *partitionWorker) loop(msgs <-chan kafka.Message, workCtx context.Context) {
	l := w.limits()
	cur := newBatch(w.topic, w.partition)
	var (
		carry    *kafka.Message // a message that did not fit cur
		inflight chan sent      // nil when no batch is in flight
		linger   clock.Timer
		lingerC  <-chan time.Time
		lingered bool
		expected = w.start // next offset this worker has seen
	)
	stopLinger := func() {
		if linger != nil {
			linger.Stop()
			linger, lingerC = nil, nil
		}
		lingered = false
	}
	defer stopLinger()
	// add places m into cur and reports whether it fit.
	add := func(m kafka.Message) bool {
		rec, derr := w.decoder.Decode(m.Key, m.Value)
		var it upsert.Item
		if derr == nil {
			it, derr = w.target.Prepare(rec)
		}
		raw := len(m.Key) + len(m.Value)
		size := -1
		if derr == nil {
			size = it.Size()
		}
		if !cur.fits(l, rec.Key, size, raw) {
			return false
		}
		if derr != nil {
			cur.addRejected(m.Offset, m.Key, m.Value, derr)
		} else {
			cur.addItem(m.Offset, m.Key, m.Value, it)
		}
		if linger == nil && !lingered {
			if w.c.cfg.Linger <= 0 {
				lingered = true
			} else {
				linger = w.c.cfg.Clock.NewTimer(w.c.cfg.Linger)
				lingerC = linger.C()
			}
		}
		return true
	}
	for {
		// Hand the batch over when it is ready and the sender is idle.
		if inflight == nil && !cur.empty() && (carry != nil || lingered || cur.full(l)) {
			b := cur
			cur = newBatch(w.topic, w.partition)
			stopLinger()
			inflight = make(chan sent, 1)
			go w.send(workCtx, b, inflight)
			if carry != nil {
				m := *carry
				carry = nil
				add(m) // always fits an empty batch
			}
		}
		in := msgs
		if carry != nil || cur.full(l) {
			in = nil // back-pressure until the sender is free
		}
		select {
		case m, ok := <-in:
			if !ok { // fetching stopped: finish the in-flight batch only
				if inflight != nil {
					if s := <-inflight; s.err == nil {
						w.commit(w.topic, w.partition, s.next)
					}
				}
				return
			}
			if m.Offset != expected && expected >= 0 {
				w.log.Debug("offset gap (compaction or transaction markers)", "expected", expected, "got", m.Offset)
			}
			expected = m.Offset + 1
			if m.HighWaterMark > 0 {
				w.c.cfg.Observer.Fetched(w.topic, w.partition, m.HighWaterMark-m.Offset-1)
			}
			if !add(m) {
				carry = &m
			}
		case <-lingerC:
			linger, lingerC, lingered = nil, nil, true
		case s := <-inflight:
			inflight = nil
			if s.err != nil {
				// The generation ended or the drain timed out: stop without
				// committing past the failed batch.
				return
			}
			w.commit(w.topic, w.partition, s.next)
		case <-workCtx.Done():
			if inflight != nil {
				<-inflight
			}
			return
		}
	}
}

// upsertItems sends items until the target gives every one an outcome,
// retrying a batch with no outcome after BatchPause until ctx ends.
func (w *partitionWorker) upsertItems(ctx context.Context, b *batch, items []upsert.Item) (upsert.Result, error) {
	cfg := w.c.cfg
	for {
		res, err := w.target.Upsert(ctx, items)
		if err == nil && len(res.Outcomes) != len(items) {
			err = fmt.Errorf("target returned %d outcomes for %d records", len(res.Outcomes), len(items))
		}
		if err == nil {
			return res, nil
		}
		if ctx.Err() != nil {
			return upsert.Result{}, ctx.Err()
		}
		lvl := slog.LevelWarn
		if !upsert.IsRetryable(err) {
			lvl = slog.LevelError
		}
		w.log.Log(ctx, lvl, "batch has no outcome yet; retrying it, nothing past it is committed",
			"first_offset", b.first(), "last_offset", b.last(), "records", len(items), "pause", cfg.BatchPause, "err", err)
		cfg.Observer.BatchRetry(w.topic, w.partition, "upsert", err)
		if err := clock.Sleep(ctx, cfg.Clock, cfg.BatchPause); err != nil {
			return upsert.Result{}, err
		}
	}
}

// revive undoes a collapse whose newer event was rejected: the event it
// superseded is sent after all, so that a rejected event never hides an
// earlier valid one of the same key. It repeats down the chain of
// superseded events while they are rejected too.
func (w *partitionWorker) revive(ctx context.Context, b *batch, res *upsert.Result) error {
	var pending []int // entries rejected by the target that superseded another
	for i := range b.entries {
		if e := &b.entries[i]; e.kind == entryItem && e.outcome.Status == upsert.StatusRejected && e.prev >= 0 {
			pending = append(pending, i)
		}
	}
	for len(pending) > 0 {
		var items []upsert.Item
		var idx, next []int
		for _, ei := range pending {
			p := b.entries[ei].prev
			pe := &b.entries[p]
			rec, rerr := w.decoder.Decode(pe.key, pe.value)
			var it upsert.Item
			if rerr == nil {
				it, rerr = w.target.Prepare(rec)
			}
			pe.kind, pe.recKey = entryItem, rec.Key
			if rerr != nil {
				pe.outcome = &upsert.Outcome{Status: upsert.StatusRejected, Err: rerr}
				if pe.prev >= 0 {
					next = append(next, p)
				}
				continue
			}
			items = append(items, it)
			idx = append(idx, p)
		}
		if len(items) > 0 {
			r, err := w.upsertItems(ctx, b, items)
			if err != nil {
				return err
			}
			res.Attempts += r.Attempts
			res.CorrelationIDs = append(res.CorrelationIDs, r.CorrelationIDs...)
			for j, p := range idx {
				o := r.Outcomes[j]
				b.entries[p].outcome = &o
				if o.Status == upsert.StatusRejected && b.entries[p].prev >= 0 {
					next = append(next, p)
				}
			}
		}
		pending = next
	}
	return nil
}

// send upserts a batch, publishes its events and reports the offset to
// commit. It retries transient failures after BatchPause until ctx ends.
func (w *partitionWorker) send(ctx context.Context, b *batch, done chan<- sent) {
	w.c.cfg.Observer.BatchStarted(w.topic, w.partition)
	next, err := w.sendBatch(ctx, b)
	if err != nil {
		w.c.cfg.Observer.BatchAbandoned(w.topic, w.partition)
	}
	done <- sent{next: next, err: err}
}

func (w *partitionWorker) sendBatch(ctx context.Context, b *batch) (int64, error) {
	cfg := w.c.cfg
	select {
	case w.c.sem <- struct{}{}:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	defer func() { <-w.c.sem }()

	start := cfg.Clock.Now()
	var res upsert.Result
	if len(b.items) > 0 {
		var err error
		if res, err = w.upsertItems(ctx, b, b.items); err != nil {
			return 0, err
		}
		for i := range b.entries {
			if e := &b.entries[i]; e.kind == entryItem {
				e.outcome = &res.Outcomes[e.item]
			}
		}
		if err := w.revive(ctx, b, &res); err != nil {
			return 0, err
		}
	}
	latency := cfg.Clock.Now().Sub(start)
	events, rep := outcomes(b, res, w.target, cfg.WorkerID, latency, cfg.Clock.Now())
	for {
		err := w.c.pub.Publish(ctx, events)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		// The records have their outcomes; only the events are missing.
		// Publishing them again is safe (deterministic ids), and nothing is
		// committed until it works.
		w.log.Error("outbound events not acknowledged; retrying them, nothing past the batch is committed",
			"first_offset", b.first(), "last_offset", b.last(), "pause", cfg.BatchPause, "err", err)
		cfg.Observer.BatchRetry(w.topic, w.partition, "publish", err)
		if err := clock.Sleep(ctx, cfg.Clock, cfg.BatchPause); err != nil {
			return 0, err
		}
	}
	cfg.Observer.BatchDone(rep)
	w.log.Debug("batch done", "first_offset", b.first(), "last_offset", b.last(), "records", rep.Records,
		"created", rep.Created, "updated", rep.Updated, "deleted", rep.Deleted, "dead_letters", len(events.DeadLetters), "latency", latency)
	return b.last() + 1, nil
}
