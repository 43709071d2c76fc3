package sink

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/segmentio/kafka-go"

	"github.com/gcupsert/gcupsert/change"
)

var eventTime = time.Date(2026, 3, 4, 5, 6, 7, 891000000, time.FixedZone("X", 3600))

func TestIDs(t *testing.T) {
	if got := BatchID("records", 2, 10, 19); got != "records-2-10-19" {
		t.Errorf("BatchID = %q", got)
	}
	if got := EventID(change.Source{Topic: "my-topic", Partition: 0, Offset: 7}); got != "my-topic-0-7" {
		t.Errorf("EventID = %q", got)
	}
}

func TestAuditMessage(t *testing.T) {
	a := Audit{
		Target: "customobjects", Schema: "account", Status: StatusPartial,
		Counts:   change.Counts{Records: 5, Created: 1, Updated: 2, Deleted: 0, DeadLettered: 1, Collapsed: 1},
		Attempts: 2, Latency: 1500 * time.Microsecond,
		CorrelationIDs: []string{"c1", "c2"},
		Topic:          "records", Partition: 1, FirstOffset: 100, LastOffset: 104,
		WorkerID: "w-1", Time: eventTime,
	}
	m := a.Message()
	want := `{"version":1,"type":"audit","eventId":"records-1-100-104","batchId":"records-1-100-104",` +
		`"target":"customobjects","schema":"account","status":"PARTIAL",` +
		`"counts":{"records":5,"created":1,"updated":2,"deleted":0,"deadLettered":1,"collapsed":1},` +
		`"attempts":2,"latencyMs":1.5,"correlationIds":["c1","c2"],` +
		`"source":{"topic":"records","partition":1,"firstOffset":100,"lastOffset":104},` +
		`"workerId":"w-1","time":"2026-03-04T04:06:07.891Z"}`
	if string(m.Value) != want {
		t.Errorf("audit value\n got %s\nwant %s", m.Value, want)
	}
	if string(m.Key) != "records-1-100-104" {
		t.Errorf("audit key = %q", m.Key)
	}
	if len(m.Headers) != 0 || m.Topic != "" {
		t.Errorf("audit headers %v topic %q", m.Headers, m.Topic)
	}

	// An explicit batch id is kept; nil correlation ids are [].
	a.BatchID, a.CorrelationIDs = "custom", nil
	m = a.Message()
	if !bytes.Contains(m.Value, []byte(`"eventId":"custom","batchId":"custom"`)) || !bytes.Contains(m.Value, []byte(`"correlationIds":[]`)) {
		t.Errorf("audit value %s", m.Value)
	}
	if string(m.Key) != "custom" {
		t.Errorf("audit key = %q", m.Key)
	}
}

func TestSyncMessage(t *testing.T) {
	s := Sync{
		BatchID: "records-0-5-9", Key: "acc-1", Operation: OperationUpdated,
		Target: "customobjects", Schema: "account",
		Record: map[string]any{"id": "acc-1", "name": "Acme", "n": 3},
		Source: change.Source{Topic: "records", Partition: 0, Offset: 7}, Time: eventTime,
	}
	m := s.Message()
	want := `{"version":1,"type":"sync","eventId":"records-0-7","batchId":"records-0-5-9","key":"acc-1",` +
		`"operation":"updated","record":{"id":"acc-1","n":3,"name":"Acme"},"target":"customobjects",` +
		`"schema":"account","source":{"topic":"records","partition":0,"offset":7},"time":"2026-03-04T04:06:07.891Z"}`
	if string(m.Value) != want {
		t.Errorf("sync value\n got %s\nwant %s", m.Value, want)
	}
	if string(m.Key) != "acc-1" {
		t.Errorf("sync key = %q", m.Key)
	}

	s.Operation, s.Record = OperationDeleted, nil
	if m := s.Message(); !bytes.Contains(m.Value, []byte(`"operation":"deleted","record":null,`)) {
		t.Errorf("delete sync value %s", m.Value)
	}

	s.Record = map[string]any{"bad": math.Inf(1)}
	if _, err := s.encode(); !errors.Is(err, ErrInvalidEvent) {
		t.Errorf("encode unencodable record: err = %v", err)
	}
	if m := s.Message(); !bytes.Contains(m.Value, []byte(`"record":null`)) {
		t.Errorf("unencodable record value %s", m.Value)
	}
}

func headerMap(t *testing.T, hs []kafka.Header) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, h := range hs {
		if _, dup := out[h.Key]; dup {
			t.Errorf("duplicate header %q", h.Key)
		}
		out[h.Key] = string(h.Value)
	}
	return out
}

func TestDeadLetterMessage(t *testing.T) {
	d := DeadLetter{
		Key: []byte("acc-9"), Value: []byte(`{"op":"upsert","key":"acc-9","data":{"x":1}} `),
		Source: change.Source{Topic: "records", Partition: 2, Offset: 41},
		Err: change.RecordError{Class: "validation", Code: "schema.violation", Status: 400, Message: "field x: wrong type",
			Fields: []change.FieldError{{Field: "x", Code: "type", Message: "want integer"}}, CorrelationID: "corr-1"},
		Attempts: 3, Time: eventTime,
	}
	m := d.Message()
	if !bytes.Equal(m.Key, d.Key) || !bytes.Equal(m.Value, d.Value) {
		t.Errorf("key/value changed: %q %q", m.Key, m.Value)
	}
	want := map[string]string{
		"gcupsert.version":              "1",
		"gcupsert.event.id":             "records-2-41",
		"gcupsert.error.class":          "validation",
		"gcupsert.error.code":           "schema.violation",
		"gcupsert.error.status":         "400",
		"gcupsert.error.message":        "field x: wrong type",
		"gcupsert.error.fields":         `[{"field":"x","code":"type","message":"want integer"}]`,
		"gcupsert.error.correlation.id": "corr-1",
		"gcupsert.attempts":             "3",
		"gcupsert.source.topic":         "records",
		"gcupsert.source.partition":     "2",
		"gcupsert.source.offset":        "41",
		"gcupsert.time":                 "2026-03-04T04:06:07.891Z",
	}
	got := headerMap(t, m.Headers)
	if len(got) != len(want) {
		t.Errorf("headers: got %d, want %d: %v", len(got), len(want), got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("header %s = %q, want %q", k, got[k], v)
		}
	}

	// The message does not alias the caller's slices.
	m.Key[0] = 'X'
	if d.Key[0] != 'a' {
		t.Error("KafkaMessage aliases the key")
	}

	// A tombstone stays a tombstone.
	d.Value = nil
	if m := d.Message(); m.Value != nil {
		t.Errorf("tombstone value = %q, want nil", m.Value)
	}
}

func TestDeadLetterFieldsAreAnArray(t *testing.T) {
	if h := headerMap(t, DeadLetter{}.Message().Headers)[HeaderErrorFields]; h != "[]" {
		t.Errorf("no fields: header %q, want []", h)
	}
}

func TestTruncate(t *testing.T) {
	if got := truncate("short", 10); got != "short" {
		t.Errorf("truncate short = %q", got)
	}
	long := strings.Repeat("é", 10) // 20 bytes
	got := truncate(long, 10)
	if len(got) > 10 || !utf8.ValidString(got) || !strings.HasSuffix(got, "...") {
		t.Errorf("truncate = %q (%d bytes)", got, len(got))
	}
	d := DeadLetter{Err: change.RecordError{Message: strings.Repeat("x", MaxMessageHeader+100)}}
	if h := headerMap(t, d.Message().Headers)[HeaderErrorMessage]; len(h) != MaxMessageHeader {
		t.Errorf("message header is %d bytes, want %d", len(h), MaxMessageHeader)
	}
}

func TestResend(t *testing.T) {
	msg := func(topic, key string) kafka.Message {
		m := kafka.Message{Topic: topic, Value: []byte(topic + "/" + key)}
		if key != "" {
			m.Key = []byte(key)
		}
		return m
	}
	msgs := []kafka.Message{
		msg("s", "a"), // 0 ok
		msg("s", "b"), // 1 failed
		msg("s", "a"), // 2 ok
		msg("s", "b"), // 3 ok, but after a failed b: re-sent
		msg("d", "b"), // 4 ok, other topic
		msg("d", ""),  // 5 failed, no key
		msg("d", ""),  // 6 ok, no key
	}
	got := resend(msgs, []bool{false, true, false, false, false, true, false})
	var names []string
	for _, m := range got {
		names = append(names, string(m.Value))
	}
	if want := "s/b s/b d/"; strings.Join(names, " ") != want {
		t.Errorf("resend = %q, want %q", strings.Join(names, " "), want)
	}
	if got := resend(msgs, make([]bool, len(msgs))); len(got) != 0 {
		t.Errorf("resend with no failure = %d messages", len(got))
	}
}

func TestFailed(t *testing.T) {
	msgs := make([]kafka.Message, 3)
	werr := kafka.WriteErrors{nil, errors.New("x"), nil}
	if got := failed(msgs, werr); got[0] || !got[1] || got[2] {
		t.Errorf("failed(WriteErrors) = %v", got)
	}
	if got := failed(msgs, errors.New("metadata")); !got[0] || !got[1] || !got[2] {
		t.Errorf("failed(other) = %v", got)
	}
}

func TestDeterministic(t *testing.T) {
	b := Batch{
		Audit: Audit{Status: StatusSuccess, Topic: "t", FirstOffset: 1, LastOffset: 2, Time: eventTime},
		Syncs: []Sync{{Key: "k", Operation: OperationCreated, Record: map[string]any{"b": 1, "a": []any{"x", 2.5}}, Source: change.Source{Topic: "t", Partition: 0, Offset: 1}, Time: eventTime}},
		DeadLetters: []DeadLetter{{Key: []byte("k2"), Value: []byte("v"), Source: change.Source{Topic: "t", Partition: 0, Offset: 2},
			Err: change.RecordError{Fields: []change.FieldError{{Field: "f"}}}, Time: eventTime}},
	}
	enc := func() []kafka.Message {
		return []kafka.Message{b.Audit.Message(), b.Syncs[0].Message(), b.DeadLetters[0].Message()}
	}
	first := enc()
	for i := 0; i < 20; i++ {
		for j, m := range enc() {
			if !bytes.Equal(m.Key, first[j].Key) || !bytes.Equal(m.Value, first[j].Value) || len(m.Headers) != len(first[j].Headers) {
				t.Fatalf("event %d differs between encodings", j)
			}
			for k := range m.Headers {
				if m.Headers[k].Key != first[j].Headers[k].Key || !bytes.Equal(m.Headers[k].Value, first[j].Headers[k].Value) {
					t.Fatalf("event %d header %d differs", j, k)
				}
			}
		}
	}
}
