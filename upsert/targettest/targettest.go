// Package targettest is the contract every upsert target must meet, as one
// suite run against each target on the emulator (a new target passes it
// before anything else): the rules of Prepare, one outcome per item in
// order, create then update then delete with the emulator's state to match,
// per-key order inside a batch, transient failures retried, a cancelled
// context giving no outcome, and the caller's items left untouched.
package targettest

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/consumer"
	"github.com/gcupsert/gcupsert/emulator"
)

// Setup is one target under test, on a fresh emulator.
type Setup struct {
	Target   consumer.Target
	Emulator *emulator.Server
	// Valid is data a record of key may hold; v changes a field, so that
	// two versions differ.
	Valid func(key string, v int) map[string]any
	// Invalid is data Prepare rejects for the target's schema.
	Invalid func(key string) map[string]any
	// Stored reads what the emulator holds for key.
	Stored func(key string) (map[string]any, bool)
	// Field names the field Valid varies with v, and Value its value in
	// Stored for version v.
	Field string
	Value func(v int) any
}

// Run runs the contract; newSetup makes a fresh target and emulator for
// each subtest.
func Run(t *testing.T, newSetup func(t *testing.T) Setup) {
	t.Run("limits", func(t *testing.T) { testLimits(t, newSetup(t)) })
	t.Run("prepare rejects what can never be written", func(t *testing.T) { testPrepare(t, newSetup(t)) })
	t.Run("create, update and delete", func(t *testing.T) { testLifecycle(t, newSetup(t)) })
	t.Run("per-key order inside a batch", func(t *testing.T) { testOrder(t, newSetup(t)) })
	t.Run("any key round-trips", func(t *testing.T) { testKeys(t, newSetup(t)) })
	t.Run("transient failures are retried", func(t *testing.T) { testTransient(t, newSetup(t)) })
	t.Run("cancelled context gives no outcome", func(t *testing.T) { testCancelled(t, newSetup(t)) })
}

func testLimits(t *testing.T, s Setup) {
	l := s.Target.Limits()
	if l.MaxRecords < 1 || l.MaxBytes <= l.Overhead {
		t.Fatalf("limits %+v: no room for a record", l)
	}
	if got := l.BodySize(2, 10); got != l.Overhead+10+l.Separator {
		t.Errorf("BodySize(2, 10) = %d, want overhead + 10 + one separator", got)
	}
	if s.Target.Name() == "" || s.Target.Schema() == "" {
		t.Errorf("name %q schema %q: both must be set", s.Target.Name(), s.Target.Schema())
	}
}

func testPrepare(t *testing.T, s Setup) {
	for name, tc := range map[string]struct {
		rec  change.Record
		code string
	}{
		"no key":     {change.Record{Op: change.OpUpsert, Data: s.Valid("", 1)}, "key.missing"},
		"unknown op": {change.Record{Key: "k", Op: "merge", Data: s.Valid("k", 1)}, "op.unknown"},
		"invalid":    {change.Record{Key: "k", Op: change.OpUpsert, Data: s.Invalid("k")}, ""},
	} {
		_, rerr := s.Target.Prepare(tc.rec)
		if rerr == nil {
			t.Errorf("%s: Prepare accepted %+v", name, tc.rec)
			continue
		}
		if rerr.Class != change.ClassValidation || (tc.code != "" && rerr.Code != tc.code) || rerr.Message == "" {
			t.Errorf("%s: rejection %+v, want class validation code %q and a message", name, rerr, tc.code)
		}
	}
	it, rerr := s.Target.Prepare(change.Record{Key: "k", Op: change.OpDelete})
	if rerr != nil || it.Record.Key != "k" || it.Record.Op != change.OpDelete {
		t.Errorf("delete: %+v, %v", it, rerr)
	}
}

// upsert prepares recs, sends them in one call and checks there is one
// outcome per record.
func upsert(t *testing.T, s Setup, recs ...change.Record) []change.Outcome {
	t.Helper()
	items := make([]change.Item, len(recs))
	for i, r := range recs {
		it, rerr := s.Target.Prepare(r)
		if rerr != nil {
			t.Fatalf("Prepare(%s): %v", r.Key, rerr)
		}
		items[i] = it
	}
	before := fmt.Sprintf("%#v", items)
	res, err := s.Target.Upsert(context.Background(), items)
	if err != nil {
		t.Fatalf("Upsert: %v", err)
	}
	if got := fmt.Sprintf("%#v", items); got != before {
		t.Errorf("Upsert changed the caller's items")
	}
	if len(res.Outcomes) != len(items) {
		t.Fatalf("%d outcomes for %d items", len(res.Outcomes), len(items))
	}
	if res.Attempts < 1 {
		t.Errorf("result counts %d attempts", res.Attempts)
	}
	return res.Outcomes
}

func up(s Setup, key string, v int) change.Record {
	return change.Record{Key: key, Op: change.OpUpsert, Data: s.Valid(key, v)}
}

func del(key string) change.Record { return change.Record{Key: key, Op: change.OpDelete} }

func wantStored(t *testing.T, s Setup, key string, v int) {
	t.Helper()
	got, ok := s.Stored(key)
	if v == 0 {
		if ok {
			t.Errorf("%s still stored: %v", key, got)
		}
		return
	}
	if !ok {
		t.Fatalf("%s not stored", key)
	}
	if want := s.Value(v); !reflect.DeepEqual(fmt.Sprint(got[s.Field]), fmt.Sprint(want)) {
		t.Errorf("%s.%s = %v, want %v", key, s.Field, got[s.Field], want)
	}
}

func testLifecycle(t *testing.T, s Setup) {
	out := upsert(t, s, up(s, "k1", 1), up(s, "k2", 1), up(s, "k3", 1))
	for i, o := range out {
		if o.Status != change.StatusCreated || o.Record() == nil || o.Attempts < 1 {
			t.Errorf("new record %d: %v (%v), record %v, %d attempts; want created with the record written", i, o.Status, o.Err, o.Record(), o.Attempts)
		}
	}
	wantStored(t, s, "k1", 1)
	out = upsert(t, s, up(s, "k1", 2), up(s, "k2", 2))
	for i, o := range out {
		if o.Status != change.StatusUpdated {
			t.Errorf("existing record %d: %v (%v), want updated", i, o.Status, o.Err)
		}
	}
	wantStored(t, s, "k1", 2)
	wantStored(t, s, "k3", 1)
	out = upsert(t, s, del("k1"), del("never-was"))
	for i, o := range out {
		if o.Status != change.StatusDeleted {
			t.Errorf("delete %d: %v (%v), want deleted (a missing record counts as deleted)", i, o.Status, o.Err)
		}
	}
	wantStored(t, s, "k1", 0)
	wantStored(t, s, "k2", 2)
}

func testOrder(t *testing.T, s Setup) {
	out := upsert(t, s, up(s, "a", 1), up(s, "b", 1), del("a"), up(s, "b", 2), up(s, "a", 3))
	for i, o := range out {
		if o.Status == change.StatusRejected {
			t.Errorf("item %d rejected: %v", i, o.Err)
		}
	}
	if out[2].Status != change.StatusDeleted {
		t.Errorf("delete of a: %v", out[2].Status)
	}
	wantStored(t, s, "a", 3)
	wantStored(t, s, "b", 2)
}

// testKeys writes keys that a server or proxy would normalise or split if
// they were sent raw in a path, then deletes some: each is its own record.
func testKeys(t *testing.T, s Setup) {
	keys := []string{".", "..", "a/b", "a/../b", "%2E", "50%", "sp ace", "q?x=1", "h#f", "ü日本", `back\slash`}
	var recs []change.Record
	for _, k := range keys {
		recs = append(recs, up(s, k, 1))
	}
	for i, o := range upsert(t, s, recs...) {
		if o.Status != change.StatusCreated {
			t.Errorf("key %q: %v (%v)", keys[i], o.Status, o.Err)
		}
	}
	for _, k := range keys {
		wantStored(t, s, k, 1)
	}
	for i, o := range upsert(t, s, del("."), del("a/b"), del("%2E")) {
		if o.Status != change.StatusDeleted {
			t.Errorf("delete %d: %v (%v)", i, o.Status, o.Err)
		}
	}
	for _, k := range keys {
		v := 1
		if k == "." || k == "a/b" || k == "%2E" {
			v = 0
		}
		wantStored(t, s, k, v)
	}
}

func testTransient(t *testing.T, s Setup) {
	if err := s.Emulator.FailNext(2, 503); err != nil {
		t.Fatal(err)
	}
	out := upsert(t, s, up(s, "r1", 1))
	if out[0].Status != change.StatusCreated || out[0].Attempts < 2 {
		t.Errorf("after two 503s: %v (%v) in %d attempts, want created in at least 2", out[0].Status, out[0].Err, out[0].Attempts)
	}
	wantStored(t, s, "r1", 1)
}

func testCancelled(t *testing.T, s Setup) {
	it, rerr := s.Target.Prepare(up(s, "c1", 1))
	if rerr != nil {
		t.Fatal(rerr)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := s.Target.Upsert(ctx, []change.Item{it})
	if err == nil || len(res.Outcomes) != 0 {
		t.Fatalf("Upsert on a cancelled context: %d outcomes, err %v; want no outcome and an error", len(res.Outcomes), err)
	}
	wantStored(t, s, "c1", 0)
}
