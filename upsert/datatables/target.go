package datatables

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/upsert"
)

// Defaults and documented limits.
const (
	MaxKeyLength       = 256
	DefaultImportMax   = 5000
	DefaultImportBytes = 10 << 20
	DefaultRowsMax     = 100
	DefaultParallelism = 8
	DefaultRefMaxKeys  = 100000
	rowsMaxBytes       = 64 << 20
	minSchemaRefresh   = 30 * time.Second
	maxPollInterval    = 15 * time.Second
)

// Config configures a Target. Zero values take the
// defaults named on each field.
type Config struct {
	// Table is the data table's name or id.
	Table string
	// Conflict maps onto the rows API: ConflictUpsert (default) updates
	// the row or creates it, ConflictUpdateOnly only updates (a missing
	// row is rejected), ConflictCreateOnly only creates (an existing row
	// is rejected).
	Conflict change.Conflict
	// UniqueFields must not share a non-empty value between two keys,
	// within a batch or with the rows already in the table; each field on
	// its own.
	UniqueFields []string
	// References maps a field to the name or id of the table whose keys
	// it must name. Empty values are not checked.
	References map[string]string
	// SchemaRefresh is how old the schema (and the unique index) may get
	// before it is read again; default 10m.
	SchemaRefresh time.Duration
	// RowsParallelism is the number of row requests one batch has in
	// flight; default 8.
	RowsParallelism int
	// RowsMaxRecords is the batch bound when import is off; default 100.
	RowsMaxRecords int
	// ImportThreshold sends a batch of at least this many upserts as one
	// CSV import job (Append mode); 0 never imports.
	ImportThreshold int
	// ImportMaxRecords and ImportMaxBytes bound one import (rows, and
	// bytes of the CSV uploaded); defaults 5000 and 10 MiB.
	ImportMaxRecords int
	ImportMaxBytes   int
	// ImportPollInterval is the first wait between polls of an import job
	// (growing by half each poll, to at most 15s); default 1s.
	ImportPollInterval time.Duration
	// ImportTimeout bounds the wait for an import job; default 10m. A job
	// that takes longer is a transient failure of the batch.
	ImportTimeout time.Duration
	// ReferenceTTL is how long a referenced table's cached keys are used
	// before the table is read again; default 5m.
	ReferenceTTL time.Duration
	// ReferenceMaxKeys bounds the cached keys per referenced table;
	// default 100000.
	ReferenceMaxKeys int
	// PutMissingIs404 says the API answers 404 to a PUT of a missing row.
	// When false (the default, since the API does not document it), an
	// updateOnly write first checks that the row exists, because the PUT
	// might create it.
	PutMissingIs404 bool
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	defInt := func(n *int, v int) {
		if *n == 0 {
			*n = v
		}
	}
	if c.Conflict == "" {
		c.Conflict = change.ConflictUpsert
	}
	def(&c.SchemaRefresh, 10*time.Minute)
	def(&c.ImportPollInterval, time.Second)
	def(&c.ImportTimeout, 10*time.Minute)
	def(&c.ReferenceTTL, 5*time.Minute)
	defInt(&c.RowsParallelism, DefaultParallelism)
	defInt(&c.RowsMaxRecords, DefaultRowsMax)
	defInt(&c.ImportMaxRecords, DefaultImportMax)
	defInt(&c.ImportMaxBytes, DefaultImportBytes)
	defInt(&c.ReferenceMaxKeys, DefaultRefMaxKeys)
}

// Validate reports the first setting that cannot work.
func (c *Config) Validate() error {
	if strings.TrimSpace(c.Table) == "" {
		return errors.New("datatables: needs a table name or id")
	}
	if _, err := change.ParseConflict(string(c.Conflict)); err != nil {
		return fmt.Errorf("datatables: %w", err)
	}
	for _, d := range []time.Duration{c.SchemaRefresh, c.ImportPollInterval, c.ImportTimeout, c.ReferenceTTL} {
		if d < 0 {
			return errors.New("datatables: durations must not be negative")
		}
	}
	for _, n := range []int{c.RowsParallelism, c.RowsMaxRecords, c.ImportThreshold, c.ImportMaxRecords, c.ImportMaxBytes, c.ReferenceMaxKeys} {
		if n < 0 {
			return errors.New("datatables: counts must not be negative")
		}
	}
	if c.ImportThreshold > c.ImportMaxRecords {
		return fmt.Errorf("datatables: import threshold %d exceeds import max records %d", c.ImportThreshold, c.ImportMaxRecords)
	}
	seen := map[string]bool{}
	for _, f := range c.UniqueFields {
		if f == "" || f == "key" || seen[f] {
			return fmt.Errorf("datatables: unique field %q is empty, the key, or repeated", f)
		}
		seen[f] = true
	}
	for f, t := range c.References {
		if f == "" || strings.TrimSpace(t) == "" {
			return fmt.Errorf("datatables: reference field %q -> table %q: both must be set", f, t)
		}
	}
	return nil
}

// Target is the "datatables" target: rows of an Architect data table,
// keyed by "key", written one request per row (PUT, POST), or a large batch
// as one CSV import job. It starts no goroutine outside Upsert and is safe
// for concurrent use.
type Target struct {
	c    *upsert.Client
	cfg  Config
	id   string
	name string
	path string // /api/v2/flows/datatables/{id}
	log  *slog.Logger

	mu        sync.RWMutex
	schema    *dtSchema
	stale     bool // the API reported a schema error
	refreshMu sync.Mutex

	refs  map[string]*refCache // by field
	index *uniqueIndex         // nil without unique fields
}

// New resolves the table (by id, else by name), reads its schema
// and compiles it, and resolves every referenced table. A missing table is
// an error naming it.
func New(ctx context.Context, c *upsert.Client, cfg Config) (*Target, error) {
	if c == nil {
		return nil, errors.New("datatables: needs a client")
	}
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.UniqueFields = slices.Clone(cfg.UniqueFields)
	cfg.References = maps.Clone(cfg.References)
	tbl, err := c.GetTable(ctx, cfg.Table, true)
	if err != nil {
		return nil, fmt.Errorf("upsert: data table %q: %w", cfg.Table, err)
	}
	sch, err := parseTableSchema(tbl.Name, tbl.Schema, c.Clock().Now())
	if err != nil {
		return nil, err
	}
	t := &Target{
		c:      c,
		cfg:    cfg,
		id:     tbl.ID,
		name:   tbl.Name,
		path:   upsert.TablesPath + "/" + upsert.PathSegment(tbl.ID),
		log:    c.Logger().With("target", "datatables", "table", tbl.Name),
		schema: sch,
		refs:   map[string]*refCache{},
	}
	if err := sch.checkColumns(tbl.Name, cfg); err != nil {
		return nil, err
	}
	if len(cfg.UniqueFields) > 0 {
		t.index = newUniqueIndex(cfg.UniqueFields)
	}
	for f, ref := range cfg.References {
		rt, err := c.GetTable(ctx, ref, false)
		if err != nil {
			return nil, fmt.Errorf("upsert: referenced data table %q (field %s): %w", ref, f, err)
		}
		t.refs[f] = newRefCache(c, rt.ID, rt.Name, cfg.ReferenceTTL, cfg.ReferenceMaxKeys)
	}
	return t, nil
}

// ColumnError is New's error when unique fields or references name
// columns the table lacks. It carries the table's schema as read, so that
// a caller can report every field name that does not fit it.
type ColumnError struct {
	Table   string
	Missing []string // e.g. `"regionId" (reference field)`
	Schema  json.RawMessage
}

func (e *ColumnError) Error() string {
	return fmt.Sprintf("upsert: data table %q has no column %s", e.Table, strings.Join(e.Missing, ", "))
}

// checkColumns returns a *ColumnError naming the unique fields and
// references of cfg that are not columns of s.
func (s *dtSchema) checkColumns(table string, cfg Config) error {
	var missing []string
	for _, f := range cfg.UniqueFields {
		if _, ok := s.byName[f]; !ok {
			missing = append(missing, fmt.Sprintf("%q (unique field)", f))
		}
	}
	for _, f := range slices.Sorted(maps.Keys(cfg.References)) {
		if _, ok := s.byName[f]; !ok {
			missing = append(missing, fmt.Sprintf("%q (reference field)", f))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return &ColumnError{Table: table, Missing: missing, Schema: slices.Clone(s.raw)}
}

// SchemaJSON returns the JSON Schema of the table's rows as last read.
func (t *Target) SchemaJSON() []byte { return slices.Clone(t.currentSchema().raw) }

// Name returns "datatables".
func (t *Target) Name() string { return "datatables" }

// Schema returns the table's name.
func (t *Target) Schema() string { return t.name }

// TableID returns the table's id.
func (t *Target) TableID() string { return t.id }

func (t *Target) importOn() bool { return t.cfg.ImportThreshold > 0 }

func (t *Target) currentSchema() *dtSchema {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.schema
}

// Limits describes the largest batch the target takes. With import on it
// is the import's bound, and an item's Body is its CSV line, so that
// BodySize is the exact size of the CSV uploaded (the header line is the
// overhead). With import off it is RowsMaxRecords, and the Body is the row
// JSON sent on its own.
func (t *Target) Limits() change.Limits {
	if t.importOn() {
		return change.Limits{MaxRecords: t.cfg.ImportMaxRecords, MaxBytes: t.cfg.ImportMaxBytes, Overhead: len(t.currentSchema().header)}
	}
	return change.Limits{MaxRecords: t.cfg.RowsMaxRecords, MaxBytes: rowsMaxBytes}
}

// Prepare validates one record and encodes it. Deletes need only a key.
// An upsert's string values are coerced to the column types (class
// "validation", code "coercion.failed", naming each field), then checked
// against the table's JSON Schema ("schema.violation"). The item's Record
// carries the coerced fields. A record naming a column the schema does not
// know is deferred to Upsert, which reads the schema again first (a column
// may have been added) and rejects it then if it still does not fit.
func (t *Target) Prepare(rec change.Record) (change.Item, *change.RecordError) {
	return t.prepare(t.currentSchema(), rec, true)
}

func (t *Target) prepare(sch *dtSchema, rec change.Record, allowDefer bool) (change.Item, *change.RecordError) {
	if rec.Key == "" {
		return change.Item{}, &change.RecordError{Class: "validation", Code: "key.missing", Message: "record has no key"}
	}
	if n := len([]rune(rec.Key)); n > MaxKeyLength {
		return change.Item{}, &change.RecordError{Class: "validation", Code: "key.too.long",
			Message: fmt.Sprintf("key has %d characters, a data table key at most %d", n, MaxKeyLength)}
	}
	switch rec.Op {
	case change.OpDelete:
		return change.Item{Record: change.Record{Key: rec.Key, Op: change.OpDelete}}, nil
	case change.OpUpsert:
	default:
		return change.Item{}, &change.RecordError{Class: "validation", Code: "op.unknown", Message: fmt.Sprintf("unknown operation %q", rec.Op)}
	}
	in := rec.Data
	if v, ok := in["key"]; ok {
		if s, isStr := v.(string); !isStr || s != rec.Key {
			return change.Item{}, &change.RecordError{Class: "validation", Code: "field.reserved", Message: "field key differs from the record key",
				Fields: []change.FieldError{{Field: "key", Code: "reserved", Message: "differs from the record key"}}}
		}
	}
	data, fe := sch.coerce(in)
	delete(data, "key")
	if len(fe) > 0 {
		return change.Item{}, &change.RecordError{Class: "validation", Code: "coercion.failed", Message: upsert.Summarize("value cannot be converted to the column type", fe), Fields: fe}
	}
	withKey := make(map[string]any, len(data)+1)
	for k, v := range data {
		withKey[k] = v
	}
	withKey["key"] = rec.Key
	fe, err := upsert.ValidateFields(sch.validator, withKey)
	if err != nil {
		return change.Item{}, &change.RecordError{Class: "validation", Code: "record.encoding", Message: "record cannot be checked: " + err.Error()}
	}
	if len(fe) > 0 {
		if allowDefer && onlyUnknownFields(fe) {
			return change.Item{Record: rec}, nil
		}
		return change.Item{}, &change.RecordError{Class: "validation", Code: "schema.violation", Message: upsert.Summarize("record violates the table schema", fe), Fields: fe}
	}
	out := change.Item{Record: change.Record{Key: rec.Key, Op: change.OpUpsert, Data: data}}
	if t.importOn() {
		out.Body, err = sch.csvRow(rec.Key, data)
	} else {
		out.Body, err = rowJSON(rec.Key, data)
	}
	if err != nil {
		return change.Item{}, &change.RecordError{Class: "validation", Code: "record.encoding", Message: "record cannot be encoded: " + err.Error()}
	}
	if l := t.Limits(); l.BodySize(1, len(out.Body)) > l.MaxBytes {
		return change.Item{}, &change.RecordError{Class: "validation", Code: "record.too.large",
			Message: fmt.Sprintf("record needs %d bytes, the limit is %d", l.BodySize(1, len(out.Body)), l.MaxBytes)}
	}
	return out, nil
}

func onlyUnknownFields(fe []change.FieldError) bool {
	for _, f := range fe {
		if f.Code != "additionalProperties" {
			return false
		}
	}
	return true
}

// refreshSchema reads the schema again when it is older than
// SchemaRefresh, or when want (or an API schema error) asks for it and it
// is older than a short minimum gap. A failed read keeps the old schema,
// unless ctx ended or the credentials were refused.
func (t *Target) refreshSchema(ctx context.Context, want bool) error {
	due := func() bool {
		t.mu.RLock()
		defer t.mu.RUnlock()
		age := t.c.Clock().Now().Sub(t.schema.loadedAt)
		gap := min(minSchemaRefresh, t.cfg.SchemaRefresh)
		return age >= t.cfg.SchemaRefresh || ((want || t.stale) && age >= gap)
	}
	if !due() {
		return nil
	}
	t.refreshMu.Lock()
	defer t.refreshMu.Unlock()
	if !due() {
		return nil
	}
	tbl, err := t.c.GetTableByID(ctx, t.id, true)
	var sch *dtSchema
	if err == nil {
		sch, err = parseTableSchema(t.name, tbl.Schema, t.c.Clock().Now())
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if upsert.IsAuthFailure(err) {
			return err
		}
		t.log.Warn("reading the schema failed; keeping the one in use", "error", err.Error())
		t.mu.Lock()
		t.schema.loadedAt = t.c.Clock().Now() // try again after the gap, not at once
		t.mu.Unlock()
		return nil
	}
	t.mu.Lock()
	t.schema, t.stale = sch, false
	t.mu.Unlock()
	return nil
}
