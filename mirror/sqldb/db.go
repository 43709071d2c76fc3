// Package sqldb is the mirror's Store on an SQL database: PostgreSQL
// (github.com/jackc/pgx/v5) for production, SQLite (modernc.org/sqlite,
// pure Go) embedded. The two differ only in a dialect: column types,
// statement parameters and catalog queries.
//
// Every table has the record's key ("_key", primary key), the record as
// JSON ("_record"), its source position ("_source_topic",
// "_source_partition", "_source_offset": the version the ordering rule
// compares), the sync event id and times, and one typed column per schema
// property. Deletes keep their version in "<table>__tombstones" (or, with
// mirror.DeleteMark, in the row itself, marked "_deleted"). The store's own
// tables hold the next offset per group, topic and partition
// (gcupsert_mirror_offsets), the dead letters and unreadable messages
// (gcupsert_mirror_errors) and, with Options.EventLog, the id of every
// applied event (gcupsert_mirror_events: an event applied twice would break
// its primary key).
package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the pgx database/sql driver
	_ "modernc.org/sqlite"             // the sqlite database/sql driver

	"github.com/gcupsert/gcupsert/internal/retry"
	"github.com/gcupsert/gcupsert/mirror"
)

// Options tune a DB.
type Options struct {
	Deletes  mirror.DeleteMode // default mirror.DeleteRemove
	EventLog bool
	Logger   *slog.Logger
	// Now is the clock of _applied_at; default time.Now.
	Now func() time.Time
}

// DB is a mirror.Store. It is safe for concurrent use.
type DB struct {
	db   *sql.DB
	d    dialect
	opts Options

	mu     sync.RWMutex
	tables map[string]*table // by target + "\x00" + schema
}

// Open connects to the database at url: postgres://... or postgresql://...
// (PostgreSQL), sqlite:PATH or sqlite::memory: (SQLite). It checks the
// connection.
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	if opts.Deletes == "" {
		opts.Deletes = mirror.DeleteRemove
	}
	if opts.Deletes != mirror.DeleteRemove && opts.Deletes != mirror.DeleteMark {
		return nil, fmt.Errorf("sqldb: deletes %q is not remove or mark", opts.Deletes)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	var d dialect
	var driver, dsn string
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		d, driver, dsn = postgres, "pgx", url
	case strings.HasPrefix(url, "sqlite:"):
		path := strings.TrimPrefix(url, "sqlite:")
		if path == "" {
			return nil, errors.New("sqldb: sqlite: needs a file path (or :memory:)")
		}
		d, driver = sqliteDialect, "sqlite"
		dsn = "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	default:
		return nil, fmt.Errorf("sqldb: database URL must start with postgres://, postgresql:// or sqlite: (got %.20q...)", url)
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("sqldb: %w", err)
	}
	if d.name == "sqlite" {
		db.SetMaxOpenConns(1) // one writer: transactions take turns
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqldb: connecting to the %s database: %w", d.name, err)
	}
	return &DB{db: db, d: d, opts: opts, tables: map[string]*table{}}, nil
}

// Dialect names the database: "postgres" or "sqlite".
func (s *DB) Dialect() string { return s.d.name }

// SQL is the database, for reading the mirror.
func (s *DB) SQL() *sql.DB { return s.db }

// Close closes the connections.
func (s *DB) Close() error { return s.db.Close() }

// Prepare creates the store's tables and each table (with its
// tombstones), and adds to an existing table the typed columns it lacks;
// a column the schema no longer has is kept, with a warning.
func (s *DB) Prepare(ctx context.Context, tables []mirror.Table) error {
	for _, stmt := range s.d.storeDDL() {
		if _, err := s.db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("sqldb: %w", err)
		}
	}
	for _, t := range tables {
		if err := s.prepareTable(ctx, t); err != nil {
			return fmt.Errorf("sqldb: table %s: %w", t.Name, err)
		}
	}
	return nil
}

func (s *DB) prepareTable(ctx context.Context, t mirror.Table) error {
	have, err := s.d.existingColumns(ctx, s.db, t.Name)
	if err != nil {
		return err
	}
	if len(have) == 0 {
		for _, stmt := range s.d.tableDDL(t) {
			if _, err := s.db.ExecContext(ctx, stmt); err != nil {
				return err
			}
		}
	} else {
		if _, err := s.db.ExecContext(ctx, s.d.tableDDL(t)[1]); err != nil { // tombstones
			return err
		}
		want := map[string]bool{}
		for _, c := range t.Columns {
			want[c.Name] = true
			if have[c.Name] {
				continue
			}
			stmt := fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s", quote(t.Name), quote(c.Name), s.d.typed[c.Type])
			if _, err := s.db.ExecContext(ctx, stmt); err != nil {
				return err
			}
			s.opts.Logger.Info("added a column for a new schema property; rows written before hold it in _record only",
				"table", t.Name, "column", c.Name)
		}
		for name := range have {
			if !strings.HasPrefix(name, "_") && !want[name] {
				s.opts.Logger.Warn("column kept although the schema no longer has it (the mirror never drops one)",
					"table", t.Name, "column", name)
			}
		}
	}
	s.mu.Lock()
	s.tables[t.Target+"\x00"+t.Schema] = newTable(s.d, t, s.opts.Deletes)
	s.mu.Unlock()
	return nil
}

// Offsets returns the stored next offsets of group's topic.
func (s *DB) Offsets(ctx context.Context, group, topic string) (map[int]int64, error) {
	q := fmt.Sprintf("SELECT partition_id, next_offset FROM %s WHERE group_id = %s AND topic = %s",
		offsetsTable, s.d.param(1, s.d.text), s.d.param(2, s.d.text))
	rows, err := s.db.QueryContext(ctx, q, group, topic)
	if err != nil {
		return nil, fmt.Errorf("sqldb: reading offsets: %w", err)
	}
	defer rows.Close()
	out := map[int]int64{}
	for rows.Next() {
		var p int
		var next int64
		if err := rows.Scan(&p, &next); err != nil {
			return nil, err
		}
		out[p] = next
	}
	return out, rows.Err()
}

// Apply applies b in one transaction with the partition's next offset.
// A unique violation of the event log (an event applied twice) is a
// permanent error.
func (s *DB) Apply(ctx context.Context, b mirror.Batch) (mirror.Applied, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return mirror.Applied{}, fmt.Errorf("sqldb: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	var a mirror.Applied
	now := s.d.time(s.opts.Now())
	for i := range b.Events {
		if err := s.applyEvent(ctx, tx, &b.Events[i], now, &a); err != nil {
			return mirror.Applied{}, s.classify(err)
		}
	}
	for i := range b.Failures {
		if err := s.insertFailure(ctx, tx, &b.Failures[i]); err != nil {
			return mirror.Applied{}, s.classify(err)
		}
		a.Failures++
	}
	if err := s.storeOffset(ctx, tx, b, now); err != nil {
		return mirror.Applied{}, s.classify(err)
	}
	if err := tx.Commit(); err != nil {
		return mirror.Applied{}, fmt.Errorf("sqldb: commit: %w", err)
	}
	return a, nil
}

func (s *DB) classify(err error) error {
	err = fmt.Errorf("sqldb: %w", err)
	if isUniqueViolation(err) {
		return retry.Permanent(fmt.Errorf("an event would be applied twice: %w", err))
	}
	return err
}

func (s *DB) storeOffset(ctx context.Context, tx *sql.Tx, b mirror.Batch, now any) error {
	d := s.d
	q := fmt.Sprintf(`INSERT INTO %s (group_id, topic, partition_id, next_offset, updated_at) VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (group_id, topic, partition_id) DO UPDATE SET next_offset = excluded.next_offset, updated_at = excluded.updated_at`,
		offsetsTable, d.param(1, d.text), d.param(2, d.text), d.param(3, d.integer), d.param(4, d.bigint), d.param(5, d.timestamp))
	_, err := tx.ExecContext(ctx, q, b.Group, b.Position.Topic, b.Position.Partition, b.Position.Offset, now)
	return err
}

func (s *DB) insertFailure(ctx context.Context, tx *sql.Tx, f *mirror.Failure) error {
	d := s.d
	cols := []string{"event_id", "source_topic", "source_partition", "source_offset", "message_key", "message_value",
		"value_null", "class", "code", "status", "message", "fields", "correlation_id", "event_time"}
	types := []string{d.text, d.text, d.integer, d.bigint, d.blob, d.blob, d.boolean, d.text, d.text, d.integer, d.text, d.json, d.text, d.timestamp}
	ps := make([]string, len(cols))
	for i := range cols {
		ps[i] = d.param(i+1, types[i])
	}
	var fields any
	if len(f.Fields) > 0 {
		fields = string(f.Fields)
	}
	q := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s) ON CONFLICT (event_id) DO NOTHING", errorsTable, strings.Join(cols, ", "), strings.Join(ps, ", "))
	_, err := tx.ExecContext(ctx, q, f.ID, f.Source.Topic, f.Source.Partition, f.Source.Offset, f.Key, f.Value,
		f.Value == nil, f.Class, f.Code, f.Status, f.Message, fields, f.CorrelationID, d.time(f.Time))
	return err
}
