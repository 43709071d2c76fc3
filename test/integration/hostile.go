package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/gcupsert/gcupsert/internal/app/demo"
	"github.com/gcupsert/gcupsert/sink"
)

// notesSchema is the demo's record with a free-text field, so that a valid
// record can be larger than the sync topic takes.
var notesSchema = strings.Replace(demo.Schema, `"employees":     {"type": "integer", "minimum": 0}`,
	`"employees":     {"type": "integer", "minimum": 0}, "notes": {"type": "string"}`, 1)

// hostileLimit is the outbound topics' max.message.bytes in this test.
const hostileLimit = 200_000

// Hostile and oversized events among valid ones: an empty (not null)
// value, keys that are not UTF-8, blank, or dot segments, text that is not
// UTF-8, a number beyond any range, 10,000 unknown fields in a value larger
// than the dead-letter topic takes, and a valid record larger than the
// sync topic takes. Every event gets exactly one outcome, nothing is
// damaged, every outbound event fits its topic, everything is committed
// and the worker stays healthy.
func testHostileAndOversizedEvents(t *testing.T, c Cluster) {
	e := newEnv(t, c)
	group := e.group("g-hostile")
	for _, topic := range []string{e.topics.Sync, e.topics.DeadLetter} {
		setMaxMessageBytes(t, e.brokers, topic, hostileLimit)
	}
	if err := e.emu.AddSchema("accountsWithNotes", []byte(notesSchema)); err != nil {
		t.Fatal(err)
	}
	schema := filepath.Join(t.TempDir(), "notes.json")
	if err := os.WriteFile(schema, []byte(notesSchema), 0o600); err != nil {
		t.Fatal(err)
	}
	valid := func(key string, extra map[string]any) []byte {
		data := map[string]any{"customerName": "C", "accountNumber": "AN-000001", "regionId": "r1", "status": "active"}
		for k, v := range extra {
			data[k] = v
		}
		v, _ := json.Marshal(map[string]any{"op": "upsert", "data": data})
		return v
	}
	unknown := map[string]any{}
	for i := range 10000 {
		unknown[fmt.Sprintf("unknownField%05d", i)] = "x"
	}
	type event struct {
		key, value []byte
		code       string // the dead letter's code; "" for a write
	}
	events := []event{
		{[]byte("h-keep"), valid("h-keep", nil), ""},
		{[]byte("h-del"), valid("h-del", nil), ""},
		{[]byte("h-keep"), []byte{}, "empty.value"},
		{[]byte("h-del"), nil, ""},
		{[]byte("h-\xff"), valid("x", nil), "invalid.key"},
		{[]byte("."), valid(".", nil), ""},
		{[]byte(".."), valid("..", nil), ""},
		{[]byte("."), nil, ""},
		{[]byte("   "), valid("blank", nil), "blank.key"},
		{[]byte("h-utf"), []byte("{\"op\":\"upsert\",\"data\":{\"customerName\":\"a\xffb\"}}"), "invalid.utf8"},
		{[]byte("h-inf"), []byte(`{"op":"upsert","data":{"customerName":"C","accountNumber":"AN-000001","regionId":"r1","status":"active","employees":1e400}}`), "schema.violation"},
		{[]byte("h-fields"), valid("h-fields", unknown), "schema.violation"},
		{[]byte("h-huge"), valid("h-huge", map[string]any{"notes": strings.Repeat("n", 300_000)}), ""},
	}
	evs := make([]demo.Event, len(events))
	for i, ev := range events {
		evs[i] = demo.Event{Partition: 0, Key: ev.key, Value: ev.value}
	}
	e.produce(evs)
	cfg := e.config(group)
	cfg.Routes[0].Schema, cfg.Routes[0].SchemaFile = "accountsWithNotes", schema
	cfg.Routes[0].UniqueFields = nil
	r := e.start(cfg)
	e.waitCommitted(group, e.ends(), 60*time.Second)
	if ok, why := r.w.Metrics().Healthy(); !ok {
		t.Errorf("worker unhealthy after the hostile events: %s", why)
	}
	r.halt(t)

	var wantDead []string
	for _, ev := range events {
		if ev.code != "" {
			wantDead = append(wantDead, ev.code)
		}
	}
	dead := e.read(e.topics.DeadLetter)
	var gotDead []string
	for _, m := range dead {
		gotDead = append(gotDead, header(m, "gcupsert.error.code"))
		if n := sink.Size(m); n > hostileLimit {
			t.Errorf("dead letter of %d bytes on a topic that takes %d", n, hostileLimit)
		}
	}
	if strings.Join(gotDead, ",") != strings.Join(wantDead, ",") {
		t.Errorf("dead letters %v, want %v", gotDead, wantDead)
	}
	for _, m := range dead {
		switch header(m, "gcupsert.event.id") {
		case fmt.Sprintf("%s-0-2", e.topics.Input):
			if null, err := valueIsNull(e.brokers, e.topics.DeadLetter, m.Offset); err != nil || null || len(m.Value) != 0 {
				t.Errorf("the empty value came back as %q (null %v, %v)", m.Value, null, err)
			}
		case fmt.Sprintf("%s-0-11", e.topics.Input):
			if header(m, sink.HeaderValueOmitted) != "true" || header(m, sink.HeaderFieldsDropped) == "" {
				t.Errorf("10,000 unknown fields: value omitted %q, fields dropped %q", header(m, sink.HeaderValueOmitted), header(m, sink.HeaderFieldsDropped))
			}
		case fmt.Sprintf("%s-0-4", e.topics.Input):
			if !bytes.Equal(m.Key, []byte("h-\xff")) {
				t.Errorf("the key that is not UTF-8 came back as %q", m.Key)
			}
		}
	}
	recs := e.emu.Records("accountsWithNotes")
	for key, want := range map[string]bool{"h-keep": true, "h-del": false, ".": false, "..": true, "h-huge": true, "h-\ufffd": false} {
		if _, got := recs[key]; got != want {
			t.Errorf("record %q stored %v, want %v", key, got, want)
		}
	}
	omitted := 0
	for _, m := range e.read(e.topics.Sync) {
		if n := sink.Size(m); n > hostileLimit {
			t.Errorf("sync event of %d bytes on a topic that takes %d", n, hostileLimit)
		}
		if bytes.Contains(m.Value, []byte(`"recordOmitted":true`)) {
			omitted++
		}
	}
	if omitted != 1 {
		t.Errorf("%d sync events left their record out, want 1 (h-huge)", omitted)
	}
	// Every event has exactly one outcome: the audits cover every offset
	// once, and their counts add up.
	var total, outcomes, covered int
	for _, m := range e.read(e.topics.Audit) {
		var a struct {
			Counts struct{ Records, Created, Updated, Deleted, DeadLettered, Collapsed int }
			Source struct{ FirstOffset, LastOffset int }
		}
		if err := json.Unmarshal(m.Value, &a); err != nil {
			t.Fatal(err)
		}
		c := a.Counts
		total += c.Records
		outcomes += c.Created + c.Updated + c.Deleted + c.DeadLettered + c.Collapsed
		covered += a.Source.LastOffset - a.Source.FirstOffset + 1
	}
	if total != len(events) || outcomes != len(events) || covered != len(events) {
		t.Errorf("audits: %d records, %d outcomes, %d offsets covered; want %d of each", total, outcomes, covered, len(events))
	}
}

// setMaxMessageBytes sets a topic's max.message.bytes.
func setMaxMessageBytes(t *testing.T, brokers []string, topic string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := adminClient(brokers).IncrementalAlterConfigs(ctx, &kafka.IncrementalAlterConfigsRequest{
		Resources: []kafka.IncrementalAlterConfigsRequestResource{{
			ResourceType: kafka.ResourceTypeTopic, ResourceName: topic,
			Configs: []kafka.IncrementalAlterConfigsRequestConfig{{Name: "max.message.bytes", Value: fmt.Sprint(n), ConfigOperation: kafka.ConfigOperationSet}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Resources {
		if r.Error != nil {
			t.Fatalf("max.message.bytes of %s: %v", topic, r.Error)
		}
	}
}

// valueIsNull reads the record at offset of partition 0 of topic with a
// fetch request, which tells a null value from an empty one (a Reader
// does not).
func valueIsNull(brokers []string, topic string, offset int64) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := adminClient(brokers).Fetch(ctx, &kafka.FetchRequest{Topic: topic, Partition: 0, Offset: offset, MaxBytes: 1 << 20})
	if err != nil {
		return false, err
	}
	for {
		rec, err := res.Records.ReadRecord()
		if err != nil {
			return false, fmt.Errorf("offset %d not found: %w", offset, err)
		}
		if rec.Offset == offset {
			return rec.Value == nil, nil
		}
	}
}
