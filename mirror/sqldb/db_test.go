package sqldb

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/mirror"
	"github.com/gcupsert/gcupsert/test/pgtest"
)

var accounts = mirror.Table{Name: "customobjects_accounts", Target: "customobjects", Schema: "accounts",
	Columns: []mirror.Column{{Name: "name", Type: mirror.TypeText}, {Name: "seats", Type: mirror.TypeInteger}}}

// opener opens a fresh database with the accounts table prepared.
type opener func(t *testing.T, opts Options) *DB

func openURL(t *testing.T, url string, opts Options) *DB {
	t.Helper()
	db, err := Open(context.Background(), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Prepare(context.Background(), []mirror.Table{accounts}); err != nil {
		t.Fatal(err)
	}
	return db
}

// The store's contract, on each database.
var cases = []struct {
	name string
	fn   func(*testing.T, opener)
}{
	{"OlderEventsAfterNewerAreSkipped", testOlderEventsAfterNewerAreSkipped},
	{"DeletesKeepTheirVersion", testDeletesKeepTheirVersion},
	{"RedeliveredEventsApplyOnce", testRedeliveredEventsApplyOnce},
	{"SchemaEvolution", testSchemaEvolution},
	{"FailuresAreKeptOnce", testFailuresAreKeptOnce},
}

func TestSQLite(t *testing.T) {
	open := func(t *testing.T, opts Options) *DB {
		return openURL(t, "sqlite:"+filepath.Join(t.TempDir(), "m.db"), opts)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, open) })
	}
}

// TestPostgres runs the contract on a real PostgreSQL server (skipped when
// its binaries are missing), a new database for every open.
func TestPostgres(t *testing.T) {
	base := pgtest.Start(t)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	n := 0
	open := func(t *testing.T, opts Options) *DB {
		n++
		name := fmt.Sprintf("mirror_test_%d", n)
		if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		u.Path = "/" + name
		return openURL(t, u.String(), opts)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, open) })
	}
}

// ev is an event of key at source offset off of partition 0: an upsert of
// name, or a delete when name is "".
func ev(key string, off int64, name string) mirror.Event {
	e := mirror.Event{ID: fmt.Sprintf("in-0-%d", off), Key: key, Target: "customobjects", Schema: "accounts",
		Source: change.Source{Topic: "in", Partition: 0, Offset: off}, Time: time.Unix(off, 0).UTC()}
	if name == "" {
		e.Delete = true
	} else {
		e.Record = json.RawMessage(fmt.Sprintf(`{"id":%q,"name":%q,"seats":%d}`, key, name, off))
	}
	return e
}

func apply(t *testing.T, db *DB, next int64, evs ...mirror.Event) mirror.Applied {
	t.Helper()
	a, err := db.Apply(context.Background(), mirror.Batch{Group: "g", Position: mirror.Position{Topic: "sync", Partition: 0, Offset: next}, Events: evs})
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return a
}

// row reads key's name, seats and record; ok false when there is no row.
func row(t *testing.T, db *DB, key string) (name string, seats int64, ok bool) {
	t.Helper()
	q := fmt.Sprintf(`SELECT name, seats FROM %s WHERE "_key" = %s`, quote(accounts.Name), db.d.param(1, db.d.text))
	var n *string
	var s *int64
	err := db.SQL().QueryRowContext(context.Background(), q, key).Scan(&n, &s)
	if err != nil {
		return "", 0, false
	}
	if n != nil {
		name = *n
	}
	if s != nil {
		seats = *s
	}
	return name, seats, true
}

func testOlderEventsAfterNewerAreSkipped(t *testing.T, open opener) {
	db := open(t, Options{})
	a := apply(t, db, 3, ev("k", 5, "five"), ev("k", 3, "three"))
	if a.Upserted != 1 || a.Stale != 1 {
		t.Fatalf("applied %+v, want 1 upserted and 1 stale", a)
	}
	if name, seats, _ := row(t, db, "k"); name != "five" || seats != 5 {
		t.Fatalf("row %q %d, want five 5", name, seats)
	}
	// Another source partition is another version line: applied.
	e := ev("k", 1, "other partition")
	e.Source.Partition = 1
	if a := apply(t, db, 4, e); a.Upserted != 1 {
		t.Fatalf("event of another partition: %+v", a)
	}
}

func testDeletesKeepTheirVersion(t *testing.T, open opener) {
	for _, mode := range []mirror.DeleteMode{mirror.DeleteRemove, mirror.DeleteMark} {
		t.Run(string(mode), func(t *testing.T) {
			db := open(t, Options{Deletes: mode})
			apply(t, db, 1, ev("k", 1, "one"))
			if a := apply(t, db, 2, ev("k", 4, "")); a.Deleted != 1 {
				t.Fatalf("delete: %+v", a)
			}
			// A late, older upsert cannot resurrect it.
			if a := apply(t, db, 3, ev("k", 2, "late")); a.Stale != 1 || a.Upserted != 0 {
				t.Fatalf("late upsert: %+v", a)
			}
			name, _, exists := row(t, db, "k")
			if mode == mirror.DeleteRemove && exists || mode == mirror.DeleteMark && (!exists || name != "") {
				t.Fatalf("after the late upsert: row %v %q", exists, name)
			}
			// A newer one does.
			if a := apply(t, db, 4, ev("k", 6, "back")); a.Upserted != 1 {
				t.Fatalf("newer upsert: %+v", a)
			}
			if name, _, _ := row(t, db, "k"); name != "back" {
				t.Fatalf("row %q, want back", name)
			}
			// An older delete after it is stale; a delete of a missing key counts.
			if a := apply(t, db, 5, ev("k", 5, ""), ev("never", 7, "")); a.Stale != 1 || a.Deleted != 1 {
				t.Fatalf("older delete and missing delete: %+v", a)
			}
		})
	}
}

// A batch delivered again (the mirror crashed before Kafka heard of it)
// changes nothing: its events are not newer, and the offset stays.
func testRedeliveredEventsApplyOnce(t *testing.T, open opener) {
	db := open(t, Options{EventLog: true})
	batch := []mirror.Event{ev("a", 1, "a1"), ev("b", 2, "b1"), ev("a", 3, "")}
	apply(t, db, 3, batch...)
	if a := apply(t, db, 3, batch...); a.Upserted+a.Deleted != 0 || a.Stale != 3 {
		t.Fatalf("redelivery applied %+v", a)
	}
	var n int
	if err := db.SQL().QueryRow("SELECT count(*) FROM " + eventsTable).Scan(&n); err != nil || n != 3 {
		t.Fatalf("event log holds %d (%v), want 3", n, err)
	}
	offs, err := db.Offsets(context.Background(), "g", "sync")
	if err != nil || offs[0] != 3 {
		t.Fatalf("offsets %v, %v", offs, err)
	}
}

func TestDDLFromASchema(t *testing.T) {
	cols, err := mirror.ColumnsOf([]byte(`{"type":"object","properties":{"name":{"type":"string"},"seats":{"type":"integer"},
		"ratio":{"type":["number","null"]},"vip":{"type":"boolean"},"tags":{"type":"array"},"_hidden":{"type":"string"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	tbl := mirror.Table{Name: "t1", Target: "x", Schema: "y", Columns: cols}
	for _, d := range []string{"postgres", "sqlite"} {
		ddl, err := DDL(d, []mirror.Table{tbl})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string][]string{
			"postgres": {`"name" TEXT`, `"seats" BIGINT`, `"ratio" DOUBLE PRECISION`, `"vip" BOOLEAN`, `"tags" JSONB`, `"_record" JSONB`, `"t1__tombstones"`},
			"sqlite":   {`"name" TEXT`, `"seats" INTEGER`, `"ratio" REAL`, `"vip" INTEGER`, `"tags" TEXT`, `"_source_offset" INTEGER`},
		}[d]
		for _, w := range want {
			if !strings.Contains(ddl, w) {
				t.Errorf("%s DDL lacks %s:\n%s", d, w, ddl)
			}
		}
		if strings.Contains(ddl, "_hidden") {
			t.Errorf("%s DDL has a column for a property of the mirror's own prefix", d)
		}
	}
}

func testSchemaEvolution(t *testing.T, open opener) {
	db := open(t, Options{})
	apply(t, db, 1, ev("k", 1, "one"))
	grown := accounts
	grown.Columns = append(append([]mirror.Column(nil), accounts.Columns...), mirror.Column{Name: "region", Type: mirror.TypeText})
	if err := db.Prepare(context.Background(), []mirror.Table{grown}); err != nil {
		t.Fatal(err)
	}
	have, err := db.d.existingColumns(context.Background(), db.SQL(), accounts.Name)
	if err != nil || !have["region"] || !have["seats"] {
		t.Fatalf("columns after the schema grew: %v, %v", have, err)
	}
	// Shrinking keeps the column.
	if err := db.Prepare(context.Background(), []mirror.Table{{Name: accounts.Name, Target: "customobjects", Schema: "accounts"}}); err != nil {
		t.Fatal(err)
	}
	if have, _ := db.d.existingColumns(context.Background(), db.SQL(), accounts.Name); !have["region"] || !have["name"] {
		t.Fatalf("a column was dropped: %v", have)
	}
}

func testFailuresAreKeptOnce(t *testing.T, open opener) {
	db := open(t, Options{})
	f := mirror.Failure{ID: "in-0-9", Source: change.Source{Topic: "in", Offset: 9}, Key: []byte("k"), Value: []byte{},
		Class: "decode", Code: "empty.value", Fields: json.RawMessage(`[]`), Time: time.Now()}
	for range 2 {
		b := mirror.Batch{Group: "g", Position: mirror.Position{Topic: "dead", Offset: 10}, Failures: []mirror.Failure{f}}
		if _, err := db.Apply(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	var null bool
	if err := db.SQL().QueryRow("SELECT count(*) FROM " + errorsTable).Scan(&n); err != nil || n != 1 {
		t.Fatalf("errors table: %d rows, %v", n, err)
	}
	if err := db.SQL().QueryRow("SELECT value_null FROM " + errorsTable).Scan(&null); err != nil || null {
		t.Fatalf("an empty value kept as null: %v, %v", null, err)
	}
}
