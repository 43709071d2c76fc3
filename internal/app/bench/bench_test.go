package bench

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gcupsert/gcupsert/decode"
	"github.com/gcupsert/gcupsert/mirror"
	"github.com/gcupsert/gcupsert/upsert"
	"github.com/gcupsert/gcupsert/upsert/customobjects"
)

func TestStreamEventsAreValidUpserts(t *testing.T) {
	c, err := upsert.NewClient(upsert.ClientConfig{BaseURL: "http://127.0.0.1:1", ClientID: "a", ClientSecret: "b"})
	if err != nil {
		t.Fatal(err)
	}
	sch := []byte(`{"type":"object","required":["customerName","accountNumber","regionId","status"],"properties":{"accountNumber":{"type":"string","pattern":"^AN-[0-9]{6}$"},"status":{"enum":["active","inactive","prospect"]}}}`)
	co, err := customobjects.New(c, customobjects.Config{Schema: "s", SchemaJSON: sch})
	if err != nil {
		t.Fatal(err)
	}
	msgs := Stream(500, 100, 3, "r")
	seen := map[int]bool{}
	for i, m := range msgs {
		rec, rerr := decode.Envelope(m.Key, m.Value)
		if rerr != nil {
			t.Fatalf("event %d: %v", i, rerr)
		}
		if _, rerr := co.Prepare(rec); rerr != nil {
			t.Fatalf("event %d: %v", i, rerr)
		}
		if m.Partition != partitionOf(string(m.Key), 3) {
			t.Fatalf("event %d on partition %d", i, m.Partition)
		}
		seen[m.Partition] = true
	}
	if len(seen) != 3 {
		t.Errorf("partitions used: %v", seen)
	}
	if !bytes.Equal(msgs[0].Key, msgs[100].Key) || bytes.Equal(msgs[0].Value, msgs[100].Value) {
		t.Error("keys do not repeat every 100 events with changed values")
	}
}

func TestPrintTableMarksMissingFigures(t *testing.T) {
	var out bytes.Buffer
	PrintTable(&out, []Result{{Scenario: "a", Events: 10, Seconds: 2, EventsPerSec: 5, TooMany: ip(0), BudgetUsed: fp(0.5)}})
	s := out.String()
	for _, want := range []string{"scenario", "50.0%", " -"} {
		if !strings.Contains(s, want) {
			t.Errorf("table lacks %q:\n%s", want, s)
		}
	}
}

// The mirror's stream is sync events the mirror reads, in source order
// per partition, and its count of live keys is right.
func TestSyncStreamIsReadableAndCounted(t *testing.T) {
	msgs, live := SyncStream(1000, 300, 3)
	last := map[string]bool{} // key -> deleted by its last event
	next := map[int]int64{}
	for i, m := range msgs {
		e, err := mirror.ParseSync(m.Value)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if e.Key != string(m.Key) || e.Source.Partition != m.Partition || e.Source.Offset != next[m.Partition] {
			t.Fatalf("event %d: key %q partition %d offset %d", i, e.Key, e.Source.Partition, e.Source.Offset)
		}
		next[m.Partition]++
		last[e.Key] = e.Delete
	}
	want := 0
	for _, deleted := range last {
		if !deleted {
			want++
		}
	}
	if live != want || want == 0 || want == len(last) {
		t.Errorf("live %d, want %d of %d keys", live, want, len(last))
	}
}
