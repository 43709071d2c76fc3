package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/gcupsert/gcupsert/internal/app/demo"
)

// Run runs the contract suite against c: every scenario as a subtest.
func Run(t *testing.T, c Cluster) {
	t.Logf("cluster: %s", c.Name())
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, Cluster)
	}{
		{"NoCommitBeforeBatchSucceeds", testNoCommitBeforeBatchSucceeds},
		{"RestartResumesFromCommittedOffsets", testRestartResumesFromCommittedOffsets},
		{"SecondMemberJoinsMidStream", testSecondMemberJoinsMidStream},
		{"InvalidEventsAreDeadLettered", testInvalidEventsAreDeadLettered},
		{"HostileAndOversizedEvents", testHostileAndOversizedEvents},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, c) })
	}
}

// validEvents makes n valid upserts over distinct keys.
func validEvents(n int, prefix string) demo.Dataset {
	ds := demo.Dataset{Expected: map[string]bool{}, InvalidByKind: map[string]int{}}
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("%s-%05d", prefix, i)
		v, _ := json.Marshal(map[string]any{"op": "upsert", "key": key, "data": map[string]any{
			"customerName": "C " + key, "accountNumber": fmt.Sprintf("AN-%06d", i), "regionId": "r1", "status": "active",
		}})
		ds.Events = append(ds.Events, demo.Event{Partition: demo.PartitionOf(key, partitions), Key: []byte(key), Value: v})
		ds.Expected[key] = true
	}
	return ds
}

// The worker must not commit while the API fails, and must commit
// everything once it recovers.
func testNoCommitBeforeBatchSucceeds(t *testing.T, c Cluster) {
	e := newEnv(t, c)
	group := e.group("g-down")
	e.emu.Down(true)
	ds := validEvents(150, "down")
	e.produce(ds.Events)
	r := e.start(e.config(group))
	eventually(t, 20*time.Second, "failed API attempts", func() bool { return e.emu.Stats().ByStatus[503] >= 6 })
	for p, off := range e.committed(group) {
		if off != -1 {
			t.Fatalf("partition %d committed %d while every upsert failed", p, off)
		}
	}
	if n := len(e.read(e.topics.Sync)); n != 0 {
		t.Fatalf("%d sync events published while every upsert failed", n)
	}
	e.emu.Down(false)
	e.waitCommitted(group, e.ends(), 30*time.Second)
	r.halt(t)
	e.checkEveryOffsetHasAnOutcome(ds)
	if n := len(e.read(e.topics.DeadLetter)); n != 0 {
		t.Fatalf("%d dead letters: transient failures must not dead-letter", n)
	}
}

// A worker stopped mid-stream and a new one started in the same group
// resume from the committed offsets and lose nothing.
func testRestartResumesFromCommittedOffsets(t *testing.T, c Cluster) {
	e := newEnv(t, c)
	group := e.group("g-restart")
	if err := e.emu.SetLatency(15 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	ds := demo.Generate(3000, partitions, 0.02, 11)
	e.produce(ds.Events)
	cfg := e.config(group)
	cfg.Batch.MaxRecords = 20
	cfg.Batch.BufferKeys = 1 // batches of one request, so that a stop finds work left
	r := e.start(cfg)
	eventually(t, 20*time.Second, "a first commit", func() bool {
		for _, off := range e.committed(group) {
			if off > 0 {
				return true
			}
		}
		return false
	})
	r.halt(t)
	mid := e.committed(group)
	end := e.ends()
	total, done := int64(0), int64(0)
	for p, n := range end {
		total += n
		done += max(mid[p], 0)
	}
	if done >= total {
		t.Fatalf("the first worker finished everything (%d of %d); the test needs a stop mid-stream", done, total)
	}
	t.Logf("stopped after committing %d of %d", done, total)
	e.emu.ClearFaults()
	r2 := e.start(cfg)
	e.waitCommitted(group, end, 60*time.Second)
	r2.halt(t)
	e.checkEveryOffsetHasAnOutcome(ds)
	if d := syncDuplicates(e.read(e.topics.Sync)); d != 0 {
		t.Errorf("%d duplicate sync events after a graceful stop; want none", d)
	}
}

// A second member joining mid-stream takes partitions over without loss.
func testSecondMemberJoinsMidStream(t *testing.T, c Cluster) {
	e := newEnv(t, c)
	group := e.group("g-join")
	if err := e.emu.SetLatency(10 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	ds := demo.Generate(4000, partitions, 0.02, 23)
	e.produce(ds.Events)
	cfg := e.config(group)
	cfg.Batch.MaxRecords = 20
	a := e.start(cfg)
	eventually(t, 20*time.Second, "a first commit", func() bool {
		for _, off := range e.committed(group) {
			if off > 0 {
				return true
			}
		}
		return false
	})
	cfgB := cfg
	cfgB.WorkerID = "second"
	b := e.start(cfgB)
	e.waitCommitted(group, e.ends(), 90*time.Second)
	a.halt(t)
	b.halt(t)
	e.checkEveryOffsetHasAnOutcome(ds)
	workers := map[string]int{}
	for _, m := range e.read(e.topics.Audit) {
		var a struct {
			WorkerID string `json:"workerId"`
		}
		_ = json.Unmarshal(m.Value, &a)
		workers[a.WorkerID]++
	}
	t.Logf("batches by worker: %v; duplicate sync events: %d", workers, syncDuplicates(e.read(e.topics.Sync)))
}

// Every kind of invalid event lands on the dead-letter topic, unchanged,
// with headers that say why.
func testInvalidEventsAreDeadLettered(t *testing.T, c Cluster) {
	e := newEnv(t, c)
	group := e.group("g-dead")
	good := func(key, acct string) []byte {
		v, _ := json.Marshal(map[string]any{"op": "upsert", "key": key, "data": map[string]any{
			"customerName": "C", "accountNumber": acct, "regionId": "r1", "status": "active"}})
		return v
	}
	type tc struct {
		key, value       string
		class, code      string
		tombstoneOrEmpty bool
	}
	cases := []tc{
		{key: "k-json", value: `{"op":"upsert","data":{`, class: "decode", code: "invalid.json"},
		{key: "", value: `{"op":"upsert","data":{"customerName":"C"}}`, class: "decode", code: "missing.key"},
		{key: "k-op", value: `{"op":"merge","key":"k-op","data":{}}`, class: "decode", code: "unknown.op"},
		{key: "k-type", value: `{"op":"upsert","data":{"customerName":"C","accountNumber":"AN-000001","regionId":"r","status":"active","employees":"many"}}`, class: "validation", code: "schema.violation"},
		{key: "k-enum", value: `{"op":"upsert","data":{"customerName":"C","accountNumber":"AN-000002","regionId":"r","status":"zombie"}}`, class: "validation", code: "schema.violation"},
		{key: "k-ref", value: `{"op":"upsert","data":{"customerName":"C","accountNumber":"AN-000003","regionId":"","status":"active"}}`, class: "reference", code: "reference.missing"},
		{key: "k-dup2", value: string(good("k-dup2", "AN-000009")), class: "unique", code: "unique.violation"},
	}
	var evs []demo.Event
	// The original holder of AN-000009 comes first, in the same partition.
	evs = append(evs, demo.Event{Partition: 0, Key: []byte("k-dup1"), Value: good("k-dup1", "AN-000009")})
	for _, c := range cases {
		var key []byte
		if c.key != "" {
			key = []byte(c.key)
		}
		evs = append(evs, demo.Event{Partition: 0, Key: key, Value: []byte(c.value)})
	}
	e.produce(evs)
	r := e.start(e.config(group))
	e.waitCommitted(group, e.ends(), 30*time.Second)
	r.halt(t)
	dead := e.read(e.topics.DeadLetter)
	if len(dead) != len(cases) {
		t.Fatalf("%d dead letters, want %d", len(dead), len(cases))
	}
	for i, c := range cases {
		m := dead[i]
		if string(m.Key) != c.key || !bytes.Equal(m.Value, []byte(c.value)) {
			t.Errorf("dead letter %d: key/value changed: %q %q", i, m.Key, m.Value)
		}
		if got := header(m, "gcupsert.error.class") + "/" + header(m, "gcupsert.error.code"); got != c.class+"/"+c.code {
			t.Errorf("dead letter %d (%s): reason %s, want %s/%s", i, c.key, got, c.class, c.code)
		}
		for _, h := range []string{"gcupsert.error.message", "gcupsert.source.topic", "gcupsert.source.partition", "gcupsert.source.offset", "gcupsert.event.id", "gcupsert.time"} {
			if header(m, h) == "" {
				t.Errorf("dead letter %d (%s): header %s missing", i, c.key, h)
			}
		}
		if want := fmt.Sprintf("%s-0-%d", e.topics.Input, i+1); header(m, "gcupsert.event.id") != want {
			t.Errorf("dead letter %d: event id %q, want %q", i, header(m, "gcupsert.event.id"), want)
		}
	}
	if recs := e.emu.Records(demo.SchemaName); len(recs) != 1 || recs["k-dup1"] == nil {
		t.Errorf("emulator records %v, want only k-dup1", recs)
	}
}
