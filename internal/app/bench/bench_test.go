package bench

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

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

func TestGoalsPrintMetAndMissed(t *testing.T) {
	var out bytes.Buffer
	PrintTable(&out, []Result{
		{Scenario: "a", Events: 1, Seconds: 1, EventsPerSec: 1, Goals: []Goal{atMost("CPU per 1k events", 0.04, 0.03, "s", 3)}},
		{Scenario: "b", Events: 1, Seconds: 1, EventsPerSec: 1, Goals: []Goal{below("peak RSS", 120, 150, "MB", 0), atMost("429 responses", 0, 0, "", 0)}},
	})
	s := out.String()
	for _, want := range []string{"missed 1/1", " met", "goal CPU per 1k events <= 0.030 s: 0.040 s, missed by 0.010 s (33%)",
		"goal peak RSS < 150 MB: 120 MB, met (by 30 MB (20%))", "goal 429 responses <= 0: 0, met"} {
		if !strings.Contains(s, want) {
			t.Errorf("table lacks %q:\n%s", want, s)
		}
	}
}

func TestWindowCountsFollowTheEmulatorsWindows(t *testing.T) {
	t0 := time.Now()
	at := func(s float64) apiRequest { return apiRequest{start: t0.Add(time.Duration(s * float64(time.Second)))} }
	// A window opens at the first request after the previous one ended.
	reqs := []apiRequest{at(0), at(59.9), at(60), at(61), at(119.9), at(120.1), at(1)}
	if got := windowCounts(reqs, time.Minute); !slices.Equal(got, []int{3, 3, 1}) {
		t.Errorf("requests per window %v, want [3 3 1]", got)
	}
	if got := windowCounts(nil, time.Minute); len(got) != 0 {
		t.Errorf("windows of no request %v, want none", got)
	}
}

func TestRealRowsAreSelectable(t *testing.T) {
	o := Options{Only: map[string]bool{"real-1m": true}}
	if !o.wantsReal() || !o.wantReal("real-1m") || o.wantReal("real-instant") {
		t.Error("real-1m alone is not selected alone")
	}
	o.Only = map[string]bool{"real": true}
	for _, r := range realRows {
		if !o.wantReal(r) {
			t.Errorf("--only real does not select %s", r)
		}
	}
	o.Only = map[string]bool{"inproc": true}
	if o.wantsReal() {
		t.Error("--only inproc selects real rows")
	}
}

func TestPartitionGapsSumTheTimeBetweenAPartitionsRequests(t *testing.T) {
	t0 := time.Now()
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	// Two keys of different partitions (of 3).
	var k0, k1 string
	for i := 0; k0 == "" || k1 == ""; i++ {
		k := fmt.Sprintf("acc-%07d", i)
		switch p := partitionOf(k, 3); {
		case p == 0 && k0 == "":
			k0 = k
		case p == 1 && k1 == "":
			k1 = k
		}
	}
	reqs := []apiRequest{
		{start: ms(0), end: ms(50), firstID: k0}, {start: ms(60), end: ms(110), firstID: k0}, {start: ms(130), end: ms(180), firstID: k0},
		{start: ms(0), end: ms(50), firstID: k1}, {start: ms(50), end: ms(100), firstID: k1},
	}
	gaps, busiest := partitionGaps(reqs, 3)
	if busiest["partition"] != 0 || busiest["requests"] != 3 || busiest["betweenRequestsSeconds"] != 0.03 || busiest["requestSeconds"] != 0.15 {
		t.Errorf("busiest %v", busiest)
	}
	if gaps["betweenRequestsMsMean"] != 15.0 {
		t.Errorf("gaps %v, want a mean of 15 ms", gaps)
	}
}
