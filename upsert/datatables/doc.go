// Package datatables is the "datatables" target: rows of an Architect data
// table, the real Genesys Cloud API.
//
// New resolves the table by name or id and compiles its schema
// (expand=schema); the schema is read again after SchemaRefresh, and sooner
// after a schema error or a record naming an unknown column, lazily on the
// next Upsert (no background goroutine). Prepare coerces string values to
// the column types (integer, number, boolean) and validates against the
// schema; it encodes the row as its JSON when import is off, as its CSV
// line when it is on (then Limits is the import bound and the CSV header
// the framing, so that the batcher sizes the upload exactly).
//
// Upsert checks reference fields against a TTL cache of the referenced
// tables' keys (a miss is confirmed with a point lookup) and unique fields
// within the batch and against an index of the table kept current by the
// target's writes (upsert.UniqueValue decides equality); then a batch of at
// least ImportThreshold upserts goes as CSV import jobs (Append), otherwise
// one request per row, RowsParallelism at a time, the writes of one key in
// order:
//
//   - upsert: PUT, and POST when the row is missing (POST first when the
//     unique index knows the key is new). Where a PUT of a missing row
//     creates it, such a row is reported updated.
//   - updateOnly: an existence check (GET), then PUT; missing rows are
//     rejected (code record.not.found). PutMissingIs404 skips the check.
//   - createOnly: POST; 409, or 400 whose code or message says the row
//     exists, is rejected (code record.exists).
//   - delete: DELETE; 200, 204 and 404 (row) all count as deleted.
//
// An import reads the table's keys first (created or updated; createOnly
// and updateOnly conflicts are rejected before the upload), uploads the CSV
// to the job's uploadURI with every uploadHeaders header and no token, and
// polls the job with a growing interval. A job that reports failed rows is
// reconciled by reading the table back: exactly the rows missing or
// different from what was sent are rejected (code import.row.failed). A job
// that cannot be created or uploaded, or Failed as a whole, is written row
// by row instead. A job still running after ImportTimeout is a transient
// failure of the batch.
//
// A Target starts no goroutine outside Upsert and is safe for concurrent
// use.
package datatables
