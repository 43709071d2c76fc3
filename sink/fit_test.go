package sink

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/internal/clock"
)

// Every outbound event fits its topic: a dead letter carrying one error
// per field for 10,000 unknown fields, a dead letter of a value larger
// than the topic takes, and a sync event of a 1.5 MB record were each once
// refused by the writer, wedging their partition.
func TestEventsAreMadeToFitTheirTopic(t *testing.T) {
	const limit = 1 << 20
	v, err := NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	src := change.Source{Topic: "in", Partition: 1, Offset: 7}
	fields := make([]change.FieldError, 10000)
	for i := range fields {
		fields[i] = change.FieldError{Field: fmt.Sprintf("unknownField%05d", i), Code: "additionalProperties", Message: "field not allowed by the schema"}
	}
	manyErrors := DeadLetter{Key: []byte("k"), Value: []byte(`{"op":"upsert"}`), Source: src, Time: time.Now(),
		Err: change.RecordError{Class: "validation", Code: "schema.violation", Message: "many", Fields: fields}}
	m, err := fitDeadLetter(manyErrors, limit)
	if err != nil {
		t.Fatal(err)
	}
	h := headerMap(t, m.Headers)
	if len(h[HeaderErrorFields]) > MaxFieldsHeader || h[HeaderFieldsDropped] == "" || string(m.Value) != `{"op":"upsert"}` {
		t.Errorf("fields header %d bytes, dropped %q; value %q", len(h[HeaderErrorFields]), h[HeaderFieldsDropped], m.Value)
	}
	if err := v.Validate(KindDeadLetter, m); err != nil {
		t.Error(err)
	}

	big := DeadLetter{Key: []byte("k2"), Value: []byte(strings.Repeat("x", 3<<20)), Source: src, Time: time.Now(),
		Err: change.RecordError{Class: "decode", Code: "invalid.json", Message: "not JSON"}}
	m, err = fitDeadLetter(big, limit)
	if err != nil {
		t.Fatal(err)
	}
	h = headerMap(t, m.Headers)
	if Size(m) > limit || h[HeaderValueOmitted] != "true" || !strings.Contains(string(m.Value), `"offset":7`) || string(m.Key) != "k2" {
		t.Errorf("size %d, omitted %q, value %.80s, key %q", Size(m), h[HeaderValueOmitted], m.Value, m.Key)
	}
	if err := v.Validate(KindDeadLetter, m); err != nil {
		t.Error(err)
	}

	rec := map[string]any{"blob": strings.Repeat("y", 1500<<10)}
	s := Sync{BatchID: "in-1-7-7", Key: "k3", Operation: OperationUpdated, Target: "t", Schema: "s", Record: rec, Source: src, Time: time.Now()}
	m, err = fitSync(s, limit)
	if err != nil {
		t.Fatal(err)
	}
	if Size(m) > limit || !strings.Contains(string(m.Value), `"record":null,"recordOmitted":true`) {
		t.Errorf("size %d, value %.200s", Size(m), m.Value)
	}
	if err := v.Validate(KindSync, m); err != nil {
		t.Error(err)
	}
	small, _ := fitSync(Sync{BatchID: "in-1-7-7", Key: "k4", Operation: OperationCreated, Target: "t", Schema: "s",
		Record: map[string]any{"a": 1}, Source: src, Time: time.Now()}, limit)
	if strings.Contains(string(small.Value), "recordOmitted") {
		t.Errorf("a small record was omitted: %s", small.Value)
	}
}

// End to end on the embedded broker: a batch whose events would each
// exceed the topic's default max.message.bytes is published, not refused.
func TestPublishFitsOversizedEvents(t *testing.T) {
	c := newCluster(t)
	p := newPublisher(t, c, clock.Real, nil)
	src := func(off int64) change.Source { return change.Source{Topic: "in", Partition: 0, Offset: off} }
	fields := make([]change.FieldError, 10000)
	for i := range fields {
		fields[i] = change.FieldError{Field: fmt.Sprintf("f%05d", i), Code: "additionalProperties", Message: "field not allowed by the schema"}
	}
	b := Batch{
		Audit: Audit{Status: StatusPartial, Topic: "in", FirstOffset: 0, LastOffset: 1, Counts: change.Counts{Records: 2, Updated: 1, DeadLettered: 1}},
		Syncs: []Sync{{Key: "a", Operation: OperationUpdated, Target: "t", Schema: "s", Source: src(0),
			Record: map[string]any{"blob": strings.Repeat("z", 1500<<10)}}},
		DeadLetters: []DeadLetter{{Key: []byte("b"), Value: []byte(strings.Repeat("v", 1500<<10)), Source: src(1),
			Err: change.RecordError{Class: "validation", Code: "schema.violation", Fields: fields}}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.Publish(ctx, b); err != nil {
		t.Fatalf("Publish: %v", err)
	}
}
