package externalcontacts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/upsert"
)

// minSchemaRefresh bounds how often a version error reads the data schema.
const minSchemaRefresh = 30 * time.Second

// Target is the "externalcontacts" target: contacts or external
// organizations written by bulk enrich, matched on their external id in
// one external source. It starts no goroutine outside Upsert and is safe
// for concurrent use.
type Target struct {
	c      *upsert.Client
	cfg    Config
	source Source
	log    *slog.Logger
	limits change.Limits

	mu        sync.RWMutex
	schema    *customSchema // nil without a data schema
	refreshMu sync.Mutex
	forcedAt  time.Time // the last forced read of the schema that found it unchanged

	orgs *orgCache // nil without an organization field
}

// New resolves the external source (creating it when allowed) and the
// data schema, which must exist and be enabled.
func New(ctx context.Context, c *upsert.Client, cfg Config) (*Target, error) {
	if c == nil {
		return nil, errors.New("externalcontacts: needs a client")
	}
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	src, err := resolveSource(ctx, c, cfg)
	if err != nil {
		return nil, err
	}
	t := &Target{
		c:      c,
		cfg:    cfg,
		source: src,
		log:    c.Logger().With("target", "externalcontacts", "entity", string(cfg.Entity)),
		limits: change.Limits{
			MaxRecords: cfg.MaxRecords,
			MaxBytes:   cfg.MaxBytes * ((cfg.MaxRecords + cfg.MaxEnrich - 1) / cfg.MaxEnrich),
			Overhead:   len(`{"entities":[]}`), Separator: 1,
		},
	}
	if cfg.DataSchema != "" {
		if t.schema, err = loadSchema(ctx, c, cfg); err != nil {
			return nil, err
		}
	}
	if cfg.OrganizationField != "" {
		t.orgs = newOrgCache(cfg.ReferenceTTL)
	}
	return t, nil
}

// Name returns "externalcontacts".
func (t *Target) Name() string { return "externalcontacts" }

// Schema names what the target writes: the entity kind, and the data
// schema when there is one ("contact/crmContact").
func (t *Target) Schema() string {
	if t.cfg.DataSchema == "" {
		return string(t.cfg.Entity)
	}
	return string(t.cfg.Entity) + "/" + t.cfg.DataSchema
}

// SourceID is the id of the external source.
func (t *Target) SourceID() string { return t.source.ID }

// SchemaJSON is the JSON Schema of the fields a record may hold
// (FieldsSchema): the standard fields, the organization field and the
// custom fields of the data schema as last read.
func (t *Target) SchemaJSON() []byte {
	var custom []byte
	if cs := t.currentSchema(); cs != nil {
		custom = slices.Clone([]byte(cs.JSONSchema))
	}
	return FieldsSchema(t.cfg.Entity, t.cfg.OrganizationField, custom)
}

// Limits bounds one Upsert call: MaxRecords records, sent as enrich
// requests of at most MaxEnrich operations and MaxBytes bytes each.
func (t *Target) Limits() change.Limits { return t.limits }

// Prepare validates a record and encodes its entity. The record's fields
// are the entity's standard fields (address parts as "address.<name>",
// phones as E.164 strings) and the custom fields of the data schema; the
// organization field of a contact is resolved at Upsert. A field that is
// neither is rejected (code field.unknown), as are values the SDK model
// or the data schema does not allow (code schema.violation).
func (t *Target) Prepare(rec change.Record) (change.Item, *change.RecordError) {
	if rerr := rec.Check(); rerr != nil {
		return change.Item{}, rerr
	}
	if n := utf8.RuneCountInString(rec.Key); n > maxValueLength {
		return change.Item{}, &change.RecordError{Class: change.ClassValidation, Code: "key.too.long",
			Message: fmt.Sprintf("the key has %d characters; an external id holds at most %d", n, maxValueLength)}
	}
	if rec.Op == change.OpDelete {
		return change.Item{Record: rec}, nil
	}
	return t.prepare(t.currentSchema(), rec)
}

func (t *Target) prepare(cs *customSchema, rec change.Record) (change.Item, *change.RecordError) {
	entity, custom, fe := t.entityOf(cs, rec.Data)
	if len(fe) == 0 && len(custom) > 0 {
		var err error
		if fe, err = upsert.ValidateFields(cs.sch, custom); err != nil {
			return change.Item{}, &change.RecordError{Class: change.ClassValidation, Code: "record.encoding", Message: "custom fields cannot be checked: " + err.Error()}
		}
	}
	if len(fe) > 0 {
		return change.Item{}, &change.RecordError{Class: change.ClassValidation, Code: "schema.violation",
			Message: upsert.Summarize("record does not fit the "+string(t.cfg.Entity), fe), Fields: fe}
	}
	entity["externalIds"] = []any{map[string]any{"externalSource": map[string]any{"id": t.source.ID}, "value": rec.Key}}
	if len(custom) > 0 {
		entity["schema"] = map[string]any{"id": cs.ID, "version": cs.Version}
		entity["customFields"] = custom
	}
	body, err := json.Marshal(entity)
	if err != nil {
		return change.Item{}, &change.RecordError{Class: change.ClassValidation, Code: "record.encoding", Message: "record cannot be encoded as JSON: " + err.Error()}
	}
	if size := len(body) + opOverhead + len(rec.Key)*2; size+t.limits.Overhead > t.cfg.MaxBytes {
		return change.Item{}, &change.RecordError{Class: change.ClassValidation, Code: "record.too.large",
			Message: fmt.Sprintf("record needs a %d-byte request, the limit is %d bytes", size+t.limits.Overhead, t.cfg.MaxBytes)}
	}
	return change.Item{Record: rec, Body: body}, nil
}

// entityOf splits a record's fields into the entity's standard fields and
// its custom fields, and returns the problems found.
func (t *Target) entityOf(cs *customSchema, data map[string]any) (entity, custom map[string]any, fe []change.FieldError) {
	entity, custom = map[string]any{}, map[string]any{}
	names := make([]string, 0, len(data))
	for k := range data {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		v := data[name]
		switch {
		case name == t.cfg.OrganizationField:
			if s, ok := v.(string); v != nil && (!ok || utf8.RuneCountInString(s) > maxValueLength) {
				fe = append(fe, change.FieldError{Field: name, Code: "field.type", Message: "the organization's external id must be a string of at most 255 characters"})
			}
		case standardField(t.cfg.Entity, name) != nil:
			if e := standardField(t.cfg.Entity, name).place(name, v, entity); e != nil {
				fe = append(fe, *e)
			}
		case cs != nil && cs.props[name]:
			if v != nil {
				custom[name] = v
			}
		default:
			msg := "not a standard field of a " + string(t.cfg.Entity)
			if cs != nil {
				msg += " nor a custom field of the data schema " + cs.Name
			}
			fe = append(fe, change.FieldError{Field: name, Code: "field.unknown", Message: msg})
		}
	}
	if t.cfg.Entity == Organization && t.cfg.Conflict != change.ConflictUpdateOnly && entity["name"] == nil {
		fe = append(fe, change.FieldError{Field: "name", Code: "required", Message: "an organization needs a name"})
	}
	return entity, custom, fe
}
