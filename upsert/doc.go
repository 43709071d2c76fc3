// Package upsert is the Genesys Cloud client every target shares, and the
// rules the targets share. Each target is a package of its own under it
// (customobjects, datatables); a target is used in three steps:
//
//   - Prepare validates one change.Record and encodes it into a
//     change.Item whose Body is exactly the bytes placed in the request.
//     Rejections are *change.RecordError values, never panics.
//   - Limits gives the records and bytes allowed per request and the body
//     framing: a body of n items totalling b bytes is Limits.BodySize(n, b)
//     bytes long, exactly.
//   - Upsert sends the requests and returns one change.Outcome per item, in
//     order. Permanent failures are per-record rejections. The error return
//     is used only when ctx ended, a transient failure outlived the retry
//     budget, or the credentials were refused (IsAuthFailure); the Result
//     then carries no outcomes and the batch must be sent again.
//
// Client holds the connection to the API: OAuth 2 client credentials in
// the HTTP transport (a 401 drops the token, fetches a new one and replays
// the request once), keep-alive connections, pacing, and retries under one
// retry.Policy in which a Retry-After header replaces the computed delay
// (capped). Do sends a Call. IsRetryable is the one place that decides what
// is transient (network errors, 429 and 5xx other than 501); Sort is the one
// place that decides what a failed request becomes for a target (fatal,
// an API answer to map to rejections, or a rejection). Every wait uses the
// configured clock.Clock. Errors and log lines never contain the client
// secret or a token.
//
// The Client's pacer (Pacing) is shared by every target on the Client,
// since the budget belongs to the token: from the inin-ratelimit-* headers
// it spreads the requests the window has left over the time left, minus a
// reserve and the requests in flight, so that a steady run meets no 429.
//
// What the targets share is written once here: Tracker (outcomes,
// attempts and correlation ids per item), the rejection builders,
// UniqueValue and UniqueSet (the one rule for unique fields), EncodeObject
// (a record as sent), CompileSchema and ValidateFields (JSON Schema), and
// the data table lookups (GetTable, ListTables, EachPage).
//
// Client and Tracker are safe for concurrent use.
package upsert
