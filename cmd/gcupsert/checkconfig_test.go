package main

import (
	"bytes"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/gcupsert/gcupsert/emulator"
	"github.com/gcupsert/gcupsert/internal/app/demo"
)

// apiStack is a kfake cluster and an emulator with a customobjects schema
// and two data tables.
func apiStack(t *testing.T, topics ...string) (brokers string, apiURL string) {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.Ports(0), kfake.SeedTopics(2, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	emu, err := emulator.New(emulator.Config{Clients: map[string]string{"cli": "right-secret"},
		Schemas: map[string][]byte{demo.SchemaName: []byte(demo.Schema)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := emu.CreateTable("Accounts", []byte(demo.TableSchema)); err != nil {
		t.Fatal(err)
	}
	if _, err := emu.CreateTable("Regions", []byte(demo.RegionsSchema)); err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(emu.Handler())
	t.Cleanup(api.Close)
	return strings.Join(cluster.ListenAddrs(), ","), api.URL
}

func checkConfigYAML(brokers, apiURL, schemaFile, table string) string {
	return fmt.Sprintf(`kafka:
  brokers: [%s]
genesys:
  base_url: %s
  client_id: cli
  timeout: 5s
retry:
  max_elapsed: 1s
routes:
  - topic: crm.accounts
    target: customobjects
    schema: customerAccounts
    schema_file: %s
    conflict_resolution: upsert
  - topic: crm.tables
    target: datatables
    table: %s
    conflict_resolution: upsert
    references: {regionId: Regions}
`, brokers, apiURL, schemaFile, table)
}

func runCmd(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String() + errb.String()
}

func TestCheckConfig(t *testing.T) {
	brokers, apiURL := apiStack(t, "crm.accounts", "crm.tables", "gcupsert.audit", "gcupsert.sync", "gcupsert.deadletter")
	schema := writeFile(t, "s.json", demo.Schema)
	good := writeFile(t, "good.yaml", checkConfigYAML(brokers, apiURL, schema, "Accounts"))

	t.Setenv("GCUPSERT_GENESYS_CLIENT_SECRET", "right-secret")
	code, out := runCmd(t, "check-config", "--config", good, "--timeout", "5s")
	if code != 0 {
		t.Fatalf("code %d:\n%s", code, out)
	}
	for _, want := range []string{"ok    config", "ok    kafka    1 broker(s) reachable", "ok    kafka    kafka.session_timeout 10s within the brokers' bounds (6s to 5m)", "routes[0] input topic crm.accounts: 2 partition(s)",
		"outbound topic gcupsert.deadletter", "ok    genesys  token obtained", "ok    schema   routes[0] crm.accounts: customobjects schema customerAccounts compiles",
		`data table "Accounts" found`, `references.regionId: data table "Regions" found`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "FAIL") {
		t.Errorf("a check failed:\n%s", out)
	}

	t.Run("wrong secret", func(t *testing.T) {
		t.Setenv("GCUPSERT_GENESYS_CLIENT_SECRET", "wrong-secret")
		code, out := runCmd(t, "check-config", "--config", good, "--timeout", "5s")
		if code != 1 || !strings.Contains(out, "FAIL  genesys  no token") || strings.Contains(out, "wrong-secret") {
			t.Fatalf("code %d:\n%s", code, out)
		}
	})
	t.Run("unknown table and missing topic", func(t *testing.T) {
		bad := strings.Replace(checkConfigYAML(brokers, apiURL, schema, "Nope"), "crm.tables", "crm.missing", 1)
		code, out := runCmd(t, "check-config", "--config", writeFile(t, "bad.yaml", bad), "--timeout", "5s")
		if code != 1 || !strings.Contains(out, "FAIL  kafka    routes[1] input topic crm.missing: does not exist") ||
			!strings.Contains(out, `FAIL  schema   routes[1] crm.missing: data table "Nope"`) {
			t.Fatalf("code %d:\n%s", code, out)
		}
	})
	t.Run("session timeout below the brokers' minimum", func(t *testing.T) {
		t.Setenv("GCUPSERT_KAFKA_SESSION_TIMEOUT", "2s")
		t.Setenv("GCUPSERT_KAFKA_HEARTBEAT_INTERVAL", "500ms")
		code, out := runCmd(t, "check-config", "--config", good, "--timeout", "5s")
		if code != 1 || !strings.Contains(out, "FAIL  kafka    kafka.session_timeout: 2s is below the brokers' group.min.session.timeout.ms (6s)") {
			t.Fatalf("code %d:\n%s", code, out)
		}
	})
	t.Run("fields the schemas lack", func(t *testing.T) {
		bad := strings.Replace(checkConfigYAML(brokers, apiURL, schema, "Accounts"), "schema_file: "+schema, "schema_file: "+schema+"\n    unique_fields: [acountNumber]", 1)
		bad = strings.Replace(bad, "references: {regionId: Regions}", "references: {region: Regions}", 1)
		code, out := runCmd(t, "check-config", "--config", writeFile(t, "fields.yaml", bad), "--timeout", "5s")
		if code != 1 || !strings.Contains(out, `FAIL  schema   routes[0].unique_fields[0]: "acountNumber" is not a field of schema customerAccounts`) ||
			!strings.Contains(out, `FAIL  schema   routes[1].references.region: "region" is not a field of table Accounts`) {
			t.Fatalf("code %d:\n%s", code, out)
		}
	})
	t.Run("broker down", func(t *testing.T) {
		cfg := checkConfigYAML("127.0.0.1:1", apiURL, schema, "Accounts")
		code, out := runCmd(t, "check-config", "--config", writeFile(t, "nobroker.yaml", cfg), "--timeout", "2s")
		if code != 1 || !strings.Contains(out, "FAIL  kafka    brokers 127.0.0.1:1 not reachable") {
			t.Fatalf("code %d:\n%s", code, out)
		}
	})
	t.Run("invalid file", func(t *testing.T) {
		code, out := runCmd(t, "check-config", "--config", writeFile(t, "inv.yaml", "batch:\n  linger: soon\n"))
		if code != 1 || !strings.Contains(out, "FAIL  config") || !strings.Contains(out, "not a duration") {
			t.Fatalf("code %d:\n%s", code, out)
		}
	})
}

func TestTablesAndSchemaPull(t *testing.T) {
	_, apiURL := apiStack(t, "x")
	cfg := writeFile(t, "api.yaml", fmt.Sprintf("genesys:\n  base_url: %s\n  client_id: cli\n", apiURL))
	t.Setenv("GCUPSERT_GENESYS_CLIENT_SECRET", "right-secret")
	code, out := runCmd(t, "tables", "--config", cfg)
	if code != 0 || !strings.Contains(out, "Accounts") || !strings.Contains(out, "Regions") {
		t.Fatalf("tables: code %d:\n%s", code, out)
	}
	code, out = runCmd(t, "tables", "--config", cfg, "--name", "Reg*")
	if code != 0 || strings.Contains(out, "Accounts") || !strings.Contains(out, "Regions") {
		t.Fatalf("tables --name: code %d:\n%s", code, out)
	}
	code, out = runCmd(t, "schema", "pull", "--table", "Accounts", "--config", cfg)
	if code != 0 || !strings.Contains(out, `"accountNumber"`) || !strings.Contains(out, `"additionalProperties": false`) {
		t.Fatalf("schema pull: code %d:\n%s", code, out)
	}
	code, out = runCmd(t, "schema", "pull", "--table", "Missing", "--config", cfg)
	if code != 1 || !strings.Contains(out, "Missing") {
		t.Fatalf("schema pull of a missing table: code %d:\n%s", code, out)
	}
}
