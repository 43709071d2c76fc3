package customobjects

import (
	"errors"
	"strings"
	"testing"

	"github.com/gcupsert/gcupsert/emulator/core"
)

func TestConfigValidate(t *testing.T) {
	ok := []byte(`{}`)
	tests := []struct {
		field string
		cfg   Config
		want  string // in the message
	}{
		{"MaxRecords", Config{MaxRecords: -1}, "MaxRecords"},
		{"Schemas (name)", Config{Schemas: map[string][]byte{"a/b": ok}}, `"a/b"`},
		{"Schemas (empty name)", Config{Schemas: map[string][]byte{"": ok}}, "schema name"},
		{"Schemas (JSON)", Config{Schemas: map[string][]byte{"x": []byte(`{`)}}, `"x"`},
		{"Schemas (schema)", Config{Schemas: map[string][]byte{"x": []byte(`{"type":"nope"}`)}}, `"x"`},
		{"Schemas (external ref)", Config{Schemas: map[string][]byte{"x": []byte(`{"$ref":"other.json"}`)}}, `"x"`},
		{"UniqueFields (unknown schema)", Config{UniqueFields: map[string][]string{"x": {"a"}}}, "unknown schema"},
		{"UniqueFields (empty field)", Config{Schemas: map[string][]byte{"x": ok}, UniqueFields: map[string][]string{"x": {"a", ""}}}, "empty unique field"},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			err := tt.cfg.Validate()
			if !errors.Is(err, core.ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v; want ErrInvalidConfig naming %s", err, tt.want)
			}
			if tt.field != "MaxRecords" && !errors.Is(err, ErrInvalidSchema) {
				t.Errorf("Validate() = %v; want ErrInvalidSchema too", err)
			}
		})
	}
	good := Config{MaxRecords: 5, Schemas: map[string][]byte{"x": ok}, UniqueFields: map[string][]string{"x": {"a"}}}
	for _, cfg := range []Config{{}, good} {
		if err := cfg.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", cfg, err)
		}
	}
}

func TestConfigSetDefaults(t *testing.T) {
	var c Config
	c.setDefaults()
	if c.MaxRecords != DefaultMaxRecords {
		t.Errorf("MaxRecords = %d", c.MaxRecords)
	}
	c = Config{MaxRecords: 3}
	c.setDefaults()
	if c.MaxRecords != 3 {
		t.Errorf("a set MaxRecords changed to %d", c.MaxRecords)
	}
}
