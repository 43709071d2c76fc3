package externalcontacts

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gcupsert/gcupsert/emulator/core"
)

// decoder decodes a response body into an SDK mirror and returns it.
type decoder func(t *testing.T, b []byte) any

func as[T any]() decoder { return func(t *testing.T, b []byte) any { return decodeSDK[T](t, b) } }

// noBody checks an empty body.
func noBody(t *testing.T, b []byte) any {
	if len(b) != 0 {
		t.Errorf("body %s, want none", b)
	}
	return nil
}

// sdkCall sends a request to route kind, checks its status, decodes its
// body with dec (error bodies as the SDK's Errorbody) and returns the
// decoded value.
func (e *env) sdkCall(kind, path, body string, status int, dec decoder) any {
	e.T.Helper()
	method, _, _ := strings.Cut(kind, " ")
	w := e.call(method, path, body)
	if w.Code != status {
		e.T.Fatalf("%s %s: status %d, want %d: %s", method, path, w.Code, status, w.Body)
	}
	if status >= 400 {
		eb := decodeSDK[sdkErrorbody](e.T, w.Body.Bytes())
		if *eb.Status != status || *eb.ContextID == "" || eb.Code == nil || eb.Message == nil {
			e.T.Errorf("%s %s: error body %s", method, path, w.Body)
		}
		return eb
	}
	return dec(e.T, w.Body.Bytes())
}

// Every response the family produces, on every route, success and error,
// decodes into the Go SDK's models with unknown fields refused and times
// in the SDK's layout; and every route is counted in Stats.
func TestEveryResponseDecodesIntoTheSDKModels(t *testing.T) {
	e := newEnv(t, func(cc *core.Config, _ *Config) { cc.MaxBodyBytes = 64 << 10 })
	e.sourceRoutes()
	cs, os := e.schemaRoutes(EntityContacts), e.schemaRoutes(EntityOrganizations)
	org := e.orgRoutes(os)
	contact := e.contactRoutes(cs, org)
	e.bulkRoutes(contact, org)

	st := e.Srv.Stats()
	for _, k := range Kinds {
		if st.ByKind[k] == 0 {
			t.Errorf("route %s was not counted", k)
		}
	}
	if st.ByKind[core.KindOther] != 0 {
		t.Errorf("%d requests matched no route", st.ByKind[core.KindOther])
	}
}

func (e *env) sourceRoutes() {
	for i := range 11 {
		e.sdkCall(KindSourceCreate, "/externalsources", fmt.Sprintf(`{"name":"s%02d","active":false}`, i), 200, as[sdkExternalsource]())
	}
	l := e.sdkCall(KindSources, "/externalsources?limit=10&active=false&name=s", "", 200, as[sdkCursorexternalsourcelisting]()).(sdkCursorexternalsourcelisting)
	e.sdkCall(KindSources, "/externalsources?cursor="+*l.Cursors.After+"&limit=10&active=false&name=s", "", 200, as[sdkCursorexternalsourcelisting]())
	e.sdkCall(KindSources, "/externalsources?limit=1", "", 400, nil)
	s := e.sdkCall(KindSourceCreate, "/externalsources", `{"name":"linked","linkConfiguration":{"uriTemplate":"https://h/{{externalId.value}}"}}`, 200,
		as[sdkExternalsource]()).(sdkExternalsource)
	e.sdkCall(KindSourceCreate, "/externalsources", `{}`, 400, nil)
	e.sdkCall(KindSourceCreate, "/externalsources", `{"name":"crm"}`, 409, nil)
	path := "/externalsources/" + *s.ID
	e.sdkCall(KindSourceGet, path, "", 200, as[sdkExternalsource]())
	e.sdkCall(KindSourceGet, "/externalsources/x", "", 404, nil)
	e.sdkCall(KindSourceUpdate, path, `{"name":"linked2","linkConfiguration":{"uriTemplate":"https://h/x"}}`, 200, as[sdkExternalsource]())
	e.sdkCall(KindSourceUpdate, path, `{"name":""}`, 400, nil)
	e.sdkCall(KindSourceUpdate, path, `{"name":"crm"}`, 409, nil)
	e.sdkCall(KindSourceUpdate, "/externalsources/x", `{"name":"y"}`, 404, nil)
	e.sdkCall(KindSourceDelete, path, "", 204, noBody)
	e.sdkCall(KindSourceDelete, path, "", 404, nil)
}

// schemaRoutes exercises the schema routes of et and returns the id of a
// schema at version 2.
func (e *env) schemaRoutes(et EntityType) string {
	p := "/" + string(et) + "/schemas"
	k := func(op string) string { return schemaKind(et, op) }
	doc := schemaDoc(`"note_text":` + prop("text", `"maxLength":20`) + `,"tier_enum":` +
		prop("enum", `"enum":["a","b"],"_enumProperties":{"a":{"title":"A","_disabled":false}}`))
	s := e.sdkCall(k("create"), p, `{"name":"S","jsonSchema":`+doc+`}`, 200, as[sdkDataschema]()).(sdkDataschema)
	e.sdkCall(k("create"), p, `{"name":"bad","jsonSchema":{"x":1}}`, 400, nil)
	e.sdkCall(k("create"), p, `{"name":"s","jsonSchema":{}}`, 409, nil)
	e.sdkCall(k("list"), p, "", 200, as[sdkDataschemalisting]())
	id := p + "/" + *s.ID
	e.sdkCall(k("get"), id, "", 200, as[sdkDataschema]())
	e.sdkCall(k("get"), p+"/x", "", 404, nil)
	e.sdkCall(k("update"), id, `{"version":1,"jsonSchema":`+doc+`}`, 200, as[sdkDataschema]())
	e.sdkCall(k("update"), id, `{"version":1,"jsonSchema":`+doc+`}`, 409, nil)
	e.sdkCall(k("update"), id, `{"version":2,"jsonSchema":{}}`, 400, nil)
	e.sdkCall(k("update"), p+"/x", `{"version":1,"jsonSchema":{}}`, 404, nil)
	e.sdkCall(k("versions"), id+"/versions", "", 200, as[sdkDataschemalisting]())
	e.sdkCall(k("versions"), p+"/x/versions", "", 404, nil)
	e.sdkCall(k("version"), id+"/versions/1", "", 200, as[sdkDataschema]())
	e.sdkCall(k("version"), id+"/versions/9", "", 404, nil)
	if et == EntityContacts {
		gone := e.sdkCall(k("create"), p, `{"name":"gone","jsonSchema":{}}`, 200, as[sdkDataschema]()).(sdkDataschema)
		e.sdkCall(KindContactSchemaDelete, p+"/"+*gone.ID, "", 204, noBody)
		e.sdkCall(KindContactSchemaDelete, p+"/"+*gone.ID, "", 404, nil)
	}
	return *s.ID
}

func (e *env) orgRoutes(schemaID string) string {
	full := fmt.Sprintf(`{"name":"Acme","companyType":"Vendor","industry":"Tools","address":{"address1":"1 Main","address2":"b","city":"c",`+
		`"state":"s","postalCode":"p","countryCode":"US"},"phoneNumber":{"display":"+1 704 298 4733","extension":12,"acceptsSMS":true,`+
		`"normalizationCountryCode":"US"},"faxNumber":{"display":"555"},"employeeCount":5,"revenue":1000000,"tags":["t"],`+
		`"websites":["https://acme.io"],"tickers":[{"symbol":"ACM","exchange":"NYSE"}],"twitterId":{"id":"1","name":"Acme",`+
		`"screenName":"@acme","verified":true,"profileUrl":"https://twitter.com/acme"},"externalSystemUrl":"https://crm/o/1",`+
		`"schema":{"id":%q,"version":2},"customFields":{"note_text":"n","tier_enum":"a"},"externalIds":[%s]}`, schemaID, e.extID("o1"))
	o := e.sdkCall(KindOrgCreate, "/organizations", full, 200, as[sdkExternalorganization]()).(sdkExternalorganization)
	if o.PhoneNumber.E164 == nil || o.Schema.Version == nil || o.ModifyDate == nil {
		e.T.Errorf("organization %+v", o)
	}
	e.sdkCall(KindOrgCreate, "/organizations", `{}`, 400, nil)
	e.sdkCall(KindOrgCreate, "/organizations", `{"name":"B","externalIds":[`+e.extID("o1")+`]}`, 409, nil)
	e.sdkCall(KindOrgGet, "/organizations/"+*o.ID, "", 200, as[sdkExternalorganization]())
	e.sdkCall(KindOrgGet, "/organizations/x", "", 404, nil)
	gone := e.sdkCall(KindOrgCreate, "/organizations", `{"name":"gone"}`, 200, as[sdkExternalorganization]()).(sdkExternalorganization)
	e.sdkCall(KindOrgDelete, "/organizations/"+*gone.ID, "", 204, noBody)
	e.sdkCall(KindOrgDelete, "/organizations/"+*gone.ID, "", 404, nil)
	op := fmt.Sprintf(`{"action":"Upsert","matchingIdentifiers":[%s],"externalOrganization":{"name":"E"}}`, e.ident("o2"))
	e.sdkCall(KindOrgEnrich, "/organizations/enrich", op, 201, as[sdkExternalorganization]())
	e.sdkCall(KindOrgEnrich, "/organizations/enrich", op, 200, as[sdkExternalorganization]())
	e.sdkCall(KindOrgEnrich, "/organizations/enrich", `{"action":"Upsert"}`, 400, nil)
	e.sdkCall(KindLookupOrgs, "/identifierlookup/organizations", e.ident("o1"), 200, as[sdkExternalorganization]())
	e.sdkCall(KindLookupOrgs, "/identifierlookup/organizations", e.ident("o9"), 404, nil)
	e.sdkCall(KindLookupOrgs, "/identifierlookup/organizations", `{"type":"Email","value":"a@b.io"}`, 400, nil)
	return *o.ID
}

// fullContact is a contact body with every writable field.
func (e *env) fullContact(schemaID, orgID, ext string) string {
	return fmt.Sprintf(`"firstName":"Ada","middleName":"B","lastName":"Lovelace","salutation":"Ms","title":"Dr",`+
		`"workPhone":{"display":"+1 704 298 4733","extension":1},"cellPhone":{"display":"+44 20 7946 0958"},"homePhone":{"display":"0123"},`+
		`"otherPhone":{"display":"+33 1 23 45 67 89","acceptsSMS":false},"workEmail":"ada@x.io","personalEmail":"a@y.io","otherEmail":"b@z.io",`+
		`"address":{"address1":"1 Main","city":"London","countryCode":"GB"},"twitterId":{"screenName":"ada","verified":false},`+
		`"lineId":{"ids":[{"userId":"u"}],"displayName":"Ada"},"whatsAppId":{"phoneNumber":{"display":"+44 20 7946 0958"},"displayName":"Ada"},`+
		`"facebookId":{"ids":[{"scopedId":"f"}],"displayName":"Ada"},"instagramId":{"ids":[{"scopedId":"i"}],"displayName":"Ada","handle":"ada"},`+
		`"appleOpaqueIds":[{"value":"ap"}],"externalIds":[%s],"externalOrganization":{"id":%q},"surveyOptOut":true,`+
		`"externalSystemUrl":"https://crm/c/1","schema":{"id":%q,"version":2},"customFields":{"note_text":"n"}`,
		e.extID(ext), orgID, schemaID)
}

func (e *env) contactRoutes(schemaID, orgID string) string {
	c := e.sdkCall(KindContactCreate, "/contacts", "{"+e.fullContact(schemaID, orgID, "c1")+"}", 200, as[sdkExternalcontact]()).(sdkExternalcontact)
	if c.ExternalOrganization == nil || c.ExternalOrganization.CreateDate == nil || c.WhatsAppID.PhoneNumber.E164 == nil {
		e.T.Errorf("contact %+v", c)
	}
	e.sdkCall(KindContactCreate, "/contacts", `{"workEmail":"no"}`, 400, nil)
	e.sdkCall(KindContactCreate, "/contacts", `{"externalIds":[`+e.extID("c1")+`]}`, 409, nil)
	e.sdkCall(KindContactCreate, "/contacts", `{"title":"`+strings.Repeat("x", 70<<10)+`"}`, 413, nil)
	e.sdkCall(KindContactGet, "/contacts/"+*c.ID, "", 200, as[sdkExternalcontact]())
	e.sdkCall(KindContactGet, "/contacts/x", "", 404, nil)
	gone := e.sdkCall(KindContactCreate, "/contacts", `{}`, 200, as[sdkExternalcontact]()).(sdkExternalcontact)
	e.sdkCall(KindContactDelete, "/contacts/"+*gone.ID, "", 204, noBody)
	e.sdkCall(KindContactDelete, "/contacts/"+*gone.ID, "", 404, nil)
	e.sdkCall(KindContactEnrich, "/contacts/enrich", e.op("", "Upsert", "c2", ""), 201, as[sdkExternalcontact]())
	e.sdkCall(KindContactEnrich, "/contacts/enrich", e.op("", "Upsert", "c2", e.fullContact(schemaID, orgID, "c2")), 200, as[sdkExternalcontact]())
	e.sdkCall(KindContactEnrich, "/contacts/enrich", e.op("", "Insert", "c2", ""), 409, nil)
	e.sdkCall(KindContactEnrich, "/contacts/enrich", e.op("", "Update", "c9", ""), 404, nil)
	e.sdkCall(KindContactEnrich, "/contacts/enrich", `{}`, 400, nil)
	e.sdkCall(KindLookupContacts, "/identifierlookup/contacts", e.ident("c1"), 200, as[sdkExternalcontact]())
	e.sdkCall(KindLookupContacts, "/identifierlookup/contacts", `{"type":"Email","value":"nobody@x.io"}`, 404, nil)
	e.sdkCall(KindLookupContacts, "/identifierlookup/contacts", `{"type":"Nope","value":"x"}`, 400, nil)
	return *c.ID
}

func (e *env) bulkRoutes(contactID, orgID string) {
	failing := fmt.Sprintf(`{"id":"f","division":{"id":"d"},"action":"Insert","matchingIdentifiers":[%s,{"type":"Email","value":"ada@x.io"}],`+
		`"contact":{%s},"fieldRules":{"defaultAction":"PreferExisting","rules":[{"field":"$.firstName","action":"AlwaysUseProvided",`+
		`"arrayAction":"Replace"}],"defaultArrayAction":"Extend"},"options":{"promote":true}}`, e.ident("c1"), e.fullContact("s", orgID, "c1"))
	r := e.sdkCall(KindBulkContactsEnrich, "/bulk/contacts/enrich", bulk(failing, e.op("ok", "Upsert", "c3", `"firstName":"X"`),
		`{"id":"u","action":1}`, e.op("inv", "Upsert", "c4", `"workEmail":"bad"`)), 200, as[sdkBulkContactsEnrichResponse]()).(sdkBulkContactsEnrichResponse)
	res := byID(e.T, *r.Results, r.ErrorCount, r.ErrorIndexes)
	if res["f"].Error.Entity.FieldRules == nil || res["f"].Error.Entity.Options == nil || res["ok"].Entity == nil || len(*res["inv"].Error.Details) != 1 {
		e.T.Errorf("bulk enrich results %+v", res)
	}
	e.sdkCall(KindBulkContactsEnrich, "/bulk/contacts/enrich", `{"entities":[]}`, 400, nil)
	e.sdkCall(KindBulkContactsEnrich, "/bulk/contacts/enrich?dryRun=true", bulk(e.op("d", "Upsert", "c5", "")), 200, as[sdkBulkContactsEnrichResponse]())
	oop := func(id, action, ext string) string {
		return fmt.Sprintf(`{"id":%q,"action":%q,"matchingIdentifiers":[%s],"externalOrganization":{"name":"N","tags":["a"]},`+
			`"fieldRules":{"defaultArrayAction":"Fill"}}`, id, action, e.ident(ext))
	}
	ro := e.sdkCall(KindBulkOrgsEnrich, "/bulk/organizations/enrich", bulk(oop("a", "Upsert", "o5"), oop("b", "Insert", "o1"), oop("c", "Merge", "o6")),
		200, as[sdkBulkOrgsEnrichResponse]()).(sdkBulkOrgsEnrichResponse)
	if *ro.ErrorCount != 2 {
		e.T.Errorf("organization enrich %+v", ro)
	}
	e.sdkCall(KindBulkOrgsEnrich, "/bulk/organizations/enrich", `{}`, 400, nil)
	ids := func(id string) string { return fmt.Sprintf(`{"entities":[{"id":%q},{"id":"unknown"},{}]}`, id) }
	e.sdkCall(KindBulkContacts, "/bulk/contacts", ids(contactID), 200, as[sdkBulkFetchContactsResponse]())
	e.sdkCall(KindBulkContacts, "/bulk/contacts", `{"entities":[]}`, 400, nil)
	e.sdkCall(KindBulkOrgs, "/bulk/organizations", ids(orgID), 200, as[sdkBulkFetchOrgsResponse]())
	e.sdkCall(KindBulkOrgs, "/bulk/organizations", `[]`, 400, nil)
	e.sdkCall(KindBulkContactsRemove, "/bulk/contacts/remove", ids(contactID), 200, as[sdkBulkDeleteResponse]())
	e.sdkCall(KindBulkContactsRemove, "/bulk/contacts/remove", `{"entities":[]}`, 400, nil)
	e.sdkCall(KindBulkOrgsRemove, "/bulk/organizations/remove", ids(orgID), 200, as[sdkBulkDeleteResponse]())
	e.sdkCall(KindBulkOrgsRemove, "/bulk/organizations/remove", `{`, 400, nil)
}
