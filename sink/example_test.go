package sink_test

import (
	"context"
	"log"
	"time"

	"github.com/gcupsert/gcupsert/sink"
)

// A batch of records 40..42 of partition 0: two written, one rejected.
func Example() {
	p, err := sink.New(sink.Config{
		Brokers:         []string{"localhost:9092"},
		AuditTopic:      "gcupsert.audit",
		SyncTopic:       "gcupsert.sync",
		DeadLetterTopic: "gcupsert.deadletter",
		WorkerID:        "worker-1",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()

	src := func(off int64) sink.Source { return sink.Source{Topic: "accounts", Partition: 0, Offset: off} }
	id := sink.BatchID("accounts", 0, 40, 42)
	b := sink.Batch{
		Audit: sink.Audit{
			Target: "customobjects", Schema: "account", Status: sink.StatusPartial,
			Counts:   sink.Counts{Records: 3, Created: 1, Deleted: 1, DeadLettered: 1},
			Attempts: 1, Latency: 35 * time.Millisecond,
			Topic: "accounts", Partition: 0, FirstOffset: 40, LastOffset: 42,
		},
		Syncs: []sink.Sync{
			{BatchID: id, Key: "acc-1", Operation: sink.OperationCreated, Target: "customobjects", Schema: "account",
				Record: map[string]any{"id": "acc-1", "name": "Acme"}, Source: src(40)},
			{BatchID: id, Key: "acc-2", Operation: sink.OperationDeleted, Target: "customobjects", Schema: "account",
				Source: src(41)},
		},
		DeadLetters: []sink.DeadLetter{
			{Key: []byte("acc-3"), Value: []byte(`{"op":"upsert","data":{"name":""}}`), Source: src(42),
				Class: "validation", Code: "schema.violation", Message: "name is too short",
				Fields: []map[string]string{{"field": "/name", "code": "minLength", "message": "length must be >= 1, but got 0"}}},
		},
	}
	// Returns nil only once all four events are acknowledged by every
	// in-sync replica; retries until ctx ends otherwise.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.Publish(ctx, b); err != nil {
		log.Printf("offsets 40..42 stay uncommitted: %v", err)
	}
}
