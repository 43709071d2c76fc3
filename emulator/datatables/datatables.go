package datatables

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gcupsert/gcupsert/emulator/core"
	"github.com/gcupsert/gcupsert/internal/clock"
)

// Defaults used by New for zero Config fields.
const (
	DefaultMaxRowsPerTable  = 5000
	DefaultMaxFields        = 50
	DefaultMaxKeyLength     = 256
	DefaultMaxTables        = 200
	DefaultImportProcessing = 2 * time.Second
)

// Defaults of the empty Variants fields.
const (
	DefaultPostExisting = "409"
	DefaultPutMissing   = "404"
	DefaultDeleteStatus = http.StatusNoContent
)

// Request kinds of the family, counted in Stats.ByKind: the route patterns.
const (
	KindTablesList   = "GET /api/v2/flows/datatables"
	KindTableCreate  = "POST /api/v2/flows/datatables"
	KindTableGet     = "GET /api/v2/flows/datatables/{datatableId}"
	KindTableUpdate  = "PUT /api/v2/flows/datatables/{datatableId}"
	KindTableDelete  = "DELETE /api/v2/flows/datatables/{datatableId}"
	KindRows         = "GET /api/v2/flows/datatables/{datatableId}/rows"
	KindRowCreate    = "POST /api/v2/flows/datatables/{datatableId}/rows"
	KindRowGet       = "GET /api/v2/flows/datatables/{datatableId}/rows/{rowId}"
	KindRowUpdate    = "PUT /api/v2/flows/datatables/{datatableId}/rows/{rowId}"
	KindRowDelete    = "DELETE /api/v2/flows/datatables/{datatableId}/rows/{rowId}"
	KindImportCSV    = "POST /api/v2/flows/datatables/{datatableId}/import/csv/jobs"
	KindImportCreate = "POST /api/v2/flows/datatables/{datatableId}/import/jobs"
	KindImportJobs   = "GET /api/v2/flows/datatables/{datatableId}/import/jobs"
	KindImportJob    = "GET /api/v2/flows/datatables/{datatableId}/import/jobs/{importJobId}"
	// KindUpload counts CSV uploads to an import job's uploadURI.
	KindUpload = "PUT /uploads/datatables/{jobId}"
)

// Config configures the family. Zero fields take the defaults above.
type Config struct {
	// MaxRowsPerTable, MaxFields (properties of a table schema, key
	// included), MaxKeyLength (characters of a row key) and MaxTables are
	// the data-table limits.
	MaxRowsPerTable int
	MaxFields       int
	MaxKeyLength    int
	MaxTables       int
	// ImportProcessingTime is how long, on the server's clock, an import
	// job stays Processing after its CSV is uploaded (default 2 s;
	// negative: none).
	ImportProcessingTime time.Duration
	// Variants choose the behaviours the documentation leaves open; the
	// zero value takes the defaults.
	Variants Variants
}

// Data-table error codes.
const (
	CodeTableNotFound = "flows.datatables.table.not.found"
	CodeSyntax        = "flows.datatables.syntax.error"
	CodeRowNotFound   = "flows.datatables.row.not.found"
	CodeRowExists     = "flows.datatables.row.exists"
	CodeLimit         = "flows.datatables.limit.exceeded"
	CodeNameExists    = "flows.datatables.name.exists"
	CodeJobNotFound   = "flows.datatables.import.job.not.found"
	CodeTooBusy       = "flows.datatables.server.too.busy"
	CodeKeyEmpty      = "key.empty"
	CodeKeyTooLong    = "key.too.long"
)

// limitNamespace is the namespace of data-table limits in ErrorBody.limit.
const limitNamespace = "flows.datatables"

// homeDivision is the division every table belongs to.
var homeDivision = map[string]string{
	"id":      "9f1a3c9e-5a7b-4c1d-8e2f-000000000001",
	"name":    "Home",
	"selfUri": "/api/v2/authorization/divisions/9f1a3c9e-5a7b-4c1d-8e2f-000000000001",
}

// ErrInvalidTable is wrapped by errors of CreateTable and LoadFixtures for
// a table or row that breaks the data-table rules.
var ErrInvalidTable = errors.New("emulator: invalid datatable")

// tableLimits are the configured data-table limits.
type tableLimits struct {
	maxRows, maxFields, maxKey, maxTables int
	processing                            time.Duration
}

// setDefaults fills the zero fields of c with the defaults, those of
// Variants included.
func (c *Config) setDefaults() {
	for _, p := range []struct {
		v   *int
		def int
	}{{&c.MaxRowsPerTable, DefaultMaxRowsPerTable}, {&c.MaxFields, DefaultMaxFields},
		{&c.MaxKeyLength, DefaultMaxKeyLength}, {&c.MaxTables, DefaultMaxTables}} {
		if *p.v == 0 {
			*p.v = p.def
		}
	}
	if c.ImportProcessingTime == 0 {
		c.ImportProcessingTime = DefaultImportProcessing
	}
	c.Variants.setDefaults()
}

// Validate reports the first setting that cannot work, wrapping
// core.ErrInvalidConfig (and ErrInvalidVariant for Variants). Zero fields
// are valid: they take the defaults.
func (c *Config) Validate() error {
	for _, p := range []struct {
		v int
		n string
	}{{c.MaxRowsPerTable, "MaxRowsPerTable"}, {c.MaxFields, "MaxFields"},
		{c.MaxKeyLength, "MaxKeyLength"}, {c.MaxTables, "MaxTables"}} {
		if p.v < 0 {
			return fmt.Errorf("%w: negative %s", core.ErrInvalidConfig, p.n)
		}
	}
	if err := c.Variants.Validate(); err != nil {
		return fmt.Errorf("%w: %w", core.ErrInvalidConfig, err)
	}
	return nil
}

// limits returns the data-table limits of c, whose defaults are filled; a
// negative ImportProcessingTime means none.
func (c *Config) limits() tableLimits {
	return tableLimits{c.MaxRowsPerTable, c.MaxFields, c.MaxKeyLength, c.MaxTables, max(c.ImportProcessingTime, 0)}
}

// Variants are the data-table behaviours the Genesys documentation leaves
// open. Empty fields take the defaults.
type Variants struct {
	// PostExisting is the status of POST /rows with a key that exists:
	// "409" (default) or "400". Either way the code is
	// flows.datatables.row.exists and nothing changes.
	PostExisting string `json:"postExisting"`
	// PutMissing is what PUT /rows/{rowId} does for a missing key: "404"
	// (default, flows.datatables.row.not.found) or "create" (the row is
	// created; 200).
	PutMissing string `json:"putMissing"`
	// DeleteStatus is the status of a successful row DELETE: 204 (default)
	// or 200, both with an empty body.
	DeleteStatus int `json:"deleteStatus"`
}

// ErrInvalidVariant is returned for a Variants value out of range.
var ErrInvalidVariant = errors.New("emulator: invalid variant")

// setDefaults fills the empty fields of v with the defaults.
func (v *Variants) setDefaults() {
	if v.PostExisting == "" {
		v.PostExisting = DefaultPostExisting
	}
	if v.PutMissing == "" {
		v.PutMissing = DefaultPutMissing
	}
	if v.DeleteStatus == 0 {
		v.DeleteStatus = DefaultDeleteStatus
	}
}

// Validate reports the first field out of range, wrapping
// ErrInvalidVariant. Empty fields are valid: they take the defaults.
func (v *Variants) Validate() error {
	switch {
	case v.PostExisting != "" && v.PostExisting != "409" && v.PostExisting != "400":
		return fmt.Errorf(`%w: postExisting must be "409" or "400"`, ErrInvalidVariant)
	case v.PutMissing != "" && v.PutMissing != "404" && v.PutMissing != "create":
		return fmt.Errorf(`%w: putMissing must be "404" or "create"`, ErrInvalidVariant)
	case v.DeleteStatus != 0 && v.DeleteStatus != http.StatusNoContent && v.DeleteStatus != http.StatusOK:
		return fmt.Errorf("%w: deleteStatus must be 204 or 200", ErrInvalidVariant)
	}
	return nil
}

// dtTable is one data table.
type dtTable struct {
	id, name, description string
	schema                *dtSchema
	rows                  map[string]map[string]any // key -> stored properties (typed, omitted ones absent)
	jobs                  []*importJob              // oldest first
}

// seedTable is a table as seeded; Reset restores it.
type seedTable struct {
	id, name, description string
	schema                *dtSchema
	rows                  map[string]map[string]any
}

// Family is the data-tables API family: every table, its rows and import
// jobs. Safe for concurrent use.
type Family struct {
	srv *core.Server

	mu       sync.Mutex
	lim      tableLimits
	clock    clock.Clock
	base     Variants // configured variants, restored by reset
	variants Variants
	tables   map[string]*dtTable // by id
	seed     []seedTable
	jobs     map[string]*importJob // by job id
	jobSeq   int
}

// New fills cfg's defaults, validates it and returns the family for srv,
// with no table; add it to srv with srv.Register.
func New(srv *core.Server, cfg Config) (*Family, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Family{
		srv: srv, lim: cfg.limits(), clock: srv.Clock(), base: cfg.Variants, variants: cfg.Variants,
		tables: map[string]*dtTable{}, jobs: map[string]*importJob{},
	}, nil
}

func cloneRows(rows map[string]map[string]any) map[string]map[string]any {
	out := make(map[string]map[string]any, len(rows))
	for k, r := range rows {
		out[k] = maps.Clone(r)
	}
	return out
}

// Reset puts the data tables back to their seeded state (tables from
// fixtures and CreateTable with their seeded rows; tables created through
// the API are dropped, and so is every import job) and restores the
// configured Variants.
func (d *Family) Reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.tables = map[string]*dtTable{}
	d.jobs = map[string]*importJob{}
	for _, st := range d.seed {
		d.tables[st.id] = &dtTable{id: st.id, name: st.name, description: st.description, schema: st.schema, rows: cloneRows(st.rows)}
	}
	d.variants = d.base
}

// byName returns the table named name (case-insensitive), if any.
func (d *Family) byName(name string) *dtTable {
	for _, t := range d.tables {
		if strings.EqualFold(t.name, name) {
			return t
		}
	}
	return nil
}

// addSeed adds a table (and its rows) to the store and to the seed. The
// caller holds d.mu.
func (d *Family) addSeed(st seedTable) error {
	if st.name == "" {
		return fmt.Errorf("%w: a table needs a name", ErrInvalidTable)
	}
	if d.byName(st.name) != nil {
		return fmt.Errorf("%w: a table named %q exists", ErrInvalidTable, st.name)
	}
	if st.id == "" {
		st.id = core.NewID()
	}
	if strings.ContainsAny(st.id, "/?#") {
		return fmt.Errorf("%w: table id %q must be free of '/', '?' and '#'", ErrInvalidTable, st.id)
	}
	if _, ok := d.tables[st.id]; ok {
		return fmt.Errorf("%w: a table with id %q exists", ErrInvalidTable, st.id)
	}
	if len(d.tables) >= d.lim.maxTables {
		return fmt.Errorf("%w: at most %d tables", ErrInvalidTable, d.lim.maxTables)
	}
	if len(st.rows) > d.lim.maxRows {
		return fmt.Errorf("%w: table %q has %d rows; the limit is %d", ErrInvalidTable, st.name, len(st.rows), d.lim.maxRows)
	}
	if st.rows == nil {
		st.rows = map[string]map[string]any{}
	}
	d.seed = append(d.seed, st)
	d.tables[st.id] = &dtTable{id: st.id, name: st.name, description: st.description, schema: st.schema, rows: cloneRows(st.rows)}
	return nil
}

// CreateTable adds a data table with a schema that follows the data-table
// rules and returns its id. The table is part of the seeded state that
// Reset restores.
func (d *Family) CreateTable(name string, schema []byte) (string, error) {
	sc, eb := parseSchema(schema, d.lim.maxFields)
	if eb != nil {
		return "", fmt.Errorf("%w %q: %s", ErrInvalidTable, name, eb.Message)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	st := seedTable{id: core.NewID(), name: name, schema: sc}
	if err := d.addSeed(st); err != nil {
		return "", err
	}
	return st.id, nil
}

// TableID returns the id of the table named name (case-insensitive).
func (d *Family) TableID(name string) (string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if t := d.byName(name); t != nil {
		return t.id, true
	}
	return "", false
}

// Rows returns a copy of the rows of table tableID by key, every field
// present (omitted ones at their default), or nil when the table is
// unknown. Import jobs due by the Clock complete first. Values read as
// encoding/json decodes into any (numbers are float64).
func (d *Family) Rows(tableID string) map[string]map[string]any {
	d.mu.Lock()
	d.settle()
	t, ok := d.tables[tableID]
	if !ok {
		d.mu.Unlock()
		return nil
	}
	full := make(map[string]map[string]any, len(t.rows))
	for k, r := range t.rows {
		full[k] = t.schema.full(r)
	}
	b, err := json.Marshal(full)
	d.mu.Unlock()
	return core.DecodeByID(b, err)
}

// Variants returns the data-table behaviour variants in force.
func (d *Family) Variants() Variants {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.variants
}

// SetVariants sets the data-table behaviour variants; empty fields take
// the defaults. Reset restores the configured ones.
func (d *Family) SetVariants(v Variants) error {
	v.setDefaults()
	if err := v.Validate(); err != nil {
		return err
	}
	d.mu.Lock()
	d.variants = v
	d.mu.Unlock()
	d.srv.Log().Info("emulator datatable variants set", "variants", fmt.Sprintf("%+v", v))
	return nil
}
