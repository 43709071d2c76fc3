// Package upsert writes batches of record changes to Genesys Cloud and
// reports an outcome for every record.
//
// A target (CustomObjects, DataTables) is used in three steps:
//
//   - Prepare validates one Record (JSON Schema, reference fields) and
//     encodes it into an Item whose Body is exactly the bytes placed in the
//     request body. Rejections are *RecordError values, never panics.
//   - Limits gives the records and bytes allowed per request and the body
//     framing: a body of n items totalling b bytes is Limits.BodySize(n, b)
//     bytes long, exactly.
//   - Upsert runs the batch checks (unique fields, each on its own;
//     reference fields), sends the requests and returns one Outcome per
//     item, in order. Permanent failures (400, 403, 404, 409, 413 of a
//     single record, 422) are per-record rejections; records named by the
//     API are rejected and the rest resent, and a failure that names no
//     record is bisected until the offenders are isolated. The error return
//     is used only when ctx ended, a transient failure outlived the retry
//     budget, or the credentials were refused (invalid_client, or 401 even
//     after one token refresh: IsAuthFailure); the Result then carries no
//     outcomes and the batch must be sent again.
//
// Client holds the connection to the API: OAuth 2 client credentials in
// the HTTP transport (a 401 drops the token, fetches a new one and replays
// the request once), keep-alive connections, optional pacing, and retries
// with exponential backoff in which a Retry-After header replaces the
// computed delay (capped). IsRetryable is the one place that decides what
// is transient: network errors, 429 and 5xx other than 501. Every wait uses
// the configured clock.Clock. Errors and log lines never contain the client
// secret or a token.
//
// DataTables (NewDataTables) targets an Architect data table by name or
// id. Its schema is read with expand=schema at start, again after
// SchemaRefresh, and sooner after a schema error or a record naming an
// unknown column. Prepare coerces string values to the column types
// (integer, number, boolean) and validates against the schema. Upsert checks
// reference fields against a TTL cache of the referenced tables' keys (a
// miss is confirmed with a point lookup) and unique fields within the batch
// and against an index of the table kept current by the target's writes;
// then a batch of at least ImportThreshold upserts goes as CSV import jobs
// (Append), otherwise one request per row, RowsParallelism at a time:
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
// The Client's pacer (Pacing) is shared by every target on the Client,
// since the budget belongs to the token: from the inin-ratelimit-* headers
// it spreads the requests the window has left over the time left, minus a
// reserve and the requests in flight, so that a steady run meets no 429.
//
// Client, CustomObjects and DataTables are safe for concurrent use; a
// CustomObjects Upsert sends its requests one after another.
package upsert
