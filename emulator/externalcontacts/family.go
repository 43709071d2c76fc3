package externalcontacts

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	randv2 "math/rand/v2"
	"sync"
	"time"

	"github.com/gcupsert/gcupsert/emulator/core"
)

// Defaults used by New for zero Config fields.
const (
	// DefaultMaxEnrich is the most operations one bulk enrich request may
	// carry ("Run up to 10 Enrich operations per request").
	DefaultMaxEnrich = 10
	// DefaultMaxBulk is the most entities one bulk remove or fetch request
	// may carry (a documented guess: no source states it).
	DefaultMaxBulk = 100
)

// Stated limits of the API, and the emulator's guesses where marked.
const (
	MaxExternalIDs        = 10  // externalIds of a contact or organization
	MaxMatchingIDs        = 25  // matchingIdentifiers of a contact enrich operation
	MaxSchemaProperties   = 25  // custom fields of a schema
	MaxSchemas            = 20  // schemas, contacts and organizations together
	MaxSourceName         = 200 // characters of an external source name
	MaxURITemplate        = 400 // characters of linkConfiguration.uriTemplate
	MaxSchemaName         = 100 // characters of a schema name (guess)
	MaxFieldName          = 100 // characters of a custom field name (guess)
	DefaultSourcePageSize = 100 // external sources per page when limit is 0 or absent
	MinSourcePageSize     = 10
	MaxSourcePageSize     = 200
	// CursorTTL is how long a source-listing cursor stays valid.
	CursorTTL = 24 * time.Hour
)

// EntityType names the entities a schema applies to, as in the API paths.
type EntityType string

// The two entity types.
const (
	EntityContacts      EntityType = "contacts"
	EntityOrganizations EntityType = "organizations"
)

// Error codes of the family, in ErrorBody.code and in bulk errors' code;
// the guesses are documented in the package comment.
const (
	CodeSourceNameExists      = "externalcontacts.source.name.exists"
	CodeSchemaNameExists      = "externalcontacts.schema.name.exists"
	CodeSchemaVersionConflict = "externalcontacts.schema.version.conflict"
	CodeSchemaVersionMismatch = "externalcontacts.schema.version.mismatch"
	CodeSchemaDisabled        = "externalcontacts.schema.disabled"
	CodeSchemaLimit           = "externalcontacts.schema.limit.exceeded"
	CodeEnrichConflict        = "externalcontacts.enrich.conflict"
	CodeEnrichNotFound        = "externalcontacts.enrich.not.found"
	CodeExternalIDConflict    = "externalcontacts.externalid.conflict"
	CodeUnavailable           = "externalcontacts.service.unavailable"
)

// limitNamespace is the namespace of the family's limits in ErrorBody.limit.
const limitNamespace = "externalcontacts"

// ErrInvalid is wrapped by the errors of CreateSource, CreateSchema and
// SetRetryableShare.
var ErrInvalid = errors.New("emulator: invalid external contacts setting")

// SeedSchema is a data schema seeded by Config.Schemas.
type SeedSchema struct {
	// Entity is EntityContacts or EntityOrganizations.
	Entity EntityType
	// Name is the schema's name.
	Name string
	// JSONSchema is its jsonSchema document (a Jsonschemadocument).
	JSONSchema []byte
}

// Config configures the family. Zero fields take the defaults above.
type Config struct {
	// MaxEnrich is the most operations a bulk enrich request may carry.
	MaxEnrich int
	// MaxBulk is the most entities a bulk remove or fetch request may carry.
	MaxBulk int
	// RetryableShare is the share (0 to 1) of bulk enrich operations that
	// fail with a retryable 503 and change nothing.
	RetryableShare float64
	// Sources names the external sources to seed.
	Sources []string
	// Schemas are the data schemas to seed, each at version 1.
	Schemas []SeedSchema
	// Seed seeds the shuffling of bulk results and the injected failures;
	// 0 picks a random seed.
	Seed int64
}

// setDefaults fills the zero fields of c with the defaults.
func (c *Config) setDefaults() {
	if c.MaxEnrich == 0 {
		c.MaxEnrich = DefaultMaxEnrich
	}
	if c.MaxBulk == 0 {
		c.MaxBulk = DefaultMaxBulk
	}
	if c.Seed == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		c.Seed = int64(binary.LittleEndian.Uint64(b[:]))
	}
}

// Validate reports the first setting that cannot work, wrapping
// core.ErrInvalidConfig: a negative MaxEnrich or MaxBulk, a RetryableShare
// outside 0..1, a source name CreateSource refuses (or given twice), or a
// schema CreateSchema refuses. Zero fields are valid: they take the
// defaults.
func (c *Config) Validate() error {
	switch {
	case c.MaxEnrich < 0:
		return fmt.Errorf("%w: negative MaxEnrich", core.ErrInvalidConfig)
	case c.MaxBulk < 0:
		return fmt.Errorf("%w: negative MaxBulk", core.ErrInvalidConfig)
	}
	if err := checkShare(c.RetryableShare); err != nil {
		return fmt.Errorf("%w: %w", core.ErrInvalidConfig, err)
	}
	seen := map[string]bool{}
	for _, name := range c.Sources {
		n, p := checkSourceName(name)
		if p != nil {
			return fmt.Errorf("%w: %w: source %q: %s", core.ErrInvalidConfig, ErrInvalid, clip(name), p.message)
		}
		if seen[foldKey(n)] {
			return fmt.Errorf("%w: %w: source %q is given twice", core.ErrInvalidConfig, ErrInvalid, clip(name))
		}
		seen[foldKey(n)] = true
	}
	if len(c.Schemas) > MaxSchemas {
		return fmt.Errorf("%w: %w: %d schemas; at most %d", core.ErrInvalidConfig, ErrInvalid, len(c.Schemas), MaxSchemas)
	}
	for i, s := range c.Schemas {
		if _, err := newSchemaVersion(s.Entity, s.Name, s.JSONSchema, nil); err != nil {
			return fmt.Errorf("%w: schema %d (%s): %w", core.ErrInvalidConfig, i, clip(s.Name), err)
		}
	}
	return nil
}

// checkShare checks a RetryableShare.
func checkShare(share float64) error {
	if math.IsNaN(share) || share < 0 || share > 1 {
		return fmt.Errorf("%w: RetryableShare %v is outside 0..1", ErrInvalid, share)
	}
	return nil
}

// Family is the External Contacts API family: external sources, data
// schemas, contacts and organizations. Safe for concurrent use.
type Family struct {
	srv       *core.Server
	maxEnrich int
	maxBulk   int
	baseShare float64
	seed      int64

	mu       sync.Mutex
	share    float64
	rng      *randv2.Rand
	sources  map[string]*source     // by id
	schemas  map[string]*dataSchema // by id
	contacts *store
	orgs     *store
	cursors  map[string]cursor
	seeded   seedState
}

// seedState is what Reset restores: the seeded sources and schemas.
type seedState struct {
	sources []source
	schemas []*dataSchema // version 1 only
}

// New fills cfg's defaults, validates it and returns the family for srv
// with cfg's sources and schemas; add it to srv with srv.Register.
func New(srv *core.Server, cfg Config) (*Family, error) {
	if srv == nil {
		return nil, fmt.Errorf("%w: no server", core.ErrInvalidConfig)
	}
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	f := &Family{srv: srv, maxEnrich: cfg.MaxEnrich, maxBulk: cfg.MaxBulk, baseShare: cfg.RetryableShare, seed: cfg.Seed}
	f.Reset()
	for _, name := range cfg.Sources {
		if _, err := f.CreateSource(name); err != nil {
			return nil, fmt.Errorf("%w: %w", core.ErrInvalidConfig, err)
		}
	}
	for _, s := range cfg.Schemas {
		if _, err := f.CreateSchema(s.Entity, s.Name, s.JSONSchema); err != nil {
			return nil, fmt.Errorf("%w: %w", core.ErrInvalidConfig, err)
		}
	}
	return f, nil
}

// Reset puts the family back to its seeded state: the sources and schemas
// of Config and of CreateSource and CreateSchema (schemas at version 1),
// no contact, no organization, no cursor, the configured RetryableShare,
// and the random sequence restarted from the seed.
func (f *Family) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.share = f.baseShare
	u := uint64(f.seed)
	f.rng = randv2.New(randv2.NewPCG(u, u^0x5bd1e9955bd1e995))
	f.sources = map[string]*source{}
	for _, s := range f.seeded.sources {
		c := s
		f.sources[s.id] = &c
	}
	f.schemas = map[string]*dataSchema{}
	for _, s := range f.seeded.schemas {
		f.schemas[s.id] = &dataSchema{id: s.id, entity: s.entity, versions: s.versions[:1:1]}
	}
	f.contacts = newStore(EntityContacts)
	f.orgs = newStore(EntityOrganizations)
	f.cursors = map[string]cursor{}
}

// storeOf returns the store of et. The caller holds f.mu.
func (f *Family) storeOf(et EntityType) *store {
	if et == EntityOrganizations {
		return f.orgs
	}
	return f.contacts
}

// now returns the server clock's time, in UTC, to the millisecond.
func (f *Family) now() time.Time {
	return f.srv.Clock().Now().UTC().Truncate(time.Millisecond)
}
