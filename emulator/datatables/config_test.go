package datatables

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gcupsert/gcupsert/emulator/core"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		field   string
		cfg     Config
		variant bool // ErrInvalidVariant too
	}{
		{"MaxRowsPerTable", Config{MaxRowsPerTable: -1}, false},
		{"MaxFields", Config{MaxFields: -1}, false},
		{"MaxKeyLength", Config{MaxKeyLength: -1}, false},
		{"MaxTables", Config{MaxTables: -1}, false},
		{"postExisting", Config{Variants: Variants{PostExisting: "200"}}, true},
		{"putMissing", Config{Variants: Variants{PutMissing: "upsert"}}, true},
		{"deleteStatus", Config{Variants: Variants{DeleteStatus: 202}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			err := tt.cfg.Validate()
			if !errors.Is(err, core.ErrInvalidConfig) || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("Validate() = %v; want ErrInvalidConfig naming %s", err, tt.field)
			}
			if errors.Is(err, ErrInvalidVariant) != tt.variant {
				t.Errorf("Validate() = %v; ErrInvalidVariant: %v, want %v", err, !tt.variant, tt.variant)
			}
			tt.cfg.setDefaults()
			if err2 := tt.cfg.Validate(); err2 == nil || err2.Error() != err.Error() {
				t.Errorf("after setDefaults, Validate() = %v; want %v", err2, err)
			}
		})
	}
	good := Config{MaxRowsPerTable: 1, MaxFields: 2, MaxKeyLength: 3, MaxTables: 4, ImportProcessingTime: -time.Second,
		Variants: Variants{PostExisting: "400", PutMissing: "create", DeleteStatus: 200}}
	for _, cfg := range []Config{{}, good} {
		if err := cfg.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", cfg, err)
		}
	}
}

func TestVariantsValidate(t *testing.T) {
	for field, v := range map[string]Variants{
		"postExisting": {PostExisting: "404"},
		"putMissing":   {PutMissing: "409"},
		"deleteStatus": {DeleteStatus: 404},
	} {
		if err := v.Validate(); !errors.Is(err, ErrInvalidVariant) || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: Validate() = %v; want ErrInvalidVariant naming it", field, err)
		}
	}
	var v Variants
	if err := v.Validate(); err != nil {
		t.Errorf("zero Variants: %v", err)
	}
	v.setDefaults()
	if v != (Variants{PostExisting: "409", PutMissing: "404", DeleteStatus: 204}) {
		t.Errorf("defaults: %+v", v)
	}
	if err := v.Validate(); err != nil {
		t.Errorf("default Variants: %v", err)
	}
}

func TestConfigSetDefaults(t *testing.T) {
	var c Config
	c.setDefaults()
	want := Config{MaxRowsPerTable: DefaultMaxRowsPerTable, MaxFields: DefaultMaxFields, MaxKeyLength: DefaultMaxKeyLength,
		MaxTables: DefaultMaxTables, ImportProcessingTime: DefaultImportProcessing,
		Variants: Variants{PostExisting: DefaultPostExisting, PutMissing: DefaultPutMissing, DeleteStatus: DefaultDeleteStatus}}
	if c != want {
		t.Errorf("defaults %+v, want %+v", c, want)
	}
	c.setDefaults()
	if c != want {
		t.Errorf("setDefaults is not idempotent: %+v", c)
	}
	set := Config{MaxRowsPerTable: 1, MaxFields: 2, MaxKeyLength: 3, MaxTables: 4, ImportProcessingTime: -time.Second,
		Variants: Variants{PostExisting: "400", PutMissing: "create", DeleteStatus: 200}}
	got := set
	got.setDefaults()
	if got != set {
		t.Errorf("setDefaults changed set fields: %+v", got)
	}
	if l := got.limits(); l != (tableLimits{1, 2, 3, 4, 0}) {
		t.Errorf("limits %+v", l)
	}
}
