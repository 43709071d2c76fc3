// Package externalcontacts is the External Contacts family of the Genesys
// Cloud emulator: external sources, data schemas (custom fields), external
// contacts and organizations, bulk enrich, identifier lookup, bulk remove
// and fetch. It is built on a core.Server (see package core for the token
// endpoint, the checks every API request passes first, rate limits and
// faults) and written from the Genesys Cloud SDKs' models and endpoint
// documentation (docs/genesys-api.md lists the facts and their sources);
// it shares no code with the client. Behaviours no source states are
// marked "guess" below.
//
// Every route lies under /api/v2/externalcontacts and is counted in Stats
// under its pattern (the Kind* constants; Kinds lists them). Bodies use
// the JSON names of the SDK models (Externalcontact, Externalorganization,
// Externalsource, Dataschema, ...); the family never emits a field those
// models lack. Times are UTC with milliseconds and a literal Z
// (2030-01-02T03:04:05.000Z). Request fields of the wrong JSON type are a
// 400; unknown request fields are ignored (guess); read-only fields (ids,
// dates, type, selfUri, a phone's e164, userInput and countryCode) are
// ignored on write. Errors of single requests are core.ErrorBody with
// details[] {errorCode, fieldName}; a body over the server's MaxBodyBytes
// is 413 request.entity.too.large with limit {max.body.bytes,
// externalcontacts}. Request text copied into messages is clipped to 64
// characters.
//
// # External sources
//
//	GET    /externalsources?cursor=&limit=&name=&active=   Cursorexternalsourcelisting
//	POST   /externalsources                                200 Externalsource
//	GET    /externalsources/{externalSourceId}             200; 404 not.found
//	PUT    /externalsources/{externalSourceId}             200; 404; 409
//	DELETE /externalsources/{externalSourceId}             204; 404
//
// A source is {id, name, active, linkConfiguration{uriTemplate}, selfUri}.
// name is required, trimmed, 1 to 200 characters and unique
// case-insensitively (409 externalcontacts.source.name.exists, code a
// guess); active defaults to true, on PUT too (guess, from Terraform's
// default); PUT replaces the whole source, a linkConfiguration left out is
// removed (guess); uriTemplate is required in a linkConfiguration, at most 400
// characters and an absolute http(s) URL. Listing: limit 10 to 200,
// default 100, and limit=0 means the default (the Go SDK always sends it);
// other limits 400. name is a case-insensitive prefix filter; active
// filters only when present ("true" or "false"; the SDK always sends it;
// other values 400). Sources are sorted by name, case-insensitively, then
// id (guess). A page with more after it carries cursors.after and nextUri;
// the last page has neither. A cursor lives 24 hours on the server's
// clock; an unknown or expired cursor is 400. Deleting a source leaves the
// external ids that name it; they show externalSource {id} only.
//
// # Data schemas
//
// For {et} = contacts and organizations:
//
//	GET    /{et}/schemas                             Dataschemalisting {total, entities, selfUri}: current versions
//	POST   /{et}/schemas                             200 Dataschema at version 1
//	GET    /{et}/schemas/{schemaId}                  the current version; 404
//	PUT    /{et}/schemas/{schemaId}                  200 the next version; 400; 404; 409
//	GET    /{et}/schemas/{schemaId}/versions         Dataschemalisting of every version, oldest first
//	GET    /{et}/schemas/{schemaId}/versions/{n}     version n; 404
//	DELETE /contacts/schemas/{schemaId}              204 (organization schemas cannot be deleted: 405)
//
// A schema shows {id, name, version, appliesTo ["CONTACT"] or
// ["EXTERNAL_ORGANIZATION"] (guess), enabled (default true), createdBy
// {id, selfUri} (one fixed user, guess), dateCreated (of the version),
// jsonSchema, selfUri}. name: required, trimmed, at most 100 characters
// (guess), unique per entity type case-insensitively (409
// externalcontacts.schema.name.exists, guess). PUT needs the current
// version (missing: 400; another: 409
// externalcontacts.schema.version.conflict, guess) and answers version+1
// (guess); name and enabled left out keep their values; a field may be
// added and its constraints changed, never removed or retyped (400,
// details property.removed / property.retyped; guess). At most 20 schemas,
// contacts and organizations together, and 25 fields a schema: 400
// externalcontacts.schema.limit.exceeded with limit max.schemas or
// max.fields.per.schema (code a guess). Deleting a schema leaves the
// entities that name it unchanged (guess).
//
// jsonSchema holds only Jsonschemadocument keys (id, $schema, title,
// description, type, required, properties, additionalProperties); $schema,
// when given, is draft-04; type "object"; required names properties;
// additionalProperties a boolean (kept, but unknown custom fields are
// refused either way; guess). Each property is
// {"allOf":[{"$ref":"#/definitions/<core type>"}], "title", "description",
// <constraints>} and its name (a letter, then letters, digits and "_", at
// most 100 characters: guess) ends with _<core type>. Core types, their
// values and constraints (value types and definitions are guesses):
//
//	text, longtext, url, identifier   string of at most 100, 1000, 200, 100 characters (url: absolute http(s)); minLength, maxLength within that
//	enum                              string; enum: 1 to 50 distinct values of 1 to 100 characters; _enumProperties
//	integer, number                   JSON integer, number; minimum, maximum
//	checkbox                          boolean
//	date, datetime                    "YYYY-MM-DD"; RFC 3339 date-time
//	tag                               array of at most 10 strings of 1 to 100 characters; items{minLength,maxLength}, minItems, maxItems, uniqueItems
//
// Any other keyword, or a limit exceeded, is 400 bad.request with a detail
// naming jsonSchema.properties.<name>[.<keyword>]. The definitions are
// supplied when the custom fields are compiled (draft-04, with
// santhosh-tekuri/jsonschema), since a Jsonschemadocument has none.
//
// # Contacts and organizations
//
//	POST   /contacts, /organizations                 200 the entity
//	GET    /contacts/{contactId}, /organizations/{externalOrganizationId}    200; 404
//	DELETE /contacts/{contactId}, /organizations/{externalOrganizationId}    204; 404
//
// Every write (these, and each enrich operation) normalises and checks
// the entity; a failure is 400 bad.request with one detail per field
// (errorCode required, max.length, max.items, invalid.email, invalid.url,
// invalid.value, unknown.externalSource, unknown.externalOrganization,
// unknown.schema, schema.<keyword>). Strings are trimmed and an empty
// string is a field left out (guess). Limits: names, title, salutation
// and an organization's name 1000 (companyType, industry: 1000, guess);
// emails 256 and
// local@domain.tld; address 200/200/100/50/25/25; phone display 512;
// externalSystemUrl 1000 and an absolute http(s) URL; twitterId fields 255,
// screenName ^@?[A-Za-z0-9_]+$; lineId, facebookId, instagramId at most one
// id; appleOpaqueIds at most 10; externalIds at most 10, each an existing
// externalSource.id and a value of 1 to 255 characters (repeats dropped).
// An organization needs a name. No other entity of the same type may hold
// one of an entity's external ids: 409 externalcontacts.externalid.conflict
// (guess). A contact's externalOrganization is written {id} and must exist
// (else detail unknown.externalOrganization); it is shown in full.
// Deleting an organization (here or in bulk) unlinks the contacts naming
// it (guess).
//
// Phones: a display that is "+" then 8 to 15 digits (spaces, dashes, dots
// and parentheses ignored) is shown with e164 "+<digits>" (guess at the
// parser); userInput always repeats the display; countryCode is never
// set. Custom fields need schema {id, version} naming an existing schema
// of the entity type (detail unknown.schema) that is enabled (else 400
// externalcontacts.schema.disabled, guess) at its current version (else
// 400 externalcontacts.schema.version.mismatch, guess), and must validate
// against it (unknown key, type, constraint: detail schema.<keyword>,
// fieldName customFields.<key>). Schema and custom fields are checked
// only when a write names one of them (guess). The entity shows schema as
// {id, version} (guess).
//
// Entities show id, division (one Home division, guess), createDate,
// modifyDate, selfUri (/api/v2/externalcontacts/contacts/{id} or
// /organizations/{id}), and a contact's type "Curated" (guess); never
// identifiers, trustor, externalDataSources or merge fields.
//
// # Enrich
//
//	POST /bulk/contacts/enrich?dryRun=, /bulk/organizations/enrich?dryRun=   200 Bulk*enrichresponse
//	POST /contacts/enrich?dryRun=, /organizations/enrich?dryRun=             201 created, 200 updated; else the failure
//
// A bulk body is {"entities":[operations]}: none, or more than MaxEnrich
// (default 10), is 400 for the whole request (limit max.enrich.operations).
// An operation (Contactenrichrequest, Externalorganizationenrichrequest)
// has action Upsert, Update or Insert (contacts also Merge, served as
// Upsert: guess), matchingIdentifiers (contacts 1 to 25, organizations at
// least 1 and ExternalId only), the entity, and fieldRules. Operations run
// in request order and see each other (guess). The first identifier that
// matches picks the entity: ExternalId matches externalIds {source id,
// value}, Email a contact's emails case-insensitively, Phone the E.164 of
// a contact's phones (a value that is not "+" and digits is 400); other
// types never match (guess); of several entities the oldest wins. Insert
// on a match fails 409 externalcontacts.enrich.conflict; Update without a
// match 404 externalcontacts.enrich.not.found (codes guesses); otherwise
// the entity is created (201) or updated (200) (statuses guesses, from the
// single enrich doc). A new entity takes every ExternalId identifier as an
// external id; an updated one keeps the external id it was matched by
// (guess).
//
// fieldRules: defaultAction PreferProvided (default: provided non-null
// values win, omitted ones keep the stored value), AlwaysUseProvided
// (provided values win, omitted fields are cleared) or PreferExisting
// (only empty stored fields are filled); rules [{field "$.a.b", action,
// arrayAction}] override the defaults for a field and what lies under it
// (dot paths of letters, digits and "_"; others 400). Objects (address,
// phones, social ids, customFields) are merged field by field; schema and
// externalOrganization are single values. Where the action takes a
// provided array and a stored one exists, defaultArrayAction or the rule's
// arrayAction combine them: Replace (the provided array), Extend (stored
// items, then provided ones not there; over the array's limit the
// operation fails 400) or Fill (default; the same, up to the limit);
// PreferExisting keeps a stored non-empty array. Array limits: externalIds
// and appleOpaqueIds 10, social ids 1, tags, websites and tickers none.
// options.promote is accepted and changes nothing (every contact is
// Curated).
//
// A bulk result is {id: the operation's id, success, status, entity on
// success, error on failure: {code, message, status, retryable,
// details[{fieldName, value, message}], entity: the operation as sent}}.
// Results are shuffled (seeded); errorCount counts the failures and
// errorIndexes index them in results. A share RetryableShare (default 0)
// of valid operations fails with status 503,
// externalcontacts.service.unavailable, retryable true, and changes
// nothing (guess). dryRun=true answers as if applied and keeps nothing;
// other values than true and false are 400.
//
// # Identifier lookup
//
//	POST /identifierlookup/contacts        body Contactidentifier -> 200 Externalcontact; 404 not.found (guess)
//	POST /identifierlookup/organizations   body ExternalId identifier -> 200 Externalorganization; 404; another type 400
//
// Matching as for enrich; an ExternalId of an unknown source finds nothing
// (404). expand is accepted and ignored.
//
// # Bulk remove and fetch
//
//	POST /bulk/contacts/remove, /bulk/organizations/remove   {"entities":[{"id"}]} -> 200 Bulkdeleteresponse
//	POST /bulk/contacts, /bulk/organizations                 {"entities":[{"id"}]} -> 200 Bulkfetch*response
//
// At most MaxBulk entities (default 100, guess; more, or none: 400, limit
// max.bulk.entities). Per entity: success status 200 (guess; remove
// carries no entity, fetch the entity), an unknown id 404 not.found, no
// id 400, each with error.entity {id}. Results are shuffled too.
//
// Not served (404 or 405): PUT and PATCH of a single contact or
// organization, bulk add and update, divisionviews, unresolved, contact
// search, identifiers, coretypes and limits, reverse whitepages lookup.
//
// # Admin routes and Go API
//
//	GET /emulator/externalcontacts/contacts        Contacts(): {"<id>": contact as the API shows it}
//	GET /emulator/externalcontacts/organizations   Organizations()
//	GET /emulator/externalcontacts/sources         {"<name>": "<id>"}
//	GET /emulator/externalcontacts/config          AdminConfig {retryableShare, maxEnrich, maxBulk}
//	PUT /emulator/externalcontacts/config          {"retryableShare": s} (SetRetryableShare); answers AdminConfig
//
// Config seeds sources and schemas; CreateSource and CreateSchema seed
// more. Reset restores the seeded state: those sources (same ids) and
// schemas (same ids, version 1), no contact or organization, no cursor,
// the configured RetryableShare, and the random sequence from the seed.
package externalcontacts
