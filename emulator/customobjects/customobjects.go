package customobjects

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/gcupsert/gcupsert/emulator/core"
)

// Defaults used by New for zero Config fields.
const DefaultMaxRecords = 100

// Request kinds of the family, counted in Stats.ByKind: the route patterns.
const (
	KindUpsert = "POST /api/v2/customobjects/{schemaName}/records"
	KindDelete = "DELETE /api/v2/customobjects/{schemaName}/records/{id}"
)

// Error codes of the family, in ErrorBody.Code and ErrorDetail.ErrorCode.
const (
	CodeInvalidRecord   = "invalid.record"
	CodeRecordExists    = "record.exists"
	CodeRecordNotFound  = "record.not.found"
	CodeUniqueViolation = "unique.violation"
	CodeMissingID       = "missing.id"
	CodeInvalidID       = "invalid.id"
	CodeMissingConflict = "missing.conflictResolution"
	CodeInvalidConflict = "invalid.conflictResolution"
	CodeNotObject       = "not.object"
)

// limitNamespace is the namespace of the family's limits in
// ErrorBody.limit.
const limitNamespace = "customobjects"

// Conflict-resolution directives of a record.
const (
	ConflictUpsert     = "upsert"
	ConflictUpdateOnly = "updateOnly"
	ConflictCreateOnly = "createOnly"
)

// Config configures the family. Zero fields take the defaults above.
type Config struct {
	// MaxRecords is the most records one batch request may carry.
	MaxRecords int
	// Schemas maps schema names to JSON Schema documents describing a
	// record's fields (see AddSchema).
	Schemas map[string][]byte
	// UniqueFields maps a schema name to fields whose values must be unique
	// across the schema's records (see SetUniqueFields).
	UniqueFields map[string][]string
}

// Family is the customobjects API family: every schema and its records.
// Safe for concurrent use.
type Family struct {
	srv        *core.Server
	maxRecords int

	mu   sync.Mutex
	cols map[string]*collection
}

// setDefaults fills the zero fields of c with the defaults.
func (c *Config) setDefaults() {
	if c.MaxRecords == 0 {
		c.MaxRecords = DefaultMaxRecords
	}
}

// Validate reports the first setting that cannot work, wrapping
// core.ErrInvalidConfig: a negative MaxRecords, a schema that AddSchema
// refuses, or unique fields that SetUniqueFields refuses (a schema not in
// Schemas, an empty field name). Zero fields are valid: they take the
// defaults.
func (c *Config) Validate() error {
	if c.MaxRecords < 0 {
		return fmt.Errorf("%w: negative MaxRecords", core.ErrInvalidConfig)
	}
	for name, doc := range c.Schemas {
		if _, err := checkSchema(name, doc); err != nil {
			return fmt.Errorf("%w: %w", core.ErrInvalidConfig, err)
		}
	}
	for name, fields := range c.UniqueFields {
		if _, ok := c.Schemas[name]; !ok {
			return fmt.Errorf("%w: %w", core.ErrInvalidConfig, unknownSchemaError(name))
		}
		if err := checkUniqueFields(name, fields); err != nil {
			return fmt.Errorf("%w: %w", core.ErrInvalidConfig, err)
		}
	}
	return nil
}

// New fills cfg's defaults, validates it and returns the family for srv,
// with cfg's schemas and unique fields; add it to srv with srv.Register.
func New(srv *core.Server, cfg Config) (*Family, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	f := &Family{srv: srv, maxRecords: cfg.MaxRecords, cols: map[string]*collection{}}
	for name, doc := range cfg.Schemas {
		if err := f.AddSchema(name, doc); err != nil {
			return nil, fmt.Errorf("%w: %w", core.ErrInvalidConfig, err)
		}
	}
	for name, fields := range cfg.UniqueFields {
		if err := f.SetUniqueFields(name, fields); err != nil {
			return nil, fmt.Errorf("%w: %w", core.ErrInvalidConfig, err)
		}
	}
	return f, nil
}

// Reset drops every record; schemas and unique fields stay.
func (f *Family) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.cols {
		c.records = map[string]map[string]any{}
		c.reindex()
	}
}

func (f *Family) schema(name string) (*jsonschema.Schema, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.cols[name]
	if !ok {
		return nil, false
	}
	return c.schema, true
}

// Records returns a copy of the records of schema, by id, or nil when the
// schema is unknown. Values read as encoding/json decodes into any (numbers
// are float64).
func (f *Family) Records(schema string) map[string]map[string]any {
	f.mu.Lock()
	c, ok := f.cols[schema]
	if !ok {
		f.mu.Unlock()
		return nil
	}
	b, err := json.Marshal(c.records)
	f.mu.Unlock()
	return core.DecodeByID(b, err)
}

// Register adds the family's API and admin routes.
func (f *Family) Register(rt core.Routes) {
	rt.API(KindUpsert, f.handleRecordsPost)
	rt.API(KindDelete, f.handleRecordDelete)
	rt.Admin("GET /emulator/records/{schema}", f.adminRecords)
	rt.Admin("PUT /emulator/schemas/{schema}", f.adminSchema)
}

func (f *Family) adminRecords(w http.ResponseWriter, r *http.Request) {
	recs := f.Records(r.PathValue("schema"))
	if recs == nil {
		eb := core.StatusError(http.StatusNotFound)
		eb.Message = fmt.Sprintf("Schema %s was not found.", r.PathValue("schema"))
		core.WriteError(w, eb)
		return
	}
	core.WriteJSON(w, http.StatusOK, recs)
}

func (f *Family) adminSchema(w http.ResponseWriter, r *http.Request) {
	body, ok := core.ReadAdminBody(w, r)
	if !ok {
		return
	}
	if err := f.AddSchema(r.PathValue("schema"), body); err != nil {
		core.WriteError(w, core.BadRequest(err.Error()))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// recordResult is one entry of a 200 answer.
type recordResult struct {
	ID     string         `json:"id"`
	Status string         `json:"status"`
	Record map[string]any `json:"record"`
}

func (f *Family) handleRecordsPost(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("schemaName")
	sch, ok := f.schema(name)
	if !ok {
		eb := core.StatusError(http.StatusNotFound)
		eb.Message = fmt.Sprintf("Schema %s was not found.", name)
		eb.EntityName = name
		core.WriteError(w, eb)
		return
	}
	limit := f.srv.MaxBodyBytes()
	body, ok := core.ReadBody(w, r, limit, core.BodyTooLarge(limit, limitNamespace))
	if !ok {
		return
	}
	raws, msg := splitBatch(body)
	if msg != "" {
		core.WriteError(w, core.BadRequest(msg))
		return
	}
	if len(raws) > f.maxRecords {
		eb := core.StatusError(http.StatusRequestEntityTooLarge)
		eb.Message = fmt.Sprintf("The request has %d records; the limit is %d.", len(raws), f.maxRecords)
		eb.Limit = &core.Limit{Key: "max.records", Namespace: limitNamespace, Value: int64(f.maxRecords)}
		core.WriteError(w, eb)
		return
	}
	omit := f.srv.EntityIDsOmitted()
	recs := make([]batchRecord, len(raws))
	var invalid []core.ErrorBody
	for i, raw := range raws {
		rec, problem := checkRecord(sch, i, raw)
		if problem != nil {
			invalid = append(invalid, *problem)
			continue
		}
		recs[i] = rec
	}
	if len(invalid) > 0 {
		eb := core.BadRequest(fmt.Sprintf("%d of %d records failed validation.", len(invalid), len(raws)))
		eb.Errors = invalid
		core.WriteError(w, withoutEntities(eb, omit))
		return
	}
	results, conflicts := f.apply(name, recs)
	if len(conflicts) > 0 {
		eb := core.StatusError(http.StatusConflict)
		eb.Message = fmt.Sprintf("%d of %d records conflict with stored records.", len(conflicts), len(raws))
		eb.Errors = conflicts
		core.WriteError(w, withoutEntities(eb, omit))
		return
	}
	if results == nil {
		// The schema was removed meanwhile; schemas are never removed today.
		core.WriteError(w, core.StatusError(http.StatusNotFound))
		return
	}
	core.WriteJSON(w, http.StatusOK, map[string]any{"results": results})
}

// apply checks conflicts and, when there are none, stores every record, all
// under one lock. It returns nil results when the schema is gone.
func (f *Family) apply(name string, recs []batchRecord) ([]recordResult, []core.ErrorBody) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.cols[name]
	if !ok {
		return nil, nil
	}
	created := map[string]bool{}               // ids created earlier in this batch
	batchIdx := map[string]map[string]string{} // unique values taken earlier in this batch
	results := make([]recordResult, len(recs))
	var conflicts []core.ErrorBody
	for i, rec := range recs {
		_, stored := c.records[rec.id]
		exists := stored || created[rec.id]
		switch {
		case rec.conflict == ConflictCreateOnly && exists:
			conflicts = append(conflicts, recordConflict(rec.id, http.StatusConflict, CodeRecordExists,
				fmt.Sprintf("Record %s already exists; createOnly does not update.", rec.id)))
			continue
		case rec.conflict == ConflictUpdateOnly && !exists:
			conflicts = append(conflicts, recordConflict(rec.id, http.StatusConflict, CodeRecordNotFound,
				fmt.Sprintf("Record %s does not exist; updateOnly does not create.", rec.id)))
			continue
		}
		if f, holder, clash := c.uniqueClash(rec, batchIdx); clash {
			conflicts = append(conflicts, recordConflict(rec.id, http.StatusConflict, CodeUniqueViolation,
				fmt.Sprintf("Record %s: %s must be unique; record %s already holds that value.", rec.id, f, holder)))
			conflicts[len(conflicts)-1].Details[0].FieldName = f
			continue
		}
		for _, f := range c.unique {
			if v, ok := uniqueValue(rec.stored, f); ok {
				if batchIdx[f] == nil {
					batchIdx[f] = map[string]string{}
				}
				batchIdx[f][v] = rec.id
			}
		}
		status := "updated"
		if !exists {
			status = "created"
			created[rec.id] = true
		}
		results[i] = recordResult{ID: rec.id, Status: status, Record: rec.stored}
	}
	if len(conflicts) > 0 {
		return nil, conflicts
	}
	for _, rec := range recs {
		c.unindex(rec.id)
		c.records[rec.id] = maps.Clone(rec.stored)
		for _, f := range c.unique {
			if v, ok := uniqueValue(rec.stored, f); ok {
				c.index[f][v] = rec.id
			}
		}
	}
	return results, nil
}

func recordConflict(id string, status int, code, msg string) core.ErrorBody {
	return core.ErrorBody{
		Message:  msg,
		Code:     code,
		Status:   status,
		EntityID: id,
		Details:  []core.ErrorDetail{{ErrorCode: code, FieldName: "id", EntityID: id}},
	}
}

func (f *Family) handleRecordDelete(w http.ResponseWriter, r *http.Request) {
	name, id := r.PathValue("schemaName"), r.PathValue("id")
	f.mu.Lock()
	c, ok := f.cols[name]
	found := false
	if ok {
		_, found = c.records[id]
		c.unindex(id)
		delete(c.records, id)
	}
	f.mu.Unlock()
	switch {
	case !ok:
		eb := core.StatusError(http.StatusNotFound)
		eb.Message = fmt.Sprintf("Schema %s was not found.", name)
		eb.EntityName = name
		core.WriteError(w, eb)
	case !found:
		eb := core.StatusError(http.StatusNotFound)
		eb.Message = fmt.Sprintf("Record %s was not found.", id)
		eb.EntityID = id
		core.WriteError(w, eb)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// withoutEntities strips every record reference from eb when omit is set.
func withoutEntities(eb core.ErrorBody, omit bool) core.ErrorBody {
	if !omit {
		return eb
	}
	eb.EntityID, eb.Details, eb.Errors = "", nil, nil
	return eb
}
