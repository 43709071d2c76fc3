package emulator

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/gcupsert/gcupsert/emulator/core"
	"github.com/gcupsert/gcupsert/emulator/customobjects"
	"github.com/gcupsert/gcupsert/emulator/datatables"
	"github.com/gcupsert/gcupsert/emulator/externalcontacts"
	"github.com/gcupsert/gcupsert/internal/clock"
)

// Defaults used by New for zero Config fields.
const (
	DefaultTokenLifetime      = core.DefaultTokenLifetime
	DefaultRateLimitPerMinute = core.DefaultRateLimitPerMinute
	DefaultMaxBodyBytes       = core.DefaultMaxBodyBytes
	DefaultRateWindow         = core.DefaultRateWindow
	DefaultMaxRecords         = customobjects.DefaultMaxRecords
	DefaultMaxRowsPerTable    = datatables.DefaultMaxRowsPerTable
	DefaultMaxFields          = datatables.DefaultMaxFields
	DefaultMaxKeyLength       = datatables.DefaultMaxKeyLength
	DefaultMaxTables          = datatables.DefaultMaxTables
	DefaultImportProcessing   = datatables.DefaultImportProcessing
	DefaultPostExisting       = datatables.DefaultPostExisting
	DefaultPutMissing         = datatables.DefaultPutMissing
	DefaultDeleteStatus       = datatables.DefaultDeleteStatus
	DefaultECMaxEnrich        = externalcontacts.DefaultMaxEnrich
	DefaultECMaxBulk          = externalcontacts.DefaultMaxBulk
)

// Types of the families' Go API, named here for callers of this package.
type (
	// Faults is the set of failures the server injects (see core.Faults).
	Faults = core.Faults
	// Stats counts what the server served (see core.Stats).
	Stats = core.Stats
	// ErrorBody is the Genesys Cloud error document (see core.ErrorBody).
	ErrorBody = core.ErrorBody
	// Variants are the data-table behaviours the documentation leaves open
	// (see datatables.Variants).
	Variants = datatables.Variants
	// ECSchema is an External Contacts data schema to seed (see
	// externalcontacts.SeedSchema).
	ECSchema = externalcontacts.SeedSchema
)

// Errors of New and of the Server's methods.
var (
	ErrInvalidConfig   = core.ErrInvalidConfig
	ErrInvalidFault    = core.ErrInvalidFault
	ErrInvalidSchema   = customobjects.ErrInvalidSchema
	ErrInvalidTable    = datatables.ErrInvalidTable
	ErrInvalidFixtures = datatables.ErrInvalidFixtures
	ErrInvalidVariant  = datatables.ErrInvalidVariant
	ErrInvalidEC       = externalcontacts.ErrInvalid
)

// Config configures a Server. Zero fields take the defaults above. Each
// field goes to the package that uses it, and is documented there.
type Config struct {
	// Clients maps OAuth client ids to secrets; at least one is required,
	// here or in Fixtures. Ids must not contain ':'.
	Clients map[string]string

	// The token endpoint, rate limits and faults: see core.Config. Clock
	// also runs the data tables' import jobs.
	TokenLifetime      time.Duration
	RateLimitPerMinute int
	DisableRateLimit   bool
	RateWindow         time.Duration
	MaxBodyBytes       int
	Clock              clock.Clock
	Logger             *slog.Logger
	Seed               int64

	// Custom objects: see customobjects.Config.
	MaxRecords   int
	Schemas      map[string][]byte
	UniqueFields map[string][]string

	// Data tables: see datatables.Config. Fixtures seeds data tables (with
	// schemas and rows) and OAuth clients from a JSON or YAML document;
	// see LoadFixtures.
	Fixtures             []byte
	MaxRowsPerTable      int
	MaxFields            int
	MaxKeyLength         int
	MaxTables            int
	ImportProcessingTime time.Duration
	Variants             Variants

	// External Contacts: see externalcontacts.Config. ECSources names the
	// external sources to seed, ECSchemas the data schemas; ECMaxEnrich
	// and ECMaxBulk bound bulk enrich and bulk remove/fetch requests;
	// ECRetryableShare is the share of bulk enrich operations that fail
	// with a retryable 503. Seed also seeds the family's shuffling.
	ECSources        []string
	ECSchemas        []ECSchema
	ECMaxEnrich      int
	ECMaxBulk        int
	ECRetryableShare float64
}

// Server is the emulator: the core (token endpoint, checks, rate limits,
// faults, stats, admin API, serving) with the customobjects, data-tables
// and External Contacts families. Create it with New.
//
// Reset drops every record (schemas stay), puts the data tables back to
// their seeded state (tables from Fixtures, LoadFixtures and CreateTable
// with their seeded rows; tables created through the API are dropped, and
// so is every import job), restores the configured Variants, puts the
// External Contacts family back to its seeded sources and schemas with no
// contact or organization, turns every fault off, clears Stats and every
// token's rate window. Issued tokens stay valid.
type Server struct {
	*core.Server
	objects  *customobjects.Family
	tables   *datatables.Family
	contacts *externalcontacts.Family
}

// setDefaults fills the zero fields of c with the defaults above, and
// Clock and Logger as core.Config does. A zero Seed is left to core.New,
// which picks a random one; a negative RateLimitPerMinute to core.New too.
func (c *Config) setDefaults() {
	defDur := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	defInt := func(n *int, v int) {
		if *n == 0 {
			*n = v
		}
	}
	defDur(&c.TokenLifetime, DefaultTokenLifetime)
	defInt(&c.RateLimitPerMinute, DefaultRateLimitPerMinute)
	defDur(&c.RateWindow, DefaultRateWindow)
	defInt(&c.MaxBodyBytes, DefaultMaxBodyBytes)
	defInt(&c.MaxRecords, DefaultMaxRecords)
	defInt(&c.MaxRowsPerTable, DefaultMaxRowsPerTable)
	defInt(&c.MaxFields, DefaultMaxFields)
	defInt(&c.MaxKeyLength, DefaultMaxKeyLength)
	defInt(&c.MaxTables, DefaultMaxTables)
	defDur(&c.ImportProcessingTime, DefaultImportProcessing)
	if c.Variants.PostExisting == "" {
		c.Variants.PostExisting = DefaultPostExisting
	}
	if c.Variants.PutMissing == "" {
		c.Variants.PutMissing = DefaultPutMissing
	}
	defInt(&c.Variants.DeleteStatus, DefaultDeleteStatus)
	defInt(&c.ECMaxEnrich, DefaultECMaxEnrich)
	defInt(&c.ECMaxBulk, DefaultECMaxBulk)
	if c.Clock == nil {
		c.Clock = clock.Real
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports the first setting that cannot work, wrapping
// ErrInvalidConfig (and ErrInvalidVariant for Variants): Fixtures that do
// not parse, no OAuth client (here or in Fixtures), then the settings of
// each package, as core.Config.Validate, customobjects.Config.Validate and
// datatables.Config.Validate check them. Zero fields are valid: they take
// the defaults. The tables of Fixtures are checked by New, against the
// data-table limits; the External Contacts settings as
// externalcontacts.Config.Validate checks them.
func (c *Config) Validate() error {
	fxClients := 0
	if len(c.Fixtures) > 0 {
		fx, err := datatables.ParseFixtures(c.Fixtures)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
		fxClients = len(fx.Clients)
	}
	if len(c.Clients) == 0 && fxClients == 0 {
		return fmt.Errorf("%w: at least one OAuth client is required", ErrInvalidConfig)
	}
	cc, oc, tc, ec := c.coreConfig(), c.objectsConfig(), c.tablesConfig(), c.contactsConfig()
	if err := cc.Validate(); err != nil {
		return err
	}
	if err := oc.Validate(); err != nil {
		return err
	}
	if err := tc.Validate(); err != nil {
		return err
	}
	return ec.Validate()
}

// coreConfig returns the settings of c that go to core.
func (c *Config) coreConfig() core.Config {
	return core.Config{
		Clients: c.Clients, TokenLifetime: c.TokenLifetime,
		RateLimitPerMinute: c.RateLimitPerMinute, DisableRateLimit: c.DisableRateLimit,
		RateWindow: c.RateWindow, MaxBodyBytes: c.MaxBodyBytes,
		Clock: c.Clock, Logger: c.Logger, Seed: c.Seed,
	}
}

// objectsConfig returns the settings of c that go to customobjects.
func (c *Config) objectsConfig() customobjects.Config {
	return customobjects.Config{MaxRecords: c.MaxRecords, Schemas: c.Schemas, UniqueFields: c.UniqueFields}
}

// tablesConfig returns the settings of c that go to datatables.
func (c *Config) tablesConfig() datatables.Config {
	return datatables.Config{
		MaxRowsPerTable: c.MaxRowsPerTable, MaxFields: c.MaxFields, MaxKeyLength: c.MaxKeyLength,
		MaxTables: c.MaxTables, ImportProcessingTime: c.ImportProcessingTime, Variants: c.Variants,
	}
}

// contactsConfig returns the settings of c that go to externalcontacts.
func (c *Config) contactsConfig() externalcontacts.Config {
	return externalcontacts.Config{
		MaxEnrich: c.ECMaxEnrich, MaxBulk: c.ECMaxBulk, RetryableShare: c.ECRetryableShare,
		Sources: c.ECSources, Schemas: c.ECSchemas, Seed: c.Seed,
	}
}

// New fills cfg's defaults, validates it and returns a Server.
func New(cfg Config) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	srv, err := core.New(cfg.coreConfig())
	if err != nil {
		return nil, err
	}
	s := &Server{Server: srv}
	if s.objects, err = customobjects.New(srv, cfg.objectsConfig()); err != nil {
		return nil, err
	}
	if s.tables, err = datatables.New(srv, cfg.tablesConfig()); err != nil {
		return nil, err
	}
	if s.contacts, err = externalcontacts.New(srv, cfg.contactsConfig()); err != nil {
		return nil, err
	}
	if len(cfg.Fixtures) > 0 {
		fx, err := datatables.ParseFixtures(cfg.Fixtures)
		if err == nil {
			err = s.tables.AddFixtures(fx)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
	}
	srv.Register(s.objects)
	srv.Register(s.tables)
	srv.Register(s.contacts)
	return s, nil
}

// ExternalContacts returns the External Contacts family: its Go API
// (Contacts, Organizations, FindByExternalID, SourceID, CreateSource,
// CreateSchema, SetRetryableShare, ...) for tests.
func (s *Server) ExternalContacts() *externalcontacts.Family { return s.contacts }

// AddSchema adds the customobjects schema name, or replaces its JSON Schema
// while keeping its records (see customobjects.Family.AddSchema).
func (s *Server) AddSchema(name string, schema []byte) error {
	return s.objects.AddSchema(name, schema)
}

// SetUniqueFields makes each named field of schema unique across its
// records (see customobjects.Family.SetUniqueFields).
func (s *Server) SetUniqueFields(schema string, fields []string) error {
	return s.objects.SetUniqueFields(schema, fields)
}

// Schemas returns the names of the customobjects schemas, sorted.
func (s *Server) Schemas() []string { return s.objects.Schemas() }

// Records returns a copy of the records of schema, by id, or nil when the
// schema is unknown (see customobjects.Family.Records).
func (s *Server) Records(schema string) map[string]map[string]any { return s.objects.Records(schema) }

// CreateTable adds a data table and returns its id (see
// datatables.Family.CreateTable).
func (s *Server) CreateTable(name string, schema []byte) (string, error) {
	return s.tables.CreateTable(name, schema)
}

// TableID returns the id of the table named name (case-insensitive).
func (s *Server) TableID(name string) (string, bool) { return s.tables.TableID(name) }

// Rows returns a copy of the rows of table tableID by key, or nil when the
// table is unknown (see datatables.Family.Rows).
func (s *Server) Rows(tableID string) map[string]map[string]any { return s.tables.Rows(tableID) }

// Variants returns the data-table behaviour variants in force.
func (s *Server) Variants() Variants { return s.tables.Variants() }

// SetVariants sets the data-table behaviour variants; empty fields take
// the defaults. Reset restores the configured ones.
func (s *Server) SetVariants(v Variants) error { return s.tables.SetVariants(v) }

// LoadFixtures adds the OAuth clients and data tables of a fixtures
// document (see datatables.Family.LoadFixtures).
func (s *Server) LoadFixtures(r io.Reader) error { return s.tables.LoadFixtures(r) }
