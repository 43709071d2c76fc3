package sink_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/sink"
)

var schemaTime = time.Date(2026, 11, 27, 8, 0, 1, 250_000_000, time.FixedZone("CET", 3600))

func newValidator(t *testing.T) *sink.Validator {
	t.Helper()
	v, err := sink.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func audits() map[string]sink.Audit {
	base := func(status string, c change.Counts) sink.Audit {
		return sink.Audit{
			Target: "customobjects", Schema: "customerAccounts", Status: status, Counts: c,
			Attempts: 2, Latency: 37_500 * time.Microsecond, CorrelationIDs: []string{"0d6c-11", "0d6c-12"},
			Topic: "crm.accounts", Partition: 2, FirstOffset: 100, LastOffset: 100 + int64(c.Records) - 1,
			WorkerID: "gcupsert-7d9f-abcde", Time: schemaTime,
		}
	}
	m := map[string]sink.Audit{
		"success created":   base(sink.StatusSuccess, change.Counts{Records: 3, Created: 3}),
		"success mixed":     base(sink.StatusSuccess, change.Counts{Records: 9, Created: 2, Updated: 3, Deleted: 2, Collapsed: 2}),
		"partial":           base(sink.StatusPartial, change.Counts{Records: 5, Updated: 1, DeadLettered: 3, Collapsed: 1}),
		"partial deletes":   base(sink.StatusPartial, change.Counts{Records: 2, Deleted: 1, DeadLettered: 1}),
		"failed after send": base(sink.StatusFailed, change.Counts{Records: 4, DeadLettered: 4}),
	}
	// Every record rejected before sending: no request, no correlation id.
	f := base(sink.StatusFailed, change.Counts{Records: 2, DeadLettered: 1, Collapsed: 1})
	f.Attempts, f.Latency, f.CorrelationIDs = 0, 0, nil
	m["failed before send"] = f
	// A topic with dashes, offset 0 and a single record.
	one := base(sink.StatusSuccess, change.Counts{Records: 1, Updated: 1})
	one.Topic, one.Partition, one.FirstOffset, one.LastOffset = "crm-accounts-eu", 0, 0, 0
	m["single record"] = one
	return m
}

func syncs() map[string]sink.Sync {
	src := change.Source{Topic: "crm.accounts", Partition: 1, Offset: 41}
	batch := sink.BatchID("crm.accounts", 1, 40, 44)
	return map[string]sink.Sync{
		"created": {BatchID: batch, Key: "acc-001", Operation: sink.OperationCreated, Target: "customobjects",
			Schema: "customerAccounts", Source: src, Time: schemaTime,
			Record: map[string]any{"id": "acc-001", "customerName": "Acme", "accountNumber": "AN-000001", "balance": 12.5,
				"tags": []any{"a", "b"}, "address": map[string]any{"city": "Lyon"}, "active": true, "note": nil}},
		"updated": {BatchID: batch, Key: "acc-002", Operation: sink.OperationUpdated, Target: "customobjects",
			Schema: "customerAccounts", Source: change.Source{Topic: "crm.accounts", Partition: 1, Offset: 44}, Time: schemaTime,
			Record: map[string]any{"id": "acc-002"}},
		"deleted": {BatchID: batch, Key: "acc-003", Operation: sink.OperationDeleted, Target: "customobjects",
			Schema: "customerAccounts", Source: change.Source{Topic: "crm.accounts", Partition: 1, Offset: 40}, Time: schemaTime},
	}
}

func deadLetters() map[string]sink.DeadLetter {
	src := func(off int64) change.Source { return change.Source{Topic: "crm.accounts", Partition: 0, Offset: off} }
	return map[string]sink.DeadLetter{
		"decode, nil fields": {Key: []byte("acc-9"), Value: []byte(`{"op":"upsert","key":"acc-9",`), Source: src(7),
			Err: change.RecordError{Class: "decode", Code: "invalid.json", Message: "value is not a JSON envelope: unexpected end of JSON input"}, Time: schemaTime},
		"validation, field errors": {Key: []byte("acc-10"), Value: []byte(`{"op":"upsert","data":{"balance":"x"}}`), Source: src(8),
			Err: change.RecordError{Class: "validation", Code: "schema.violation", Message: "record violates the schema: balance: want number",
				Fields: []change.FieldError{{Field: "balance", Code: "type", Message: "got string, want number"},
					{Field: "customerName", Code: "required", Message: "missing required field"}}}, Time: schemaTime},
		"empty fields": {Key: []byte("acc-11"), Value: []byte(`{"op":"explode"}`), Source: src(9),
			Err: change.RecordError{Class: "decode", Code: "unknown.op", Message: `unknown op "explode"`, Fields: []change.FieldError{}}, Time: schemaTime},
		"api conflict": {Key: []byte("acc-12"), Value: []byte(`{"op":"upsert","data":{}}`), Source: src(10),
			Err: change.RecordError{Class: "conflict", Code: "conflict", Status: 409, Message: "record exists",
				Fields:        []change.FieldError{{Field: "id", Code: "already.exists", Message: "record exists"}},
				CorrelationID: "5f1c0c1e-9a4b-4f43-8d7d-0b3b2a1c9e77"}, Attempts: 3, Time: schemaTime},
		"unique": {Key: []byte("acc-13"), Value: []byte(`{"op":"upsert","data":{"accountNumber":"AN-1"}}`), Source: src(11),
			Err: change.RecordError{Class: "unique", Code: "unique.violation", Message: "unique field value repeated in the batch",
				Fields: []change.FieldError{{Field: "accountNumber", Code: "unique", Message: "repeated"}}}, Attempts: 0, Time: schemaTime},
		"tombstone without key": {Key: nil, Value: nil, Source: src(12),
			Err: change.RecordError{Class: "decode", Code: "missing.key", Message: "tombstone without a Kafka key"}, Time: schemaTime},
		"binary value": {Key: []byte{0xff, 0x00, 0xfe}, Value: []byte{0x00, 0x01, 0xc3, 0x28}, Source: src(13),
			Err: change.RecordError{Class: "decode", Code: "invalid.json", Message: "value is not a JSON envelope"}, Time: schemaTime},
		"long message": {Key: []byte("acc-14"), Value: []byte(`{}`), Source: change.Source{Topic: "crm-eu", Partition: 11, Offset: 1 << 40},
			Err: change.RecordError{Class: "api", Code: "bad.request", Status: 400, Message: strings.Repeat("é", 5000)}, Attempts: 1, Time: schemaTime},
	}
}

// Every encoder output conforms to its schema.
func TestEncodedEventsConformToSchemas(t *testing.T) {
	v := newValidator(t)
	for name, a := range audits() {
		if err := v.Validate(sink.KindAudit, a.Message()); err != nil {
			t.Errorf("audit %s: %v", name, err)
		}
	}
	for name, s := range syncs() {
		if err := v.Validate(sink.KindSync, s.Message()); err != nil {
			t.Errorf("sync %s: %v", name, err)
		}
	}
	for name, d := range deadLetters() {
		if err := v.Validate(sink.KindDeadLetter, d.Message()); err != nil {
			t.Errorf("dead letter %s: %v", name, err)
		}
	}
}

// mutate decodes raw, applies f and encodes it again.
func mutate(t *testing.T, raw []byte, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func obj(m map[string]any, k string) map[string]any { return m[k].(map[string]any) }

func TestBrokenAuditEventsFail(t *testing.T) {
	v := newValidator(t)
	good := audits()["partial"].Message()
	cases := map[string]func(m map[string]any){
		"version 2":              func(m map[string]any) { m["version"] = 2 },
		"version as string":      func(m map[string]any) { m["version"] = "1" },
		"type sync":              func(m map[string]any) { m["type"] = "sync" },
		"no eventId":             func(m map[string]any) { delete(m, "eventId") },
		"eventId not a range":    func(m map[string]any) { m["eventId"] = "crm.accounts-2-100" },
		"unknown status":         func(m map[string]any) { m["status"] = "OK" },
		"lower-case status":      func(m map[string]any) { m["status"] = "partial" },
		"SUCCESS with dead":      func(m map[string]any) { m["status"] = "SUCCESS" },
		"FAILED with updates":    func(m map[string]any) { m["status"] = "FAILED" },
		"PARTIAL without writes": func(m map[string]any) { obj(m, "counts")["updated"] = 0 },
		"negative count":         func(m map[string]any) { obj(m, "counts")["collapsed"] = -1 },
		"fractional count":       func(m map[string]any) { obj(m, "counts")["created"] = 1.5 },
		"zero records":           func(m map[string]any) { obj(m, "counts")["records"] = 0 },
		"no counts.deleted":      func(m map[string]any) { delete(obj(m, "counts"), "deleted") },
		"latency as string":      func(m map[string]any) { m["latencyMs"] = "37.5" },
		"correlation ids null":   func(m map[string]any) { m["correlationIds"] = nil },
		"correlation id number":  func(m map[string]any) { m["correlationIds"] = []any{1} },
		"negative partition":     func(m map[string]any) { obj(m, "source")["partition"] = -1 },
		"empty workerId":         func(m map[string]any) { m["workerId"] = "" },
		"time not RFC 3339":      func(m map[string]any) { m["time"] = "27/11/2026 08:00" },
		"empty target":           func(m map[string]any) { m["target"] = "" },
	}
	for name, f := range cases {
		raw := mutate(t, good.Value, f)
		if err := v.ValidateJSON(sink.KindAudit, raw); err == nil {
			t.Errorf("%s: validates: %s", name, raw)
		} else if se := (*sink.SchemaError)(nil); !errors.As(err, &se) || se.Kind != sink.KindAudit {
			t.Errorf("%s: error %T %v", name, err, err)
		}
	}
	// Rules beyond the schema.
	identity := map[string]kafka.Message{
		"key differs": {Key: []byte("other"), Value: good.Value},
		"batchId differs": {Key: good.Key, Value: mutate(t, good.Value, func(m map[string]any) {
			m["batchId"] = "crm.accounts-2-100-105"
		})},
		"eventId not the source range": {Key: good.Key, Value: mutate(t, good.Value, func(m map[string]any) {
			obj(m, "source")["lastOffset"] = 200
		})},
		"not JSON": {Key: good.Key, Value: []byte(`{"version":1`)},
		"null":     {Key: good.Key},
	}
	for name, m := range identity {
		if err := v.Validate(sink.KindAudit, m); err == nil {
			t.Errorf("%s: validates", name)
		}
	}
}

func TestBrokenSyncEventsFail(t *testing.T) {
	v := newValidator(t)
	good := syncs()["created"].Message()
	deleted := syncs()["deleted"].Message()
	cases := map[string]struct {
		base []byte
		f    func(m map[string]any)
	}{
		"version 0":              {good.Value, func(m map[string]any) { m["version"] = 0 }},
		"type audit":             {good.Value, func(m map[string]any) { m["type"] = "audit" }},
		"unknown operation":      {good.Value, func(m map[string]any) { m["operation"] = "upserted" }},
		"created with null":      {good.Value, func(m map[string]any) { m["record"] = nil }},
		"record as array":        {good.Value, func(m map[string]any) { m["record"] = []any{} }},
		"no record":              {good.Value, func(m map[string]any) { delete(m, "record") }},
		"deleted with a record":  {deleted.Value, func(m map[string]any) { m["record"] = map[string]any{"id": "acc-003"} }},
		"empty key":              {good.Value, func(m map[string]any) { m["key"] = "" }},
		"eventId without offset": {good.Value, func(m map[string]any) { m["eventId"] = "crm.accounts" }},
		"batchId not a range":    {good.Value, func(m map[string]any) { m["batchId"] = "b-1" }},
		"offset as string":       {good.Value, func(m map[string]any) { obj(m, "source")["offset"] = "41" }},
		"no source.topic":        {good.Value, func(m map[string]any) { delete(obj(m, "source"), "topic") }},
		"bad time":               {good.Value, func(m map[string]any) { m["time"] = "yesterday" }},
	}
	for name, c := range cases {
		raw := mutate(t, c.base, c.f)
		if err := v.ValidateJSON(sink.KindSync, raw); err == nil {
			t.Errorf("%s: validates: %s", name, raw)
		}
	}
	identity := map[string]kafka.Message{
		"key differs": {Key: []byte("acc-999"), Value: good.Value},
		"eventId not the source": {Key: good.Key, Value: mutate(t, good.Value, func(m map[string]any) {
			m["eventId"] = "crm.accounts-1-42"
		})},
		"batch does not cover the offset": {Key: good.Key, Value: mutate(t, good.Value, func(m map[string]any) {
			m["batchId"] = "crm.accounts-1-42-44"
		})},
		"batch of another partition": {Key: good.Key, Value: mutate(t, good.Value, func(m map[string]any) {
			m["batchId"] = "crm.accounts-0-40-44"
		})},
	}
	for name, m := range identity {
		if err := v.Validate(sink.KindSync, m); err == nil {
			t.Errorf("%s: validates", name)
		}
	}
}

func setHeader(m kafka.Message, key, value string) kafka.Message {
	out := m
	out.Headers = nil
	for _, h := range m.Headers {
		if h.Key == key {
			h.Value = []byte(value)
		}
		out.Headers = append(out.Headers, h)
	}
	return out
}

func dropHeader(m kafka.Message, key string) kafka.Message {
	out := m
	out.Headers = nil
	for _, h := range m.Headers {
		if h.Key != key {
			out.Headers = append(out.Headers, h)
		}
	}
	return out
}

func TestBrokenDeadLettersFail(t *testing.T) {
	v := newValidator(t)
	good := deadLetters()["api conflict"].Message()
	cases := map[string]kafka.Message{
		"version 2":                  setHeader(good, sink.HeaderVersion, "2"),
		"empty class":                setHeader(good, sink.HeaderErrorClass, ""),
		"empty code":                 setHeader(good, sink.HeaderErrorCode, ""),
		"status not a number":        setHeader(good, sink.HeaderErrorStatus, "conflict"),
		"status 999":                 setHeader(good, sink.HeaderErrorStatus, "999"),
		"fields not JSON":            setHeader(good, sink.HeaderErrorFields, "[{"),
		"fields not an array":        setHeader(good, sink.HeaderErrorFields, `{"field":"id"}`),
		"fields of strings":          setHeader(good, sink.HeaderErrorFields, `["id"]`),
		"field without code":         setHeader(good, sink.HeaderErrorFields, `[{"field":"id","message":"m"}]`),
		"attempts negative":          setHeader(good, sink.HeaderAttempts, "-1"),
		"partition not a number":     setHeader(good, sink.HeaderSourcePart, "p0"),
		"bad time":                   setHeader(good, sink.HeaderTime, "now"),
		"message over 4096":          setHeader(good, sink.HeaderErrorMessage, strings.Repeat("x", 4097)),
		"event id not the source":    setHeader(good, sink.HeaderEventID, "crm.accounts-0-11"),
		"no event id":                dropHeader(good, sink.HeaderEventID),
		"no fields header":           dropHeader(good, sink.HeaderErrorFields),
		"no correlation id header":   dropHeader(good, sink.HeaderCorrelationID),
		"header not UTF-8":           setHeader(good, sink.HeaderErrorMessage, "\xff\xfe"),
		"header twice":               {Key: good.Key, Value: good.Value, Headers: append(append([]kafka.Header{}, good.Headers...), kafka.Header{Key: sink.HeaderErrorCode, Value: []byte("x")})},
		"non-gcupsert headers alone": {Key: good.Key, Value: good.Value, Headers: []kafka.Header{{Key: "trace", Value: []byte("1")}}},
	}
	for name, m := range cases {
		if err := v.Validate(sink.KindDeadLetter, m); err == nil {
			t.Errorf("%s: validates", name)
		}
	}
	// The document form: key and value must be base64 or null.
	doc, err := sink.DeadLetterDocument(good)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.ValidateJSON(sink.KindDeadLetter, doc); err != nil {
		t.Fatalf("document of a good dead letter: %v", err)
	}
	for name, f := range map[string]func(m map[string]any){
		"key not base64":  func(m map[string]any) { m["key"] = "acc-12!" },
		"value as object": func(m map[string]any) { m["value"] = map[string]any{"op": "upsert"} },
		"no value":        func(m map[string]any) { delete(m, "value") },
		"header number":   func(m map[string]any) { obj(m, "headers")["x-extra"] = 1 },
	} {
		if err := v.ValidateJSON(sink.KindDeadLetter, mutate(t, doc, f)); err == nil {
			t.Errorf("%s: validates", name)
		}
	}
	// An unknown extra header is allowed (headers are only ever added).
	extra := good
	extra.Headers = append(append([]kafka.Header{}, good.Headers...), kafka.Header{Key: "gcupsert.future", Value: []byte("x")})
	if err := v.Validate(sink.KindDeadLetter, extra); err != nil {
		t.Errorf("extra header: %v", err)
	}
}

func TestDeadLetterDocument(t *testing.T) {
	d := deadLetters()["binary value"]
	raw, err := sink.DeadLetterDocument(d.Message())
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Key, Value *string
		Headers    map[string]string
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Key == nil || *doc.Key != base64.StdEncoding.EncodeToString(d.Key) ||
		doc.Value == nil || *doc.Value != base64.StdEncoding.EncodeToString(d.Value) {
		t.Errorf("key/value %v %v", doc.Key, doc.Value)
	}
	if doc.Headers[sink.HeaderEventID] != "crm.accounts-0-13" || doc.Headers[sink.HeaderErrorFields] != "[]" || len(doc.Headers) != 13 {
		t.Errorf("headers %v", doc.Headers)
	}
	raw, err = sink.DeadLetterDocument(deadLetters()["tombstone without key"].Message())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(raw), `{"key":null,"value":null,"headers":{`) {
		t.Errorf("tombstone document %s", raw)
	}
}

// keysOf returns the sorted property names of a schema object.
func keysOf(t *testing.T, schema map[string]any, path ...string) []string {
	t.Helper()
	s := schema
	for _, p := range path {
		s = obj(obj(s, "properties"), p)
	}
	var out []string
	for k := range obj(s, "properties") {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedKeys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func loadSchema(t *testing.T, kind string) map[string]any {
	t.Helper()
	raw, err := sink.EventSchema(kind)
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// The schemas allow extra properties for forward compatibility, so this test
// keeps them exact: the encoders emit exactly the properties (and, for dead
// letters, the headers) the schemas declare, all of them required, but for
// the ones present only when an event had to be made to fit its topic.
var optionalWhenShrunk = map[string]bool{
	"recordOmitted": true, sink.HeaderFieldsDropped: true, sink.HeaderValueOmitted: true, sink.HeaderKeyOmitted: true,
}

func withoutOptional(keys []string) []string {
	var out []string
	for _, k := range keys {
		if !optionalWhenShrunk[k] {
			out = append(out, k)
		}
	}
	return out
}

func TestSchemasDeclareExactlyWhatEncodersEmit(t *testing.T) {
	check := func(kind string, value []byte, nested ...string) {
		t.Helper()
		s := loadSchema(t, kind)
		var m map[string]any
		if err := json.Unmarshal(value, &m); err != nil {
			t.Fatal(err)
		}
		if got, want := sortedKeys(m), withoutOptional(keysOf(t, s)); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: encoder emits %v, schema declares %v", kind, got, want)
		}
		if req := s["required"].([]any); len(req) != len(m) {
			t.Errorf("%s: %d required, %d emitted", kind, len(req), len(m))
		}
		for _, n := range nested {
			if got, want := sortedKeys(obj(m, n)), keysOf(t, s, n); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("%s.%s: encoder emits %v, schema declares %v", kind, n, got, want)
			}
		}
	}
	check(sink.KindAudit, audits()["partial"].Message().Value, "counts", "source")
	check(sink.KindSync, syncs()["updated"].Message().Value, "source")

	s := loadSchema(t, sink.KindDeadLetter)
	hs := obj(obj(s, "properties"), "headers")
	var declared, required, emitted []string
	for k := range obj(hs, "properties") {
		declared = append(declared, k)
	}
	for _, k := range hs["required"].([]any) {
		required = append(required, k.(string))
	}
	for _, h := range deadLetters()["api conflict"].Message().Headers {
		emitted = append(emitted, h.Key)
	}
	sort.Strings(declared)
	sort.Strings(required)
	sort.Strings(emitted)
	declared = withoutOptional(declared)
	if strings.Join(declared, ",") != strings.Join(emitted, ",") || strings.Join(required, ",") != strings.Join(emitted, ",") {
		t.Errorf("dead-letter headers: emitted %v, declared %v, required %v", emitted, declared, required)
	}
}

func TestEventSchemaFiles(t *testing.T) {
	if _, err := sink.EventSchema("metrics"); !errors.Is(err, sink.ErrUnknownKind) {
		t.Errorf("unknown kind: %v", err)
	}
	v := newValidator(t)
	if err := v.Validate("metrics", kafka.Message{}); !errors.Is(err, sink.ErrUnknownKind) {
		t.Errorf("unknown kind: %v", err)
	}
	want := map[string]bool{}
	for _, kind := range sink.EventKinds() {
		name, err := sink.EventSchemaFile(kind)
		if err != nil {
			t.Fatal(err)
		}
		if name != kind+".v1.json" {
			t.Errorf("%s: file %s", kind, name)
		}
		want[name] = true
		s := loadSchema(t, kind)
		if s["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
			t.Errorf("%s: $schema %v", kind, s["$schema"])
		}
		// The embedded bytes are the file in the repository.
		disk, err := os.ReadFile(filepath.Join("schemas", name))
		if err != nil {
			t.Fatal(err)
		}
		emb, _ := sink.EventSchema(kind)
		if string(disk) != string(emb) {
			t.Errorf("%s: embedded schema differs from the file", kind)
		}
	}
	// Every file in schemas/ belongs to a kind.
	err := fs.WalkDir(os.DirFS("schemas"), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !want[p] {
			t.Errorf("schemas/%s is no event kind's schema", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
