package worker_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gcupsert/gcupsert/config"
	"github.com/gcupsert/gcupsert/internal/app/demo"
	"github.com/gcupsert/gcupsert/internal/app/worker"
)

// startErr builds a worker of cfg and returns its error; a worker that
// starts is closed and is a test failure.
func startErr(t *testing.T, cfg config.Config) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	w, err := worker.NewContext(ctx, cfg, worker.Options{})
	if err == nil {
		w.Close()
		t.Fatal("the worker started")
	}
	return err.Error()
}

// Field names the customobjects schema file lacks, in unique_fields,
// reference_fields, mapping.rename targets and mapping.constants, are
// refused at start, all at once, each naming its key; so is a constant the
// field's schema refuses. mapping.key and mapping.drop name source fields
// and are not checked.
func TestCustomObjectsRouteFieldsMustBeInTheSchema(t *testing.T) {
	s := newStack(t, 1)
	r := &s.cfg.Routes[0]
	r.UniqueFields = []string{"accountNumber", "acountNumber"}
	r.ReferenceFields = []string{"regionID"}
	r.Mapping = config.Mapping{Key: "id", Drop: []string{"internal"},
		Rename:    map[string]string{"acct": "accountNumber", "name": "custName"},
		Constants: map[string]any{"source": "crm", "employees": "five", "status": "closed", "balance": 1.5}}
	msg := startErr(t, s.cfg)
	for _, want := range []string{
		`routes[0].unique_fields[1]: "acountNumber" is not a field of schema customerAccounts`,
		`routes[0].reference_fields[0]: "regionID" is not a field of schema customerAccounts`,
		`routes[0].mapping.rename.name: "custName" is not a field of schema customerAccounts`,
		`routes[0].mapping.constants.source: "source" is not a field of schema customerAccounts`,
		`routes[0].mapping.constants.employees: "five" does not fit the field: got string, want integer`,
		`routes[0].mapping.constants.status: "closed" does not fit the field`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	for _, notWanted := range []string{"accountNumber\"", "mapping.rename.acct", "balance", "mapping.key", "internal"} {
		if strings.Contains(msg, notWanted) {
			t.Errorf("error names %s, which is right:\n%s", notWanted, msg)
		}
	}
	r.UniqueFields, r.ReferenceFields = []string{"accountNumber"}, []string{"regionId"}
	r.Mapping = config.Mapping{Rename: map[string]string{"acct": "accountNumber"}, Constants: map[string]any{"employees": 5, "status": "active"}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	w, err := worker.NewContext(ctx, s.cfg, worker.Options{})
	if err != nil {
		t.Fatalf("fields of the schema refused: %v", err)
	}
	w.Close()
}

// The datatables schema comes from the API at start: unique_fields,
// references and mapping targets naming columns the table lacks are
// refused, naming the key, and a constant of the wrong type for its
// column too.
func TestDataTablesRouteFieldsMustBeColumns(t *testing.T) {
	s := newStack(t, 1)
	for name, schema := range map[string]string{"Accounts": demo.TableSchema, "Regions": demo.RegionsSchema} {
		if _, err := s.emu.CreateTable(name, []byte(schema)); err != nil {
			t.Fatal(err)
		}
	}
	s.cfg.Routes = []config.Route{{Topic: "in", Target: "datatables", Table: "Accounts", ConflictResolution: "upsert",
		UniqueFields: []string{"acountNumber"}, References: map[string]string{"regionID": "Regions"},
		Mapping: config.Mapping{Rename: map[string]string{"n": "nme"}, Constants: map[string]any{"employees": "many"}}}}
	msg := startErr(t, s.cfg)
	for _, want := range []string{
		`routes[0].unique_fields[0]: "acountNumber" is not a field of table Accounts`,
		`routes[0].references.regionID: "regionID" is not a field of table Accounts`,
		`routes[0].mapping.rename.n: "nme" is not a field of table Accounts`,
		`routes[0].mapping.constants.employees: "many" does not fit the field: got string, want integer`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	// The columns alone are right; a mapping target is still checked.
	s.cfg.Routes[0].UniqueFields, s.cfg.Routes[0].References = []string{"accountNumber"}, map[string]string{"regionId": "Regions"}
	if msg := startErr(t, s.cfg); !strings.Contains(msg, `routes[0].mapping.rename.n: "nme" is not a field of table Accounts`) ||
		!strings.Contains(msg, `routes[0].mapping.constants.employees`) {
		t.Errorf("error %s", msg)
	}
}
