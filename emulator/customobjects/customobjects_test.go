package customobjects

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gcupsert/gcupsert/emulator/core"
	"github.com/gcupsert/gcupsert/emulator/internal/emutest"
)

type upsertResponse struct {
	Results []struct {
		ID     string         `json:"id"`
		Status string         `json:"status"`
		Record map[string]any `json:"record"`
	} `json:"results"`
}

func TestUpsertCreatesAndUpdates(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.Token()
	w := e.Post(tok, batch(
		`{"id":"a","conflictResolution":"createOnly","name":"Acme","age":42,"vip":true}`,
		`{"id":"b","conflictResolution":"upsert","name":"Beta"}`,
		`{"id":"a","conflictResolution":"updateOnly","name":"Acme 2","age":12345678901234567}`,
	))
	emutest.WantStatus(t, w, 200)
	if w.Header().Get("ININ-Correlation-Id") == "" || w.Header().Get("inin-ratelimit-count") != "1" {
		t.Errorf("headers %v", w.Header())
	}
	var resp upsertResponse
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range resp.Results {
		got = append(got, r.ID+":"+r.Status)
		if r.Record["id"] != r.ID || r.Record["conflictResolution"] != nil {
			t.Errorf("result record %v", r.Record)
		}
	}
	if want := []string{"a:created", "b:created", "a:updated"}; !slices.Equal(got, want) {
		t.Errorf("results %v, want %v", got, want)
	}
	// Numbers keep their exact text in responses.
	if !strings.Contains(w.Body.String(), `"age":12345678901234567`) {
		t.Errorf("large integer not preserved: %s", w.Body)
	}

	w = e.Post(tok, batch(`{"id":"b","conflictResolution":"upsert","name":"Beta 2","vip":false}`))
	emutest.WantStatus(t, w, 200)
	resp = upsertResponse{}
	_ = json.Unmarshal(w.Body.Bytes(), &resp)
	if len(resp.Results) != 1 || resp.Results[0].Status != "updated" {
		t.Errorf("results %+v", resp.Results)
	}

	recs := e.f.Records(testSchema)
	want := map[string]map[string]any{
		"a": {"id": "a", "name": "Acme 2", "age": float64(12345678901234567)},
		"b": {"id": "b", "name": "Beta 2", "vip": false},
	}
	if !reflect.DeepEqual(recs, want) {
		t.Errorf("records %v, want %v", recs, want)
	}
	// Records returns a copy.
	recs["a"]["name"] = "changed"
	delete(recs, "b")
	if again := e.f.Records(testSchema); again["a"]["name"] != "Acme 2" || again["b"] == nil {
		t.Errorf("Records shares state: %v", again)
	}
	if e.f.Records("nope") != nil {
		t.Error("Records of an unknown schema is not nil")
	}
}

func TestTooLarge(t *testing.T) {
	many := make([]string, 101)
	for i := range many {
		many[i] = rec(fmt.Sprint(i), "upsert")
	}
	pad := strings.Repeat("x", 2<<20)
	tests := []struct {
		name  string
		body  string
		limit string
	}{
		{"101 records", batch(many...), "max.records"},
		{"over 2 MiB", batch(`{"id":"a","conflictResolution":"upsert","name":"` + pad + `"}`), "max.body.bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			w := e.Post(e.Token(), tt.body)
			emutest.WantStatus(t, w, 413)
			eb := emutest.ErrBody(t, w)
			if eb.Code != "request.entity.too.large" || eb.Limit == nil || eb.Limit.Key != tt.limit {
				t.Errorf("body %s", w.Body)
			}
			if len(e.f.Records(testSchema)) != 0 {
				t.Error("records stored")
			}
		})
	}
	t.Run("100 records and exactly 2 MiB are accepted", func(t *testing.T) {
		e := newEnv(t, nil)
		emutest.WantStatus(t, e.Post(e.Token(), batch(many[:100]...)), 200)
		small := batch(`{"id":"z","conflictResolution":"upsert","name":"z","pad":""}`)
		body := strings.Replace(small, `"pad":""`, `"pad":"`+strings.Repeat(" ", 2<<20-len(small))+`"`, 1)
		if len(body) != 2<<20 {
			t.Fatalf("body is %d bytes", len(body))
		}
		// Exactly at the limit the body is read; the schema then rejects "pad".
		emutest.WantStatus(t, e.Post(e.Token(), body), 400)
	})
	t.Run("configured limits", func(t *testing.T) {
		e := newEnv(t, func(cc *core.Config, c *Config) { c.MaxRecords = 2; cc.MaxBodyBytes = 200 })
		tok := e.Token()
		emutest.WantStatus(t, e.Post(tok, batch(rec("a", "upsert"), rec("b", "upsert"))), 200)
		emutest.WantStatus(t, e.Post(tok, batch(rec("a", "upsert"), rec("b", "upsert"), rec("c", "upsert"))), 413)
		emutest.WantStatus(t, e.Post(tok, batch(`{"id":"a","conflictResolution":"upsert","name":"`+strings.Repeat("y", 200)+`"}`)), 413)
	})
}

func TestMalformedBatch(t *testing.T) {
	tests := []struct{ name, body string }{
		{"not json", `{"records":[`},
		{"array", `[{"id":"a"}]`},
		{"null", `null`},
		{"no records", `{"items":[]}`},
		{"records not array", `{"records":{"id":"a"}}`},
		{"records null", `{"records":null}`},
		{"empty records", `{"records":[]}`},
		{"trailing data", batch(rec("a", "upsert")) + `{}`},
		{"empty body", ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			w := e.Post(e.Token(), tt.body)
			emutest.WantStatus(t, w, 400)
			if eb := emutest.ErrBody(t, w); eb.Code != "bad.request" || len(eb.Errors) != 0 {
				t.Errorf("body %s", w.Body)
			}
		})
	}
}

// detailSet renders details as "field/code" strings.
func detailSet(t *testing.T, eb core.ErrorBody) []string {
	t.Helper()
	var out []string
	for _, d := range eb.Details {
		if d.EntityID != eb.EntityID {
			t.Errorf("detail entityId %q, record %q", d.EntityID, eb.EntityID)
		}
		out = append(out, d.FieldName+"/"+d.ErrorCode)
	}
	slices.Sort(out)
	return out
}

func TestValidationErrors(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.Token()
	w := e.Post(tok, batch(
		rec("ok-1", "upsert"),
		`{"id":"bad-type","conflictResolution":"upsert","name":"x","age":"old"}`,
		`{"id":"bad-fields","conflictResolution":"upsert","extra":1}`,
		`{"conflictResolution":"upsert","name":"no id"}`,
		`{"id":"bad-cr","conflictResolution":"merge","name":"x"}`,
		`{"id":"no-cr","name":"x"}`,
		`{"id":7,"conflictResolution":"upsert","name":"x"}`,
		`"just a string"`,
		`{"id":"too-long","conflictResolution":"upsert","name":"`+strings.Repeat("n", 21)+`"}`,
		rec("ok-2", "createOnly"),
	))
	emutest.WantStatus(t, w, 400)
	eb := emutest.ErrBody(t, w)
	if eb.Code != "bad.request" {
		t.Errorf("code %q", eb.Code)
	}
	type want struct {
		entity  string
		details []string
	}
	wants := []want{
		{"bad-type", []string{"age/schema.type"}},
		{"bad-fields", []string{"extra/schema.additionalProperties", "name/schema.required"}},
		{"", []string{"id/missing.id"}},
		{"bad-cr", []string{"conflictResolution/invalid.conflictResolution"}},
		{"no-cr", []string{"conflictResolution/missing.conflictResolution"}},
		{"", []string{"id/invalid.id"}},
		{"", []string{"/not.object"}},
		{"too-long", []string{"name/schema.maxLength"}},
	}
	if len(eb.Errors) != len(wants) {
		t.Fatalf("%d record errors, want %d: %s", len(eb.Errors), len(wants), w.Body)
	}
	for i, wt := range wants {
		re := eb.Errors[i]
		if re.EntityID != wt.entity || re.Code != "invalid.record" || re.Status != 400 || re.ContextID != eb.ContextID {
			t.Errorf("error %d: %+v, want entity %q", i, re, wt.entity)
		}
		if got := detailSet(t, re); !slices.Equal(got, wt.details) {
			t.Errorf("error %d details %v, want %v", i, got, wt.details)
		}
		if re.Message == "" {
			t.Errorf("error %d has no message", i)
		}
	}
	if n := len(e.f.Records(testSchema)); n != 0 {
		t.Errorf("%d records stored from a rejected batch", n)
	}
}

func TestConflicts(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.Token()
	emutest.WantStatus(t, e.Post(tok, batch(rec("exists", "upsert"))), 200)
	before := e.f.Records(testSchema)

	w := e.Post(tok, batch(
		rec("new-1", "upsert"),
		rec("exists", "createOnly"),
		rec("missing", "updateOnly"),
		rec("exists", "updateOnly"),
	))
	emutest.WantStatus(t, w, 409)
	eb := emutest.ErrBody(t, w)
	if eb.Code != "conflict" || len(eb.Errors) != 2 {
		t.Fatalf("body %s", w.Body)
	}
	if got := eb.Errors[0]; got.EntityID != "exists" || got.Code != "record.exists" || got.Status != 409 ||
		!slices.Equal(detailSet(t, got), []string{"id/record.exists"}) {
		t.Errorf("first error %+v", got)
	}
	if got := eb.Errors[1]; got.EntityID != "missing" || got.Code != "record.not.found" ||
		!slices.Equal(detailSet(t, got), []string{"id/record.not.found"}) {
		t.Errorf("second error %+v", got)
	}
	if after := e.f.Records(testSchema); !reflect.DeepEqual(after, before) {
		t.Errorf("atomicity broken: %v", after)
	}
	// A schema violation wins over conflicts.
	w = e.Post(tok, batch(rec("exists", "createOnly"), `{"id":"x","conflictResolution":"upsert"}`))
	emutest.WantStatus(t, w, 400)
	if eb := emutest.ErrBody(t, w); len(eb.Errors) != 1 || eb.Errors[0].EntityID != "x" {
		t.Errorf("body %s", w.Body)
	}
}

func TestOmitEntityIDs(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.Token()
	emutest.WantStatus(t, e.Post(tok, batch(rec("exists", "upsert"))), 200)
	e.Srv.OmitEntityIDs(true)
	for _, tc := range []struct {
		body   string
		status int
	}{
		{batch(rec("a", "upsert"), `{"id":"bad","conflictResolution":"upsert","age":"x"}`), 400},
		{batch(rec("a", "upsert"), rec("exists", "createOnly")), 409},
	} {
		w := e.Post(tok, tc.body)
		emutest.WantStatus(t, w, tc.status)
		eb := emutest.ErrBody(t, w)
		if len(eb.Errors) != 0 || len(eb.Details) != 0 || eb.EntityID != "" ||
			strings.Contains(w.Body.String(), "entityId") || strings.Contains(w.Body.String(), `"bad"`) {
			t.Errorf("body names records: %s", w.Body)
		}
	}
	e.Srv.OmitEntityIDs(false)
	w := e.Post(tok, batch(rec("exists", "createOnly")))
	if eb := emutest.ErrBody(t, w); len(eb.Errors) != 1 {
		t.Errorf("entity ids still omitted: %s", w.Body)
	}
}

func TestDelete(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.Token()
	emutest.WantStatus(t, e.Post(tok, batch(rec("a", "upsert"), rec("b/c", "upsert"))), 200)

	w := e.API(http.MethodDelete, "/api/v2/customobjects/accounts/records/a", tok, "")
	emutest.WantStatus(t, w, 204)
	if w.Body.Len() != 0 || w.Header().Get("ININ-Correlation-Id") == "" {
		t.Errorf("204 body %q headers %v", w.Body, w.Header())
	}
	w = e.API(http.MethodDelete, "/api/v2/customobjects/accounts/records/b%2Fc", tok, "")
	emutest.WantStatus(t, w, 204)
	if n := len(e.f.Records(testSchema)); n != 0 {
		t.Errorf("%d records left", n)
	}

	w = e.API(http.MethodDelete, "/api/v2/customobjects/accounts/records/a", tok, "")
	emutest.WantStatus(t, w, 404)
	if eb := emutest.ErrBody(t, w); eb.Code != "not.found" || eb.EntityID != "a" {
		t.Errorf("body %s", w.Body)
	}
	w = e.API(http.MethodDelete, "/api/v2/customobjects/nope/records/a", tok, "")
	emutest.WantStatus(t, w, 404)
	if eb := emutest.ErrBody(t, w); eb.Code != "not.found" {
		t.Errorf("body %s", w.Body)
	}
}

func TestRouting(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.Token()
	tests := []struct {
		name, method, path string
		status             int
		code               string
	}{
		{"unknown schema", http.MethodPost, "/api/v2/customobjects/nope/records", 404, "not.found"},
		{"unknown api path", http.MethodGet, "/api/v2/users/me", 404, "not.found"},
		{"wrong method", http.MethodGet, "/api/v2/customobjects/accounts/records", 405, "method.not.allowed"},
		{"outside the api", http.MethodGet, "/", 404, "not.found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := e.API(tt.method, tt.path, tok, batch(rec("a", "upsert")))
			emutest.WantStatus(t, w, tt.status)
			if eb := emutest.ErrBody(t, w); eb.Code != tt.code {
				t.Errorf("code %q, want %q", eb.Code, tt.code)
			}
		})
	}
}

func TestAddSchema(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.Token()
	emutest.WantStatus(t, e.Post(tok, batch(rec("a", "upsert"))), 200)
	// Replacing a schema keeps its records and applies the new rules.
	if err := e.f.AddSchema(testSchema, []byte(`{"type":"object","required":["name","age"]}`)); err != nil {
		t.Fatal(err)
	}
	if e.f.Records(testSchema)["a"] == nil {
		t.Error("records dropped on schema replacement")
	}
	emutest.WantStatus(t, e.Post(tok, batch(rec("b", "upsert"))), 400)
	emutest.WantStatus(t, e.Post(tok, batch(`{"id":"b","conflictResolution":"upsert","name":"b","age":1,"free":true}`)), 200)

	if err := e.f.AddSchema("other", []byte(`{"type":"object"}`)); err != nil {
		t.Fatal(err)
	}
	w := e.API(http.MethodPost, "/api/v2/customobjects/other/records", tok, batch(`{"id":"1","conflictResolution":"upsert"}`))
	emutest.WantStatus(t, w, 200)
	if got := e.f.Schemas(); !slices.Contains(got, "other") || len(got) != 2 {
		t.Errorf("Schemas() = %v", got)
	}
	if err := e.f.AddSchema("x", []byte(`{"type":1}`)); err == nil {
		t.Error("invalid schema accepted")
	}
}

func TestUniqueFields(t *testing.T) {
	e := newEnv(t, func(_ *core.Config, c *Config) { c.UniqueFields = map[string][]string{testSchema: {"name"}} })
	tok := e.Token()
	named := func(id, name string) string {
		return fmt.Sprintf(`{"id":%q,"conflictResolution":"upsert","name":%q}`, id, name)
	}
	emutest.WantStatus(t, e.Post(tok, batch(named("a", "alice"))), 200)
	// Another id taking a stored value is refused, with the field named.
	w := e.Post(tok, batch(named("b", "bob"), named("c", "alice")))
	emutest.WantStatus(t, w, 409)
	eb := emutest.ErrBody(t, w)
	if len(eb.Errors) != 1 || eb.Errors[0].EntityID != "c" || eb.Errors[0].Code != "unique.violation" ||
		!slices.Equal(detailSet(t, eb.Errors[0]), []string{"name/unique.violation"}) {
		t.Fatalf("body %s", w.Body)
	}
	// Two new ids with one value in a batch: the later one is refused.
	w = e.Post(tok, batch(named("d", "dora"), named("e", "dora")))
	emutest.WantStatus(t, w, 409)
	if eb := emutest.ErrBody(t, w); len(eb.Errors) != 1 || eb.Errors[0].EntityID != "e" {
		t.Fatalf("body %s", w.Body)
	}
	// The holder may keep or change its value; a freed value can be taken.
	emutest.WantStatus(t, e.Post(tok, batch(named("a", "alice"))), 200)
	emutest.WantStatus(t, e.Post(tok, batch(named("a", "anne"))), 200)
	emutest.WantStatus(t, e.Post(tok, batch(named("c", "alice"))), 200)
	// A deleted record frees its value.
	emutest.WantStatus(t, e.API(http.MethodDelete, "/api/v2/customobjects/"+testSchema+"/records/c", tok, ""), 204)
	emutest.WantStatus(t, e.Post(tok, batch(named("f", "alice"))), 200)
	if err := e.f.SetUniqueFields("nope", []string{"x"}); err == nil {
		t.Error("unique fields accepted for an unknown schema")
	}
}

func TestAdminSchemas(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.Token()
	w := e.Do(http.MethodPut, "/emulator/schemas/contacts", `{"type":"object","required":["email"]}`, nil)
	emutest.WantStatus(t, w, 204)
	path := "/api/v2/customobjects/contacts/records"
	emutest.WantStatus(t, e.API(http.MethodPost, path, tok, batch(`{"id":"c","conflictResolution":"upsert"}`)), 400)
	emutest.WantStatus(t, e.API(http.MethodPost, path, tok, batch(`{"id":"c","conflictResolution":"upsert","email":"x"}`)), 200)

	w = e.Do(http.MethodPut, "/emulator/schemas/broken", `{"type":`, nil)
	emutest.WantStatus(t, w, 400)
	emutest.ErrBody(t, w)
}

func TestNewValidatesConfig(t *testing.T) {
	srv := emutest.New(t, nil).Srv
	for name, cfg := range map[string]Config{
		"negative max records": {MaxRecords: -1},
		"bad schema json":      {Schemas: map[string][]byte{"x": []byte(`{`)}},
		"bad schema":           {Schemas: map[string][]byte{"x": []byte(`{"type":"nope"}`)}},
		"external ref":         {Schemas: map[string][]byte{"x": []byte(`{"$ref":"other.json"}`)}},
		"bad schema name":      {Schemas: map[string][]byte{"a/b": []byte(`{}`)}},
		"unique unknown":       {UniqueFields: map[string][]string{"x": {"a"}}},
	} {
		if f, err := New(srv, cfg); !errors.Is(err, core.ErrInvalidConfig) || f != nil {
			t.Errorf("%s: New = %v, %v; want ErrInvalidConfig", name, f, err)
		}
	}
	f, err := New(srv, Config{})
	if err != nil || f.maxRecords != DefaultMaxRecords {
		t.Errorf("New(Config{}) = %v, %v", f, err)
	}
}
