package emulator

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gcupsert/gcupsert/emulator/externalcontacts"
	"github.com/gcupsert/gcupsert/internal/clock"
)

func TestConfigValidate(t *testing.T) {
	good := map[string]string{"a": "b"}
	tests := []struct {
		field string
		cfg   Config
		want  string // in the message
	}{
		{"Fixtures", Config{Clients: good, Fixtures: []byte("{")}, "fixtures"},
		{"Clients (none)", Config{}, "OAuth client"},
		{"Clients (none in Fixtures)", Config{Fixtures: []byte(`{"tables":[]}`)}, "OAuth client"},
		{"Clients (bad id)", Config{Clients: map[string]string{"a:b": "x"}}, "client id"},
		{"RateWindow", Config{Clients: good, RateWindow: -time.Second}, "RateWindow"},
		{"TokenLifetime", Config{Clients: good, TokenLifetime: -time.Second}, "token lifetime"},
		{"MaxBodyBytes", Config{Clients: good, MaxBodyBytes: -1}, "MaxBodyBytes"},
		{"MaxRecords", Config{Clients: good, MaxRecords: -1}, "MaxRecords"},
		{"Schemas", Config{Clients: good, Schemas: map[string][]byte{"x": []byte(`{`)}}, `"x"`},
		{"UniqueFields", Config{Clients: good, UniqueFields: map[string][]string{"x": {"a"}}}, "unknown schema"},
		{"MaxRowsPerTable", Config{Clients: good, MaxRowsPerTable: -1}, "MaxRowsPerTable"},
		{"MaxFields", Config{Clients: good, MaxFields: -1}, "MaxFields"},
		{"MaxKeyLength", Config{Clients: good, MaxKeyLength: -1}, "MaxKeyLength"},
		{"MaxTables", Config{Clients: good, MaxTables: -1}, "MaxTables"},
		{"Variants", Config{Clients: good, Variants: Variants{DeleteStatus: 202}}, "deleteStatus"},
		{"ECMaxEnrich", Config{Clients: good, ECMaxEnrich: -1}, "MaxEnrich"},
		{"ECMaxBulk", Config{Clients: good, ECMaxBulk: -1}, "MaxBulk"},
		{"ECRetryableShare", Config{Clients: good, ECRetryableShare: 2}, "RetryableShare"},
		{"ECSources", Config{Clients: good, ECSources: []string{"a", "A"}}, "twice"},
		{"ECSchemas", Config{Clients: good, ECSchemas: []ECSchema{{Entity: "x", Name: "n", JSONSchema: []byte(`{}`)}}}, "entity type"},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			err := tt.cfg.Validate()
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v; want ErrInvalidConfig naming %s", err, tt.want)
			}
			if errors.Is(err, ErrInvalidVariant) != (tt.field == "Variants") {
				t.Errorf("Validate() = %v: ErrInvalidVariant only for Variants", err)
			}
			tt.cfg.setDefaults()
			if err2 := tt.cfg.Validate(); err2 == nil || err2.Error() != err.Error() {
				t.Errorf("after setDefaults, Validate() = %v; want %v", err2, err)
			}
		})
	}
	for _, cfg := range []Config{{Clients: good}, {Fixtures: []byte("clients: {fx: secret}")}} {
		if err := cfg.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", cfg, err)
		}
	}
}

func TestConfigSetDefaults(t *testing.T) {
	var c Config
	c.setDefaults()
	if c.Logger == nil {
		t.Fatal("no Logger")
	}
	c.Logger = nil
	want := Config{
		TokenLifetime: DefaultTokenLifetime, RateLimitPerMinute: DefaultRateLimitPerMinute,
		RateWindow: DefaultRateWindow, MaxBodyBytes: DefaultMaxBodyBytes, Clock: clock.Real,
		MaxRecords: DefaultMaxRecords, MaxRowsPerTable: DefaultMaxRowsPerTable, MaxFields: DefaultMaxFields,
		MaxKeyLength: DefaultMaxKeyLength, MaxTables: DefaultMaxTables, ImportProcessingTime: DefaultImportProcessing,
		Variants:    Variants{PostExisting: DefaultPostExisting, PutMissing: DefaultPutMissing, DeleteStatus: DefaultDeleteStatus},
		ECMaxEnrich: DefaultECMaxEnrich, ECMaxBulk: DefaultECMaxBulk,
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("defaults\n%+v, want\n%+v", c, want)
	}

	clk := clock.NewFake(time.Unix(0, 0))
	set := Config{
		TokenLifetime: time.Minute, RateLimitPerMinute: -1, RateWindow: time.Second, MaxBodyBytes: 1,
		Clock: clk, Seed: 7, MaxRecords: 2, MaxRowsPerTable: 3, MaxFields: 4, MaxKeyLength: 5, MaxTables: 6,
		ImportProcessingTime: -time.Second, Variants: Variants{PostExisting: "400", PutMissing: "create", DeleteStatus: 200},
		ECMaxEnrich: 7, ECMaxBulk: 8, ECRetryableShare: 0.5,
	}
	got := set
	got.setDefaults()
	got.Logger = nil
	if !reflect.DeepEqual(got, set) {
		t.Errorf("setDefaults changed set fields:\n%+v, was\n%+v", got, set)
	}
}

// TestNewPassesSettings checks that New hands each setting to the package
// that uses it.
func TestNewPassesSettings(t *testing.T) {
	s, err := New(Config{
		Clients: map[string]string{"a": "b"}, TokenLifetime: time.Minute, RateLimitPerMinute: -1,
		MaxBodyBytes: 10, Variants: Variants{PutMissing: "create"},
		ECSources: []string{"crm"}, ECMaxEnrich: 3, ECMaxBulk: 4, ECRetryableShare: 0.5,
		ECSchemas: []ECSchema{{Entity: externalcontacts.EntityContacts, Name: "P", JSONSchema: []byte(`{}`)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.MaxBodyBytes() != 10 {
		t.Errorf("MaxBodyBytes = %d", s.MaxBodyBytes())
	}
	if v := s.Variants(); v != (Variants{PostExisting: "409", PutMissing: "create", DeleteStatus: 204}) {
		t.Errorf("Variants = %+v", v)
	}
	ec := s.ExternalContacts()
	if _, ok := ec.SourceID("crm"); !ok || ec.RetryableShare() != 0.5 {
		t.Errorf("external contacts: source crm %v, share %v", ok, ec.RetryableShare())
	}
	w := call(s, "GET", "/emulator/externalcontacts/config", "", "")
	if body := w.Body.String(); body != `{"retryableShare":0.5,"maxEnrich":3,"maxBulk":4}` {
		t.Errorf("external contacts config %s", body)
	}
}
