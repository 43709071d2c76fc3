// Package customobjects is the customobjects family of the Genesys Cloud
// emulator: schemas, their records and the batch-records contract of this
// project. It is built on a core.Server (see package core for the token
// endpoint, the checks every request passes first, rate limits and
// faults) and counted in Stats under KindUpsert and KindDelete.
//
// # Routes
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
//     (record.exists), updateOnly on a missing id (record.not.found) or a
//     value of a unique field another id holds (unique.violation, see
//     SetUniqueFields) give 409 conflict with one ErrorBody per offending
//     record, as for 400.
//
// With the core's OmitEntityIDs fault on, 400 and 409 bodies carry no entityId and an empty
// errors[], so that clients must bisect. Success is 200
// {"results":[{"id","status":"created"|"updated","record":{...}}]} in request
// order; the stored record is the request record without conflictResolution
// (id included) and replaces any earlier version.
//
// DELETE /api/v2/customobjects/{schemaName}/records/{id} answers 204 with no
// body, or 404 not.found (entityId = id) for an unknown schema or id.
//
// # Admin routes
//
//	GET    /emulator/records/{schema}  {"<id>": record, ...}; 404 if unknown
//	PUT    /emulator/schemas/{schema}  body = JSON Schema (AddSchema); 204
//
// Reset drops every record; schemas and unique fields stay.
package customobjects
