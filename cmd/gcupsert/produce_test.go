package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/gcupsert/gcupsert/decode"
	"github.com/gcupsert/gcupsert/internal/app/demo"
	"github.com/gcupsert/gcupsert/internal/inspect"
)

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const goodCSV = "accountNumber,customerName,regionId,status,balance,employees\n" +
	"AN-000001,Acme,r1,active,12.5,40\n" +
	"AN-000002,\"Globex, Inc\",r2,prospect,,7\n"

func TestProduceCSVAndJSONL(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.Ports(0), kfake.SeedTopics(3, "in"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	brokers := strings.Join(cluster.ListenAddrs(), ",")
	schema := writeFile(t, "s.json", demo.Schema)
	jsonl := `{"accountNumber":"AN-000003","customerName":"Initech","regionId":"r3","status":"inactive","employees":12}` + "\n\n" +
		`{"accountNumber":"AN-000004","customerName":"Umbrella","regionId":"r4","status":"active"}` + "\n"
	for _, tc := range []struct{ name, body string }{{"a.csv", goodCSV}, {"b.jsonl", jsonl}} {
		var out, errb bytes.Buffer
		code := run([]string{"produce", "--file", writeFile(t, tc.name, tc.body), "--topic", "in", "--key-field", "accountNumber",
			"--brokers", brokers, "--schema", schema}, &out, &errb)
		if code != 0 {
			t.Fatalf("%s: code %d: %s %s", tc.name, code, out.String(), errb.String())
		}
		if !strings.Contains(out.String(), "produced 2 records") || !strings.Contains(errb.String(), "progress:") {
			t.Errorf("%s: stdout %q stderr %q", tc.name, out.String(), errb.String())
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msgs, err := inspect.ReadAll(ctx, cluster.ListenAddrs(), "in")
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 4 {
		t.Fatalf("%d messages", len(msgs))
	}
	byKey := map[string]map[string]any{}
	for _, m := range msgs {
		rec, rerr := decode.Envelope(m.Key, m.Value)
		if rerr != nil {
			t.Fatalf("produced event does not decode: %v", rerr)
		}
		byKey[rec.Key] = rec.Data
	}
	// CSV cells are coerced to the schema's types; empty cells are absent.
	a := byKey["AN-000001"]
	if b, _ := a["balance"].(json.Number); b.String() != "12.5" || a["employees"] != json.Number("40") {
		t.Errorf("AN-000001 = %v", a)
	}
	if g := byKey["AN-000002"]; g["customerName"] != "Globex, Inc" || g["balance"] != nil {
		t.Errorf("AN-000002 = %v", g)
	}
	if byKey["AN-000004"]["customerName"] != "Umbrella" {
		t.Errorf("AN-000004 = %v", byKey["AN-000004"])
	}
}

func TestProduceValidateReportsBadRowsByLineAndProducesNothing(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.Ports(0), kfake.SeedTopics(1, "in"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	schema := writeFile(t, "s.json", demo.Schema)
	bad := goodCSV +
		"AN-000005,Hooli,r5,zombie,1,2\n" + // line 4: enum
		"AN-000006,Pied Piper,r6,active,lots,2\n" + // line 5: type
		",Nameless,r7,active,1,2\n" + // line 6: no key
		"AN-000008,Short,r8\n" // line 7: field count
	var out, errb bytes.Buffer
	code := run([]string{"produce", "--file", writeFile(t, "bad.csv", bad), "--topic", "in", "--key-field", "accountNumber",
		"--brokers", strings.Join(cluster.ListenAddrs(), ","), "--schema", schema, "--validate"}, &out, &errb)
	if code != 1 {
		t.Fatalf("code %d: %s %s", code, out.String(), errb.String())
	}
	for _, want := range []string{"bad.csv:4:", "bad.csv:5:", "bad.csv:6:", "bad.csv:7:", "4 of 6 rows are invalid", "at '/status': value must be one of"} {
		if !strings.Contains(out.String()+errb.String(), want) {
			t.Errorf("output lacks %q:\n%s\n%s", want, out.String(), errb.String())
		}
	}
	if strings.Contains(out.String(), "bad.csv:2:") || strings.Contains(out.String(), "bad.csv:3:") {
		t.Errorf("good rows reported:\n%s", out.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	end, err := inspect.EndOffsets(ctx, cluster.ListenAddrs(), "in")
	if err != nil {
		t.Fatal(err)
	}
	if end[0] != 0 {
		t.Fatalf("%d messages produced by --validate", end[0])
	}
	// JSONL: a line that is not an object.
	out.Reset()
	errb.Reset()
	code = run([]string{"produce", "--file", writeFile(t, "x.jsonl", "{\"accountNumber\":\"AN-000001\"}\nnot json\n"), "--topic", "in",
		"--key-field", "accountNumber", "--schema", schema, "--validate"}, &out, &errb)
	if code != 1 || !strings.Contains(out.String(), "x.jsonl:2: line 2: not a JSON object") || !strings.Contains(out.String(), "x.jsonl:1:") {
		t.Fatalf("code %d: %s %s", code, out.String(), errb.String())
	}
}
