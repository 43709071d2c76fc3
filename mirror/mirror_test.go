package mirror_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/internal/inspect"
	"github.com/gcupsert/gcupsert/mirror"
	"github.com/gcupsert/gcupsert/mirror/sqldb"
	"github.com/gcupsert/gcupsert/sink"
)

var table = mirror.Table{Name: "customobjects_accounts", Target: "customobjects", Schema: "accounts",
	Columns: []mirror.Column{{Name: "name", Type: mirror.TypeText}}}

// syncEvent is the sync event the worker publishes for key at input offset
// off (a delete when name is "").
func syncEvent(key string, off int64, name string) inspect.Message {
	s := sink.Sync{BatchID: fmt.Sprintf("in-0-%d-%d", off, off), Key: key, Operation: sink.OperationUpdated,
		Target: "customobjects", Schema: "accounts", Source: change.Source{Topic: "in", Partition: 0, Offset: off}, Time: time.Unix(off, 0)}
	if name == "" {
		s.Operation = sink.OperationDeleted
	} else {
		s.Record = map[string]any{"id": key, "name": name}
	}
	m := s.Message()
	return inspect.Message{Partition: int(off % 2), Key: m.Key, Value: m.Value}
}

// The mirror applies the sync topic exactly once: run, stopped mid-way and
// run again, with events delivered twice, it ends with the latest state
// of each key and an event log without a duplicate.
func TestMirrorRunsExactlyOnce(t *testing.T) {
	c, err := kfake.NewCluster(kfake.Ports(0), kfake.SeedTopics(2, "sync"), kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var msgs []inspect.Message
	want := map[string]string{}
	for i := range 400 {
		key := fmt.Sprintf("k%02d", i%40)
		name := fmt.Sprintf("v%d", i)
		if i%7 == 0 {
			name = ""
		}
		// Keys stay on one partition of the sync topic, as the worker
		// publishes them.
		m := syncEvent(key, int64(2*i+(i%40)%2), name)
		m.Partition = (i % 40) % 2
		msgs = append(msgs, m)
		want[key] = name
	}
	// Every event twice, the second time after the rest: redeliveries.
	msgs = append(msgs, msgs[:100]...)
	if err := inspect.Produce(ctx, c.ListenAddrs(), "sync", msgs); err != nil {
		t.Fatal(err)
	}
	path := "sqlite:" + filepath.Join(t.TempDir(), "m.db")
	run := func(until func(*sqldb.DB) bool) {
		t.Helper()
		db, err := sqldb.Open(ctx, path, sqldb.Options{EventLog: true})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		m, err := mirror.New(mirror.Config{Brokers: c.ListenAddrs(), GroupID: "mirror", Topic: "sync", Tables: []mirror.Table{table},
			MaxEvents: 25, Linger: 10 * time.Millisecond, SessionTimeout: 6 * time.Second, HeartbeatInterval: 500 * time.Millisecond,
			MaxWait: 100 * time.Millisecond}, db)
		if err != nil {
			t.Fatal(err)
		}
		rctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- m.Run(rctx) }()
		for !until(db) {
			select {
			case err := <-done:
				t.Fatalf("mirror stopped: %v", err)
			case <-time.After(20 * time.Millisecond):
			}
		}
		stop()
		if err := <-done; err != nil {
			t.Fatalf("mirror: %v", err)
		}
	}
	applied := func(db *sqldb.DB) int {
		var n int
		_ = db.SQL().QueryRow("SELECT count(*) FROM gcupsert_mirror_offsets WHERE next_offset > 0").Scan(&n)
		return n
	}
	run(func(db *sqldb.DB) bool { return applied(db) > 0 })
	run(func(db *sqldb.DB) bool {
		offs, _ := db.Offsets(ctx, "mirror", "sync")
		ends, _ := inspect.EndOffsets(ctx, c.ListenAddrs(), "sync")
		return len(offs) == 2 && offs[0] == ends[0] && offs[1] == ends[1]
	})
	db, err := sqldb.Open(ctx, path, sqldb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got := map[string]string{}
	rows, err := db.SQL().Query(`SELECT "_key", name FROM customobjects_accounts`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k, n string
		if err := rows.Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		got[k] = n
	}
	rows.Close()
	for k, v := range want {
		if v == "" {
			if _, ok := got[k]; ok {
				t.Errorf("%s was deleted last but is %q", k, got[k])
			}
			continue
		}
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	var logged, distinct int
	if err := db.SQL().QueryRow("SELECT count(*), count(DISTINCT event_id) FROM gcupsert_mirror_events").Scan(&logged, &distinct); err != nil || logged != distinct {
		t.Fatalf("event log: %d rows, %d distinct (%v)", logged, distinct, err)
	}
}
