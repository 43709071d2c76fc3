// Package externalcontacts is the "externalcontacts" target: Genesys Cloud
// External Contacts, contacts or external organizations, keyed by an
// external id in one external source (docs/genesys-api.md has the API
// facts and which behaviours are documented guesses).
//
//   - New finds the external source by name (creating it when allowed) and
//     the data schema of the custom fields by name (it must exist and be
//     enabled), and compiles the schema with the core types' definitions.
//   - Prepare maps a record onto the entity: standard fields by their SDK
//     names ("address.city" for address parts, phones as E.164 strings),
//     checked against the SDK model's constraints; every other field must
//     be a custom field of the data schema and is validated against it.
//     The entity carries the key as its external id.
//   - Upsert writes a batch by bulk enrich (POST
//     /api/v2/externalcontacts/bulk/{contacts|organizations}/enrich), at
//     most MaxEnrich operations a request, matching on the external id;
//     conflict_resolution gives the action (upsert: Upsert, updateOnly:
//     Update, createOnly: Insert) and the configured field rules apply
//     (default: a provided value wins, an omitted field stays). Results come
//     in any order and are matched by the tracker id each operation
//     carries (its index in the batch). Operations the API fails as
//     retryable are sent again alone, under the client's retry policy;
//     the others are rejected with the API's code, message and field
//     details. A data schema version error reads the schema again and
//     sends the operation once more, prepared against the new version.
//   - A contact's organization is named by the external id, in the same
//     source, that the organization field holds; it is resolved by
//     identifier lookup (cached for ReferenceTTL). Organizations and
//     contacts come from different topics, so an organization written a
//     moment later than its contact is waited for: a contact whose
//     organization does not exist is looked up again for ReferenceWait,
//     then rejected as reference.dangling.
//   - A delete finds the entity by identifier lookup and removes it by
//     bulk remove; an external id or entity id the API does not know
//     counts as deleted.
//   - Two events of one key in a batch go in successive phases, so that
//     per key order holds.
package externalcontacts
