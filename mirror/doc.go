// Package mirror is gcupsert's reference consumer of the sync topic: it
// keeps one SQL table per route in step with what the worker wrote to
// Genesys Cloud, exactly once, and so doubles as the pipeline's end-to-end
// oracle (after any fault, the mirror equals the target).
//
// Contract:
//   - A consumer group reads the sync topic (and, optionally, the
//     dead-letter topic into an errors table). Every batch of a partition
//     is applied in one database transaction that also stores the next
//     offset of that partition; on assignment a partition resumes from the
//     offset stored in the database, never from Kafka's committed offset
//     (which is written afterwards, for monitoring only). A crash between
//     the transaction and anything else neither loses nor applies twice.
//   - Per key, an event is applied only if its source position is newer
//     than the one stored for the key: another source topic or partition,
//     or a greater offset of the same one (docs/events.md). The rule is in
//     the SQL statements themselves, so it holds whatever the order of
//     delivery, redelivery included. A delete removes the row (or marks it,
//     Config.Deletes) and keeps its position in a tombstone, so that a late
//     older event cannot resurrect the record.
//   - A table has typed columns from the route's JSON Schema, the record
//     as JSON, and the source position, event id and times; a schema
//     change adds columns and never drops one.
//   - The Store interface is the database: sqldb implements it for
//     PostgreSQL and SQLite.
package mirror
