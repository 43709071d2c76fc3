package mirror

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"

	core "github.com/gcupsert/gcupsert/mirror"
	"github.com/gcupsert/gcupsert/mirror/sqldb"
)

// Compare reads the mirror's table of a target and schema and compares it
// with records, the target's state by key: every record must have a row
// whose record JSON equals it field by field, and no other row may be
// live. It returns the number of live rows and the differences (none when
// the mirror equals the target).
func Compare(ctx context.Context, db *sqldb.DB, target, schema string, records map[string]map[string]any) (int, []string, error) {
	return CompareWith(ctx, db, target, schema, records, nil)
}

// CompareWith is Compare with both sides of each record passed through
// project first (nil: as they are), for fields the target changes after a
// write without an event of the record (an External Contacts contact shows
// its organization in full).
func CompareWith(ctx context.Context, db *sqldb.DB, target, schema string, records map[string]map[string]any, project func(map[string]any) map[string]any) (int, []string, error) {
	if project == nil {
		project = func(m map[string]any) map[string]any { return m }
	}
	q := fmt.Sprintf(`SELECT "_key", "_record" FROM "%s" WHERE "_deleted" = false`, core.TableName(target, schema))
	rows, err := db.SQL().QueryContext(ctx, q)
	if err != nil {
		return 0, nil, err
	}
	defer rows.Close()
	var diffs []string
	seen := map[string]bool{}
	for rows.Next() {
		var key string
		var raw *string
		if err := rows.Scan(&key, &raw); err != nil {
			return 0, nil, err
		}
		seen[key] = true
		want, ok := records[key]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s: in the mirror, not in the target", key))
		case raw == nil:
			diffs = append(diffs, fmt.Sprintf("%s: the mirror has no record (left out of its sync event)", key))
		default:
			got, err := normalize([]byte(*raw))
			if err != nil {
				return 0, nil, fmt.Errorf("%s: %w", key, err)
			}
			got = project(got)
			w, _ := json.Marshal(want)
			wantN, _ := normalize(w)
			wantN = project(wantN)
			if !reflect.DeepEqual(got, wantN) {
				diffs = append(diffs, fmt.Sprintf("%s: mirror %v, target %v", key, got, wantN))
			}
		}
	}
	if err := rows.Err(); err != nil {
		return 0, nil, err
	}
	for key := range records {
		if !seen[key] {
			diffs = append(diffs, fmt.Sprintf("%s: in the target, not in the mirror", key))
		}
	}
	sort.Strings(diffs)
	return len(seen), diffs, nil
}

func normalize(raw []byte) (map[string]any, error) {
	var m map[string]any
	err := json.Unmarshal(raw, &m)
	return m, err
}
