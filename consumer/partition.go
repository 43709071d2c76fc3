package consumer

import (
	"context"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/internal/clock"
)

// partitionWorker owns one assigned partition for one generation.
type partitionWorker struct {
	c         *Consumer
	topic     string
	partition int
	start     int64
	route     Route
	commit    func(topic string, partition int, next int64)
	log       *slog.Logger
}

func (c *Consumer) newPartitionWorker(topic string, partition int, start int64, commit func(string, int, int64)) *partitionWorker {
	return &partitionWorker{
		c: c, topic: topic, partition: partition, start: start, route: c.cfg.Routes[topic], commit: commit,
		log: c.log.With("topic", topic, "partition", partition),
	}
}

// sent is what the sender goroutine reports back.
type sent struct {
	next int64 // offset to commit; valid when err is nil
	err  error
}

func (w *partitionWorker) limits() batchLimits {
	tl := w.route.Target.Limits()
	l := batchLimits{target: tl, maxRecords: tl.MaxRecords, maxBytes: tl.MaxBytes}
	if m := w.c.cfg.MaxRecords; m > 0 && m < l.maxRecords {
		l.maxRecords = m
	}
	if m := w.c.cfg.MaxBytes; m > 0 && m < l.maxBytes {
		l.maxBytes = m
	}
	l.maxEntries = max(10*l.maxRecords, 1000)
	l.maxRetained = 4 * l.maxBytes
	return l
}

// run reads the partition until fetchCtx ends, then waits for the in-flight
// batch (bounded by workCtx) and returns. The current unsent batch is
// abandoned uncommitted.
func (w *partitionWorker) run(fetchCtx, workCtx context.Context) {
	cfg := w.c.cfg
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
		w.log.Error("cannot position the partition reader", "offset", w.start, "error", err)
		return
	}
	msgs := make(chan kafka.Message, 64)
	fetchDone := make(chan struct{})
	go func() {
		defer close(fetchDone)
		w.fetch(fetchCtx, r, msgs)
	}()
	defer func() { <-fetchDone }()
	w.loop(workCtx, msgs)
}

// fetch reads messages into msgs until ctx ends, then closes msgs.
func (w *partitionWorker) fetch(ctx context.Context, r *kafka.Reader, msgs chan<- kafka.Message) {
	defer close(msgs)
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			w.log.Warn("fetch failed; retrying", "error", err)
			if clock.Sleep(ctx, w.c.cfg.Clock, time.Second) != nil {
				return
			}
			continue
		}
		select {
		case msgs <- m:
		case <-ctx.Done():
			return
		}
	}
}

// loop batches messages and hands full or lingered batches to the sender.
// It returns when msgs is closed (after the in-flight batch finished) or
// when workCtx ends.
func (w *partitionWorker) loop(workCtx context.Context, msgs <-chan kafka.Message) {
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
		if !w.add(l, cur, m) {
			return false
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
				for _, h := range w.c.hooks.fetched {
					h.OnFetched(w.topic, w.partition, m.HighWaterMark-m.Offset-1)
				}
			}
			if !add(m) {
				carry = &m
			}
		case <-lingerC:
			linger, lingerC, lingered = nil, nil, true
		case s := <-inflight:
			inflight = nil
			if s.err != nil {
				// The generation ended, the drain timed out or the consumer
				// stopped: stop without committing past the failed batch.
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

// add decodes and prepares m and places it into cur, or reports that it
// does not fit.
func (w *partitionWorker) add(l batchLimits, cur *batch, m kafka.Message) bool {
	rec, rerr := w.route.Decoder.Decode(m.Key, m.Value)
	var it change.Item
	if rerr == nil {
		it, rerr = w.route.Target.Prepare(rec)
	}
	raw := len(m.Key) + len(m.Value)
	size := -1
	if rerr == nil {
		size = it.Size()
	}
	if !cur.fits(l, rec.Key, size, raw) {
		return false
	}
	if rerr != nil {
		cur.addRejected(m.Offset, m.Key, m.Value, rec, rerr)
	} else {
		cur.addItem(m.Offset, m.Key, m.Value, it)
	}
	return true
}
