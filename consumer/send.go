package consumer

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/internal/retry"
)

// flight is one batch handed to the sender. The sender closes upserted
// once the target gave every record an outcome (or it failed), and
// finished once the batch's events are acknowledged (or it failed); next
// and err are set before finished is closed.
type flight struct {
	upserted, finished chan struct{}
	next               int64
	err                error
}

func newFlight() *flight {
	return &flight{upserted: make(chan struct{}), finished: make(chan struct{})}
}

// send upserts a batch, then, once the previous batch's events are
// acknowledged, publishes its own: the next batch's requests go while this
// one's events are written, and the events of one key stay in order.
func (w *partitionWorker) send(ctx context.Context, b *batch, prev, f *flight) {
	for _, h := range w.c.hooks.started {
		h.OnBatchStarted(w.topic, w.partition)
	}
	out, err := w.upsertBatch(ctx, b)
	close(f.upserted)
	if err == nil && prev != nil {
		<-prev.finished
		if prev.err != nil {
			err = fmt.Errorf("the previous batch failed: %w", prev.err)
		}
	}
	if err == nil {
		err = w.publish(ctx, b, out)
	}
	if err != nil {
		for _, h := range w.c.hooks.abandoned {
			h.OnBatchAbandoned(w.topic, w.partition)
		}
	} else {
		f.next = b.last() + 1
	}
	f.err = err
	w.c.buffer.Release(b.reserved)
	b.reserved = 0
	close(f.finished)
}

// upsertBatch sends a batch's items until each has an outcome, with at
// most MaxInflight partitions sending at once.
func (w *partitionWorker) upsertBatch(ctx context.Context, b *batch) (change.Batch, error) {
	cfg := w.c.cfg
	select {
	case w.c.sem <- struct{}{}:
	case <-ctx.Done():
		return change.Batch{}, ctx.Err()
	}
	defer func() { <-w.c.sem }()
	start := cfg.Clock.Now()
	var res change.Result
	if len(b.items) > 0 {
		var err error
		if res, err = w.upsertItems(ctx, b, b.items); err != nil {
			return change.Batch{}, err
		}
		for i := range b.entries {
			if e := &b.entries[i]; e.kind == entryItem {
				e.Outcome = res.Outcomes[e.item]
			}
		}
		if err := w.revive(ctx, b, &res); err != nil {
			return change.Batch{}, err
		}
	}
	return w.finish(b, res, cfg.Clock.Now().Sub(start)), nil
}

// publish writes the batch's outbound events until acknowledged.
func (w *partitionWorker) publish(ctx context.Context, b *batch, out change.Batch) error {
	err := w.retry(ctx, b, "publish", func() error { return w.c.pub.PublishOutcomes(ctx, out) })
	if err != nil {
		return err
	}
	for _, h := range w.c.hooks.done {
		h.OnBatchDone(out)
	}
	w.log.Debug("batch done", "first_offset", b.first(), "last_offset", b.last(), "records", len(out.Entries), "latency", out.Latency)
	return nil
}

// finish is the batch as the publisher and the hooks see it.
func (w *partitionWorker) finish(b *batch, res change.Result, latency time.Duration) change.Batch {
	t := w.route.Target
	out := change.Batch{
		Topic: b.topic, Partition: b.partition, Target: t.Name(), Schema: t.Schema(),
		Entries: make([]change.Entry, len(b.entries)), Attempts: res.Attempts,
		CorrelationIDs: res.CorrelationIDs, Latency: latency,
		Items: len(b.items), Bytes: t.Limits().BodySize(len(b.items), b.itemBytes),
	}
	for i := range b.entries {
		out.Entries[i] = b.entries[i].Entry
	}
	return out
}

// retry runs op under the consumer's retry policy until it succeeds or ctx
// ends. A permanent failure stops the consumer (fail); any other failure
// is retried, for only an operator or time can mend it, and nothing past
// the batch is committed meanwhile.
func (w *partitionWorker) retry(ctx context.Context, b *batch, stage string, op func() error) error {
	var stopped *StoppedError
	err := w.c.cfg.Retry.Do(ctx, w.c.cfg.Clock, func() error {
		err := op()
		if err != nil && retry.IsPermanent(err) && ctx.Err() == nil {
			stopped = &StoppedError{Topic: w.topic, Partition: w.partition, Stage: stage, Err: err}
			return retry.Permanent(stopped)
		}
		return err
	}, func(err error, wait time.Duration) {
		w.log.Log(ctx, slog.LevelError, "batch not done; retrying it, nothing past it is committed",
			"stage", stage, "first_offset", b.first(), "last_offset", b.last(), "wait", wait, "error", err)
		for _, h := range w.c.hooks.retry {
			h.OnBatchRetry(w.topic, w.partition, stage, err)
		}
	})
	if stopped != nil {
		w.c.fail(stopped)
		return stopped
	}
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// upsertItems sends items until the target gives every one an outcome.
func (w *partitionWorker) upsertItems(ctx context.Context, b *batch, items []change.Item) (change.Result, error) {
	var res change.Result
	err := w.retry(ctx, b, "upsert", func() error {
		r, err := w.route.Target.Upsert(ctx, items)
		if err == nil && len(r.Outcomes) != len(items) {
			err = fmt.Errorf("target returned %d outcomes for %d records", len(r.Outcomes), len(items))
		}
		res = r
		return err
	})
	if err != nil {
		return change.Result{}, err
	}
	return res, nil
}

// revive undoes a collapse whose newer event was rejected: the event it
// superseded is sent after all, so that a rejected event never hides an
// earlier valid one of the same key. It repeats down the chain of
// superseded events while they are rejected too.
func (w *partitionWorker) revive(ctx context.Context, b *batch, res *change.Result) error {
	var pending []int // entries rejected by the target that superseded another
	for i := range b.entries {
		if e := &b.entries[i]; e.kind == entryItem && e.Outcome.Status == change.StatusRejected && e.prev >= 0 {
			pending = append(pending, i)
		}
	}
	for len(pending) > 0 {
		items, idx, next := w.reviveItems(b, pending)
		items, idx = followers(b, pending, items, idx)
		if len(items) > 0 {
			r, err := w.upsertItems(ctx, b, items)
			if err != nil {
				return err
			}
			res.Attempts += r.Attempts
			res.CorrelationIDs = append(res.CorrelationIDs, r.CorrelationIDs...)
			for j, p := range idx {
				b.entries[p].Outcome = r.Outcomes[j]
				if r.Outcomes[j].Status == change.StatusRejected && b.entries[p].prev >= 0 {
					next = append(next, p)
				}
			}
		}
		pending = next
	}
	return nil
}

// followers appends, after the revived items, the items of the same keys
// that were written after the pending entries (a Coalescer target's events
// that did not supersede): they are sent again after the revived ones, so
// that the key's last write stays its newest event.
func followers(b *batch, pending []int, items []change.Item, idx []int) ([]change.Item, []int) {
	if len(items) == 0 {
		return items, idx
	}
	revived := map[string]int{} // key -> first pending entry
	for _, ei := range pending {
		if k := b.entries[ei].RecordKey; revived[k] == 0 {
			revived[k] = ei + 1
		}
	}
	for j := range b.entries {
		e := &b.entries[j]
		first := revived[e.RecordKey]
		if first == 0 || j < first || e.kind != entryItem || !e.Outcome.Status.Written() || b.itemEntry[e.item] != j {
			continue
		}
		items = append(items, b.items[e.item])
		idx = append(idx, j)
	}
	return items, idx
}

// reviveItems prepares again the entries that the pending ones superseded:
// the items to send and their entries, and the entries rejected again that
// superseded another in turn.
func (w *partitionWorker) reviveItems(b *batch, pending []int) (items []change.Item, idx, next []int) {
	for _, ei := range pending {
		p := b.entries[ei].prev
		pe := &b.entries[p]
		rec, rerr := w.route.Decoder.Decode(pe.Key, pe.Value)
		var it change.Item
		if rerr == nil {
			it, rerr = w.route.Target.Prepare(rec)
		}
		pe.kind, pe.RecordKey, pe.Op = entryItem, rec.Key, rec.Op
		if rerr != nil {
			pe.Outcome = change.Outcome{Status: change.StatusRejected, Err: rerr}
			if pe.prev >= 0 {
				next = append(next, p)
			}
			continue
		}
		items = append(items, it)
		idx = append(idx, p)
	}
	return items, idx, next
}
