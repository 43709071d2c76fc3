package externalcontacts

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gcupsert/gcupsert/change"
)

// Entity is the kind of External Contacts entity a route writes.
type Entity string

const (
	Contact      Entity = "contact"
	Organization Entity = "organization"
)

// Documented limits of the API and the package's defaults.
const (
	// MaxEnrich is the most enrich operations one bulk request may carry
	// ("Run up to 10 Enrich operations per request").
	MaxEnrich = 10
	// DefaultMaxBulk bounds a bulk remove (the API states no limit).
	DefaultMaxBulk = 100
	// DefaultMaxBytes bounds one request body (the API states none).
	DefaultMaxBytes = 1 << 20
	// DefaultBatch is the records of one Upsert call, sent as requests
	// of at most MaxEnrich, Parallelism at a time.
	DefaultBatch       = 100
	DefaultParallelism = 4
	maxValueLength     = 255 // an external id's value
)

// Field rule actions (Enrichfieldrules.defaultAction) and array actions
// (defaultArrayAction).
const (
	PreferProvided    = "PreferProvided"
	AlwaysUseProvided = "AlwaysUseProvided"
	PreferExisting    = "PreferExisting"
	ArrayFill         = "Fill"
	ArrayReplace      = "Replace"
	ArrayExtend       = "Extend"
)

// Config configures a Target. Zero values take the defaults named on
// each field.
type Config struct {
	Entity Entity
	// Source is the name of the external source whose external ids carry
	// the record keys; CreateSource creates it when it does not exist.
	Source       string
	CreateSource bool
	// DataSchema names the data schema of the entity's custom fields;
	// empty: the records have standard fields only.
	DataSchema string
	// Conflict maps to the enrich action: upsert -> Upsert, updateOnly ->
	// Update, createOnly -> Insert. Default upsert.
	Conflict change.Conflict
	// DefaultAction and ArrayAction are the enrich field rules; defaults
	// PreferProvided (a provided value wins, an omitted field is left as
	// it is) and Fill.
	DefaultAction string
	ArrayAction   string
	// OrganizationField (contacts) names the record field holding the
	// external id, in Source, of the contact's organization.
	OrganizationField string
	// ReferenceWait is how long a contact whose organization does not
	// exist yet is looked up again before it is rejected as
	// reference.dangling (the organization may be on another topic, a
	// moment behind); default 1m.
	ReferenceWait time.Duration
	// ReferenceTTL is how long a resolved organization id is used before
	// it is looked up again; default 10m.
	ReferenceTTL time.Duration
	// SchemaRefresh is how old the data schema may get before it is read
	// again (it is also read again after a version error); default 10m.
	SchemaRefresh time.Duration
	// MaxRecords bounds one Upsert call (default 100), MaxEnrich one
	// enrich request (default and maximum 10), MaxBulk one bulk remove
	// (default 100), MaxBytes one request body (default 1 MiB).
	MaxRecords int
	MaxEnrich  int
	MaxBulk    int
	MaxBytes   int
	// Parallelism is the requests one Upsert call has in flight; default 4.
	Parallelism int
}

func (c *Config) setDefaults() {
	defInt := func(n *int, v int) {
		if *n == 0 {
			*n = v
		}
	}
	defDur := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.Conflict == "" {
		c.Conflict = change.ConflictUpsert
	}
	if c.DefaultAction == "" {
		c.DefaultAction = PreferProvided
	}
	if c.ArrayAction == "" {
		c.ArrayAction = ArrayFill
	}
	defDur(&c.ReferenceWait, time.Minute)
	defDur(&c.ReferenceTTL, 10*time.Minute)
	defDur(&c.SchemaRefresh, 10*time.Minute)
	defInt(&c.MaxRecords, DefaultBatch)
	defInt(&c.MaxEnrich, MaxEnrich)
	defInt(&c.MaxBulk, DefaultMaxBulk)
	defInt(&c.MaxBytes, DefaultMaxBytes)
	defInt(&c.Parallelism, DefaultParallelism)
}

// Validate reports the first setting that cannot work.
func (c *Config) Validate() error {
	switch c.Entity {
	case Contact, Organization:
	default:
		return fmt.Errorf("externalcontacts: entity %q is not contact or organization", c.Entity)
	}
	if n := len(strings.TrimSpace(c.Source)); n == 0 || n > 200 {
		return errors.New("externalcontacts: needs the name of an external source (at most 200 characters)")
	}
	if _, err := change.ParseConflict(string(c.Conflict)); err != nil {
		return fmt.Errorf("externalcontacts: %w", err)
	}
	switch c.DefaultAction {
	case PreferProvided, AlwaysUseProvided, PreferExisting:
	default:
		return fmt.Errorf("externalcontacts: field rule %q is not PreferProvided, AlwaysUseProvided or PreferExisting", c.DefaultAction)
	}
	switch c.ArrayAction {
	case ArrayFill, ArrayReplace, ArrayExtend:
	default:
		return fmt.Errorf("externalcontacts: array rule %q is not Fill, Replace or Extend", c.ArrayAction)
	}
	if c.OrganizationField != "" && c.Entity != Contact {
		return errors.New("externalcontacts: an organization field applies to contacts only")
	}
	if c.OrganizationField != "" && standardField(c.Entity, c.OrganizationField) != nil {
		return fmt.Errorf("externalcontacts: organization field %q is a standard field of a contact", c.OrganizationField)
	}
	if c.ReferenceWait < 0 || c.ReferenceTTL < 0 || c.SchemaRefresh < 0 {
		return errors.New("externalcontacts: durations must not be negative")
	}
	switch {
	case c.MaxRecords < 1:
		return fmt.Errorf("externalcontacts: max records %d is below 1", c.MaxRecords)
	case c.MaxEnrich < 1 || c.MaxEnrich > MaxEnrich:
		return fmt.Errorf("externalcontacts: max enrich %d must be within 1..%d", c.MaxEnrich, MaxEnrich)
	case c.MaxBulk < 1:
		return fmt.Errorf("externalcontacts: max bulk %d is below 1", c.MaxBulk)
	case c.MaxBytes < 4096:
		return fmt.Errorf("externalcontacts: max bytes %d is below 4096", c.MaxBytes)
	case c.Parallelism < 1:
		return fmt.Errorf("externalcontacts: parallelism %d is below 1", c.Parallelism)
	}
	return nil
}

// action is the enrich action of the conflict resolution.
func (c *Config) action() string {
	switch c.Conflict {
	case change.ConflictUpdateOnly:
		return "Update"
	case change.ConflictCreateOnly:
		return "Insert"
	}
	return "Upsert"
}

// plural is the entity's path segment.
func (e Entity) plural() string {
	if e == Organization {
		return "organizations"
	}
	return "contacts"
}

// bodyKey is the field of an enrich operation that holds the entity.
func (e Entity) bodyKey() string {
	if e == Organization {
		return "externalOrganization"
	}
	return "contact"
}
