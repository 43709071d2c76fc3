package mirror

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gcupsert/gcupsert/change"
	core "github.com/gcupsert/gcupsert/mirror"
	"github.com/gcupsert/gcupsert/mirror/sqldb"
)

// Compare finds every kind of difference between the mirror and the
// target, and none when they are equal.
func TestCompare(t *testing.T) {
	ctx := context.Background()
	db, err := sqldb.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "m.db"), sqldb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	table := core.Table{Name: core.TableName("customobjects", "accounts"), Target: "customobjects", Schema: "accounts",
		Columns: []core.Column{{Name: "name", Type: core.TypeText}}}
	if err := db.Prepare(ctx, []core.Table{table}); err != nil {
		t.Fatal(err)
	}
	var evs []core.Event
	for i, key := range []string{"a", "b", "c"} {
		evs = append(evs, core.Event{ID: fmt.Sprint(i), Key: key, Target: "customobjects", Schema: "accounts",
			Source: change.Source{Topic: "in", Offset: int64(i)},
			Record: json.RawMessage(fmt.Sprintf(`{"id":%q,"name":"n-%s"}`, key, key))})
	}
	evs = append(evs, core.Event{ID: "3", Key: "c", Target: "customobjects", Schema: "accounts",
		Source: change.Source{Topic: "in", Offset: 3}, Delete: true})
	if _, err := db.Apply(ctx, core.Batch{Group: "g", Position: core.Position{Topic: "sync", Offset: 4}, Events: evs}); err != nil {
		t.Fatal(err)
	}
	rec := func(key, name string) map[string]any { return map[string]any{"id": key, "name": name} }

	n, diffs, err := Compare(ctx, db, "customobjects", "accounts", map[string]map[string]any{"a": rec("a", "n-a"), "b": rec("b", "n-b")})
	if err != nil || n != 2 || len(diffs) != 0 {
		t.Fatalf("equal: rows %d, diffs %v, err %v", n, diffs, err)
	}
	_, diffs, err = Compare(ctx, db, "customobjects", "accounts", map[string]map[string]any{"a": rec("a", "changed"), "c": rec("c", "n-c")})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a: mirror", "b: in the mirror, not in the target", "c: in the target, not in the mirror"}
	if len(diffs) != len(want) {
		t.Fatalf("diffs %q, want %d", diffs, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(diffs[i], w) {
			t.Errorf("diff %d = %q, want prefix %q", i, diffs[i], w)
		}
	}
}
