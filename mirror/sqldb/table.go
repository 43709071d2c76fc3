package sqldb

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/gcupsert/gcupsert/mirror"
)

// table is a prepared mirrored table: its statements, built once.
type table struct {
	t       mirror.Table
	deletes mirror.DeleteMode
	// upsert writes the row when the event is newer than both the row and
	// (remove mode) the tombstone; markDelete writes a deleted row.
	upsert, markDelete string
	// remove deletes the row when the event is newer; tombstone writes the
	// delete's version when newer; dropTombstone removes a tombstone after
	// a newer write; rowExists finds a row.
	remove, tombstone, dropTombstone, rowExists string
	eventLog                                    string
}

// Parameters of the row statements, in order: 1 key, 2 record, 3 omitted,
// 4 deleted, 5 operation, 6 topic, 7 partition, 8 offset, 9 event id,
// 10 event time, 11 applied at, then one per typed column.
const nFixed = 11

func newTable(d dialect, t mirror.Table, deletes mirror.DeleteMode) *table {
	q := quote
	cols := []string{colKey, colRecord, colOmitted, colDeleted, colOperation, colTopic, colPartition, colOffset, colEventID, colEventTime, colApplied}
	types := []string{d.text, d.json, d.boolean, d.boolean, d.text, d.text, d.integer, d.bigint, d.text, d.timestamp, d.timestamp}
	for _, c := range t.Columns {
		cols = append(cols, c.Name)
		types = append(types, d.typed[c.Type])
	}
	quoted, params, sets := make([]string, len(cols)), make([]string, len(cols)), make([]string, 0, len(cols))
	for i, c := range cols {
		quoted[i], params[i] = q(c), d.param(i+1, types[i])
		if c != colKey {
			sets = append(sets, q(c)+" = excluded."+q(c))
		}
	}
	name, tomb := q(t.Name), q(tombstones(t.Name))
	p := func(n int) string { return d.param(n, types[n-1]) }
	// The event is newer than a stored version unless both name the same
	// source topic and partition and the stored offset is not older.
	notOlder := func(alias, topic, part, off string) string {
		return fmt.Sprintf("%s.%s = %s AND %s.%s = %s AND %s.%s >= %s", alias, q(colTopic), topic, alias, q(colPartition), part, alias, q(colOffset), off)
	}
	guard := ""
	if deletes == mirror.DeleteRemove {
		guard = fmt.Sprintf(" WHERE NOT EXISTS (SELECT 1 FROM %s x WHERE x.%s = %s AND %s)", tomb, q(colKey), p(1), notOlder("x", p(6), p(7), p(8)))
	} else {
		guard = " WHERE true"
	}
	upsert := fmt.Sprintf("INSERT INTO %s (%s) SELECT %s%s ON CONFLICT (%s) DO UPDATE SET %s WHERE NOT (%s)",
		name, strings.Join(quoted, ", "), strings.Join(params, ", "), guard, q(colKey), strings.Join(sets, ", "),
		notOlder(name, "excluded."+q(colTopic), "excluded."+q(colPartition), "excluded."+q(colOffset)))
	tt := &table{t: t, deletes: deletes, upsert: upsert, markDelete: upsert}
	tt.remove = fmt.Sprintf("DELETE FROM %s WHERE %s = %s AND NOT (%s)", name, q(colKey), d.param(1, d.text),
		notOlder(name, d.param(2, d.text), d.param(3, d.integer), d.param(4, d.bigint)))
	tt.tombstone = fmt.Sprintf("INSERT INTO %s (%s, %s, %s, %s, %s, %s) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (%s) DO UPDATE SET %s = excluded.%s, %s = excluded.%s, %s = excluded.%s, %s = excluded.%s, %s = excluded.%s WHERE NOT (%s)",
		tomb, q(colKey), q(colTopic), q(colPartition), q(colOffset), q(colEventID), q(colEventTime),
		d.param(1, d.text), d.param(2, d.text), d.param(3, d.integer), d.param(4, d.bigint), d.param(5, d.text), d.param(6, d.timestamp),
		q(colKey), q(colTopic), q(colTopic), q(colPartition), q(colPartition), q(colOffset), q(colOffset), q(colEventID), q(colEventID), q(colEventTime), q(colEventTime),
		notOlder(tomb, "excluded."+q(colTopic), "excluded."+q(colPartition), "excluded."+q(colOffset)))
	tt.dropTombstone = fmt.Sprintf("DELETE FROM %s WHERE %s = %s", tomb, q(colKey), d.param(1, d.text))
	tt.rowExists = fmt.Sprintf("SELECT 1 FROM %s WHERE %s = %s", name, q(colKey), d.param(1, d.text))
	tt.eventLog = fmt.Sprintf("INSERT INTO %s (event_id, table_name, applied_at) VALUES (%s, %s, %s)", eventsTable,
		d.param(1, d.text), d.param(2, d.text), d.param(3, d.timestamp))
	return tt
}

// applyEvent applies one event inside tx and counts what it did.
func (s *DB) applyEvent(ctx context.Context, tx *sql.Tx, e *mirror.Event, now any, a *mirror.Applied) error {
	s.mu.RLock()
	t := s.tables[e.Target+"\x00"+e.Schema]
	s.mu.RUnlock()
	if t == nil {
		return fmt.Errorf("no table prepared for target %s, schema %s", e.Target, e.Schema)
	}
	var applied bool
	var err error
	switch {
	case !e.Delete:
		applied, err = s.write(ctx, tx, t, e, now)
		if applied && err == nil {
			a.Upserted++
			if t.deletes == mirror.DeleteRemove {
				_, err = tx.ExecContext(ctx, t.dropTombstone, e.Key)
			}
		}
	case t.deletes == mirror.DeleteMark:
		if applied, err = s.write(ctx, tx, t, e, now); applied {
			a.Deleted++
		}
	default:
		applied, err = s.remove(ctx, tx, t, e)
		if applied {
			a.Deleted++
		}
	}
	if err != nil {
		return err
	}
	if !applied {
		a.Stale++
		return nil
	}
	if s.opts.EventLog {
		_, err = tx.ExecContext(ctx, t.eventLog, e.ID, t.t.Name, now)
	}
	return err
}

// write upserts the row of e (a deleted row in mark mode) when e is newer.
func (s *DB) write(ctx context.Context, tx *sql.Tx, t *table, e *mirror.Event, now any) (bool, error) {
	op := "upsert"
	var record any
	var data map[string]any
	if e.Delete {
		op = "delete"
	} else if e.Record != nil {
		record = string(e.Record)
		dec := json.NewDecoder(bytes.NewReader(e.Record))
		dec.UseNumber()
		if err := dec.Decode(&data); err != nil {
			return false, fmt.Errorf("event %s: record: %w", e.ID, err)
		}
	}
	args := make([]any, 0, nFixed+len(t.t.Columns))
	args = append(args, e.Key, record, e.RecordOmitted, e.Delete, op, e.Source.Topic, e.Source.Partition, e.Source.Offset,
		e.ID, s.d.time(e.Time), now)
	for _, c := range t.t.Columns {
		args = append(args, columnValue(c.Type, data[c.Name]))
	}
	res, err := tx.ExecContext(ctx, t.upsert, args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// remove deletes the row of e when e is newer and records the tombstone;
// it reports whether the delete was applied (a delete of a missing row is).
func (s *DB) remove(ctx context.Context, tx *sql.Tx, t *table, e *mirror.Event) (bool, error) {
	res, err := tx.ExecContext(ctx, t.remove, e.Key, e.Source.Topic, e.Source.Partition, e.Source.Offset)
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return false, err
	} else if n == 0 {
		var one int
		switch err := tx.QueryRowContext(ctx, t.rowExists, e.Key).Scan(&one); {
		case err == nil:
			return false, nil // a newer version of the row is there
		case err != sql.ErrNoRows:
			return false, err
		}
	}
	res, err = tx.ExecContext(ctx, t.tombstone, e.Key, e.Source.Topic, e.Source.Partition, e.Source.Offset, e.ID, s.d.time(e.Time))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// columnValue is v as a typed column holds it; nil when v does not fit the
// column's type (the record JSON keeps it as it is).
func columnValue(t mirror.ColumnType, v any) any {
	if v == nil {
		return nil
	}
	switch t {
	case mirror.TypeText:
		if s, ok := v.(string); ok {
			return s
		}
	case mirror.TypeInteger:
		if n, ok := v.(json.Number); ok {
			if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
				return i
			}
			if f, err := strconv.ParseFloat(string(n), 64); err == nil && f == float64(int64(f)) {
				return int64(f)
			}
		}
	case mirror.TypeNumber:
		if n, ok := v.(json.Number); ok {
			if f, err := strconv.ParseFloat(string(n), 64); err == nil {
				return f
			}
		}
	case mirror.TypeBoolean:
		if b, ok := v.(bool); ok {
			return b
		}
	case mirror.TypeJSON:
		if raw, err := json.Marshal(v); err == nil {
			return string(raw)
		}
	}
	return nil
}
