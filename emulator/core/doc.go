// Package core is what every API family of the Genesys Cloud emulator
// shares: the OAuth token endpoint, the checks every /api/v2 request
// passes, per-token rate limits, injected faults, Stats, the admin API's
// generic routes, and the helpers families answer with (ErrorBody,
// WriteError, WriteJSON, ReadBody, ...). It imports no family.
//
// # Families
//
// A family (customobjects, datatables, ...) is built on a Server and added
// with Server.Register; it implements Family. On the Routes it is given, it
// registers API routes (their patterns are the request kinds of
// Stats.ByKind), admin routes under /emulator/, direct routes outside
// /api/v2 (served with no bearer check, rate limit or fault) and the code
// of injected 503s under its path prefix. Server.Reset resets every family.
// Families read the clock (Clock), the logger (Log), the body limit
// (MaxBodyBytes) and the OmitEntityIDs fault (EntityIDsOmitted) on the
// Server, and add OAuth clients with AddClients.
//
// # Token endpoint
//
// POST /oauth/token implements OAuth 2 client credentials. The client id and
// secret must arrive in an "Authorization: Basic" header, raw (as the
// official SDKs send them) or each URL-encoded first (RFC 6749, 2.3.1, as
// golang.org/x/oauth2 does): both are accepted. Credentials sent only in
// the form are rejected with 401 invalid_client. The form body must
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
//  4. Rate limit: a fixed window per token (Config.RateWindow, default 60 s),
//     opened by the token's first request in it; the limit per window is
//     RateLimitPerMinute (default 300) whatever the window's length, so a
//     shorter window runs the rate clock faster. Every request counts,
//     rejected ones included; once the count exceeds the limit the answer is
//     429 with Retry-After = real seconds to the window's end (rounded up, at
//     least 1) and exactly the Genesys body
//     {"message":"Rate limit exceeded the maximum. Retry the request in [N]
//     seconds","code":"too.many.requests.retry.after","status":429,
//     "contextId":"<correlation id>","details":[],"errors":[]}.
//  5. Injected failures: queued FailNext statuses, then the 429 storm, then
//     the random 5xx ratio (an injected 503 has code server.too.busy, or
//     the code its family set with Routes.BusyCode).
//  6. The route; unknown paths get 404 not.found, known paths with another
//     method 405 method.not.allowed.
//
// Every response carries a unique ININ-Correlation-Id; while the rate limit
// is on (the default), every /api/v2 response also carries
// inin-ratelimit-allowed (the limit), inin-ratelimit-count (requests in the
// token's window) and inin-ratelimit-reset (seconds to the window's end).
// Every error on /api/v2 and /emulator is an ErrorBody whose contextId is
// the correlation id.
//
// # Faults
//
// Faults (SetFaults and the methods beside it, or the admin API) inject
// latency (fixed, or log-normal with a median and a 99th percentile), a
// random ratio of 5xx answers, queued failures (FailNext), a 429 storm, a
// down API (503 before the bearer check), revoked tokens, and
// OmitEntityIDs, which families read to leave record references out of
// their batch error bodies. Token requests and direct routes are never
// faulted.
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
//	POST   /emulator/reset             Reset (every family too); 204
//
// Families add their own admin routes (see their package comments). Paths
// under /emulator/ that no route serves get 404, or 405 for another method.
//
// POST /emulator/faults takes any of latency, latencyMedian, latencyP99,
// errorRatio, errorStatus, storm429, retryAfter, down, omitEntityIds (fields
// left out keep their value), "failNext":{"count":n,"status":s} (queued
// after earlier failures), "revokeTokens":true and "clear":true (turn
// everything off before applying the rest). Unknown fields are rejected.
//
// A Server is safe for concurrent use; its fault switches and inspection
// methods may be called while it serves. Register the families before it
// serves.
package core
