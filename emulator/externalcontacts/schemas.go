package externalcontacts

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/gcupsert/gcupsert/emulator/core"
)

// schemaVersion is one version of a data schema; versions never change.
type schemaVersion struct {
	version  int
	name     string
	enabled  bool
	doc      map[string]any    // the jsonSchema as stored
	types    map[string]string // property -> core type
	compiled *jsonschema.Schema
	created  time.Time
}

// dataSchema is a data schema and its versions, oldest first.
type dataSchema struct {
	id       string
	entity   EntityType
	versions []*schemaVersion
}

func (d *dataSchema) current() *schemaVersion { return d.versions[len(d.versions)-1] }

// schemaBody is a Dataschema as a POST or PUT carries it; the other fields
// (id, appliesTo, createdBy, ...) are set by the server.
type schemaBody struct {
	Name       *string         `json:"name"`
	Version    *int            `json:"version"`
	Enabled    *bool           `json:"enabled"`
	JSONSchema json.RawMessage `json:"jsonSchema"`
}

// emulatorUser is the createdBy of every schema (a guess: who created it
// is not modelled).
const emulatorUser = "5e6d0c3a-2b1f-4e7a-9c8d-00000000ec01"

// appliesTo is the appliesTo of a schema of et (a guess, from the older
// Java SDK enum).
func appliesTo(et EntityType) []string {
	if et == EntityOrganizations {
		return []string{"EXTERNAL_ORGANIZATION"}
	}
	return []string{"CONTACT"}
}

// fmtTime formats t as the API does: UTC, milliseconds, a literal Z.
func fmtTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// buildVersion checks a schema version and compiles its custom fields.
// prev, when not nil, is the current version: its properties must stay,
// with their core types (a guess; fields can be disabled, not deleted).
func buildVersion(name string, raw json.RawMessage, prev *schemaVersion) (*schemaVersion, *failure) {
	n := strings.TrimSpace(name)
	var ps []problem
	switch {
	case n == "":
		ps = append(ps, problem{field: "name", code: detailRequired, message: "a name is required"})
	case utf8.RuneCountInString(n) > MaxSchemaName:
		ps = append(ps, problem{field: "name", code: detailTooLong, value: clip(n), message: fmt.Sprintf("at most %d characters", MaxSchemaName)})
	}
	pd, dps, tooMany := checkJSONSchema(raw)
	if tooMany && len(ps) == 0 {
		fl := badRequest(fmt.Sprintf("A schema has at most %d custom fields.", MaxSchemaProperties), dps...)
		fl.code = CodeSchemaLimit
		fl.limit = &core.Limit{Key: "max.fields.per.schema", Namespace: limitNamespace, Value: MaxSchemaProperties}
		return nil, fl
	}
	ps = append(ps, dps...)
	if prev != nil && len(dps) == 0 {
		for _, p := range sortedKeys(prev.types) {
			switch t, ok := pd.types[p]; {
			case !ok:
				ps = append(ps, problem{field: "jsonSchema.properties." + p, code: "property.removed", message: "a field cannot be removed"})
			case t != prev.types[p]:
				ps = append(ps, problem{field: "jsonSchema.properties." + p, code: "property.retyped", message: "a field cannot change its core type"})
			}
		}
	}
	if len(ps) > 0 {
		return nil, invalid("schema", ps)
	}
	sch, err := compileCustomFields(pd)
	if err != nil {
		return nil, badRequest("The schema does not compile: " + clip(err.Error()))
	}
	return &schemaVersion{name: n, enabled: true, doc: pd.doc, types: pd.types, compiled: sch}, nil
}

// checkEntityType refuses an EntityType other than the two.
func checkEntityType(et EntityType) error {
	if et != EntityContacts && et != EntityOrganizations {
		return fmt.Errorf("%w: entity type %q is neither %s nor %s", ErrInvalid, clip(string(et)), EntityContacts, EntityOrganizations)
	}
	return nil
}

// newSchemaVersion is buildVersion for the Go API: it checks et too and
// returns an error wrapping ErrInvalid.
func newSchemaVersion(et EntityType, name string, jsonSchema []byte, prev *schemaVersion) (*schemaVersion, error) {
	if err := checkEntityType(et); err != nil {
		return nil, err
	}
	sv, fl := buildVersion(name, jsonSchema, prev)
	if fl != nil {
		return nil, fmt.Errorf("%w: schema %q: %s", ErrInvalid, clip(name), fl.message)
	}
	return sv, nil
}

// CreateSchema adds a data schema of et at version 1, enabled, and returns
// its id. The schema is part of the seeded state that Reset restores (at
// version 1).
func (f *Family) CreateSchema(et EntityType, name string, jsonSchema []byte) (string, error) {
	sv, err := newSchemaVersion(et, name, jsonSchema, nil)
	if err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if fl := f.schemaRoom(et, sv.name, ""); fl != nil {
		return "", fmt.Errorf("%w: %s", ErrInvalid, fl.message)
	}
	sv.version, sv.created = 1, f.now()
	id := core.NewID()
	f.seeded.schemas = append(f.seeded.schemas, &dataSchema{id: id, entity: et, versions: []*schemaVersion{sv}})
	f.schemas[id] = &dataSchema{id: id, entity: et, versions: []*schemaVersion{sv}}
	return id, nil
}

// schemaRoom checks that a schema of et named name (other than id) may
// exist: the name is free, and for a new schema (id "") the total stays
// within MaxSchemas. The caller holds f.mu.
func (f *Family) schemaRoom(et EntityType, name, id string) *failure {
	for _, s := range f.schemas {
		if s.entity == et && s.id != id && strings.EqualFold(s.current().name, name) {
			return conflict(CodeSchemaNameExists, fmt.Sprintf("A schema named %s already exists.", clip(name)),
				problem{field: "name", code: CodeSchemaNameExists, value: clip(name), message: "must be unique"})
		}
	}
	if id == "" && len(f.schemas) >= MaxSchemas {
		fl := badRequest(fmt.Sprintf("At most %d schemas may exist, contacts and organizations together.", MaxSchemas))
		fl.code = CodeSchemaLimit
		fl.limit = &core.Limit{Key: "max.schemas", Namespace: limitNamespace, Value: MaxSchemas}
		return fl
	}
	return nil
}

// schemaOut is a Dataschema as the API shows it.
type schemaOut struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	Version     int            `json:"version"`
	AppliesTo   []string       `json:"appliesTo"`
	Enabled     bool           `json:"enabled"`
	CreatedBy   domainRef      `json:"createdBy"`
	DateCreated string         `json:"dateCreated"`
	JSONSchema  map[string]any `json:"jsonSchema"`
	SelfURI     string         `json:"selfUri"`
}

type domainRef struct {
	ID      string `json:"id"`
	SelfURI string `json:"selfUri"`
}

// schemaListing is a Dataschemalisting.
type schemaListing struct {
	Total    int         `json:"total"`
	Entities []schemaOut `json:"entities"`
	SelfURI  string      `json:"selfUri"`
}

func schemasPath(et EntityType) string { return basePath + "/" + string(et) + "/schemas" }

// out shows version sv of d; self is its selfUri.
func (d *dataSchema) out(sv *schemaVersion, self string) schemaOut {
	return schemaOut{
		ID: d.id, Name: sv.name, Version: sv.version, AppliesTo: appliesTo(d.entity), Enabled: sv.enabled,
		CreatedBy:   domainRef{ID: emulatorUser, SelfURI: "/api/v2/users/" + emulatorUser},
		DateCreated: fmtTime(sv.created), JSONSchema: sv.doc, SelfURI: self,
	}
}

func (d *dataSchema) selfURI() string { return schemasPath(d.entity) + "/" + d.id }

// bind passes the entity type of a route to its handler.
func bind(et EntityType, h func(EntityType, http.ResponseWriter, *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { h(et, w, r) }
}

// schemaOf returns the schema id of et. The caller holds f.mu.
func (f *Family) schemaOf(et EntityType, id string) (*dataSchema, *failure) {
	s, ok := f.schemas[id]
	if !ok || s.entity != et {
		return nil, notFound(fmt.Sprintf("Schema %s was not found.", clip(id)))
	}
	return s, nil
}

func (f *Family) handleSchemasList(et EntityType, w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := schemaListing{Entities: []schemaOut{}, SelfURI: schemasPath(et)}
	for _, s := range f.schemas {
		if s.entity == et {
			out.Entities = append(out.Entities, s.out(s.current(), s.selfURI()))
		}
	}
	slices.SortFunc(out.Entities, func(a, b schemaOut) int {
		return cmp.Or(cmp.Compare(foldKey(a.Name), foldKey(b.Name)), cmp.Compare(a.ID, b.ID))
	})
	out.Total = len(out.Entities)
	core.WriteJSON(w, http.StatusOK, out)
}

func (f *Family) handleSchemaCreate(et EntityType, w http.ResponseWriter, r *http.Request) {
	var b schemaBody
	if !f.readJSON(w, r, "schema", &b) {
		return
	}
	sv, fl := buildVersion(str(b.Name), b.JSONSchema, nil)
	if fl != nil {
		writeFailure(w, fl)
		return
	}
	sv.enabled = b.Enabled == nil || *b.Enabled
	f.mu.Lock()
	defer f.mu.Unlock()
	if fl := f.schemaRoom(et, sv.name, ""); fl != nil {
		writeFailure(w, fl)
		return
	}
	sv.version, sv.created = 1, f.now()
	s := &dataSchema{id: core.NewID(), entity: et, versions: []*schemaVersion{sv}}
	f.schemas[s.id] = s
	core.WriteJSON(w, http.StatusOK, s.out(sv, s.selfURI()))
}

func (f *Family) handleSchemaGet(et EntityType, w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, fl := f.schemaOf(et, r.PathValue("schemaId"))
	if fl != nil {
		writeFailure(w, fl)
		return
	}
	core.WriteJSON(w, http.StatusOK, s.out(s.current(), s.selfURI()))
}

// handleSchemaUpdate makes a new version. The body's version must be the
// current one (else 409); name and enabled keep their values when left
// out.
func (f *Family) handleSchemaUpdate(et EntityType, w http.ResponseWriter, r *http.Request) {
	var b schemaBody
	if !f.readJSON(w, r, "schema", &b) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s, fl := f.schemaOf(et, r.PathValue("schemaId"))
	if fl != nil {
		writeFailure(w, fl)
		return
	}
	cur := s.current()
	switch {
	case b.Version == nil:
		writeFailure(w, badRequest("The schema's version is required for updates.",
			problem{field: "version", code: detailRequired, message: "the current version is required"}))
		return
	case *b.Version != cur.version:
		writeFailure(w, conflict(CodeSchemaVersionConflict,
			fmt.Sprintf("The schema is at version %d, not %d.", cur.version, *b.Version),
			problem{field: "version", code: CodeSchemaVersionConflict, value: strconv.Itoa(*b.Version), message: "is not the current version"}))
		return
	}
	name := cur.name
	if b.Name != nil {
		name = *b.Name
	}
	sv, fl := buildVersion(name, b.JSONSchema, cur)
	if fl == nil {
		fl = f.schemaRoom(et, sv.name, s.id)
	}
	if fl != nil {
		writeFailure(w, fl)
		return
	}
	sv.enabled = cur.enabled
	if b.Enabled != nil {
		sv.enabled = *b.Enabled
	}
	sv.version, sv.created = cur.version+1, f.now()
	s.versions = append(s.versions, sv)
	core.WriteJSON(w, http.StatusOK, s.out(sv, s.selfURI()))
}

func (f *Family) handleSchemaDelete(et EntityType, w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, fl := f.schemaOf(et, r.PathValue("schemaId"))
	if fl != nil {
		writeFailure(w, fl)
		return
	}
	delete(f.schemas, s.id)
	w.WriteHeader(http.StatusNoContent)
}

func (f *Family) handleSchemaVersions(et EntityType, w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, fl := f.schemaOf(et, r.PathValue("schemaId"))
	if fl != nil {
		writeFailure(w, fl)
		return
	}
	out := schemaListing{Total: len(s.versions), Entities: []schemaOut{}, SelfURI: s.selfURI() + "/versions"}
	for _, sv := range s.versions {
		out.Entities = append(out.Entities, s.out(sv, s.selfURI()+"/versions/"+strconv.Itoa(sv.version)))
	}
	core.WriteJSON(w, http.StatusOK, out)
}

func (f *Family) handleSchemaVersion(et EntityType, w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, fl := f.schemaOf(et, r.PathValue("schemaId"))
	if fl != nil {
		writeFailure(w, fl)
		return
	}
	v := r.PathValue("versionId")
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > len(s.versions) {
		writeFailure(w, notFound(fmt.Sprintf("Schema %s has no version %s.", s.id, clip(v))))
		return
	}
	sv := s.versions[n-1]
	core.WriteJSON(w, http.StatusOK, s.out(sv, s.selfURI()+"/versions/"+v))
}
