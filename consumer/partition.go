package consumer

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/internal/clock"
	"github.com/gcupsert/gcupsert/internal/kafkaread"
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
	f := &kafkaread.Fetcher{
		Client: w.c.client, Topic: w.topic, Partition: w.partition, Offset: w.start,
		Reset: int64(w.c.cfg.StartOffset), MaxWait: w.c.cfg.MaxWait, Clock: w.c.cfg.Clock, Log: w.log,
	}
	msgs := make(chan kafkaread.Message, 64)
	var fetching sync.WaitGroup
	fetching.Go(func() { f.Run(fetchCtx, msgs) })
	defer fetching.Wait()
	w.loop(workCtx, msgs)
}

// loop batches messages and hands full or lingered batches to the sender.
// It returns when msgs is closed (after the in-flight batch finished) or
// when workCtx ends.
func (w *partitionWorker) loop(workCtx context.Context, msgs <-chan kafkaread.Message) {
	s := &loopState{w: w, l: w.limits(), cur: newBatch(w.topic, w.partition), expected: w.start}
	defer s.stopLinger()
	for {
		s.handOver(workCtx)
		in := msgs
		if s.carry != nil || s.cur.full(s.l) {
			in = nil // back-pressure until the sender is free
		}
		select {
		case m, ok := <-in:
			if !ok { // fetching stopped: finish the in-flight batch only
				if s.inflight != nil {
					if r := <-s.inflight; r.err == nil {
						w.commit(w.topic, w.partition, r.next)
					}
				}
				return
			}
			s.received(m)
		case <-s.lingerC:
			s.linger, s.lingerC, s.lingered = nil, nil, true
		case r := <-s.inflight:
			s.inflight = nil
			if r.err != nil {
				// The generation ended, the drain timed out or the consumer
				// stopped: stop without committing past the failed batch.
				return
			}
			w.commit(w.topic, w.partition, r.next)
		case <-workCtx.Done():
			if s.inflight != nil {
				<-s.inflight
			}
			return
		}
	}
}

// loopState is what the loop of one partition worker holds between
// messages. Only the loop's goroutine uses it.
type loopState struct {
	w        *partitionWorker
	l        batchLimits
	cur      *batch
	carry    *kafkaread.Message // a message that did not fit cur
	inflight chan sent          // nil when no batch is in flight
	linger   clock.Timer
	lingerC  <-chan time.Time
	lingered bool
	expected int64 // next offset the worker has seen
}

func (s *loopState) stopLinger() {
	if s.linger != nil {
		s.linger.Stop()
		s.linger, s.lingerC = nil, nil
	}
	s.lingered = false
}

// handOver starts sending cur when it is ready and the sender is idle.
func (s *loopState) handOver(workCtx context.Context) {
	if s.inflight != nil || s.cur.empty() || (s.carry == nil && !s.lingered && !s.cur.full(s.l)) {
		return
	}
	b := s.cur
	s.cur = newBatch(s.w.topic, s.w.partition)
	s.stopLinger()
	s.inflight = make(chan sent, 1)
	go s.w.send(workCtx, b, s.inflight)
	if s.carry != nil {
		m := *s.carry
		s.carry = nil
		s.add(m) // always fits an empty batch
	}
}

// received takes a fetched message.
func (s *loopState) received(m kafkaread.Message) {
	w := s.w
	if m.Offset != s.expected && s.expected >= 0 {
		w.log.Debug("offset gap (compaction or transaction markers)", "expected", s.expected, "got", m.Offset)
	}
	s.expected = m.Offset + 1
	if m.HighWaterMark > 0 {
		for _, h := range w.c.hooks.fetched {
			h.OnFetched(w.topic, w.partition, m.HighWaterMark-m.Offset-1)
		}
	}
	if !s.add(m) {
		s.carry = &m
	}
}

// add places m into cur, starting the linger timer, and reports whether
// it fit.
func (s *loopState) add(m kafkaread.Message) bool {
	if !s.w.add(s.l, s.cur, m) {
		return false
	}
	if s.linger == nil && !s.lingered {
		if d := s.w.c.cfg.Linger; d <= 0 {
			s.lingered = true
		} else {
			s.linger = s.w.c.cfg.Clock.NewTimer(d)
			s.lingerC = s.linger.C()
		}
	}
	return true
}

// add decodes and prepares m and places it into cur, or reports that it
// does not fit.
func (w *partitionWorker) add(l batchLimits, cur *batch, m kafkaread.Message) bool {
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
