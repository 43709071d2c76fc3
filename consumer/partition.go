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
	// A coalescing batch holds at least a request's worth.
	l.bufferKeys = max(w.c.cfg.BufferKeys, l.maxRecords)
	l.free = l.maxBytes
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

// loop batches messages and hands full or lingered batches to the sender:
// a batch's requests may go while the previous batch's events are written
// (at most two batches in flight, one of them upserting), and offsets are
// committed in order once a batch is done. It returns when msgs is closed
// (after the batches in flight finished) or when workCtx ends.
func (w *partitionWorker) loop(workCtx context.Context, msgs <-chan kafkaread.Message) {
	s := &loopState{w: w, l: w.limits(), cur: newBatch(w.topic, w.partition), expected: w.start}
	defer s.stopLinger()
	defer func() { w.c.buffer.Release(s.cur.reserved) }() // the unsent batch
	for {
		s.handOver(workCtx)
		in := msgs
		if s.carry != nil || s.cur.full(s.l, s.gathering()) {
			in = nil // back-pressure until the sender is free
		}
		var finished <-chan struct{}
		if len(s.pending) > 0 {
			finished = s.pending[0].finished
		}
		select {
		case m, ok := <-in:
			if !ok { // fetching stopped: finish the batches in flight only
				s.drain()
				return
			}
			s.received(m)
		case <-s.lingerC:
			s.linger, s.lingerC = nil, nil // handOver decides, by the batch's age
		case <-s.upserted:
			s.upserted = nil
		case <-finished:
			if !s.done() {
				// The generation ended, the drain timed out or the consumer
				// stopped: stop without committing past the failed batch.
				return
			}
		case <-workCtx.Done():
			s.drain()
			return
		}
	}
}

// done pops the oldest batch in flight, which has finished, and commits
// it; false when it failed.
func (s *loopState) done() bool {
	f := s.pending[0]
	s.pending = s.pending[1:]
	if f.err != nil {
		return false
	}
	s.w.commit(s.w.topic, s.w.partition, f.next)
	return true
}

// drain waits for the batches in flight, committing those that finished
// in order until one failed.
func (s *loopState) drain() {
	for len(s.pending) > 0 {
		<-s.pending[0].finished
		if !s.done() {
			return
		}
	}
}

// loopState is what the loop of one partition worker holds between
// messages. Only the loop's goroutine uses it.
type loopState struct {
	w     *partitionWorker
	l     batchLimits
	cur   *batch
	carry *kafkaread.Message // a message that did not fit cur
	// pending are the batches in flight, oldest first; upserted is the
	// newest one's, nil once its upsert is done.
	pending  []*flight
	upserted <-chan struct{}
	// linger wakes the loop at due, when cur may be ready by its age.
	linger  clock.Timer
	lingerC <-chan time.Time
	due     time.Time
	started time.Time // when cur got its first message
	// behind says the last message fetched had others after it on the
	// broker: the partition has a backlog.
	behind   bool
	expected int64 // next offset the worker has seen
}

func (s *loopState) stopLinger() {
	if s.linger != nil {
		s.linger.Stop()
		s.linger, s.lingerC = nil, nil
	}
	s.due = time.Time{}
}

// busy reports whether the sender cannot take cur now: a batch is
// upserting, or two are in flight.
func (s *loopState) busy() bool { return s.upserted != nil || len(s.pending) >= 2 }

// gathering reports whether cur coalesces past a request's worth
// (batchLimits): while the sender is busy, and while the partition has a
// backlog, so that a backlog goes in whole requests, each key's latest
// event only.
func (s *loopState) gathering() bool { return s.busy() || s.behind }

// gatherMax bounds how long a batch gathers while its partition has a
// backlog: long enough for a backlog of a few hot keys to be read whole
// (the buffer bounds a larger one), so that each key goes once.
func (s *loopState) gatherMax() time.Duration { return max(10*s.w.c.cfg.Linger, 5*time.Second) }

// ready reports whether cur may be sent, and otherwise when it will be by
// its age: when a message waits for room; with a backlog, once the buffer
// is full (a message then waits) or the batch has gathered for gatherMax;
// without one, once it holds a request's worth or has lingered.
func (s *loopState) ready(now time.Time) (bool, time.Time) {
	wait := s.w.c.cfg.Linger
	if s.behind {
		wait = s.gatherMax()
	}
	due := s.started.Add(wait)
	switch {
	case s.carry != nil, !now.Before(due):
		return true, due
	case !s.behind && s.cur.full(s.l, false):
		return true, due
	}
	return false, due
}

// handOver starts sending cur when it is ready, no batch is upserting and
// at most one is publishing; otherwise it sets the timer for when cur will
// be ready by its age.
func (s *loopState) handOver(workCtx context.Context) {
	if s.busy() || s.cur.empty() {
		return
	}
	now := s.w.c.cfg.Clock.Now()
	ok, due := s.ready(now)
	if !ok {
		if !due.Equal(s.due) {
			s.stopLinger()
			s.due = due
			s.linger = s.w.c.cfg.Clock.NewTimer(due.Sub(now))
			s.lingerC = s.linger.C()
		}
		return
	}
	b := s.cur
	s.cur = newBatch(s.w.topic, s.w.partition)
	s.stopLinger()
	var prev *flight
	if len(s.pending) > 0 {
		prev = s.pending[len(s.pending)-1]
	}
	f := newFlight()
	s.pending = append(s.pending, f)
	s.upserted = f.upserted
	go s.w.send(workCtx, b, prev, f)
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
	// m joins cur as the messages before it did; then whether more wait
	// decides how cur goes on.
	if !s.add(m) {
		s.carry = &m
	}
	s.behind = m.HighWaterMark > m.Offset+1
}

// add places m into cur, starting the linger timer, and reports whether
// it fit.
func (s *loopState) add(m kafkaread.Message) bool {
	first := s.cur.empty()
	if !s.w.add(s.l, s.cur, m, s.gathering()) {
		return false
	}
	if first {
		s.started = s.w.c.cfg.Clock.Now()
	}
	return true
}

// add decodes and prepares m and places it into cur, or reports that it
// does not fit.
func (w *partitionWorker) add(l batchLimits, cur *batch, m kafkaread.Message, coalescing bool) bool {
	rec, rerr := w.route.Decoder.Decode(m.Key, m.Value)
	var it change.Item
	if rerr == nil {
		it, rerr = w.route.Target.Prepare(rec)
	}
	separate := rerr == nil && w.separate(cur, it.Record)
	raw := len(m.Key) + len(m.Value)
	size := -1
	if rerr == nil {
		size = it.Size()
	}
	if !cur.fits(l, rec.Key, size, raw, coalescing, separate, w.c.buffer) {
		return false
	}
	if rerr != nil {
		cur.addRejected(m.Offset, m.Key, m.Value, rec, rerr)
	} else {
		cur.addItem(m.Offset, m.Key, m.Value, it, coalescing, separate)
	}
	return true
}

// separate reports whether rec must be sent beside the item of its key
// already in the batch, not in its place: the target is a Coalescer and
// says rec does not supersede it.
func (w *partitionWorker) separate(cur *batch, rec change.Record) bool {
	co, ok := w.route.Target.(Coalescer)
	if !ok {
		return false
	}
	i, ok := cur.byKey[rec.Key]
	return ok && !co.Supersedes(cur.items[i].Record, rec)
}
