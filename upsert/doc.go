// Package upsert writes batches of record changes to Genesys Cloud and
// reports an outcome for every record.
//
// A target (CustomObjects) is used in three steps:
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
// Client and CustomObjects are safe for concurrent use; one Upsert call
// sends its requests one after another.
package upsert
