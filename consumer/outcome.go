package consumer

import (
	"time"

	"github.com/gcupsert/gcupsert/sink"
	"github.com/gcupsert/gcupsert/upsert"
)

// BatchReport tells an Observer what became of one batch.
type BatchReport struct {
	Topic                   string
	Partition               int
	FirstOffset, LastOffset int64
	Target, Schema          string
	Records                 int // source messages in the batch
	Created, Updated        int
	Deleted                 int
	Collapsed               int
	DeadLetters             map[string]int // by "class/code"
	Attempts                int
	Latency                 time.Duration // upsert time, retries included
	Items                   int           // records sent to the target
	Bytes                   int           // request body bytes of the items
}

// outcomes turns a batch whose item entries all have an outcome into the
// outbound events and a report; res holds the batch's attempts and
// correlation ids.
func outcomes(b *batch, res upsert.Result, t Target, workerID string, latency time.Duration, now time.Time) (sink.Batch, BatchReport) {
	id := sink.BatchID(b.topic, b.partition, b.first(), b.last())
	rep := BatchReport{
		Topic: b.topic, Partition: b.partition, FirstOffset: b.first(), LastOffset: b.last(),
		Target: t.Name(), Schema: t.Schema(), Records: len(b.entries), Attempts: res.Attempts,
		Latency: latency, Items: len(b.items), DeadLetters: map[string]int{},
		Bytes: t.Limits().BodySize(len(b.items), b.itemBytes),
	}
	var out sink.Batch
	for _, e := range b.entries {
		src := sink.Source{Topic: b.topic, Partition: b.partition, Offset: e.offset}
		var rerr *upsert.RecordError
		attempts := 0
		switch e.kind {
		case entryCollapsed:
			rep.Collapsed++
			continue
		case entryRejected:
			rerr = e.err
		case entryItem:
			o := *e.outcome
			attempts = o.Attempts
			if o.Status == upsert.StatusRejected {
				rerr = o.Err
				if rerr == nil {
					rerr = &upsert.RecordError{Class: "api", Code: "rejected", Message: "rejected by the target without a reason"}
				}
				break
			}
			switch o.Status {
			case upsert.StatusCreated:
				rep.Created++
			case upsert.StatusUpdated:
				rep.Updated++
			case upsert.StatusDeleted:
				rep.Deleted++
			}
			out.Syncs = append(out.Syncs, sink.Sync{
				BatchID: id, Key: e.recKey, Operation: o.Status.String(),
				Target: t.Name(), Schema: t.Schema(), Record: o.Written, RecordJSON: o.WrittenJSON, Source: src, Time: now,
			})
			continue
		}
		rep.DeadLetters[rerr.Class+"/"+rerr.Code]++
		out.DeadLetters = append(out.DeadLetters, sink.DeadLetter{
			Key: e.key, Value: e.value, Source: src,
			Class: rerr.Class, Code: rerr.Code, Status: rerr.Status, Message: rerr.Message,
			Fields: fieldsOrEmpty(rerr.Fields), CorrelationID: rerr.CorrelationID, Attempts: attempts, Time: now,
		})
	}
	dead := len(out.DeadLetters)
	status := "SUCCESS"
	switch {
	case dead > 0 && len(out.Syncs) == 0:
		status = "FAILED"
	case dead > 0:
		status = "PARTIAL"
	}
	ids := res.CorrelationIDs
	if ids == nil {
		ids = []string{}
	}
	out.Audit = sink.Audit{
		BatchID: id, Target: t.Name(), Schema: t.Schema(), Status: status,
		Counts: sink.Counts{
			Records: len(b.entries), Created: rep.Created, Updated: rep.Updated, Deleted: rep.Deleted,
			DeadLettered: dead, Collapsed: rep.Collapsed,
		},
		Attempts: res.Attempts, Latency: latency, CorrelationIDs: ids,
		Topic: b.topic, Partition: b.partition, FirstOffset: b.first(), LastOffset: b.last(),
		WorkerID: workerID, Time: now,
	}
	return out, rep
}

func fieldsOrEmpty(f []upsert.FieldError) []upsert.FieldError {
	if f == nil {
		return []upsert.FieldError{}
	}
	return f
}
