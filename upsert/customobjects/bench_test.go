package customobjects

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/upsert"
)

func benchTarget(b *testing.B) *Target {
	c, err := upsert.NewClient(upsert.ClientConfig{BaseURL: "http://127.0.0.1:1", ClientID: "a", ClientSecret: "b"})
	if err != nil {
		b.Fatal(err)
	}
	co, err := New(c, Config{Schema: "accounts", SchemaJSON: []byte(accountSchema), ReferenceFields: []string{"ownerId"}})
	if err != nil {
		b.Fatal(err)
	}
	return co
}

func benchData() map[string]any {
	return map[string]any{
		"customerName": "Acme Corp", "tier": "gold", "phone": "+15551234", "email": "ops@acme.example",
		"seats": json.Number("42"), "ownerId": "owner-7", "active": true,
	}
}

// BenchmarkValidate measures the JSON Schema validation of one valid record.
func BenchmarkValidate(b *testing.B) {
	co := benchTarget(b)
	data := benchData()
	b.ReportAllocs()
	for b.Loop() {
		if fe, err := upsert.ValidateFields(co.validator, data); err != nil || fe != nil {
			b.Fatal(fe, err)
		}
	}
}

// BenchmarkEncode measures building one record's payload (the bytes sent).
func BenchmarkEncode(b *testing.B) {
	co := benchTarget(b)
	data := benchData()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := upsert.EncodeObject(data, upsert.Field{Name: "id", Value: "acc-001"},
			upsert.Field{Name: "conflictResolution", Value: string(co.cfg.Conflict)}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBody measures framing 100 payloads into one request body and
// sizing it.
func BenchmarkBody(b *testing.B) {
	co := benchTarget(b)
	items := make([]change.Item, 100)
	idxs := make([]int, 100)
	n := 0
	for i := range items {
		rec := change.Record{Key: fmt.Sprintf("acc-%03d", i), Op: change.OpUpsert, Data: benchData()}
		it, rerr := co.Prepare(rec)
		if rerr != nil {
			b.Fatal(rerr)
		}
		items[i], idxs[i] = it, i
		n += it.Size()
	}
	want := co.Limits().BodySize(len(items), n)
	b.ReportAllocs()
	for b.Loop() {
		if body := co.body(items, idxs); len(body) != want {
			b.Fatalf("body %d bytes, sized %d", len(body), want)
		}
	}
}
