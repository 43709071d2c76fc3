package externalcontacts

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/gcupsert/gcupsert/emulator/core"
	"github.com/gcupsert/gcupsert/emulator/internal/emutest"
)

func TestConfigValidate(t *testing.T) {
	tooMany := make([]SeedSchema, MaxSchemas+1)
	for i := range tooMany {
		tooMany[i] = SeedSchema{Entity: EntityContacts, Name: "s", JSONSchema: []byte(`{}`)}
	}
	for _, tc := range []struct {
		field string
		cfg   Config
		want  string
	}{
		{"MaxEnrich", Config{MaxEnrich: -1}, "MaxEnrich"},
		{"MaxBulk", Config{MaxBulk: -1}, "MaxBulk"},
		{"RetryableShare over 1", Config{RetryableShare: 1.5}, "RetryableShare"},
		{"RetryableShare negative", Config{RetryableShare: -0.1}, "RetryableShare"},
		{"RetryableShare NaN", Config{RetryableShare: math.NaN()}, "RetryableShare"},
		{"Sources (empty)", Config{Sources: []string{" "}}, "source"},
		{"Sources (long)", Config{Sources: []string{strings.Repeat("s", MaxSourceName+1)}}, "source"},
		{"Sources (twice)", Config{Sources: []string{"crm", "CRM"}}, "twice"},
		{"Schemas (entity)", Config{Schemas: []SeedSchema{{Entity: "people", Name: "x", JSONSchema: []byte(`{}`)}}}, "entity type"},
		{"Schemas (doc)", Config{Schemas: []SeedSchema{{Entity: EntityContacts, Name: "x", JSONSchema: []byte(`{"properties":{"a":{}}}`)}}}, `"x"`},
		{"Schemas (name)", Config{Schemas: []SeedSchema{{Entity: EntityContacts, JSONSchema: []byte(`{}`)}}}, "schema"},
		{"Schemas (count)", Config{Schemas: tooMany}, "schemas"},
	} {
		t.Run(tc.field, func(t *testing.T) {
			err := tc.cfg.Validate()
			if !errors.Is(err, core.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v; want ErrInvalidConfig naming %s", err, tc.want)
			}
			e := emutest.New(t, nil)
			if f, err := New(e.Srv, tc.cfg); f != nil || !errors.Is(err, core.ErrInvalidConfig) {
				t.Errorf("New = %v, %v", f, err)
			}
		})
	}
	good := Config{MaxEnrich: 5, MaxBulk: 7, RetryableShare: 1, Sources: []string{"a", "b"},
		Schemas: []SeedSchema{{Entity: EntityOrganizations, Name: "x", JSONSchema: []byte(`{}`)}}}
	for _, cfg := range []Config{{}, good} {
		if err := cfg.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", cfg, err)
		}
	}
	// Two seeded schemas of one type may not share a name.
	dup := Config{Schemas: []SeedSchema{{Entity: EntityContacts, Name: "x", JSONSchema: []byte(`{}`)}, {Entity: EntityContacts, Name: "X", JSONSchema: []byte(`{}`)}}}
	if f, err := New(emutest.New(t, nil).Srv, dup); f != nil || !errors.Is(err, core.ErrInvalidConfig) {
		t.Errorf("New with a schema name twice = %v, %v", f, err)
	}
	if f, err := New(nil, Config{}); f != nil || !errors.Is(err, core.ErrInvalidConfig) {
		t.Errorf("New(nil) = %v, %v", f, err)
	}
}

func TestConfigSetDefaults(t *testing.T) {
	var c Config
	c.setDefaults()
	if c.MaxEnrich != DefaultMaxEnrich || c.MaxBulk != DefaultMaxBulk || c.Seed == 0 {
		t.Errorf("defaults %+v", c)
	}
	c = Config{MaxEnrich: 3, MaxBulk: 4, Seed: 5}
	c.setDefaults()
	if c.MaxEnrich != 3 || c.MaxBulk != 4 || c.Seed != 5 {
		t.Errorf("set fields changed: %+v", c)
	}
}
