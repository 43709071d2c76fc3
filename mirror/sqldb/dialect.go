package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gcupsert/gcupsert/mirror"
)

// dialect is what differs between PostgreSQL and SQLite.
type dialect struct {
	name string
	// types of the mirror's columns and of the typed columns.
	text, bigint, integer, boolean, json, blob, timestamp, falseLit string
	typed                                                           map[mirror.ColumnType]string
	// param is the n-th statement parameter, typed where the database
	// needs it.
	param func(n int, sqlType string) string
	// columns lists a table's columns.
	columns string
	// time is a time as the database stores it.
	time func(time.Time) any
}

var postgres = dialect{
	name: "postgres", text: "TEXT", bigint: "BIGINT", integer: "INTEGER", boolean: "BOOLEAN", json: "JSONB",
	blob: "BYTEA", timestamp: "TIMESTAMPTZ", falseLit: "false",
	typed: map[mirror.ColumnType]string{mirror.TypeText: "TEXT", mirror.TypeInteger: "BIGINT",
		mirror.TypeNumber: "DOUBLE PRECISION", mirror.TypeBoolean: "BOOLEAN", mirror.TypeJSON: "JSONB"},
	param:   func(n int, t string) string { return fmt.Sprintf("$%d::%s", n, t) },
	columns: `SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1`,
	time:    func(t time.Time) any { return t },
}

var sqliteDialect = dialect{
	name: "sqlite", text: "TEXT", bigint: "INTEGER", integer: "INTEGER", boolean: "INTEGER", json: "TEXT",
	blob: "BLOB", timestamp: "TEXT", falseLit: "0",
	typed: map[mirror.ColumnType]string{mirror.TypeText: "TEXT", mirror.TypeInteger: "INTEGER",
		mirror.TypeNumber: "REAL", mirror.TypeBoolean: "INTEGER", mirror.TypeJSON: "TEXT"},
	param:   func(n int, _ string) string { return fmt.Sprintf("?%d", n) },
	columns: `SELECT name FROM pragma_table_info(?1)`,
	time:    func(t time.Time) any { return t.UTC().Format(time.RFC3339Nano) },
}

// quote quotes an SQL identifier.
func quote(id string) string { return `"` + strings.ReplaceAll(id, `"`, `""`) + `"` }

// isUniqueViolation reports a primary-key or unique violation.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
	}
	return false
}

// existingColumns lists a table's columns (none when it does not exist).
func (d dialect) existingColumns(ctx context.Context, db *sql.DB, table string) (map[string]bool, error) {
	rows, err := db.QueryContext(ctx, d.columns, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		out[name] = true
	}
	return out, rows.Err()
}
