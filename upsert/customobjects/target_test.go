package customobjects

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/upsert"
	"github.com/gcupsert/gcupsert/upsert/upserttest"
)

const accountSchema = `{
  "$schema": "http://json-schema.org/draft-04/schema#",
  "type": "object",
  "additionalProperties": false,
  "required": ["customerName"],
  "properties": {
    "customerName": {"type": "string", "minLength": 1, "maxLength": 20},
    "tier": {"type": "string", "enum": ["gold", "silver"]},
    "phone": {"type": "string", "pattern": "^\\+[0-9]+$"},
    "email": {"type": "string"},
    "seats": {"type": "integer", "minimum": 0},
    "ownerId": {"type": "string"},
    "active": {"type": "boolean"}
  }
}`

func TestPrepareSchemaErrors(t *testing.T) {
	co := newTestTarget(t, nil2Client(t), func(cfg *Config) { cfg.SchemaJSON = []byte(accountSchema) })
	tests := []struct {
		name string
		data map[string]any
		want []change.FieldError // field and code only
	}{
		{"valid", map[string]any{"customerName": "Acme", "tier": "gold", "phone": "+123", "seats": 3.0, "active": true}, nil},
		{"required", map[string]any{"tier": "gold"}, []change.FieldError{{Field: "customerName", Code: "required"}}},
		{"type", map[string]any{"customerName": "A", "seats": "many"}, []change.FieldError{{Field: "seats", Code: "type"}}},
		{"integer", map[string]any{"customerName": "A", "seats": 1.5}, []change.FieldError{{Field: "seats", Code: "type"}}},
		{"maxLength", map[string]any{"customerName": strings.Repeat("x", 21)}, []change.FieldError{{Field: "customerName", Code: "maxLength"}}},
		{"minLength", map[string]any{"customerName": ""}, []change.FieldError{{Field: "customerName", Code: "minLength"}}},
		{"enum", map[string]any{"customerName": "A", "tier": "bronze"}, []change.FieldError{{Field: "tier", Code: "enum"}}},
		{"pattern", map[string]any{"customerName": "A", "phone": "555"}, []change.FieldError{{Field: "phone", Code: "pattern"}}},
		{"additional", map[string]any{"customerName": "A", "color": "red"}, []change.FieldError{{Field: "color", Code: "additionalProperties"}}},
		{"several", map[string]any{"customerName": 5, "tier": "x", "seats": -1}, []change.FieldError{
			{Field: "customerName", Code: "type"}, {Field: "seats", Code: "minimum"}, {Field: "tier", Code: "enum"}}},
		{"go types", map[string]any{"customerName": "A", "seats": int64(4)}, nil},
		{"non-JSON go type", map[string]any{"customerName": []string{"a"}}, []change.FieldError{{Field: "customerName", Code: "type"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			it, rerr := co.Prepare(change.Record{Key: "k", Op: change.OpUpsert, Data: tt.data})
			if tt.want == nil {
				if rerr != nil {
					t.Fatalf("rejected: %v %+v", rerr, rerr.Fields)
				}
				if len(it.Body) == 0 {
					t.Fatal("no body")
				}
				return
			}
			if rerr == nil {
				t.Fatal("accepted")
			}
			if rerr.Class != "validation" || rerr.Code != "schema.violation" || rerr.Status != 0 {
				t.Errorf("error %+v", rerr)
			}
			got := make([]change.FieldError, len(rerr.Fields))
			for i, f := range rerr.Fields {
				if f.Message == "" {
					t.Errorf("field error %+v has no message", f)
				}
				got[i] = change.FieldError{Field: f.Field, Code: f.Code}
			}
			sort.Slice(got, func(i, j int) bool { return got[i].Field < got[j].Field })
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("fields %v, want %v", got, tt.want)
			}
		})
	}
}

// nil2Client is a client that is never called.
func nil2Client(t *testing.T) *upsert.Client {
	c, err := upsert.NewClient(upsert.ClientConfig{BaseURL: "http://127.0.0.1:1", ClientID: "a", ClientSecret: "b"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestGenesysDataTableSchemaCompiles(t *testing.T) {
	schema := `{"$schema":"http://json-schema.org/draft-04/schema#","type":"object",
	"required":["key"],"properties":{"key":{"title":"key","type":"string","$id":"/properties/key","displayOrder":0},
	"myInt":{"title":"myInt","type":"integer","$id":"/properties/myInt","displayOrder":1,"default":0}},
	"additionalProperties":false}`
	co := newTestTarget(t, nil2Client(t), func(cfg *Config) { cfg.SchemaJSON = []byte(schema) })
	if _, rerr := co.Prepare(change.Record{Key: "k", Op: change.OpUpsert, Data: map[string]any{"key": "k", "myInt": 3}}); rerr != nil {
		t.Errorf("valid row rejected: %v", rerr)
	}
	if _, rerr := co.Prepare(change.Record{Key: "k", Op: change.OpUpsert, Data: map[string]any{"key": "k", "myInt": "x"}}); rerr == nil {
		t.Error("invalid row accepted")
	}
	if _, err := New(nil2Client(t), Config{Schema: "s", SchemaJSON: []byte(`{"type": 12}`)}); err == nil {
		t.Error("invalid schema accepted")
	}
}

func TestPrepareEncoding(t *testing.T) {
	co := newTestTarget(t, nil2Client(t), func(cfg *Config) { cfg.Conflict = change.ConflictUpdateOnly })
	data := map[string]any{"zeta": 1, "alpha": "a<b>&", "nested": map[string]any{"y": true, "x": nil}, "mid": []any{2.5, "s"}}
	it, rerr := co.Prepare(change.Record{Key: "acc/1", Op: change.OpUpsert, Data: data})
	if rerr != nil {
		t.Fatal(rerr)
	}
	want := `{"alpha":"a<b>&","conflictResolution":"updateOnly","id":"acc/1","mid":[2.5,"s"],"nested":{"x":null,"y":true},"zeta":1}`
	if string(it.Body) != want {
		t.Errorf("body\n%s\nwant\n%s", it.Body, want)
	}
	for i := 0; i < 20; i++ {
		again, _ := co.Prepare(change.Record{Key: "acc/1", Op: change.OpUpsert, Data: data})
		if !bytes.Equal(again.Body, it.Body) {
			t.Fatal("encoding not deterministic")
		}
	}
	if len(data) != 4 {
		t.Error("Prepare modified the record's data")
	}

	del, rerr := co.Prepare(change.Record{Key: "d", Op: change.OpDelete, Data: map[string]any{"customerName": 12}})
	if rerr != nil || del.Body != nil || del.Size() != 0 {
		t.Errorf("delete: %v %q", rerr, del.Body)
	}
	for _, tc := range []struct {
		rec  change.Record
		code string
	}{
		{change.Record{Key: "", Op: change.OpUpsert}, "key.missing"},
		{change.Record{Key: "k", Op: "merge"}, "op.unknown"},
		{change.Record{Key: "k", Op: change.OpUpsert, Data: map[string]any{"id": "other"}}, "field.reserved"},
		{change.Record{Key: "k", Op: change.OpUpsert, Data: map[string]any{"conflictResolution": "createOnly"}}, "field.reserved"},
		{change.Record{Key: "k", Op: change.OpUpsert, Data: map[string]any{"bad": math.NaN()}}, "record.encoding"},
	} {
		if _, rerr := co.Prepare(tc.rec); rerr == nil || rerr.Code != tc.code || rerr.Class != "validation" {
			t.Errorf("Prepare(%+v) = %v, want code %s", tc.rec, rerr, tc.code)
		}
	}
	if _, rerr := co.Prepare(change.Record{Key: "k", Op: change.OpUpsert, Data: map[string]any{"id": "k"}}); rerr != nil {
		t.Errorf("id equal to the key rejected: %v", rerr)
	}
}

func TestPrepareRecordTooLarge(t *testing.T) {
	co := newTestTarget(t, nil2Client(t), func(cfg *Config) { cfg.MaxBytes = 200 })
	fits := strings.Repeat("x", 200-14-len(`{"conflictResolution":"upsert","id":"k","v":""}`))
	if _, rerr := co.Prepare(change.Record{Key: "k", Op: change.OpUpsert, Data: map[string]any{"v": fits}}); rerr != nil {
		t.Errorf("record of exactly MaxBytes rejected: %v", rerr)
	}
	_, rerr := co.Prepare(change.Record{Key: "k", Op: change.OpUpsert, Data: map[string]any{"v": fits + "x"}})
	if rerr == nil || rerr.Code != "record.too.large" || rerr.Class != "validation" {
		t.Errorf("oversized record: %v", rerr)
	}
	for _, mb := range []int{10, MaxBytes + 1} {
		if _, err := New(nil2Client(t), Config{Schema: "s", MaxBytes: mb}); err == nil {
			t.Errorf("MaxBytes %d accepted", mb)
		}
	}
	if _, err := New(nil2Client(t), Config{Schema: "s", MaxRecords: 101}); err == nil {
		t.Error("MaxRecords 101 accepted")
	}
	if _, err := New(nil2Client(t), Config{Schema: "s", Conflict: "merge"}); err == nil {
		t.Error("unknown conflict accepted")
	}
}

func TestBodySizeExact(t *testing.T) {
	s := upserttest.NewStub(t)
	s.API = func(w http.ResponseWriter, r *http.Request, req upserttest.Request, n int) {
		if !json.Valid(req.Body) {
			t.Errorf("body is not JSON: %s", req.Body)
		}
		upserttest.OKRecords(w, req, "created")
	}
	c, _ := upserttest.NewClient(t, s.URL, nil)
	co := newTestTarget(t, c, func(cfg *Config) { cfg.MaxRecords = 7 })
	l := co.Limits()
	if l.MaxRecords != 7 || l.MaxBytes != MaxBytes || l.Overhead != len(`{"records":[]}`) || l.Separator != 1 {
		t.Fatalf("limits %+v", l)
	}
	if got := len(co.body(nil, nil)); got != l.BodySize(0, 0) {
		t.Errorf("empty body %d bytes, BodySize %d", got, l.BodySize(0, 0))
	}
	var items []change.Item
	for i := 0; i < 20; i++ {
		data := map[string]any{"name": strings.Repeat("é", i), "n": i, "q": `"quoted"`}
		it, rerr := co.Prepare(change.Record{Key: fmt.Sprintf("k%d", i), Op: change.OpUpsert, Data: data})
		if rerr != nil {
			t.Fatal(rerr)
		}
		items = append(items, it)
	}
	for n := 1; n <= len(items); n++ {
		idxs := make([]int, n)
		total := 0
		for i := range idxs {
			idxs[i] = i
			total += items[i].Size()
		}
		if got, want := len(co.body(items, idxs)), l.BodySize(n, total); got != want {
			t.Errorf("n=%d: body %d bytes, BodySize %d", n, got, want)
		}
	}
	// And the bodies actually sent, chunked by MaxRecords.
	if _, err := co.Upsert(context.Background(), items); err != nil {
		t.Fatal(err)
	}
	reqs := s.Requests()
	want := []int{7, 7, 6}
	if len(reqs) != 3 {
		t.Fatalf("requests %d, want 3", len(reqs))
	}
	// The requests of a phase go in parallel: match each by its first key.
	byFirst := map[string]int{}
	for r, req := range reqs {
		byFirst[req.Keys[0]] = r
	}
	off := 0
	for _, n := range want {
		total := 0
		for _, it := range items[off : off+n] {
			total += it.Size()
		}
		r, ok := byFirst[items[off].Record.Key]
		if !ok || len(reqs[r].Keys) != n || len(reqs[r].Body) != l.BodySize(n, total) {
			t.Errorf("request from %s: %d records, %d bytes; want %d records, %d bytes", items[off].Record.Key, len(reqs[r].Keys), len(reqs[r].Body), n, l.BodySize(n, total))
		}
		off += n
	}
}

func TestChunkingByBytes(t *testing.T) {
	s := upserttest.NewStub(t)
	c, _ := upserttest.NewClient(t, s.URL, nil)
	co := newTestTarget(t, c, func(cfg *Config) { cfg.MaxBytes = 300 })
	items := prepareAll(t, co, upserttest.Keys("k", 10)...)
	if _, err := co.Upsert(context.Background(), items); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, r := range s.Requests() {
		if len(r.Body) > 300 {
			t.Errorf("body of %d bytes over MaxBytes", len(r.Body))
		}
		seen += len(r.Keys)
	}
	if seen != 10 || len(s.Requests()) < 2 {
		t.Errorf("%d records in %d requests", seen, len(s.Requests()))
	}
}

func TestResultsAndWritten(t *testing.T) {
	s := upserttest.NewStub(t)
	s.API = func(w http.ResponseWriter, r *http.Request, req upserttest.Request, n int) {
		// Results out of order, one updated, numbers preserved.
		fmt.Fprintf(w, `{"results":[{"id":"k2","status":"updated","record":{"id":"k2","name":"two","big":12345678901234567}},
			{"id":"k1","status":"created","record":{"id":"k1","name":"one"}}]}`)
	}
	c, _ := upserttest.NewClient(t, s.URL, nil)
	co := newTestTarget(t, c, nil)
	res, err := co.Upsert(context.Background(), prepareAll(t, co, "k1", "k2"))
	if err != nil {
		t.Fatal(err)
	}
	o1, o2 := res.Outcomes[0], res.Outcomes[1]
	if o1.Status != change.StatusCreated || o1.Record()["name"] != "one" || o2.Status != change.StatusUpdated || o2.Record()["id"] != "k2" {
		t.Errorf("outcomes %+v %+v", o1, o2)
	}
	if got := fmt.Sprint(o2.Record()["big"]); got != "12345678901234567" {
		t.Errorf("big number written as %s", got)
	}
	if res.Attempts != 1 || o1.Attempts != 1 || len(res.CorrelationIDs) != 1 || res.CorrelationIDs[0] != "corr-1" {
		t.Errorf("attempts %d/%d correlation %v", res.Attempts, o1.Attempts, res.CorrelationIDs)
	}
}

func TestBadRequestNamesRecords(t *testing.T) {
	s := upserttest.NewStub(t)
	bad := map[string]bool{"k-001": true, "k-003": true}
	s.API = func(w http.ResponseWriter, r *http.Request, req upserttest.Request, n int) {
		var errs []upsert.ErrorBody
		for _, k := range req.Keys {
			if bad[k] {
				errs = append(errs, upsert.ErrorBody{Code: "bad.request", Status: 400, EntityID: k, Message: "invalid field",
					Details: []upsert.ErrorDetail{{ErrorCode: "type", FieldName: "seats", EntityID: k}}})
			}
		}
		if len(errs) > 0 {
			upserttest.WriteError(w, http.StatusBadRequest, upsert.ErrorBody{Code: "bad.request", Status: 400, Message: "records invalid", Errors: errs})
			return
		}
		upserttest.OKRecords(w, req, "created")
	}
	c, _ := upserttest.NewClient(t, s.URL, nil)
	co := newTestTarget(t, c, nil)
	keys := upserttest.Keys("k", 5)
	res, err := co.Upsert(context.Background(), prepareAll(t, co, keys...))
	if err != nil {
		t.Fatal(err)
	}
	reqs := s.Requests()
	if len(reqs) != 2 || len(reqs[1].Keys) != 3 || slices.Contains(reqs[1].Keys, "k-001") || slices.Contains(reqs[1].Keys, "k-003") {
		t.Fatalf("requests %+v", reqs)
	}
	for i, o := range res.Outcomes {
		if bad[keys[i]] {
			if o.Status != change.StatusRejected || o.Err.Class != "validation" || o.Err.Code != "bad.request" || o.Err.Status != 400 ||
				len(o.Err.Fields) != 1 || o.Err.Fields[0].Field != "seats" || o.Err.Fields[0].Code != "type" || o.Err.CorrelationID != "corr-1" {
				t.Errorf("%s: %+v err %+v", keys[i], o, o.Err)
			}
			if o.Attempts != 1 {
				t.Errorf("%s attempts %d, want 1", keys[i], o.Attempts)
			}
			continue
		}
		if o.Status != change.StatusCreated || o.Attempts != 2 {
			t.Errorf("%s: %+v", keys[i], o)
		}
	}
	if res.Attempts != 2 || len(res.CorrelationIDs) != 2 {
		t.Errorf("attempts %d correlation ids %v", res.Attempts, res.CorrelationIDs)
	}
}

func TestConflictNamesRecord(t *testing.T) {
	s := upserttest.NewStub(t)
	s.API = func(w http.ResponseWriter, r *http.Request, req upserttest.Request, n int) {
		if slices.Contains(req.Keys, "k-002") {
			upserttest.WriteError(w, http.StatusConflict, upsert.ErrorBody{Code: "conflict", Status: 409, Errors: []upsert.ErrorBody{
				{Code: "record.exists", EntityID: "k-002", Message: "record exists"}}})
			return
		}
		upserttest.OKRecords(w, req, "created")
	}
	c, _ := upserttest.NewClient(t, s.URL, nil)
	co := newTestTarget(t, c, func(cfg *Config) { cfg.Conflict = change.ConflictCreateOnly })
	res, err := co.Upsert(context.Background(), prepareAll(t, co, upserttest.Keys("k", 4)...))
	if err != nil {
		t.Fatal(err)
	}
	if o := res.Outcomes[2]; o.Status != change.StatusRejected || o.Err.Class != "conflict" || o.Err.Code != "record.exists" || o.Err.Status != 409 {
		t.Errorf("outcome %+v %+v", o, o.Err)
	}
	for _, i := range []int{0, 1, 3} {
		if res.Outcomes[i].Status != change.StatusCreated {
			t.Errorf("outcome %d %+v", i, res.Outcomes[i])
		}
	}
}

func TestBisectionIsolatesUnnamedOffender(t *testing.T) {
	s := upserttest.NewStub(t)
	const badKey = "k-057"
	s.API = func(w http.ResponseWriter, r *http.Request, req upserttest.Request, n int) {
		if slices.Contains(req.Keys, badKey) {
			upserttest.WriteError(w, http.StatusBadRequest, upsert.ErrorBody{Code: "bad.request", Status: 400, Message: "invalid record",
				Details: []upsert.ErrorDetail{{ErrorCode: "maxLength", FieldName: "name"}}})
			return
		}
		upserttest.OKRecords(w, req, "created")
	}
	c, _ := upserttest.NewClient(t, s.URL, nil)
	co := newTestTarget(t, c, nil)
	keys := upserttest.Keys("k", 100)
	res, err := co.Upsert(context.Background(), prepareAll(t, co, keys...))
	if err != nil {
		t.Fatal(err)
	}
	limit := 2*int(math.Ceil(math.Log2(100))) + 1
	if n := len(s.Requests()); n > limit || n < 7 {
		t.Errorf("%d requests, want about 2*log2(100) (at most %d)", n, limit)
	}
	rejected := 0
	for i, o := range res.Outcomes {
		if o.Status == change.StatusRejected {
			rejected++
			if keys[i] != badKey || o.Err.Code != "bad.request" || len(o.Err.Fields) != 1 || o.Err.Fields[0].Field != "name" {
				t.Errorf("%s rejected: %+v", keys[i], o.Err)
			}
		} else if o.Status != change.StatusCreated {
			t.Errorf("%s: %v", keys[i], o.Status)
		}
	}
	if rejected != 1 {
		t.Errorf("%d rejected, want 1", rejected)
	}
	if res.Attempts != len(s.Requests()) {
		t.Errorf("attempts %d, requests %d", res.Attempts, len(s.Requests()))
	}
	// Every request carrying the bad record counts as one of its attempts.
	var badAttempts int
	for _, r := range s.Requests() {
		if slices.Contains(r.Keys, badKey) {
			badAttempts++
		}
	}
	if res.Outcomes[57].Attempts != badAttempts {
		t.Errorf("bad record attempts %d, want %d", res.Outcomes[57].Attempts, badAttempts)
	}
}

func TestTooLargeSplits(t *testing.T) {
	s := upserttest.NewStub(t)
	s.API = func(w http.ResponseWriter, r *http.Request, req upserttest.Request, n int) {
		if len(req.Keys) > 30 || slices.Contains(req.Keys, "k-013") {
			upserttest.WriteError(w, http.StatusRequestEntityTooLarge, upsert.ErrorBody{Code: "request.entity.too.large", Status: 413})
			return
		}
		upserttest.OKRecords(w, req, "created")
	}
	c, _ := upserttest.NewClient(t, s.URL, nil)
	co := newTestTarget(t, c, nil)
	keys := upserttest.Keys("k", 100)
	res, err := co.Upsert(context.Background(), prepareAll(t, co, keys...))
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range res.Outcomes {
		if keys[i] == "k-013" {
			if o.Status != change.StatusRejected || o.Err.Code != "request.entity.too.large" || o.Err.Status != 413 {
				t.Errorf("k-013: %+v", o.Err)
			}
			continue
		}
		if o.Status != change.StatusCreated {
			t.Errorf("%s: %v %v", keys[i], o.Status, o.Err)
		}
	}
	for _, r := range s.Requests() {
		if len(r.Keys) > 50 && r.Keys[0] != "k-000" {
			t.Errorf("request of %d records was not a split", len(r.Keys))
		}
	}
}

func TestForbiddenRejectsBatch(t *testing.T) {
	for _, status := range []int{http.StatusForbidden, http.StatusNotFound} {
		s := upserttest.NewStub(t)
		s.API = func(w http.ResponseWriter, r *http.Request, req upserttest.Request, n int) {
			upserttest.WriteError(w, status, upsert.ErrorBody{Code: "some.code", Status: status, Message: "denied"})
		}
		c, _ := upserttest.NewClient(t, s.URL, nil)
		co := newTestTarget(t, c, nil)
		res, err := co.Upsert(context.Background(), prepareAll(t, co, upserttest.Keys("k", 5)...))
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Requests()) != 1 {
			t.Errorf("%d: %d requests, want 1", status, len(s.Requests()))
		}
		for _, o := range res.Outcomes {
			if o.Status != change.StatusRejected || o.Err.Class != "api" || o.Err.Status != status || o.Err.Code != "some.code" || o.Attempts != 1 {
				t.Errorf("%d: %+v %+v", status, o, o.Err)
			}
		}
	}
}

func TestDeletes(t *testing.T) {
	s := upserttest.NewStub(t)
	s.API = func(w http.ResponseWriter, r *http.Request, req upserttest.Request, n int) {
		switch req.Path {
		case "/api/v2/customobjects/accounts/records/a%2Fb%20c":
			w.WriteHeader(http.StatusNoContent)
		case "/api/v2/customobjects/accounts/records/gone":
			upserttest.WriteError(w, http.StatusNotFound, upsert.ErrorBody{Code: "not.found", Status: 404})
		case "/api/v2/customobjects/accounts/records/locked":
			upserttest.WriteError(w, http.StatusForbidden, upsert.ErrorBody{Code: "missing.permissions", Status: 403})
		default:
			t.Errorf("unexpected %s %s", req.Method, req.Path)
			w.WriteHeader(http.StatusTeapot)
		}
	}
	c, _ := upserttest.NewClient(t, s.URL, nil)
	co := newTestTarget(t, c, nil)
	var items []change.Item
	for _, k := range []string{"a/b c", "gone", "locked"} {
		it, rerr := co.Prepare(change.Record{Key: k, Op: change.OpDelete})
		if rerr != nil {
			t.Fatal(rerr)
		}
		items = append(items, it)
	}
	res, err := co.Upsert(context.Background(), items)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcomes[0].Status != change.StatusDeleted || res.Outcomes[1].Status != change.StatusDeleted || res.Outcomes[2].Status != change.StatusRejected {
		t.Errorf("outcomes %+v", res.Outcomes)
	}
	if e := res.Outcomes[2].Err; e == nil || e.Class != "api" || e.Status != 403 {
		t.Errorf("locked: %+v", e)
	}
	for _, r := range s.Requests() {
		if r.Method != http.MethodDelete {
			t.Errorf("method %s", r.Method)
		}
	}
}

func TestPerKeyOrderAcrossPhases(t *testing.T) {
	s := upserttest.NewStub(t)
	s.API = func(w http.ResponseWriter, r *http.Request, req upserttest.Request, n int) {
		if r.Method == http.MethodDelete {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		upserttest.OKRecords(w, req, "created")
	}
	c, _ := upserttest.NewClient(t, s.URL, nil)
	co := newTestTarget(t, c, nil)
	items := prepareAll(t, co, "k1")
	items = append(items, change.Item{Record: change.Record{Key: "k1", Op: change.OpDelete}})
	items = append(items, prepareAll(t, co, "k1", "k2")...)
	res, err := co.Upsert(context.Background(), items)
	if err != nil {
		t.Fatal(err)
	}
	var seq []string
	for _, r := range s.Requests() {
		seq = append(seq, r.Method+":"+strings.Join(r.Keys, ","))
	}
	want := "POST:k1 DELETE: POST:k1,k2"
	if got := strings.Join(seq, " "); got != want {
		t.Errorf("requests %q, want %q", got, want)
	}
	if res.Outcomes[1].Status != change.StatusDeleted || res.Outcomes[2].Status != change.StatusCreated {
		t.Errorf("outcomes %+v", res.Outcomes)
	}
}

func TestUniqueFieldsEachOnItsOwn(t *testing.T) {
	s := upserttest.NewStub(t)
	c, _ := upserttest.NewClient(t, s.URL, nil)
	co := newTestTarget(t, c, func(cfg *Config) { cfg.UniqueFields = []string{"email", "phone"} })
	recs := []change.Record{
		{Key: "k1", Op: change.OpUpsert, Data: map[string]any{"email": "a@x", "phone": "1"}},
		{Key: "k2", Op: change.OpUpsert, Data: map[string]any{"email": "a@x", "phone": "2"}}, // email taken
		{Key: "k3", Op: change.OpUpsert, Data: map[string]any{"email": "b@x", "phone": "1"}}, // phone taken
		{Key: "k4", Op: change.OpUpsert, Data: map[string]any{"email": "c@x", "phone": "2"}}, // k2 was rejected, so phone 2 is free
		{Key: "k5", Op: change.OpUpsert, Data: map[string]any{"email": "a@x", "phone": "1"}}, // both taken
		{Key: "k6", Op: change.OpUpsert, Data: map[string]any{"phone": 7.0}},
		{Key: "k7", Op: change.OpUpsert, Data: map[string]any{"phone": "7"}}, // a string, not the number 7
		{Key: "k8", Op: change.OpUpsert, Data: map[string]any{}},
		{Key: "k9", Op: change.OpUpsert, Data: map[string]any{"email": nil}},
	}
	var items []change.Item
	for _, r := range recs {
		it, rerr := co.Prepare(r)
		if rerr != nil {
			t.Fatal(rerr)
		}
		items = append(items, it)
	}
	res, err := co.Upsert(context.Background(), items)
	if err != nil {
		t.Fatal(err)
	}
	wantFields := map[string][]string{"k2": {"email"}, "k3": {"phone"}, "k5": {"email", "phone"}}
	for i, o := range res.Outcomes {
		k := recs[i].Key
		fields, bad := wantFields[k]
		if !bad {
			if o.Status != change.StatusCreated {
				t.Errorf("%s: %v %v", k, o.Status, o.Err)
			}
			continue
		}
		if o.Status != change.StatusRejected || o.Err.Class != "unique" || o.Err.Code != "unique.violation" || o.Attempts != 0 {
			t.Errorf("%s: %+v %+v", k, o, o.Err)
			continue
		}
		var got []string
		for _, f := range o.Err.Fields {
			got = append(got, f.Field)
		}
		if strings.Join(got, ",") != strings.Join(fields, ",") || !strings.Contains(o.Err.Message, fields[0]) {
			t.Errorf("%s: fields %v message %q, want %v", k, got, o.Err.Message, fields)
		}
	}
	if reqs := s.Requests(); len(reqs) != 1 || strings.Join(reqs[0].Keys, ",") != "k1,k4,k6,k7,k8,k9" {
		t.Errorf("sent %+v", reqs)
	}
}

func TestReferenceFields(t *testing.T) {
	s := upserttest.NewStub(t)
	c, _ := upserttest.NewClient(t, s.URL, nil)
	co := newTestTarget(t, c, func(cfg *Config) { cfg.ReferenceFields = []string{"ownerId", "regionId"} })
	tests := []struct {
		data    map[string]any
		missing []string
	}{
		{map[string]any{"ownerId": "o1", "regionId": 5}, nil},
		{map[string]any{"ownerId": "o1"}, []string{"regionId"}},
		{map[string]any{"ownerId": "  ", "regionId": nil}, []string{"ownerId", "regionId"}},
		{nil, []string{"ownerId", "regionId"}},
	}
	for i, tt := range tests {
		_, rerr := co.Prepare(change.Record{Key: "k", Op: change.OpUpsert, Data: tt.data})
		if tt.missing == nil {
			if rerr != nil {
				t.Errorf("%d: %v", i, rerr)
			}
			continue
		}
		if rerr == nil || rerr.Class != "reference" || rerr.Code != "reference.missing" || len(rerr.Fields) != len(tt.missing) {
			t.Errorf("%d: %+v", i, rerr)
			continue
		}
		for j, f := range rerr.Fields {
			if f.Field != tt.missing[j] {
				t.Errorf("%d: field %s, want %s", i, f.Field, tt.missing[j])
			}
		}
	}
	// Deletes need no references; items built without Prepare are checked in Upsert.
	if _, rerr := co.Prepare(change.Record{Key: "k", Op: change.OpDelete}); rerr != nil {
		t.Errorf("delete: %v", rerr)
	}
	res, err := co.Upsert(context.Background(), []change.Item{{Record: change.Record{Key: "raw", Op: change.OpUpsert, Data: map[string]any{"ownerId": "o"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if o := res.Outcomes[0]; o.Status != change.StatusRejected || o.Err.Class != "reference" {
		t.Errorf("unprepared item: %+v", o)
	}
	if len(s.Requests()) != 0 {
		t.Errorf("%d requests, want 0", len(s.Requests()))
	}
}

func TestUpsertDoesNotModifyInput(t *testing.T) {
	s := upserttest.NewStub(t)
	c, _ := upserttest.NewClient(t, s.URL, nil)
	co := newTestTarget(t, c, nil)
	items := []change.Item{{Record: change.Record{Key: "raw", Op: change.OpUpsert, Data: map[string]any{"a": 1}}}}
	res, err := co.Upsert(context.Background(), items)
	if err != nil || res.Outcomes[0].Status != change.StatusCreated {
		t.Fatalf("%v %+v", err, res)
	}
	if items[0].Body != nil {
		t.Error("Upsert changed the caller's items")
	}
}

// BenchmarkPrepare measures preparing one valid record as the decoder
// gives it (numbers as json.Number).
func BenchmarkPrepare(b *testing.B) {
	co := benchTarget(b)
	rec := change.Record{Key: "acc-001", Op: change.OpUpsert, Data: benchData()}
	b.ReportAllocs()
	for b.Loop() {
		if _, rerr := co.Prepare(rec); rerr != nil {
			b.Fatal(rerr)
		}
	}
}

func BenchmarkPrepareInvalid(b *testing.B) {
	c, err := upsert.NewClient(upsert.ClientConfig{BaseURL: "http://127.0.0.1:1", ClientID: "a", ClientSecret: "b"})
	if err != nil {
		b.Fatal(err)
	}
	co, err := New(c, Config{Schema: "accounts", SchemaJSON: []byte(accountSchema)})
	if err != nil {
		b.Fatal(err)
	}
	rec := change.Record{Key: "acc-001", Op: change.OpUpsert, Data: map[string]any{"customerName": 7, "tier": "bronze", "seats": -1.0}}
	b.ReportAllocs()
	for b.Loop() {
		if _, rerr := co.Prepare(rec); rerr == nil {
			b.Fatal("accepted")
		}
	}
}

func TestSchemaExternalRefRefused(t *testing.T) {
	_, err := New(nil2Client(t), Config{Schema: "s",
		SchemaJSON: []byte(`{"type":"object","properties":{"a":{"$ref":"file:///etc/passwd"}}}`)})
	if err == nil {
		t.Error("schema with an external reference accepted")
	}
}

func newTestTarget(t testing.TB, c *upsert.Client, mod func(*Config)) *Target {
	t.Helper()
	cfg := Config{Schema: "accounts"}
	if mod != nil {
		mod(&cfg)
	}
	co, err := New(c, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return co
}

// prepareAll prepares upserts of keys with a name field.
func prepareAll(t testing.TB, co *Target, keys ...string) []change.Item {
	t.Helper()
	items := make([]change.Item, 0, len(keys))
	for _, k := range keys {
		it, rerr := co.Prepare(change.Record{Key: k, Op: change.OpUpsert, Data: map[string]any{"name": "name of " + k}})
		if rerr != nil {
			t.Fatalf("Prepare(%s): %v", k, rerr)
		}
		items = append(items, it)
	}
	return items
}

// A write answered with a redirect is not followed: the record is
// rejected, never reported written or deleted at another address.
func TestRedirectedWritesAreRejected(t *testing.T) {
	s := upserttest.NewStub(t)
	s.API = func(w http.ResponseWriter, r *http.Request, req upserttest.Request, n int) {
		if r.Method == http.MethodGet {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		http.Redirect(w, r, "/api/v2/customobjects/accounts/records", http.StatusTemporaryRedirect)
	}
	c, _ := upserttest.NewClient(t, s.URL, nil)
	co := newTestTarget(t, c, nil)
	items := append(prepareAll(t, co, "k1"), change.Item{Record: change.Record{Key: "k2", Op: change.OpDelete}})
	res, err := co.Upsert(context.Background(), items)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range res.Outcomes {
		if o.Status != change.StatusRejected || o.Err.Code != "redirect" || o.Err.Status != http.StatusTemporaryRedirect {
			t.Errorf("item %d: %v %+v, want rejected with code redirect", i, o.Status, o.Err)
		}
	}
	if n := len(s.Requests()); n != 2 {
		t.Errorf("%d requests, want 2: the redirects were followed", n)
	}
}
