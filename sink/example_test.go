package sink_test

import (
	"fmt"
	"time"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/sink"
)

// A finished batch of offsets 40..43 of partition 0: one record created,
// one deleted, one rejected by the schema and one superseded inside the
// batch. BatchOf maps it to its outbound events; Publish writes them.
func ExampleBatchOf() {
	b := change.Batch{
		Topic: "accounts", Partition: 0, Target: "customobjects", Schema: "account",
		Attempts: 1, Latency: 35 * time.Millisecond, CorrelationIDs: []string{"corr-1"},
		Entries: []change.Entry{
			{Offset: 40, Key: []byte("acc-1"), RecordKey: "acc-1", Op: change.OpUpsert,
				Outcome: change.Outcome{Status: change.StatusCollapsed}},
			{Offset: 41, Key: []byte("acc-2"), RecordKey: "acc-2", Op: change.OpDelete,
				Outcome: change.Outcome{Status: change.StatusDeleted, Attempts: 1}},
			{Offset: 42, Key: []byte("acc-3"), Value: []byte(`{"op":"upsert","data":{"name":""}}`), RecordKey: "acc-3",
				Outcome: change.Outcome{Status: change.StatusRejected, Err: &change.RecordError{
					Class: "validation", Code: "schema.violation", Message: "name is too short",
					Fields: []change.FieldError{{Field: "name", Code: "minLength", Message: "length must be >= 1"}}}}},
			{Offset: 43, Key: []byte("acc-1"), RecordKey: "acc-1", Op: change.OpUpsert,
				Outcome: change.Outcome{Status: change.StatusCreated, Attempts: 1,
					WrittenJSON: []byte(`{"id":"acc-1","name":"Acme"}`)}},
		},
	}
	events := sink.BatchOf(b)
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	events.Audit.Time, events.Audit.WorkerID = at, "worker-1"
	for _, s := range events.Syncs {
		s.Time = at
		m := s.Message()
		fmt.Printf("sync %s %s\n", m.Key, m.Value)
	}
	for _, d := range events.DeadLetters {
		m := d.Message()
		fmt.Printf("dead letter %s: %s %s\n", m.Key, d.Err.Class, d.Err.Code)
	}
	m := events.Audit.Message()
	fmt.Printf("audit %s %s\n", m.Key, m.Value)
	// Output:
	// sync acc-2 {"version":1,"type":"sync","eventId":"accounts-0-41","batchId":"accounts-0-40-43","key":"acc-2","operation":"deleted","record":null,"target":"customobjects","schema":"account","source":{"topic":"accounts","partition":0,"offset":41},"time":"2026-12-01T09:00:00Z"}
	// sync acc-1 {"version":1,"type":"sync","eventId":"accounts-0-43","batchId":"accounts-0-40-43","key":"acc-1","operation":"created","record":{"id":"acc-1","name":"Acme"},"target":"customobjects","schema":"account","source":{"topic":"accounts","partition":0,"offset":43},"time":"2026-12-01T09:00:00Z"}
	// dead letter acc-3: validation schema.violation
	// audit accounts-0-40-43 {"version":1,"type":"audit","eventId":"accounts-0-40-43","batchId":"accounts-0-40-43","target":"customobjects","schema":"account","status":"PARTIAL","counts":{"records":4,"created":1,"updated":0,"deleted":1,"deadLettered":1,"collapsed":1},"attempts":1,"latencyMs":35,"correlationIds":["corr-1"],"source":{"topic":"accounts","partition":0,"firstOffset":40,"lastOffset":43},"workerId":"worker-1","time":"2026-12-01T09:00:00Z"}
}
