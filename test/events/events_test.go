// Package events checks that every event a demo run publishes on the audit,
// sync and dead-letter topics conforms to its published JSON Schema.
package events

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/gcupsert/gcupsert/internal/app/demo"
	"github.com/gcupsert/gcupsert/internal/inspect"
	"github.com/gcupsert/gcupsert/sink"
)

func TestEveryPublishedEventConformsToItsSchema(t *testing.T) {
	v, err := sink.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	topics := map[string]string{
		sink.KindAudit:      demo.AuditTopic,
		sink.KindSync:       demo.SyncTopic,
		sink.KindDeadLetter: demo.DeadLetterTopic,
	}
	var mu sync.Mutex
	read := map[string][]kafka.Message{}
	inspectFn := func(ctx context.Context, brokers []string) error {
		for kind, topic := range topics {
			msgs, err := inspect.ReadAll(ctx, brokers, topic)
			if err != nil {
				return fmt.Errorf("read %s: %w", topic, err)
			}
			mu.Lock()
			read[kind] = msgs
			mu.Unlock()
		}
		return nil
	}
	s, err := demo.Run(context.Background(), demo.Options{
		Events: 1500, Partitions: 3, InvalidRatio: 0.05, FaultRatio: 0.03, Seed: 11,
		Timeout: 2 * time.Minute, MetricsAddr: "", Inspect: inspectFn,
		BufferKeys: 1, // batches of one request each: successful and partial ones
	})
	if err != nil {
		t.Fatal(err)
	}
	if p := s.Problems(); len(p) > 0 {
		t.Fatalf("demo problems: %v", p)
	}
	mu.Lock()
	defer mu.Unlock()

	statuses, ops, classes := map[string]int{}, map[string]int{}, map[string]int{}
	for _, kind := range sink.EventKinds() {
		msgs := read[kind]
		if len(msgs) == 0 {
			t.Errorf("no %s events published", kind)
		}
		bad := 0
		for _, m := range msgs {
			if err := v.Validate(kind, m); err != nil {
				bad++
				if bad <= 5 {
					t.Errorf("%s partition %d offset %d: %v", kind, m.Partition, m.Offset, err)
				}
				continue
			}
			switch kind {
			case sink.KindAudit:
				statuses[field(t, m.Value, "status")]++
			case sink.KindSync:
				ops[field(t, m.Value, "operation")]++
			case sink.KindDeadLetter:
				classes[header(m, sink.HeaderErrorClass)]++
			}
		}
		if bad > 0 {
			t.Errorf("%d of %d %s events do not conform", bad, len(msgs), kind)
		}
	}
	// The run exercises the variants the schemas constrain.
	if len(read[sink.KindAudit]) != s.AuditEvents || len(read[sink.KindSync]) != s.SyncEvents || len(read[sink.KindDeadLetter]) != s.DeadLettered {
		t.Errorf("read %d/%d/%d events, summary %d/%d/%d", len(read[sink.KindAudit]), len(read[sink.KindSync]),
			len(read[sink.KindDeadLetter]), s.AuditEvents, s.SyncEvents, s.DeadLettered)
	}
	if statuses[sink.StatusSuccess] == 0 || statuses[sink.StatusPartial] == 0 {
		t.Errorf("audit statuses %v", statuses)
	}
	if ops[sink.OperationCreated] == 0 || ops[sink.OperationDeleted] == 0 {
		t.Errorf("sync operations %v", ops)
	}
	if classes["decode"] == 0 || classes["validation"] == 0 {
		t.Errorf("dead-letter classes %v", classes)
	}
	t.Logf("audit %d %v, sync %d %v, dead letters %d %v", len(read[sink.KindAudit]), statuses,
		len(read[sink.KindSync]), ops, len(read[sink.KindDeadLetter]), classes)

	if dir := os.Getenv("GCUPSERT_EVENTS_DUMP"); dir != "" {
		dump(t, dir, read)
	}
}

func field(t *testing.T, raw []byte, k string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	s, _ := m[k].(string)
	return s
}

func header(m kafka.Message, k string) string {
	for _, h := range m.Headers {
		if h.Key == k {
			return string(h.Value)
		}
	}
	return ""
}

// dump writes the events as JSON lines (dead letters as their
// sink.DeadLetterDocument), for documentation examples.
func dump(t *testing.T, dir string, read map[string][]kafka.Message) {
	t.Helper()
	for kind, msgs := range read {
		f, err := os.Create(filepath.Join(dir, kind+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			line := m.Value
			if kind == sink.KindDeadLetter {
				if line, err = sink.DeadLetterDocument(m); err != nil {
					t.Fatal(err)
				}
			}
			fmt.Fprintf(f, "%s\t%s\n", m.Key, line)
		}
		f.Close()
	}
}
