// Package customobjects is the "customobjects" target: the batch-records
// contract this project defines (it is not a public Genesys API; the
// emulator serves it).
//
//   - POST {api}/api/v2/customobjects/{schemaName}/records with
//     {"records":[...]}, at most MaxRecords records and MaxBytes bytes. Each
//     record is the field object plus "id" (the key) and
//     "conflictResolution" (upsert, updateOnly, createOnly). A request is
//     atomic. 200 answers {"results":[{"id","status","record"}]}.
//   - 400, 409 and 422 name offending records in errors[] (entityId) or
//     details[]; those are rejected and the rest resent. A failure that
//     names no record is bisected until the offenders are isolated; 413 is
//     split in halves.
//   - DELETE .../records/{id} per delete; 404 counts as deleted.
//
// Prepare validates a record against the route's JSON Schema and reference
// fields and encodes it exactly as it is placed in the body. Upsert checks
// unique fields within the batch (each on its own, upsert.UniqueValue),
// then sends the requests of a phase Parallelism at a time; a repeated key
// starts a new phase so that per-key order holds. A Target is safe for
// concurrent use.
package customobjects

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/upsert"
)

// Batch limits of the contract (also the hard maxima).
const (
	MaxRecords = 100
	MaxBytes   = 2 << 20
)

var (
	bodyPrefix = []byte(`{"records":[`)
	bodySuffix = []byte(`]}`)
)

// Config configures a Target.
type Config struct {
	// Schema is the custom object schema name (path segment of the API).
	Schema string
	// SchemaJSON is the JSON Schema of the record fields, without the
	// "id" and "conflictResolution" the body adds. Empty means no schema
	// validation.
	SchemaJSON []byte
	// Conflict is sent with every record; default ConflictUpsert.
	Conflict change.Conflict
	// UniqueFields must not share a value between two keys of one batch;
	// each field is checked on its own.
	UniqueFields []string
	// ReferenceFields must be present and non-empty.
	ReferenceFields []string
	// MaxRecords and MaxBytes bound one request; defaults and maxima are
	// the package's MaxRecords and MaxBytes.
	MaxRecords int
	MaxBytes   int
	// Parallelism is the requests one Upsert call has in flight (the
	// records of one phase hold each key once, so their requests may go in
	// any order); default 2.
	Parallelism int
}

// DefaultParallelism is the requests one Upsert call has in flight.
const DefaultParallelism = 2

func (c *Config) setDefaults() {
	if c.Conflict == "" {
		c.Conflict = change.ConflictUpsert
	}
	if c.MaxRecords == 0 {
		c.MaxRecords = MaxRecords
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = MaxBytes
	}
	if c.Parallelism == 0 {
		c.Parallelism = DefaultParallelism
	}
}

// Validate reports the first setting that cannot work.
func (c *Config) Validate() error {
	if strings.TrimSpace(c.Schema) == "" {
		return errors.New("customobjects: needs a schema name")
	}
	if _, err := change.ParseConflict(string(c.Conflict)); err != nil {
		return fmt.Errorf("customobjects: %w", err)
	}
	for _, f := range append(append([]string(nil), c.UniqueFields...), c.ReferenceFields...) {
		if f == "" {
			return errors.New("customobjects: unique and reference field names must not be empty")
		}
	}
	if c.Parallelism < 1 {
		return fmt.Errorf("customobjects: parallelism %d is below 1", c.Parallelism)
	}
	if c.MaxRecords < 1 || c.MaxRecords > MaxRecords {
		return fmt.Errorf("customobjects: max records %d must be within 1..%d", c.MaxRecords, MaxRecords)
	}
	if overhead := len(bodyPrefix) + len(bodySuffix); c.MaxBytes <= overhead || c.MaxBytes > MaxBytes {
		return fmt.Errorf("customobjects: max bytes %d must be within %d..%d", c.MaxBytes, overhead+1, MaxBytes)
	}
	return nil
}

// Target writes the records of one schema. It is safe for concurrent use.
type Target struct {
	c         *upsert.Client
	cfg       Config
	path      string
	validator *jsonschema.Schema
	limits    change.Limits
}

// New fills cfg's defaults, validates it, compiles the schema and returns
// the target.
func New(c *upsert.Client, cfg Config) (*Target, error) {
	if c == nil {
		return nil, errors.New("customobjects: needs a client")
	}
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.UniqueFields = append([]string(nil), cfg.UniqueFields...)
	cfg.ReferenceFields = append([]string(nil), cfg.ReferenceFields...)
	t := &Target{
		c:    c,
		cfg:  cfg,
		path: "/api/v2/customobjects/" + upsert.PathSegment(cfg.Schema) + "/records",
		limits: change.Limits{
			MaxRecords: cfg.MaxRecords, MaxBytes: cfg.MaxBytes,
			Overhead: len(bodyPrefix) + len(bodySuffix), Separator: 1,
		},
	}
	if len(bytes.TrimSpace(cfg.SchemaJSON)) > 0 {
		sch, err := upsert.CompileSchema(cfg.Schema, cfg.SchemaJSON)
		if err != nil {
			return nil, err
		}
		t.validator = sch
	}
	return t, nil
}

// Name returns "customobjects".
func (t *Target) Name() string { return "customobjects" }

// Schema returns the schema name.
func (t *Target) Schema() string { return t.cfg.Schema }

// SchemaJSON returns the JSON Schema records are validated against; nil
// when there is none.
func (t *Target) SchemaJSON() []byte { return bytes.Clone(t.cfg.SchemaJSON) }

// Limits returns the request limits and body framing.
func (t *Target) Limits() change.Limits { return t.limits }

// Prepare validates one record and encodes it. Deletes need only a key and
// get no body. An upsert's fields are checked against the JSON Schema
// (class "validation", code "schema.violation", one FieldError per
// violation) and the reference fields (class "reference", code
// "reference.missing"); its body is the field object plus "id" and
// "conflictResolution", keys sorted. A record whose body alone would exceed
// MaxBytes is rejected with code "record.too.large".
func (t *Target) Prepare(rec change.Record) (change.Item, *change.RecordError) {
	if rerr := rec.Check(); rerr != nil {
		return change.Item{}, rerr
	}
	if rec.Op == change.OpDelete {
		return change.Item{Record: rec}, nil
	}
	data := rec.Data
	if data == nil {
		data = map[string]any{}
	}
	if fe := t.reservedFields(rec.Key, data); fe != nil {
		return change.Item{}, &change.RecordError{Class: change.ClassValidation, Code: "field.reserved",
			Message: upsert.Summarize("record sets a field the request reserves", fe), Fields: fe}
	}
	if t.validator != nil {
		fe, err := upsert.ValidateFields(t.validator, data)
		if err != nil {
			return change.Item{}, &change.RecordError{Class: change.ClassValidation, Code: "record.encoding", Message: "record cannot be checked: " + err.Error()}
		}
		if len(fe) > 0 {
			return change.Item{}, &change.RecordError{Class: change.ClassValidation, Code: "schema.violation",
				Message: upsert.Summarize("record violates the schema", fe), Fields: fe}
		}
	}
	if rerr := t.checkReferences(data); rerr != nil {
		return change.Item{}, rerr
	}
	body, err := upsert.EncodeObject(data, upsert.Field{Name: "id", Value: rec.Key},
		upsert.Field{Name: "conflictResolution", Value: string(t.cfg.Conflict)})
	if err != nil {
		return change.Item{}, &change.RecordError{Class: change.ClassValidation, Code: "record.encoding", Message: "record cannot be encoded as JSON: " + err.Error()}
	}
	if size := t.limits.BodySize(1, len(body)); size > t.limits.MaxBytes {
		return change.Item{}, &change.RecordError{Class: change.ClassValidation, Code: "record.too.large",
			Message: fmt.Sprintf("record needs a %d-byte request, the limit is %d bytes", size, t.limits.MaxBytes)}
	}
	return change.Item{Record: rec, Body: body}, nil
}

func (t *Target) reservedFields(key string, data map[string]any) []change.FieldError {
	var fe []change.FieldError
	if v, ok := data["id"]; ok {
		if s, isStr := v.(string); !isStr || s != key {
			fe = append(fe, change.FieldError{Field: "id", Code: "reserved", Message: "differs from the record key"})
		}
	}
	if v, ok := data["conflictResolution"]; ok {
		if s, isStr := v.(string); !isStr || change.Conflict(s) != t.cfg.Conflict {
			fe = append(fe, change.FieldError{Field: "conflictResolution", Code: "reserved", Message: "differs from the route's conflict resolution"})
		}
	}
	return fe
}

func (t *Target) checkReferences(data map[string]any) *change.RecordError {
	var fe []change.FieldError
	for _, f := range t.cfg.ReferenceFields {
		v, ok := data[f]
		if !ok || v == nil {
			fe = append(fe, change.FieldError{Field: f, Code: "reference.missing", Message: "reference field is missing"})
			continue
		}
		if s, isStr := v.(string); isStr && strings.TrimSpace(s) == "" {
			fe = append(fe, change.FieldError{Field: f, Code: "reference.missing", Message: "reference field is empty"})
		}
	}
	if fe == nil {
		return nil
	}
	return &change.RecordError{Class: change.ClassReference, Code: "reference.missing", Message: upsert.Summarize("record lacks a reference", fe), Fields: fe}
}
