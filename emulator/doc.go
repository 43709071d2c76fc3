// Package emulator is an in-memory stand-in for Genesys Cloud, for tests,
// the demo and local development. It is written from the documented
// behaviour of the Genesys Cloud Platform API and from the customobjects
// batch contract of this project, and shares no code with the client in
// package upsert. Use it in process (New, then Handler with httptest) or as
// a network server (ListenAndServe, or Listen and Serve).
//
// # Token endpoint
//
// POST /oauth/token implements OAuth 2 client credentials. The client id and
// secret must arrive in an "Authorization: Basic" header; credentials sent
// only in the form are rejected with 401 invalid_client. The form body must
// say grant_type=client_credentials (else 400 unsupported_grant_type, or
// invalid_request when missing). The answer is
// {"access_token":"...","token_type":"bearer","expires_in":<seconds>}; errors
// are {"error","description","error_description"}. The token endpoint is never
// faulted or rate limited.
//
// # Order of checks on /api/v2 requests
//
//  1. Injected latency (waits on the configured Clock).
//  2. Down: 503 service.unavailable, before the bearer check.
//  3. Bearer token: missing or unknown 401 authentication.required; expired
//     (by the Clock) 401 credentials.expired; revoked 401
//     authentication.required.
//  4. Rate limit: a fixed 60 s window per token, opened by the token's first
//     request in it. Every request counts, rejected ones included; once the
//     count exceeds the limit the answer is 429 with Retry-After = seconds to
//     the window's end (rounded up, at least 1) and exactly the Genesys body
//     {"message":"Rate limit exceeded the maximum. Retry the request in [N]
//     seconds","code":"too.many.requests.retry.after","status":429,
//     "contextId":"<correlation id>","details":[],"errors":[]}.
//  5. Injected failures: queued FailNext statuses, then the 429 storm, then
//     the random 5xx ratio (an injected 503 has code server.too.busy).
//  6. The route; unknown paths get 404 not.found, known paths with another
//     method 405 method.not.allowed.
//
// Every response carries a unique ININ-Correlation-Id; every /api/v2
// response also carries inin-ratelimit-allowed (the limit),
// inin-ratelimit-count (requests in the token's window) and
// inin-ratelimit-reset (seconds to the window's end). Every error on /api/v2
// and /emulator is an ErrorBody whose contextId is the correlation id.
//
// # customobjects
//
// POST /api/v2/customobjects/{schemaName}/records with {"records":[...]}.
// The checks run in this order; the first that fails decides the answer and
// nothing is stored (a batch is atomic):
//
//   - unknown schema: 404 not.found;
//   - body over MaxBodyBytes (default 2 MiB): 413 request.entity.too.large,
//     limit {key max.body.bytes, namespace customobjects};
//   - not a JSON object with a non-empty "records" array: 400 bad.request;
//   - more than MaxRecords records (default 100): 413
//     request.entity.too.large, limit {key max.records};
//   - per record: a JSON object with a non-empty string "id" and a
//     "conflictResolution" of upsert, updateOnly or createOnly, whose other
//     fields satisfy the schema. Any offender: 400 bad.request whose errors[]
//     holds one ErrorBody per offending record, in request order, with code
//     invalid.record, entityId = the record id and details[] naming each
//     field (fieldName, entityId, errorCode missing.id, invalid.id,
//     missing.conflictResolution, invalid.conflictResolution, not.object or
//     "schema.<keyword>" such as schema.type, schema.required,
//     schema.additionalProperties, schema.maxLength);
//   - conflicts, with the records applied in request order (a batch may
//     create a record and then update it): createOnly on an existing id
//     (record.exists) or updateOnly on a missing id (record.not.found) give
//     409 conflict with one ErrorBody per offending record, as for 400.
//
// With OmitEntityIDs on, 400 and 409 bodies carry no entityId and an empty
// errors[], so that clients must bisect. Success is 200
// {"results":[{"id","status":"created"|"updated","record":{...}}]} in request
// order; the stored record is the request record without conflictResolution
// (id included) and replaces any earlier version.
//
// DELETE /api/v2/customobjects/{schemaName}/records/{id} answers 204 with no
// body, or 404 not.found (entityId = id) for an unknown schema or id.
//
// # Admin API
//
// For processes that cannot call the Go methods; never faulted, not counted
// in Stats. Bodies are JSON, durations Go duration strings ("250ms"):
//
//	GET    /emulator/health            {"status":"ok"}
//	GET    /emulator/faults            the fault settings
//	POST   /emulator/faults            change them; answers the new settings
//	DELETE /emulator/faults            turn every fault off
//	GET    /emulator/stats             Stats
//	GET    /emulator/records/{schema}  {"<id>": record, ...}; 404 if unknown
//	PUT    /emulator/schemas/{schema}  body = JSON Schema (AddSchema); 204
//	POST   /emulator/reset             Reset; 204
//
// POST /emulator/faults takes any of latency, latencyMedian, latencyP99,
// errorRatio, errorStatus, storm429, retryAfter, down, omitEntityIds (fields
// left out keep their value), "failNext":{"count":n,"status":s} (queued
// after earlier failures), "revokeTokens":true and "clear":true (turn
// everything off before applying the rest). Unknown fields are rejected.
//
// A Server is safe for concurrent use; its fault switches and inspection
// methods may be called while it serves.
package emulator
