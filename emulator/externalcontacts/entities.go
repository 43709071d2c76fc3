package externalcontacts

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/gcupsert/gcupsert/emulator/core"
)

// homeDivisionID is the id of the division every entity belongs to (a
// guess: divisions are not modelled).
const homeDivisionID = "9f1a3c9e-5a7b-4c1d-8e2f-000000000001"

func homeDivision() map[string]any {
	return map[string]any{"id": homeDivisionID, "name": "Home", "selfUri": "/api/v2/authorization/divisions/" + homeDivisionID}
}

// contactType is the type of every contact the API creates (a guess:
// contacts written through the API are curated).
const contactType = "Curated"

func entityPath(et EntityType) string { return basePath + "/" + string(et) }

// entityName names an entity of et in messages.
func entityName(et EntityType) string {
	if et == EntityOrganizations {
		return "external organization"
	}
	return "external contact"
}

// decodeEntity reads a request body holding one entity of et and returns
// its fields (id and division dropped), and whether it names a schema or
// custom fields.
func decodeEntity(et EntityType, body []byte) (map[string]any, bool, error) {
	var doc any = &contactDoc{}
	if et == EntityOrganizations {
		doc = &orgDoc{}
	}
	if err := decodeStrict(body, doc); err != nil {
		return nil, false, err
	}
	fields, touched := docFields(doc)
	return fields, touched, nil
}

// docFields returns the fields of a decoded entity document, and whether
// it names a schema or custom fields.
func docFields(doc any) (map[string]any, bool) {
	fields := toMap(doc)
	delete(fields, "id")
	delete(fields, "division")
	_, s := fields["schema"]
	_, c := fields["customFields"]
	return fields, s || c
}

// checkRefs checks what normalised fields of an entity of et refer to:
// external sources (which must exist), external ids (which no other entity
// of et may hold), the organization of a contact (which must exist) and,
// when schemaTouched, the schema and the custom fields. selfID is the
// entity's id ("" for a new one). The caller holds f.mu.
func (f *Family) checkRefs(et EntityType, fields map[string]any, schemaTouched bool, selfID string) *failure {
	var ps, clashes []problem
	st := f.storeOf(et)
	arr, _ := fields["externalIds"].([]any)
	for i, x := range arr {
		src, val := externalIDParts(x)
		at := fmt.Sprintf("externalIds[%d]", i)
		if _, ok := f.sources[src]; !ok {
			ps = append(ps, problem{field: at + ".externalSource.id", code: detailUnknownSrc, value: clip(src), message: "no such external source"})
		} else if holder, ok := st.byExt[extKey(src, val)]; ok && holder != selfID {
			clashes = append(clashes, problem{field: at + ".value", code: CodeExternalIDConflict, value: clip(val),
				message: fmt.Sprintf("%s %s holds this external id", entityName(et), holder)})
		}
	}
	if et == EntityContacts {
		if ref, ok := fields["externalOrganization"].(map[string]any); ok {
			id, _ := ref["id"].(string)
			if _, known := f.orgs.items[id]; !known {
				ps = append(ps, problem{field: "externalOrganization", code: detailUnknownOrg, value: clip(id), message: "no such external organization"})
			}
		}
	}
	if schemaTouched {
		sps, fl := f.checkSchemaRef(et, fields)
		if fl != nil && len(ps) == 0 {
			return fl
		}
		ps = append(ps, sps...)
	}
	switch {
	case len(ps) > 0:
		return invalid(entityName(et), ps)
	case len(clashes) > 0:
		return conflict(CodeExternalIDConflict, fmt.Sprintf("Another %s holds an external id of this one.", entityName(et)), clashes...)
	}
	return nil
}

// checkSchemaRef checks the schema an entity names and its custom fields:
// custom fields need a schema {id, version} of et that exists, is enabled
// and is at that version, and must validate against it. The caller holds
// f.mu.
func (f *Family) checkSchemaRef(et EntityType, fields map[string]any) ([]problem, *failure) {
	cf, _ := fields["customFields"].(map[string]any)
	ref, _ := fields["schema"].(map[string]any)
	if ref == nil {
		if len(cf) > 0 {
			return []problem{{field: "schema", code: detailRequired, message: "custom fields need a schema {id, version}"}}, nil
		}
		return nil, nil
	}
	id, _ := ref["id"].(string)
	ver, hasVer := number(ref["version"])
	s, ok := f.schemas[id]
	switch {
	case id == "":
		return []problem{{field: "schema.id", code: detailRequired, message: "a schema id is required"}}, nil
	case !ok || s.entity != et:
		return []problem{{field: "schema.id", code: detailUnknownSch, value: clip(id), message: "no such schema for " + string(et)}}, nil
	case !hasVer:
		return []problem{{field: "schema.version", code: detailRequired, message: "the schema version is required"}}, nil
	}
	cur := s.current()
	switch {
	case !cur.enabled:
		fl := badRequest(fmt.Sprintf("Schema %s is disabled and cannot be assigned.", s.id),
			problem{field: "schema.id", code: CodeSchemaDisabled, value: s.id, message: "the schema is disabled"})
		fl.code = CodeSchemaDisabled
		return nil, fl
	case int(ver) != cur.version || ver != float64(int(ver)):
		fl := badRequest(fmt.Sprintf("Schema %s is at version %d; the entity names version %v.", s.id, cur.version, ver),
			problem{field: "schema.version", code: CodeSchemaVersionMismatch, value: fmt.Sprint(ver), message: "is not the schema's current version"})
		fl.code = CodeSchemaVersionMismatch
		return nil, fl
	}
	if cf == nil {
		cf = map[string]any{}
	}
	return customFieldProblems(cur.compiled, cf), nil
}

// insert stores a new entity of et with fields and returns it. The caller
// holds f.mu.
func (f *Family) insert(et EntityType, fields map[string]any, now time.Time, u *undo) *stored {
	st := f.storeOf(et)
	st.seq++
	e := &stored{id: core.NewID(), seq: st.seq, created: now, modified: now, fields: fields}
	if u != nil {
		u.note(st, e.id)
	}
	st.put(e)
	return e
}

// phonePaths are where the phones of an entity of et sit.
func phonePaths(et EntityType) [][]string {
	if et == EntityOrganizations {
		return [][]string{{"phoneNumber"}, {"faxNumber"}}
	}
	return [][]string{{"workPhone"}, {"cellPhone"}, {"homePhone"}, {"otherPhone"}, {"whatsAppId", "phoneNumber"}}
}

// render returns e as the API shows it: the fields with id, division,
// dates, selfUri (and type for a contact), phones with userInput and e164,
// external sources and a contact's organization in full. The caller holds
// f.mu.
func (f *Family) render(et EntityType, e *stored) map[string]any {
	out := deepCopy(e.fields).(map[string]any)
	out["id"] = e.id
	out["division"] = homeDivision()
	out["createDate"] = fmtTime(e.created)
	out["modifyDate"] = fmtTime(e.modified)
	out["selfUri"] = entityPath(et) + "/" + e.id
	if et == EntityContacts {
		out["type"] = contactType
	}
	for _, path := range phonePaths(et) {
		m := out
		for _, k := range path {
			m, _ = m[k].(map[string]any)
		}
		if d, ok := m["display"].(string); ok {
			m["userInput"] = d
			if e164, ok := e164(d); ok {
				m["e164"] = e164
			}
		}
	}
	arr, _ := out["externalIds"].([]any)
	for _, x := range arr {
		m, _ := x.(map[string]any)
		src, _ := externalIDParts(x)
		if s, ok := f.sources[src]; ok {
			m["externalSource"] = toMap(s.doc())
		}
	}
	if ref, ok := out["externalOrganization"].(map[string]any); ok {
		id, _ := ref["id"].(string)
		if org, ok := f.orgs.items[id]; ok {
			out["externalOrganization"] = f.render(EntityOrganizations, org)
		}
	}
	return out
}

// unlinkOrg removes organization orgID from the contacts that name it.
// The caller holds f.mu.
func (f *Family) unlinkOrg(orgID string, u *undo) {
	for _, c := range f.contacts.items {
		ref, _ := c.fields["externalOrganization"].(map[string]any)
		if id, _ := ref["id"].(string); id != orgID {
			continue
		}
		fields := deepCopy(c.fields).(map[string]any)
		delete(fields, "externalOrganization")
		if u != nil {
			u.note(f.contacts, c.id)
		}
		f.contacts.put(&stored{id: c.id, seq: c.seq, created: c.created, modified: c.modified, fields: fields})
	}
}

func entityNotFound(et EntityType, id string) *failure {
	return notFound(fmt.Sprintf("The %s %s was not found.", entityName(et), clip(id)))
}

// entityID is the path value naming an entity of et.
func entityID(et EntityType, r *http.Request) string {
	if et == EntityOrganizations {
		return r.PathValue("externalOrganizationId")
	}
	return r.PathValue("contactId")
}

func (f *Family) handleEntityCreate(et EntityType, w http.ResponseWriter, r *http.Request) {
	body, ok := f.readBody(w, r)
	if !ok {
		return
	}
	provided, _, err := decodeEntity(et, body)
	if err != nil {
		core.WriteError(w, core.BadRequest(fmt.Sprintf("The %s could not be read: %s.", entityName(et), err)))
		return
	}
	fields, ps := normalize(et, provided)
	if len(ps) > 0 {
		writeFailure(w, invalid(entityName(et), ps))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if fl := f.checkRefs(et, fields, true, ""); fl != nil {
		writeFailure(w, fl)
		return
	}
	e := f.insert(et, fields, f.now(), nil)
	core.WriteJSON(w, http.StatusOK, f.render(et, e))
}

func (f *Family) handleEntityGet(et EntityType, w http.ResponseWriter, r *http.Request) {
	id := entityID(et, r)
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.storeOf(et).items[id]
	if !ok {
		writeFailure(w, entityNotFound(et, id))
		return
	}
	core.WriteJSON(w, http.StatusOK, f.render(et, e))
}

func (f *Family) handleEntityDelete(et EntityType, w http.ResponseWriter, r *http.Request) {
	id := entityID(et, r)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.storeOf(et).remove(id) == nil {
		writeFailure(w, entityNotFound(et, id))
		return
	}
	if et == EntityOrganizations {
		f.unlinkOrg(id, nil)
	}
	w.WriteHeader(http.StatusNoContent)
}

// snapshot returns every entity of et as the API shows it, by id, decoded
// as encoding/json decodes into any (numbers are float64).
func (f *Family) snapshot(et EntityType) map[string]map[string]any {
	f.mu.Lock()
	all := map[string]map[string]any{}
	for id, e := range f.storeOf(et).items {
		all[id] = f.render(et, e)
	}
	b, err := json.Marshal(all)
	f.mu.Unlock()
	return core.DecodeByID(b, err)
}
