// Package emulator is an in-memory stand-in for Genesys Cloud, for tests,
// the demo and local development. It is written from the documented
// behaviour of the Genesys Cloud Platform API and from the customobjects
// batch contract of this project, and shares no code with the client in
// package upsert. Use it in process (New, then Handler with httptest) or as
// a network server (ListenAndServe, or Listen and Serve).
//
// A Server assembles packages that each document their own contract:
//
//   - core: the OAuth token endpoint, the order of checks on /api/v2
//     requests, per-token rate limits and their headers, faults, Stats,
//     the generic admin routes (/emulator/health, faults, stats, reset) and
//     serving;
//   - customobjects: POST and DELETE of customobjects records, schemas and
//     unique fields, /emulator/records and /emulator/schemas;
//   - datatables: data tables, rows, CSV import jobs, Variants, fixtures,
//     /emulator/datatables;
//   - externalcontacts: External Contacts (external sources, data schemas,
//     contacts, organizations, bulk enrich, identifier lookup, bulk remove
//     and fetch), /emulator/externalcontacts.
//
// Config gathers the settings of every package, with the field names
// callers use; New checks it, builds the core and registers each family.
// An API family is one folder: a package that builds on a core.Server and
// implements core.Family, registered by New.
//
// A Server is safe for concurrent use; its fault switches and inspection
// methods may be called while it serves.
package emulator
