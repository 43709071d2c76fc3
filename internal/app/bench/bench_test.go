package bench

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gcupsert/gcupsert/decode"
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
