package decode

import (
	"encoding/json"
	"testing"

	"github.com/gcupsert/gcupsert/change"
)

func TestDebeziumDecoder(t *testing.T) {
	mapping := Mapping{Rename: map[string]string{"cust_name": "customerName"}, Drop: []string{"internal"}, Constants: map[string]any{"status": "active"}}
	d, err := New("debezium", mapping)
	if err != nil {
		t.Fatal(err)
	}
	after := `{"id":42,"cust_name":"Acme","internal":"x","balance":12.5}`
	cases := []struct {
		name       string
		key, value string
		tombstone  bool
		wantOp     change.Op
		wantKey    string
		wantCode   string
	}{
		{name: "create", key: `{"id":42}`, value: `{"before":null,"after":` + after + `,"op":"c","source":{}}`, wantOp: change.OpUpsert, wantKey: "42"},
		{name: "update wrapped", key: `{"schema":{"type":"struct"},"payload":{"id":42}}`, value: `{"schema":{"type":"struct"},"payload":{"before":null,"after":` + after + `,"op":"u"}}`, wantOp: change.OpUpsert, wantKey: "42"},
		{name: "snapshot read", key: `42`, value: `{"after":` + after + `,"op":"r"}`, wantOp: change.OpUpsert, wantKey: "42"},
		{name: "string key", key: `acc-7`, value: `{"after":` + after + `,"op":"c"}`, wantOp: change.OpUpsert, wantKey: "acc-7"},
		{name: "delete", key: `{"id":42}`, value: `{"before":` + after + `,"after":null,"op":"d"}`, wantOp: change.OpDelete, wantKey: "42"},
		{name: "tombstone", key: `{"id":42}`, tombstone: true, wantOp: change.OpDelete, wantKey: "42"},
		{name: "not json", key: `{"id":1}`, value: `{"op":`, wantCode: "invalid.json"},
		{name: "no op", key: `{"id":1}`, value: `{"after":{}}`, wantCode: "debezium.malformed"},
		{name: "wrapped without op", key: `{"id":1}`, value: `{"schema":{},"payload":{"after":{}}}`, wantCode: "debezium.malformed"},
		{name: "create without after", key: `{"id":1}`, value: `{"before":null,"after":null,"op":"c"}`, wantCode: "debezium.malformed"},
		{name: "truncate", key: `{"id":1}`, value: `{"op":"t"}`, wantCode: "debezium.unsupported.op"},
		{name: "composite key", key: `{"a":1,"b":2}`, value: `{"after":` + after + `,"op":"c"}`, wantCode: "key.ambiguous"},
		{name: "no key", value: `{"after":` + after + `,"op":"c"}`, wantCode: "missing.key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var key, value []byte
			if tc.key != "" {
				key = []byte(tc.key)
			}
			if !tc.tombstone {
				value = []byte(tc.value)
			}
			rec, rerr := d.Decode(key, value)
			if tc.wantCode != "" {
				if rerr == nil || rerr.Code != tc.wantCode || rerr.Class != "decode" {
					t.Fatalf("err = %v, want decode/%s", rerr, tc.wantCode)
				}
				return
			}
			if rerr != nil {
				t.Fatal(rerr)
			}
			if rec.Op != tc.wantOp || rec.Key != tc.wantKey {
				t.Fatalf("got %+v", rec)
			}
			if rec.Op == change.OpUpsert {
				if rec.Data["customerName"] != "Acme" || rec.Data["status"] != "active" || rec.Data["internal"] != nil || rec.Data["cust_name"] != nil {
					t.Errorf("mapping not applied: %v", rec.Data)
				}
				if n, ok := rec.Data["balance"].(json.Number); !ok || n.String() != "12.5" {
					t.Errorf("balance = %#v", rec.Data["balance"])
				}
			}
		})
	}
}

func TestDebeziumKeyFieldFromRow(t *testing.T) {
	d, err := New("debezium", Mapping{Key: "account_no"})
	if err != nil {
		t.Fatal(err)
	}
	rec, rerr := d.Decode([]byte(`{"id":1,"tenant":2}`), []byte(`{"after":{"account_no":"AN-1","x":1},"op":"u"}`))
	if rerr != nil || rec.Key != "AN-1" {
		t.Fatalf("rec %+v err %v", rec, rerr)
	}
	rec, rerr = d.Decode(nil, []byte(`{"before":{"account_no":"AN-1"},"op":"d"}`))
	if rerr != nil || rec.Key != "AN-1" || rec.Op != change.OpDelete {
		t.Fatalf("delete: rec %+v err %v", rec, rerr)
	}
	if _, rerr = d.Decode(nil, []byte(`{"after":{"x":1},"op":"c"}`)); rerr == nil || rerr.Code != "missing.key" {
		t.Fatalf("missing key field: %v", rerr)
	}
}

func TestPlainDecoderMapping(t *testing.T) {
	d, err := New("plain", Mapping{Rename: map[string]string{"n": "name"}, Constants: map[string]any{"src": "crm"}})
	if err != nil {
		t.Fatal(err)
	}
	rec, rerr := d.Decode([]byte("k"), []byte(`{"op":"upsert","data":{"n":"x"}}`))
	if rerr != nil || rec.Data["name"] != "x" || rec.Data["src"] != "crm" || len(rec.Data) != 2 {
		t.Fatalf("rec %+v err %v", rec, rerr)
	}
}

func TestMappingValidation(t *testing.T) {
	bad := []Mapping{
		{Rename: map[string]string{"a": "x", "b": "x"}},
		{Rename: map[string]string{"a": ""}},
		{Drop: []string{"a"}, Rename: map[string]string{"a": "b"}},
		{Constants: map[string]any{"": 1}},
	}
	for i, m := range bad {
		if _, err := New("plain", m); err == nil {
			t.Errorf("mapping %d accepted", i)
		}
	}
	if _, err := New("avro", Mapping{}); err == nil {
		t.Error("unknown format accepted")
	}
}
