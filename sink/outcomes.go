package sink

import (
	"context"

	"github.com/gcupsert/gcupsert/change"
)

// BatchOf maps a finished batch's outcomes to its outbound events: a sync
// event per record written or deleted, a dead letter per message rejected
// (before sending or by the target), nothing for a collapsed one, and the
// audit event with the counts. Times and the worker id are left for
// Publish to fill.
func BatchOf(b change.Batch) Batch {
	id := BatchID(b.Topic, b.Partition, b.First(), b.Last())
	var out Batch
	for i := range b.Entries {
		e := &b.Entries[i]
		src := change.Source{Topic: b.Topic, Partition: b.Partition, Offset: e.Offset}
		o := &e.Outcome
		switch {
		case o.Status == change.StatusCollapsed:
		case o.Status.Written():
			out.Syncs = append(out.Syncs, Sync{
				BatchID: id, Key: e.RecordKey, Operation: o.Status.String(), Target: b.Target, Schema: b.Schema,
				Record: o.Written, RecordJSON: o.WrittenJSON, Source: src,
			})
		default:
			rerr := o.Err
			if rerr == nil {
				rerr = &change.RecordError{Class: change.ClassAPI, Code: "rejected", Message: "rejected by the target without a reason"}
			}
			out.DeadLetters = append(out.DeadLetters, DeadLetter{Key: e.Key, Value: e.Value, Source: src, Err: *rerr, Attempts: o.Attempts})
		}
	}
	c := b.Counts()
	status := StatusSuccess
	switch {
	case c.DeadLettered > 0 && len(out.Syncs) == 0:
		status = StatusFailed
	case c.DeadLettered > 0:
		status = StatusPartial
	}
	ids := b.CorrelationIDs
	if ids == nil {
		ids = []string{}
	}
	out.Audit = Audit{
		BatchID: id, Target: b.Target, Schema: b.Schema, Status: status, Counts: c,
		Attempts: b.Attempts, Latency: b.Latency, CorrelationIDs: ids,
		Topic: b.Topic, Partition: b.Partition, FirstOffset: b.First(), LastOffset: b.Last(),
	}
	return out
}

// PublishOutcomes publishes the outbound events of a finished batch
// (BatchOf) and returns once all are acknowledged, as Publish does.
func (p *Publisher) PublishOutcomes(ctx context.Context, b change.Batch) error {
	return p.Publish(ctx, BatchOf(b))
}
