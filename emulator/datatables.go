package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gcupsert/gcupsert/internal/clock"
)

// Data-table error codes.
const (
	CodeDataTablesNotFound    = "flows.datatables.table.not.found"
	CodeDataTablesSyntax      = "flows.datatables.syntax.error"
	CodeDataTablesRowNotFound = "flows.datatables.row.not.found"
	CodeDataTablesRowExists   = "flows.datatables.row.exists"
	CodeDataTablesLimit       = "flows.datatables.limit.exceeded"
	CodeDataTablesNameExists  = "flows.datatables.name.exists"
	CodeDataTablesJobNotFound = "flows.datatables.import.job.not.found"
	CodeKeyEmpty              = "key.empty"
	CodeKeyTooLong            = "key.too.long"
)

// limitNamespace is the namespace of data-table limits in ErrorBody.limit.
const limitNamespace = "flows.datatables"

// Paging bounds of the list endpoints.
const (
	defaultPageSize = 25
	maxPageSize     = 500
)

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

func newTableLimits(cfg Config) (tableLimits, error) {
	l := tableLimits{cfg.MaxRowsPerTable, cfg.MaxFields, cfg.MaxKeyLength, cfg.MaxTables, cfg.ImportProcessingTime}
	for _, p := range []struct {
		v   *int
		def int
		n   string
	}{{&l.maxRows, DefaultMaxRowsPerTable, "MaxRowsPerTable"}, {&l.maxFields, DefaultMaxFields, "MaxFields"},
		{&l.maxKey, DefaultMaxKeyLength, "MaxKeyLength"}, {&l.maxTables, DefaultMaxTables, "MaxTables"}} {
		switch {
		case *p.v < 0:
			return l, fmt.Errorf("negative %s", p.n)
		case *p.v == 0:
			*p.v = p.def
		}
	}
	switch {
	case l.processing == 0:
		l.processing = DefaultImportProcessing
	case l.processing < 0:
		l.processing = 0
	}
	return l, nil
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

func (v *Variants) fill() error {
	if v.PostExisting == "" {
		v.PostExisting = "409"
	}
	if v.PutMissing == "" {
		v.PutMissing = "404"
	}
	if v.DeleteStatus == 0 {
		v.DeleteStatus = http.StatusNoContent
	}
	switch {
	case v.PostExisting != "409" && v.PostExisting != "400":
		return fmt.Errorf(`%w: postExisting must be "409" or "400"`, ErrInvalidVariant)
	case v.PutMissing != "404" && v.PutMissing != "create":
		return fmt.Errorf(`%w: putMissing must be "404" or "create"`, ErrInvalidVariant)
	case v.DeleteStatus != http.StatusNoContent && v.DeleteStatus != http.StatusOK:
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

// dataTables holds every table and import job. Safe for concurrent use.
type dataTables struct {
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

func newDataTables(lim tableLimits, v Variants, clk clock.Clock) *dataTables {
	return &dataTables{lim: lim, clock: clk, base: v, variants: v, tables: map[string]*dtTable{}, jobs: map[string]*importJob{}}
}

func cloneRows(rows map[string]map[string]any) map[string]map[string]any {
	out := make(map[string]map[string]any, len(rows))
	for k, r := range rows {
		out[k] = maps.Clone(r)
	}
	return out
}

// reset restores the seeded tables and the configured variants.
func (d *dataTables) reset() {
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
func (d *dataTables) byName(name string) *dtTable {
	for _, t := range d.tables {
		if strings.EqualFold(t.name, name) {
			return t
		}
	}
	return nil
}

// addSeed adds a table (and its rows) to the store and to the seed. The
// caller holds d.mu.
func (d *dataTables) addSeed(st seedTable) error {
	if st.name == "" {
		return fmt.Errorf("%w: a table needs a name", ErrInvalidTable)
	}
	if d.byName(st.name) != nil {
		return fmt.Errorf("%w: a table named %q exists", ErrInvalidTable, st.name)
	}
	if st.id == "" {
		st.id = newCorrelationID()
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
func (s *Server) CreateTable(name string, schema []byte) (string, error) {
	sc, eb := parseSchema(schema, s.tables.lim.maxFields)
	if eb != nil {
		return "", fmt.Errorf("%w %q: %s", ErrInvalidTable, name, eb.Message)
	}
	d := s.tables
	d.mu.Lock()
	defer d.mu.Unlock()
	st := seedTable{id: newCorrelationID(), name: name, schema: sc}
	if err := d.addSeed(st); err != nil {
		return "", err
	}
	return st.id, nil
}

// TableID returns the id of the table named name (case-insensitive).
func (s *Server) TableID(name string) (string, bool) {
	d := s.tables
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
func (s *Server) Rows(tableID string) map[string]map[string]any {
	d := s.tables
	d.mu.Lock()
	d.settle()
	t, ok := d.tables[tableID]
	var b []byte
	var err error
	if ok {
		full := make(map[string]map[string]any, len(t.rows))
		for k, r := range t.rows {
			full[k] = t.schema.full(r)
		}
		b, err = json.Marshal(full)
	}
	d.mu.Unlock()
	if !ok || err != nil {
		return nil
	}
	out := map[string]map[string]any{}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil
	}
	return out
}

// Variants returns the data-table behaviour variants in force.
func (s *Server) Variants() Variants {
	d := s.tables
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.variants
}

// SetVariants sets the data-table behaviour variants; empty fields take
// the defaults. Reset restores the configured ones.
func (s *Server) SetVariants(v Variants) error {
	if err := v.fill(); err != nil {
		return err
	}
	d := s.tables
	d.mu.Lock()
	d.variants = v
	d.mu.Unlock()
	s.log.Info("emulator datatable variants set", "variants", fmt.Sprintf("%+v", v))
	return nil
}
