// Package datatables is the data-tables family of the Genesys Cloud
// emulator: Architect data tables, their rows, CSV import jobs, the
// behaviours the documentation leaves open (Variants) and fixtures. It is
// built on a core.Server (see package core for the token endpoint, the
// checks every API request passes first, rate limits and faults); an
// injected 503 on its paths has code flows.datatables.server.too.busy.
//
// # Data tables
//
// Architect data tables under /api/v2/flows/datatables, as the Genesys
// Cloud API serves them; every route is counted in Stats under its pattern
// (the Kind* constants). Error bodies are ErrorBody. Codes:
//
//   - flows.datatables.table.not.found (404): unknown table id (entityId);
//   - flows.datatables.row.not.found (404): unknown row key (entityId);
//   - flows.datatables.syntax.error (400): a schema or a row that breaks the
//     rules; details[] name each field (fieldName, errorCode);
//   - flows.datatables.limit.exceeded (400): a limit, named in message and
//     limit {key, namespace flows.datatables, value};
//   - flows.datatables.row.exists (409 or 400, see Variants);
//   - flows.datatables.name.exists (409): a table name taken
//     (case-insensitive);
//   - flows.datatables.import.job.not.found (404);
//   - bad.request (400): bad query parameters or a body that is not JSON.
//
// Tables:
//
//	GET    /api/v2/flows/datatables            paged; name (wildcard *, case-insensitive), sortBy id|name, sortOrder, expand=schema
//	POST   /api/v2/flows/datatables            {"name","description","schema"} -> 200 table with schema
//	GET    /api/v2/flows/datatables/{id}       ?expand=schema adds the schema
//	PUT    /api/v2/flows/datatables/{id}       name, description, schema: fields may be added, never removed or retyped
//	DELETE /api/v2/flows/datatables/{id}       204 (?force is accepted and ignored); its rows and jobs go too
//
// A table is {id, name, division{id,name,selfUri} (always the Home
// division), description, schema, selfUri}. A schema must be a JSON Schema
// draft-04 object ($schema, when given, must be draft-04; type, when given,
// "object") with additionalProperties false, required exactly ["key"], a
// "key" property of type string, and properties of type string, integer,
// number or boolean only, at most MaxFields (default 50, key included). A
// property's default must have its type; minLength/maxLength (strings) and
// minimum/maximum (integers, numbers) are enforced on rows; other keywords
// are kept and ignored. The schema is served with title, $id
// ("/properties/<name>") and displayOrder (document order unless given)
// filled in. At most MaxTables tables (default 200).
//
// Rows (rowId = the key, path-escaped: "a/b" arrives as a%2Fb):
//
//	GET    .../{id}/rows            paged; showbrief (default true: {"key"} only), sortOrder by key
//	POST   .../{id}/rows            body = row -> 200 full row
//	GET    .../{id}/rows/{rowId}    showbrief (default true) -> {"key"} or the full row
//	PUT    .../{id}/rows/{rowId}    body = full row (key optional; must equal rowId) -> 200 full row
//	DELETE .../{id}/rows/{rowId}    empty body, 204 or 200 (Variants); 404 when missing
//
// A row is a flat object. It must hold a non-empty string key of at most
// MaxKeyLength characters (default 256; longer: 400 syntax.error with
// detail key.too.long and limit max.key.length) and only schema properties
// of the right type (integer: an integral JSON number; null is a type
// error). Details' errorCodes are schema.required, schema.type,
// schema.additionalProperties, schema.maxLength, ..., key.empty,
// key.too.long, key.mismatch. A property a row omits reads back as its
// default, else "", 0 or false; defaults of fields added later apply to
// existing rows. PUT replaces the whole row. A table holds at most
// MaxRowsPerTable rows (default 5,000): one more is refused with 400
// flows.datatables.limit.exceeded, limit max.rows.per.table.
//
// Paged lists take pageNumber (default 1) and pageSize (default 25, at most
// 500; outside: 400) and answer {entities, pageSize, pageNumber, total,
// pageCount, firstUri, selfUri, nextUri, previousUri, lastUri}; the URIs
// repeat the query with pageNumber and pageSize set, nextUri and
// previousUri are left out on the last and first page, and a page past the
// end is empty.
//
// # Variants
//
// Behaviours the documentation leaves open are chosen by Variants
// (Config.Variants, SetVariants, or GET/PUT /emulator/datatables/variants
// with {"postExisting","putMissing","deleteStatus"}; Reset restores the
// configured ones):
//
//   - PostExisting: POST /rows on an existing key answers "409" (default)
//     or "400", code flows.datatables.row.exists; the row is unchanged.
//   - PutMissing: PUT /rows/{rowId} on a missing key answers "404" (default,
//     flows.datatables.row.not.found) or "create"s the row (200).
//   - DeleteStatus: a successful row DELETE answers 204 (default) or 200,
//     both with an empty body.
//
// # CSV import jobs
//
//	POST /api/v2/flows/datatables/{id}/import/csv/jobs   {"importMode":"Append"|"ReplaceAll"} (empty body: Append)
//	POST /api/v2/flows/datatables/{id}/import/jobs       the same
//	GET  /api/v2/flows/datatables/{id}/import/jobs       paged, newest first
//	GET  /api/v2/flows/datatables/{id}/import/jobs/{jobId}
//	PUT  {uploadURI}                                      the CSV file
//
// A job is {id, name, status, dateCreated, dateCompleted, uploadURI,
// uploadHeaders, importMode, errorInformation, countRecordsUpdated,
// countRecordsDeleted, countRecordsFailed, selfUri}; dates are ISO-8601 UTC
// with milliseconds. A new job is WaitingForUpload. Its uploadURI is an
// absolute URL on the host the job request was sent to, outside /api/v2
// (http://<host>/uploads/datatables/<jobId>), like a pre-signed storage
// URL: it takes one PUT carrying every header of uploadHeaders
// (X-Upload-Token, and Content-Type text/csv compared as a media type), no
// bearer token, and is neither rate limited nor faulted. Answers: 200 empty
// body; 403 when a header is missing or wrong; 404 for an unknown job; 409
// when the job already has its upload; 405 for other methods. The job is
// then Processing for Config.ImportProcessingTime on the server's clock
// (default 2 s) and completes when a request or a Go method looks at the
// data tables after that time (no goroutine runs meanwhile).
//
// CSV format (RFC 4180; a UTF-8 byte-order mark is skipped): the first line
// names the columns, each a schema field, one of them "key"; other lines are
// rows. An empty cell leaves the property out (its default applies);
// booleans are true or false (any case); integers and numbers are JSON
// number text. A header with an empty, repeated or unknown column name, no
// key column, an empty file or a CSV syntax error fails the job (status
// Failed, errorInformation a 400 flows.datatables.syntax.error ErrorBody,
// nothing changed). Otherwise the job Succeeded: ReplaceAll first deletes
// every row (countRecordsDeleted); each line is then inserted or replaces
// the row of its key (countRecordsUpdated), or is skipped and counted in
// countRecordsFailed when it has the wrong number of cells, fails row
// validation (type, key empty or too long) or would be a row over
// MaxRowsPerTable.
//
// # Fixtures
//
// LoadFixtures (and so emulator.Config.Fixtures), POST
// /emulator/datatables and the emulator command's --fixtures take one JSON
// or YAML document; its clients are added to the core server:
//
//	{"clients": {"<id>": "<secret>"},
//	 "tables": [{"name": "...", "id": "<optional>", "description": "...",
//	             "schema": {<data-table schema>}, "rows": [{"key": "...", ...}]}]}
//
// Every table and row is checked with the rules above; on error nothing is
// loaded. Tables seeded this way or by CreateTable, with their seeded rows,
// are what Reset restores; tables created through the API are dropped.
// Rows and the admin route return rows with every field (defaults applied)
// as encoding/json decodes them (numbers are float64).
//
// # Admin routes
//
//	POST   /emulator/datatables               body = fixtures document (LoadFixtures); 204
//	GET    /emulator/datatables/{table}/rows  Rows of a table by id or name; 404 if unknown
//	GET    /emulator/datatables/variants      the Variants
//	PUT    /emulator/datatables/variants      change them (fields left out keep their value)
package datatables
