package externalcontacts

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/gcupsert/gcupsert/upsert"
)

// DataSchema is a data schema of custom fields, as the API serves it.
type DataSchema struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Version    int             `json:"version"`
	Enabled    *bool           `json:"enabled,omitempty"`
	JSONSchema json.RawMessage `json:"jsonSchema,omitempty"`
}

// coreTypes are the JSON Schemas of the core types that a data schema's
// properties reference as "#/definitions/<type>". The API's schema
// document carries no definitions, so the client supplies them; what a
// value of each type must be is not documented (docs/genesys-api.md): a
// date is "YYYY-MM-DD" and a datetime an RFC 3339 time.
var coreTypes = map[string]any{
	"text":       map[string]any{"type": "string"},
	"longtext":   map[string]any{"type": "string"},
	"url":        map[string]any{"type": "string"},
	"identifier": map[string]any{"type": "string"},
	"enum":       map[string]any{"type": "string"},
	"integer":    map[string]any{"type": "integer"},
	"number":     map[string]any{"type": "number"},
	"checkbox":   map[string]any{"type": "boolean"},
	"tag":        map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
	"date":       map[string]any{"type": "string", "pattern": `^[0-9]{4}-[0-9]{2}-[0-9]{2}$`},
	"datetime": map[string]any{"type": "string",
		"pattern": `^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$`},
}

// customSchema is a data schema compiled for validating custom fields.
type customSchema struct {
	DataSchema
	props  map[string]bool
	sch    *jsonschema.Schema
	readAt time.Time
}

// compileCustom compiles a data schema's JSON Schema with the core types.
func compileCustom(ds DataSchema, now time.Time) (*customSchema, error) {
	var doc map[string]any
	if err := json.Unmarshal(ds.JSONSchema, &doc); err != nil || doc == nil {
		return nil, fmt.Errorf("externalcontacts: data schema %q has no JSON Schema document", ds.Name)
	}
	props, _ := doc["properties"].(map[string]any)
	cs := &customSchema{DataSchema: ds, props: map[string]bool{}, readAt: now}
	for name := range props {
		cs.props[name] = true
	}
	delete(doc, "id") // a draft-4 id would move the base of "#/definitions/..."
	doc["definitions"] = coreTypes
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	if cs.sch, err = upsert.CompileSchema("dataschema-"+ds.ID, raw); err != nil {
		return nil, fmt.Errorf("externalcontacts: data schema %q: %w", ds.Name, err)
	}
	return cs, nil
}

// FindDataSchema returns the current version of the data schema of entity
// e named name (compared without case); ok is false when there is none.
func FindDataSchema(ctx context.Context, c *upsert.Client, e Entity, name string) (ds DataSchema, ok bool, err error) {
	res, err := c.Do(ctx, upsert.Call{Method: http.MethodGet, Path: apiPath + "/" + e.plural() + "/schemas"})
	if err != nil {
		return DataSchema{}, false, err
	}
	var listing struct {
		Entities []DataSchema `json:"entities"`
	}
	if err := json.Unmarshal(res.Body, &listing); err != nil {
		return DataSchema{}, false, fmt.Errorf("externalcontacts: unreadable list of data schemas: %w", err)
	}
	want := strings.ToLower(strings.TrimSpace(name))
	for _, s := range listing.Entities {
		if strings.ToLower(strings.TrimSpace(s.Name)) != want || s.ID == "" {
			continue
		}
		if len(s.JSONSchema) > 0 && s.Version > 0 {
			return s, true, nil
		}
		s, err = getDataSchema(ctx, c, e, s.ID)
		return s, err == nil, err
	}
	return DataSchema{}, false, nil
}

func getDataSchema(ctx context.Context, c *upsert.Client, e Entity, id string) (DataSchema, error) {
	res, err := c.Do(ctx, upsert.Call{Method: http.MethodGet, Path: apiPath + "/" + e.plural() + "/schemas/" + upsert.PathSegment(id)})
	if err != nil {
		return DataSchema{}, err
	}
	var s DataSchema
	if err := json.Unmarshal(res.Body, &s); err != nil {
		return DataSchema{}, fmt.Errorf("externalcontacts: unreadable data schema %s: %w", id, err)
	}
	return s, nil
}

// loadSchema reads and compiles the configured data schema; it must exist
// and be enabled.
func loadSchema(ctx context.Context, c *upsert.Client, cfg Config) (*customSchema, error) {
	ds, ok, err := FindDataSchema(ctx, c, cfg.Entity, cfg.DataSchema)
	switch {
	case err != nil:
		return nil, fmt.Errorf("externalcontacts: data schema %q: %w", cfg.DataSchema, err)
	case !ok:
		return nil, fmt.Errorf("externalcontacts: no %s data schema is named %q", cfg.Entity, cfg.DataSchema)
	case ds.Enabled != nil && !*ds.Enabled:
		return nil, fmt.Errorf("externalcontacts: data schema %q is disabled", cfg.DataSchema)
	}
	return compileCustom(ds, c.Clock().Now())
}

// refreshSchema reads the data schema again when it is older than
// SchemaRefresh, or when force is set (the API refused its version) unless
// a forced read in the last minSchemaRefresh found no newer version; it
// keeps the old one when the read fails.
func (t *Target) refreshSchema(ctx context.Context, force bool) error {
	if t.cfg.DataSchema == "" {
		return nil
	}
	t.refreshMu.Lock()
	defer t.refreshMu.Unlock()
	cur := t.currentSchema()
	now := t.c.Clock().Now()
	due := now.Sub(cur.readAt) >= t.cfg.SchemaRefresh
	if force && !t.forcedAt.IsZero() && now.Sub(t.forcedAt) < minSchemaRefresh {
		force = false // the last forced read found nothing newer
	}
	if !due && !force {
		return nil
	}
	if force {
		t.forcedAt = now
	}
	cs, err := loadSchema(ctx, t.c, t.cfg)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t.log.Warn("reading the data schema again failed; keeping the one read before", "error", err.Error())
		return nil
	}
	if cs.Version != cur.Version {
		t.log.Info("the data schema changed", "schema", cs.Name, "version", cs.Version, "was", cur.Version)
		t.forcedAt = time.Time{}
	}
	t.mu.Lock()
	t.schema = cs
	t.mu.Unlock()
	return nil
}

func (t *Target) currentSchema() *customSchema {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.schema
}
