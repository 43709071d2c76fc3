package customobjects

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
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
func (f *Family) SetUniqueFields(schema string, fields []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.cols[schema]
	if !ok {
		return unknownSchemaError(schema)
	}
	if err := checkUniqueFields(schema, fields); err != nil {
		return err
	}
	c.unique = slices.Clone(fields)
	c.reindex()
	return nil
}

// unknownSchemaError is the error of unique fields for an unknown schema.
func unknownSchemaError(schema string) error {
	return fmt.Errorf("%w: unique fields for unknown schema %q", ErrInvalidSchema, schema)
}

// checkUniqueFields checks the unique field names of schema.
func checkUniqueFields(schema string, fields []string) error {
	for _, f := range fields {
		if f == "" {
			return fmt.Errorf("%w: empty unique field name for schema %q", ErrInvalidSchema, schema)
		}
	}
	return nil
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

// checkSchema checks the name of schema name and compiles its document.
func checkSchema(name string, doc []byte) (*jsonschema.Schema, error) {
	if name == "" || strings.ContainsAny(name, "/?#") {
		return nil, fmt.Errorf("%w: schema name %q must be non-empty and free of '/', '?' and '#'", ErrInvalidSchema, name)
	}
	return compileSchema(name, doc)
}

// AddSchema adds the customobjects schema name, or replaces its JSON Schema
// while keeping its records. The schema describes a record's fields, id and
// conflictResolution excluded.
func (f *Family) AddSchema(name string, schema []byte) error {
	sch, err := checkSchema(name, schema)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.cols[name]; ok {
		c.schema = sch
		return nil
	}
	f.cols[name] = &collection{schema: sch, records: map[string]map[string]any{}, index: map[string]map[string]string{}}
	return nil
}

// Schemas returns the names of the customobjects schemas, sorted.
func (f *Family) Schemas() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Sorted(maps.Keys(f.cols))
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
