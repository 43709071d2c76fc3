package externalcontacts

import "github.com/gcupsert/gcupsert/emulator/core"

// basePath starts every route of the family.
const basePath = "/api/v2/externalcontacts"

// Request kinds of the family, counted in Stats.ByKind: the route patterns.
const (
	KindSources      = "GET " + basePath + "/externalsources"
	KindSourceCreate = "POST " + basePath + "/externalsources"
	KindSourceGet    = "GET " + basePath + "/externalsources/{externalSourceId}"
	KindSourceUpdate = "PUT " + basePath + "/externalsources/{externalSourceId}"
	KindSourceDelete = "DELETE " + basePath + "/externalsources/{externalSourceId}"

	KindContactSchemas        = "GET " + basePath + "/contacts/schemas"
	KindContactSchemaCreate   = "POST " + basePath + "/contacts/schemas"
	KindContactSchemaGet      = "GET " + basePath + "/contacts/schemas/{schemaId}"
	KindContactSchemaUpdate   = "PUT " + basePath + "/contacts/schemas/{schemaId}"
	KindContactSchemaDelete   = "DELETE " + basePath + "/contacts/schemas/{schemaId}"
	KindContactSchemaVersions = "GET " + basePath + "/contacts/schemas/{schemaId}/versions"
	KindContactSchemaVersion  = "GET " + basePath + "/contacts/schemas/{schemaId}/versions/{versionId}"

	KindOrgSchemas        = "GET " + basePath + "/organizations/schemas"
	KindOrgSchemaCreate   = "POST " + basePath + "/organizations/schemas"
	KindOrgSchemaGet      = "GET " + basePath + "/organizations/schemas/{schemaId}"
	KindOrgSchemaUpdate   = "PUT " + basePath + "/organizations/schemas/{schemaId}"
	KindOrgSchemaVersions = "GET " + basePath + "/organizations/schemas/{schemaId}/versions"
	KindOrgSchemaVersion  = "GET " + basePath + "/organizations/schemas/{schemaId}/versions/{versionId}"

	KindContactCreate = "POST " + basePath + "/contacts"
	KindContactGet    = "GET " + basePath + "/contacts/{contactId}"
	KindContactDelete = "DELETE " + basePath + "/contacts/{contactId}"
	KindContactEnrich = "POST " + basePath + "/contacts/enrich"

	KindOrgCreate = "POST " + basePath + "/organizations"
	KindOrgGet    = "GET " + basePath + "/organizations/{externalOrganizationId}"
	KindOrgDelete = "DELETE " + basePath + "/organizations/{externalOrganizationId}"
	KindOrgEnrich = "POST " + basePath + "/organizations/enrich"

	KindBulkContactsEnrich = "POST " + basePath + "/bulk/contacts/enrich"
	KindBulkContactsRemove = "POST " + basePath + "/bulk/contacts/remove"
	KindBulkContacts       = "POST " + basePath + "/bulk/contacts"
	KindBulkOrgsEnrich     = "POST " + basePath + "/bulk/organizations/enrich"
	KindBulkOrgsRemove     = "POST " + basePath + "/bulk/organizations/remove"
	KindBulkOrgs           = "POST " + basePath + "/bulk/organizations"

	KindLookupContacts = "POST " + basePath + "/identifierlookup/contacts"
	KindLookupOrgs     = "POST " + basePath + "/identifierlookup/organizations"
)

// Kinds lists every request kind of the family.
var Kinds = []string{
	KindSources, KindSourceCreate, KindSourceGet, KindSourceUpdate, KindSourceDelete,
	KindContactSchemas, KindContactSchemaCreate, KindContactSchemaGet, KindContactSchemaUpdate,
	KindContactSchemaDelete, KindContactSchemaVersions, KindContactSchemaVersion,
	KindOrgSchemas, KindOrgSchemaCreate, KindOrgSchemaGet, KindOrgSchemaUpdate,
	KindOrgSchemaVersions, KindOrgSchemaVersion,
	KindContactCreate, KindContactGet, KindContactDelete, KindContactEnrich,
	KindOrgCreate, KindOrgGet, KindOrgDelete, KindOrgEnrich,
	KindBulkContactsEnrich, KindBulkContactsRemove, KindBulkContacts,
	KindBulkOrgsEnrich, KindBulkOrgsRemove, KindBulkOrgs,
	KindLookupContacts, KindLookupOrgs,
}

// Register adds the family's API and admin routes.
func (f *Family) Register(rt core.Routes) {
	rt.API(KindSources, f.handleSourcesList)
	rt.API(KindSourceCreate, f.handleSourceCreate)
	rt.API(KindSourceGet, f.handleSourceGet)
	rt.API(KindSourceUpdate, f.handleSourceUpdate)
	rt.API(KindSourceDelete, f.handleSourceDelete)

	for _, et := range []EntityType{EntityContacts, EntityOrganizations} {
		rt.API(schemaKind(et, "list"), bind(et, f.handleSchemasList))
		rt.API(schemaKind(et, "create"), bind(et, f.handleSchemaCreate))
		rt.API(schemaKind(et, "get"), bind(et, f.handleSchemaGet))
		rt.API(schemaKind(et, "update"), bind(et, f.handleSchemaUpdate))
		rt.API(schemaKind(et, "versions"), bind(et, f.handleSchemaVersions))
		rt.API(schemaKind(et, "version"), bind(et, f.handleSchemaVersion))
	}
	rt.API(KindContactSchemaDelete, bind(EntityContacts, f.handleSchemaDelete))

	rt.API(KindContactCreate, bind(EntityContacts, f.handleEntityCreate))
	rt.API(KindContactGet, bind(EntityContacts, f.handleEntityGet))
	rt.API(KindContactDelete, bind(EntityContacts, f.handleEntityDelete))
	rt.API(KindContactEnrich, bind(EntityContacts, f.handleEnrichOne))
	rt.API(KindOrgCreate, bind(EntityOrganizations, f.handleEntityCreate))
	rt.API(KindOrgGet, bind(EntityOrganizations, f.handleEntityGet))
	rt.API(KindOrgDelete, bind(EntityOrganizations, f.handleEntityDelete))
	rt.API(KindOrgEnrich, bind(EntityOrganizations, f.handleEnrichOne))

	rt.API(KindBulkContactsEnrich, bind(EntityContacts, f.handleBulkEnrich))
	rt.API(KindBulkContactsRemove, bind(EntityContacts, f.handleBulkRemove))
	rt.API(KindBulkContacts, bind(EntityContacts, f.handleBulkFetch))
	rt.API(KindBulkOrgsEnrich, bind(EntityOrganizations, f.handleBulkEnrich))
	rt.API(KindBulkOrgsRemove, bind(EntityOrganizations, f.handleBulkRemove))
	rt.API(KindBulkOrgs, bind(EntityOrganizations, f.handleBulkFetch))

	rt.API(KindLookupContacts, bind(EntityContacts, f.handleLookup))
	rt.API(KindLookupOrgs, bind(EntityOrganizations, f.handleLookup))

	f.registerAdmin(rt)
}

// schemaKind returns the kind of a schema route of et.
func schemaKind(et EntityType, op string) string {
	k := map[string][2]string{
		"list":     {KindContactSchemas, KindOrgSchemas},
		"create":   {KindContactSchemaCreate, KindOrgSchemaCreate},
		"get":      {KindContactSchemaGet, KindOrgSchemaGet},
		"update":   {KindContactSchemaUpdate, KindOrgSchemaUpdate},
		"versions": {KindContactSchemaVersions, KindOrgSchemaVersions},
		"version":  {KindContactSchemaVersion, KindOrgSchemaVersion},
	}[op]
	if et == EntityOrganizations {
		return k[1]
	}
	return k[0]
}
