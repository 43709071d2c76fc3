package mirror

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gcupsert/gcupsert/config"
)

// Two routes into one schema share its table; two schemas whose names
// make the same table are refused.
func TestTablesOfRoutes(t *testing.T) {
	schema := filepath.Join(t.TempDir(), "s.json")
	if err := os.WriteFile(schema, []byte(`{"type":"object","properties":{"name":{"type":"string"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	route := func(topic, name string) config.Route {
		return config.Route{Topic: topic, Target: "customobjects", Schema: name, SchemaFile: schema}
	}
	cfg := config.Default()
	cfg.Routes = []config.Route{route("a", "accounts"), route("b", "accounts"), route("c", "contacts")}
	tables, err := Tables(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) != 2 || tables[0].Name != "customobjects_accounts" || len(tables[0].Columns) != 1 || tables[1].Name != "customobjects_contacts" {
		t.Fatalf("tables %+v", tables)
	}
	cfg.Routes = []config.Route{route("a", "my-accounts"), route("b", "my_accounts")}
	_, err = Tables(context.Background(), cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "would share the mirror's table customobjects_my_accounts") {
		t.Fatalf("err %v", err)
	}
}
