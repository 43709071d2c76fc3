package decode

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/gcupsert/gcupsert/change"
)

func TestDecode(t *testing.T) {
	cases := []struct {
		name       string
		key, value string
		tombstone  bool
		wantOp     change.Op
		wantKey    string
		wantCode   string
	}{
		{name: "upsert", key: "acc-1", value: `{"op":"upsert","key":"acc-1","data":{"n":1}}`, wantOp: change.OpUpsert, wantKey: "acc-1"},
		{name: "key from envelope", value: `{"op":"upsert","key":"acc-2","data":{"n":1}}`, wantOp: change.OpUpsert, wantKey: "acc-2"},
		{name: "delete", key: "acc-1", value: `{"op":"delete","key":"acc-1"}`, wantOp: change.OpDelete, wantKey: "acc-1"},
		{name: "tombstone", key: "acc-1", tombstone: true, wantOp: change.OpDelete, wantKey: "acc-1"},
		{name: "tombstone without key", tombstone: true, wantCode: "missing.key"},
		{name: "not json", key: "k", value: `{"op":`, wantCode: "invalid.json"},
		{name: "json but not object", key: "k", value: `[1,2]`, wantCode: "invalid.json"},
		{name: "missing key", value: `{"op":"upsert","data":{"n":1}}`, wantCode: "missing.key"},
		{name: "key mismatch", key: "a", value: `{"op":"upsert","key":"b","data":{}}`, wantCode: "key.mismatch"},
		{name: "unknown op", key: "k", value: `{"op":"merge","data":{}}`, wantCode: "unknown.op"},
		{name: "missing op", key: "k", value: `{"data":{}}`, wantCode: "missing.op"},
		{name: "missing data", key: "k", value: `{"op":"upsert"}`, wantCode: "missing.data"},
		{name: "null data", key: "k", value: `{"op":"upsert","data":null}`, wantCode: "missing.data"},
		{name: "data not object", key: "k", value: `{"op":"upsert","data":[1]}`, wantCode: "invalid.data"},
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
			rec, err := Envelope(key, value)
			if tc.wantCode != "" {
				if err == nil || err.Code != tc.wantCode || err.Class != "decode" {
					t.Fatalf("err = %v, want decode/%s", err, tc.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rec.Op != tc.wantOp || rec.Key != tc.wantKey {
				t.Errorf("got %+v", rec)
			}
		})
	}
}

func TestDecodeKeepsNumbersExact(t *testing.T) {
	rec, err := Envelope([]byte("k"), []byte(`{"op":"upsert","data":{"big":12345678901234567890,"f":1.5}}`))
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := rec.Data["big"].(json.Number); !ok || n.String() != "12345678901234567890" {
		t.Errorf("big = %#v", rec.Data["big"])
	}
}

func BenchmarkDecode(b *testing.B) {
	key := []byte("acc-000123")
	value := []byte(`{"op":"upsert","key":"acc-000123","data":{"customerName":"Acme 123","accountNumber":"AN-000123","regionId":"region-3","status":"active","balance":1234.5},"ts":"2026-11-27T08:00:00Z"}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(value)))
	for b.Loop() {
		if _, err := Envelope(key, value); err != nil {
			b.Fatal(err)
		}
	}
}

func TestDecodeFastAgreesWithChecked(t *testing.T) {
	for _, v := range []string{
		`{"op":"upsert","key":"k","data":{"a":1,"b":"x","c":[1,2],"d":{"e":null}},"ts":"2026-11-27T08:00:00Z"}`,
		`{"op":"upsert","data":{"big":12345678901234567890}}`,
		`{"op":"upsert","key":"","data":{}}`,
		`{"OP":"upsert","Data":{"a":true}}`,
		`{"op":"upsert","key":"other","data":{"a":1}}`,
		`{"op":"upsert","data":{"a":1},"ts":5}`,
		`{"op":"upsert","data":{"a":1}} {"x":1}`,
		`{"op":"upsert","data":{"a":1}}  `,
		`{"op":"upsert","data":[1]}`,
		`{"op":"upsert","data":null}`,
		`{"op":"delete","key":"k"}`,
		`{"op":7,"data":{}}`,
	} {
		for _, key := range []string{"k", ""} {
			want, werr := decodeChecked([]byte(key), []byte(v))
			got, ok := decodeFast([]byte(key), []byte(v))
			if !ok {
				continue
			}
			if werr != nil {
				t.Errorf("key %q, %s: fast path accepted what the checked path rejects (%v)", key, v, werr)
				continue
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("key %q, %s: fast %+v, checked %+v", key, v, got, want)
			}
		}
	}
}

// BenchmarkDecodeRejected measures the decoding of an envelope that is
// rejected (unknown op), the path every invalid event takes.
func BenchmarkDecodeRejected(b *testing.B) {
	key := []byte("acc-000123")
	value := []byte(`{"op":"merge","key":"acc-000123","data":{"customerName":"Acme 123","accountNumber":"AN-000123"}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Envelope(key, value); err == nil {
			b.Fatal("accepted")
		}
	}
}
