package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// Conflict-resolution directives of a record.
const (
	ConflictUpsert     = "upsert"
	ConflictUpdateOnly = "updateOnly"
	ConflictCreateOnly = "createOnly"
)

// ErrInvalidSchema is wrapped by AddSchema errors.
var ErrInvalidSchema = errors.New("emulator: invalid schema")

// collection is one schema and its records.
type collection struct {
	schema  *jsonschema.Schema
	records map[string]map[string]any    // id -> record as stored (id included)
	unique  []string                     // fields whose values are unique across records
	index   map[string]map[string]string // unique field -> value -> id holding it
}

// uniqueValue is the index key of a field value; absent and null values
// are not indexed.
func uniqueValue(rec map[string]any, field string) (string, bool) {
	v, ok := rec[field]
	if !ok || v == nil {
		return "", false
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", false
	}
	return string(b), true
}

// unindex removes a stored record's values from the unique index.
func (c *collection) unindex(id string) {
	old, ok := c.records[id]
	if !ok {
		return
	}
	for _, f := range c.unique {
		if v, ok := uniqueValue(old, f); ok && c.index[f][v] == id {
			delete(c.index[f], v)
		}
	}
}

// reindex rebuilds the unique index from the records.
func (c *collection) reindex() {
	c.index = map[string]map[string]string{}
	for _, f := range c.unique {
		c.index[f] = map[string]string{}
		for id, rec := range c.records {
			if v, ok := uniqueValue(rec, f); ok {
				c.index[f][v] = id
			}
		}
	}
}

// SetUniqueFields makes each named field of schema unique across its
// records (each field on its own). The schema must exist.
func (s *Server) SetUniqueFields(schema string, fields []string) error {
	co := s.objects
	co.mu.Lock()
	defer co.mu.Unlock()
	c, ok := co.cols[schema]
	if !ok {
		return fmt.Errorf("%w: unique fields for unknown schema %q", ErrInvalidSchema, schema)
	}
	for _, f := range fields {
		if f == "" {
			return fmt.Errorf("%w: empty unique field name for schema %q", ErrInvalidSchema, schema)
		}
	}
	c.unique = slices.Clone(fields)
	c.reindex()
	return nil
}

// customObjects holds every collection. Safe for concurrent use.
type customObjects struct {
	mu   sync.Mutex
	cols map[string]*collection
}

func newCustomObjects() *customObjects { return &customObjects{cols: map[string]*collection{}} }

func (co *customObjects) reset() {
	co.mu.Lock()
	defer co.mu.Unlock()
	for _, c := range co.cols {
		c.records = map[string]map[string]any{}
		c.reindex()
	}
}

func (co *customObjects) schema(name string) (*jsonschema.Schema, bool) {
	co.mu.Lock()
	defer co.mu.Unlock()
	c, ok := co.cols[name]
	if !ok {
		return nil, false
	}
	return c.schema, true
}

// refuseLoader keeps schemas self-contained: nothing is loaded from files
// or the network.
type refuseLoader struct{}

func (refuseLoader) Load(u string) (any, error) {
	return nil, fmt.Errorf("external schema %q is not allowed", u)
}

// compileSchema compiles a record-fields schema.
func compileSchema(name string, doc []byte) (*jsonschema.Schema, error) {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrInvalidSchema, name, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	c.UseLoader(refuseLoader{})
	loc := "mem:///customobjects/" + url.PathEscape(name) + ".json"
	if err := c.AddResource(loc, v); err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrInvalidSchema, name, err)
	}
	sch, err := c.Compile(loc)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrInvalidSchema, name, err)
	}
	return sch, nil
}

// AddSchema adds the customobjects schema name, or replaces its JSON Schema
// while keeping its records. The schema describes a record's fields, id and
// conflictResolution excluded.
func (s *Server) AddSchema(name string, schema []byte) error {
	if name == "" || strings.ContainsAny(name, "/?#") {
		return fmt.Errorf("%w: schema name %q must be non-empty and free of '/', '?' and '#'", ErrInvalidSchema, name)
	}
	sch, err := compileSchema(name, schema)
	if err != nil {
		return err
	}
	co := s.objects
	co.mu.Lock()
	defer co.mu.Unlock()
	if c, ok := co.cols[name]; ok {
		c.schema = sch
		return nil
	}
	co.cols[name] = &collection{schema: sch, records: map[string]map[string]any{}, index: map[string]map[string]string{}}
	return nil
}

// Schemas returns the names of the customobjects schemas, sorted.
func (s *Server) Schemas() []string {
	co := s.objects
	co.mu.Lock()
	defer co.mu.Unlock()
	return slices.Sorted(maps.Keys(co.cols))
}

// Records returns a copy of the records of schema, by id, or nil when the
// schema is unknown. Values read as encoding/json decodes into any (numbers
// are float64).
func (s *Server) Records(schema string) map[string]map[string]any {
	co := s.objects
	co.mu.Lock()
	c, ok := co.cols[schema]
	var b []byte
	var err error
	if ok {
		b, err = json.Marshal(c.records)
	}
	co.mu.Unlock()
	if !ok || err != nil {
		return nil
	}
	out := map[string]map[string]any{}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil
	}
	return out
}

func (s *Server) registerCustomObjects(mux *http.ServeMux) {
	mux.HandleFunc(KindCustomObjectsUpsert, s.handleRecordsPost)
	mux.HandleFunc(KindCustomObjectsDelete, s.handleRecordDelete)
}

// batchRecord is one decoded record of a batch.
type batchRecord struct {
	id       string
	conflict string
	stored   map[string]any // fields plus id
}

// recordResult is one entry of a 200 answer.
type recordResult struct {
	ID     string         `json:"id"`
	Status string         `json:"status"`
	Record map[string]any `json:"record"`
}

func (s *Server) handleRecordsPost(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("schemaName")
	sch, ok := s.objects.schema(name)
	if !ok {
		eb := statusError(http.StatusNotFound)
		eb.Message = fmt.Sprintf("Schema %s was not found.", name)
		eb.EntityName = name
		writeError(w, eb)
		return
	}
	body, tooLarge, err := readBody(r, s.maxBodyBytes)
	switch {
	case tooLarge:
		eb := statusError(http.StatusRequestEntityTooLarge)
		eb.Message = fmt.Sprintf("The request body is over the limit of %d bytes.", s.maxBodyBytes)
		eb.Limit = &Limit{Key: "max.body.bytes", Namespace: "customobjects", Value: int64(s.maxBodyBytes)}
		writeError(w, eb)
		return
	case err != nil:
		writeError(w, badRequest("The request body could not be read."))
		return
	}
	raws, msg := splitBatch(body)
	if msg != "" {
		writeError(w, badRequest(msg))
		return
	}
	if len(raws) > s.maxRecords {
		eb := statusError(http.StatusRequestEntityTooLarge)
		eb.Message = fmt.Sprintf("The request has %d records; the limit is %d.", len(raws), s.maxRecords)
		eb.Limit = &Limit{Key: "max.records", Namespace: "customobjects", Value: int64(s.maxRecords)}
		writeError(w, eb)
		return
	}
	omit := s.faults.omitEntityIDs()
	recs := make([]batchRecord, len(raws))
	var invalid []ErrorBody
	for i, raw := range raws {
		rec, problem := checkRecord(sch, i, raw)
		if problem != nil {
			invalid = append(invalid, *problem)
			continue
		}
		recs[i] = rec
	}
	if len(invalid) > 0 {
		eb := badRequest(fmt.Sprintf("%d of %d records failed validation.", len(invalid), len(raws)))
		eb.Errors = invalid
		writeError(w, withoutEntities(eb, omit))
		return
	}
	results, conflicts := s.objects.apply(name, recs)
	if len(conflicts) > 0 {
		eb := statusError(http.StatusConflict)
		eb.Message = fmt.Sprintf("%d of %d records conflict with stored records.", len(conflicts), len(raws))
		eb.Errors = conflicts
		writeError(w, withoutEntities(eb, omit))
		return
	}
	if results == nil {
		// The schema was removed meanwhile; schemas are never removed today.
		writeError(w, statusError(http.StatusNotFound))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": results})
}

// apply checks conflicts and, when there are none, stores every record, all
// under one lock. It returns nil results when the schema is gone.
func (co *customObjects) apply(name string, recs []batchRecord) ([]recordResult, []ErrorBody) {
	co.mu.Lock()
	defer co.mu.Unlock()
	c, ok := co.cols[name]
	if !ok {
		return nil, nil
	}
	created := map[string]bool{}               // ids created earlier in this batch
	batchIdx := map[string]map[string]string{} // unique values taken earlier in this batch
	results := make([]recordResult, len(recs))
	var conflicts []ErrorBody
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

// uniqueClash reports the first unique field whose value in rec is held by
// another id, in the store or earlier in the batch.
func (c *collection) uniqueClash(rec batchRecord, batchIdx map[string]map[string]string) (field, holder string, clash bool) {
	for _, f := range c.unique {
		v, ok := uniqueValue(rec.stored, f)
		if !ok {
			continue
		}
		if id, ok := batchIdx[f][v]; ok && id != rec.id {
			return f, id, true
		}
		if id, ok := c.index[f][v]; ok && id != rec.id {
			return f, id, true
		}
	}
	return "", "", false
}

func recordConflict(id string, status int, code, msg string) ErrorBody {
	return ErrorBody{
		Message:  msg,
		Code:     code,
		Status:   status,
		EntityID: id,
		Details:  []ErrorDetail{{ErrorCode: code, FieldName: "id", EntityID: id}},
	}
}

func (s *Server) handleRecordDelete(w http.ResponseWriter, r *http.Request) {
	name, id := r.PathValue("schemaName"), r.PathValue("id")
	co := s.objects
	co.mu.Lock()
	c, ok := co.cols[name]
	found := false
	if ok {
		_, found = c.records[id]
		c.unindex(id)
		delete(c.records, id)
	}
	co.mu.Unlock()
	switch {
	case !ok:
		eb := statusError(http.StatusNotFound)
		eb.Message = fmt.Sprintf("Schema %s was not found.", name)
		eb.EntityName = name
		writeError(w, eb)
	case !found:
		eb := statusError(http.StatusNotFound)
		eb.Message = fmt.Sprintf("Record %s was not found.", id)
		eb.EntityID = id
		writeError(w, eb)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

func badRequest(msg string) ErrorBody {
	eb := statusError(http.StatusBadRequest)
	eb.Message = msg
	return eb
}

// withoutEntities strips every record reference from eb when omit is set.
func withoutEntities(eb ErrorBody, omit bool) ErrorBody {
	if !omit {
		return eb
	}
	eb.EntityID, eb.Details, eb.Errors = "", nil, nil
	return eb
}

// readBody reads at most limit bytes of r's body; tooLarge reports more.
func readBody(r *http.Request, limit int) (body []byte, tooLarge bool, err error) {
	if r.ContentLength > int64(limit) {
		return nil, true, nil
	}
	body, err = io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
	if err != nil {
		return nil, false, err
	}
	if len(body) > limit {
		return nil, true, nil
	}
	return body, false, nil
}

// splitBatch returns the raw records of a batch body, or a message saying
// why the body is not a batch.
func splitBatch(body []byte) ([]json.RawMessage, string) {
	var top map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&top); err != nil || top == nil {
		return nil, "The request body is not a JSON object."
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, "The request body has data after the JSON object."
	}
	raw, ok := top["records"]
	if !ok {
		return nil, "The request body has no records array."
	}
	var recs []json.RawMessage
	if err := json.Unmarshal(raw, &recs); err != nil || recs == nil {
		return nil, "The records field is not an array."
	}
	if len(recs) == 0 {
		return nil, "The records array is empty."
	}
	return recs, ""
}

// checkRecord decodes and validates record i; it returns the record, or an
// ErrorBody naming its problems.
func checkRecord(sch *jsonschema.Schema, i int, raw json.RawMessage) (batchRecord, *ErrorBody) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	_ = dec.Decode(&v) // raw is a valid JSON value: splitBatch decoded it
	obj, ok := v.(map[string]any)
	if !ok {
		return batchRecord{}, &ErrorBody{
			Message: fmt.Sprintf("Record %d is not a JSON object.", i),
			Code:    CodeInvalidRecord,
			Status:  http.StatusBadRequest,
			Details: []ErrorDetail{{ErrorCode: CodeNotObject}},
		}
	}
	var details []ErrorDetail
	id, idOK := obj["id"].(string)
	switch {
	case obj["id"] == nil:
		details = append(details, ErrorDetail{ErrorCode: CodeMissingID, FieldName: "id"})
	case !idOK || id == "":
		details = append(details, ErrorDetail{ErrorCode: CodeInvalidID, FieldName: "id"})
		id = ""
	}
	cr, crOK := obj["conflictResolution"].(string)
	switch {
	case obj["conflictResolution"] == nil:
		details = append(details, ErrorDetail{ErrorCode: CodeMissingConflict, FieldName: "conflictResolution", EntityID: id})
	case !crOK || (cr != ConflictUpsert && cr != ConflictUpdateOnly && cr != ConflictCreateOnly):
		details = append(details, ErrorDetail{ErrorCode: CodeInvalidConflict, FieldName: "conflictResolution", EntityID: id})
	}
	fields := make(map[string]any, len(obj))
	for k, val := range obj {
		if k != "id" && k != "conflictResolution" {
			fields[k] = val
		}
	}
	var msgs []string
	if err := sch.Validate(fields); err != nil {
		d, m := schemaDetails(err, id)
		details = append(details, d...)
		msgs = m
	}
	if len(details) > 0 {
		for j := range details {
			details[j].EntityID = id
		}
		label := id
		if label == "" {
			label = fmt.Sprintf("at index %d", i)
		}
		msg := fmt.Sprintf("Record %s is invalid.", label)
		if len(msgs) > 0 {
			msg = fmt.Sprintf("Record %s is invalid: %s.", label, strings.Join(msgs, "; "))
		}
		return batchRecord{}, &ErrorBody{
			Message:  msg,
			Code:     CodeInvalidRecord,
			Status:   http.StatusBadRequest,
			EntityID: id,
			Details:  details,
		}
	}
	stored := fields
	stored["id"] = id
	return batchRecord{id: id, conflict: cr, stored: stored}, nil
}

// schemaDetails turns a validation error into one detail per offending
// field and readable messages.
func schemaDetails(err error, id string) ([]ErrorDetail, []string) {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []ErrorDetail{{ErrorCode: CodeSchemaPrefix + "invalid", EntityID: id}}, []string{err.Error()}
	}
	var details []ErrorDetail
	var msgs []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		field := strings.Join(e.InstanceLocation, ".")
		msg := "invalid"
		if out := e.BasicOutput(); out != nil && out.Error != nil {
			msg = out.Error.String()
		}
		if field != "" {
			msgs = append(msgs, field+": "+msg)
		} else {
			msgs = append(msgs, msg)
		}
		join := func(name string) string {
			if field == "" {
				return name
			}
			return field + "." + name
		}
		switch k := e.ErrorKind.(type) {
		case *kind.Required:
			for _, m := range k.Missing {
				details = append(details, ErrorDetail{ErrorCode: CodeSchemaPrefix + "required", FieldName: join(m)})
			}
		case *kind.AdditionalProperties:
			for _, p := range k.Properties {
				details = append(details, ErrorDetail{ErrorCode: CodeSchemaPrefix + "additionalProperties", FieldName: join(p)})
			}
		default:
			kw := "invalid"
			if path := e.ErrorKind.KeywordPath(); len(path) > 0 {
				kw = path[len(path)-1]
			}
			details = append(details, ErrorDetail{ErrorCode: CodeSchemaPrefix + kw, FieldName: field})
		}
	}
	walk(ve)
	return details, msgs
}
