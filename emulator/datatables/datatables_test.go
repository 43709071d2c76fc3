package datatables

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gcupsert/gcupsert/emulator/core"
	"github.com/gcupsert/gcupsert/emulator/internal/emutest"
)

// ordersSchema is a valid data-table schema with every property type.
const ordersSchema = `{
	"$schema": "http://json-schema.org/draft-04/schema#",
	"type": "object",
	"required": ["key"],
	"properties": {
		"key":   {"title": "key", "type": "string", "$id": "/properties/key", "displayOrder": 0},
		"n":     {"type": "integer", "default": 7},
		"price": {"type": "number"},
		"vip":   {"type": "boolean"},
		"label": {"type": "string", "maxLength": 5}
	},
	"additionalProperties": false
}`

func TestTableCreateSchemaRules(t *testing.T) {
	e := newEnv(t, func(_ *core.Config, c *Config) { c.MaxFields = 5 })
	tok := e.Token()
	id := e.createTable(tok, "Orders", ordersSchema)

	w := e.API(http.MethodGet, "/api/v2/flows/datatables/"+id+"?expand=schema", tok, "")
	emutest.WantStatus(t, w, 200)
	got := emutest.DecodeJSON[map[string]any](t, w.Body.Bytes())
	sch := got["schema"].(map[string]any)
	if sch["additionalProperties"] != false || sch["$schema"] != draft04 {
		t.Errorf("schema %v", sch)
	}
	n := sch["properties"].(map[string]any)["n"].(map[string]any)
	if n["title"] != "n" || n["$id"] != "/properties/n" || n["displayOrder"] != float64(1) || n["default"] != float64(7) {
		t.Errorf("property n served as %v", n)
	}

	replace := func(old, new string) string { return strings.Replace(ordersSchema, old, new, 1) }
	cases := []struct {
		name, schema, code, field string
	}{
		{"additionalProperties missing", replace(`"additionalProperties": false`, `"title": "x"`), CodeSyntax, "additionalProperties"},
		{"additionalProperties true", replace(`"additionalProperties": false`, `"additionalProperties": true`), CodeSyntax, "additionalProperties"},
		{"required too wide", replace(`"required": ["key"]`, `"required": ["key", "n"]`), CodeSyntax, "required"},
		{"required missing", replace(`"required": ["key"],`, ``), CodeSyntax, "required"},
		{"array type", replace(`"type": "boolean"`, `"type": "array"`), CodeSyntax, "vip"},
		{"object type", replace(`"type": "boolean"`, `"type": "object"`), CodeSyntax, "vip"},
		{"key not string", replace(`"type": "string", "$id"`, `"type": "integer", "$id"`), CodeSyntax, "key"},
		{"no key", replace(`"key":   {"title": "key", "type": "string", "$id": "/properties/key", "displayOrder": 0},`, ``), CodeSyntax, "key"},
		{"bad default", replace(`"default": 7`, `"default": "seven"`), CodeSyntax, "n"},
		{"too many fields", replace(`"label": {`, `"extra": {"type": "string"}, "label": {`), CodeLimit, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := e.API(http.MethodPost, "/api/v2/flows/datatables", tok, fmt.Sprintf(`{"name":"T-%s","schema":%s}`, c.name, c.schema))
			emutest.WantStatus(t, w, 400)
			eb := emutest.ErrBody(t, w)
			if eb.Code != c.code {
				t.Errorf("code %q, want %q: %s", eb.Code, c.code, w.Body)
			}
			if c.field != "" && !slices.ContainsFunc(eb.Details, func(d core.ErrorDetail) bool { return d.FieldName == c.field }) {
				t.Errorf("details do not name %q: %s", c.field, w.Body)
			}
			if c.code == CodeLimit && (eb.Limit == nil || eb.Limit.Value != 5) {
				t.Errorf("limit %+v", eb.Limit)
			}
		})
	}
	if _, ok := e.f.TableID("T-bad default"); ok {
		t.Error("a refused table was stored")
	}

	// Names are unique, case-insensitively.
	w = e.API(http.MethodPost, "/api/v2/flows/datatables", tok, `{"name":"orders","schema":`+ordersSchema+`}`)
	emutest.WantStatus(t, w, 409)
	if eb := emutest.ErrBody(t, w); eb.Code != CodeNameExists {
		t.Errorf("duplicate name code %q", eb.Code)
	}
	emutest.WantStatus(t, e.API(http.MethodPost, "/api/v2/flows/datatables", tok, `{"schema":`+ordersSchema+`}`), 400)
	emutest.WantStatus(t, e.API(http.MethodPost, "/api/v2/flows/datatables", tok, `{"name":"NoSchema"}`), 400)
	emutest.WantStatus(t, e.API(http.MethodPost, "/api/v2/flows/datatables", tok, `[1]`), 400)

	// The Go API applies the same rules.
	if _, err := e.f.CreateTable("Bad", []byte(replace(`"additionalProperties": false`, `"additionalProperties": true`))); !errors.Is(err, ErrInvalidTable) {
		t.Errorf("CreateTable with a bad schema: %v", err)
	}
	id2, err := e.f.CreateTable("Other", []byte(ordersSchema))
	if got, ok := e.f.TableID("OTHER"); err != nil || !ok || got != id2 {
		t.Errorf("CreateTable %q %v; TableID %q %v", id2, err, got, ok)
	}
}

func TestTableListGet(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.Token()
	ids := map[string]string{}
	for _, name := range []string{"Orders-EU", "orders-US", "Customers"} {
		ids[name] = e.createTable(tok, name, ordersSchema)
	}

	w := e.API(http.MethodGet, "/api/v2/flows/datatables?pageSize=2&sortBy=name", tok, "")
	emutest.WantStatus(t, w, 200)
	l := emutest.DecodeJSON[struct {
		listing
		Entities []map[string]any `json:"entities"`
	}](t, w.Body.Bytes())
	if l.Total != 3 || l.PageCount != 2 || l.PageSize != 2 || l.PageNumber != 1 || len(l.Entities) != 2 {
		t.Fatalf("listing %s", w.Body)
	}
	if l.Entities[0]["name"] != "Customers" || l.Entities[0]["schema"] != nil {
		t.Errorf("first entity %v (sorted by name, no schema without expand)", l.Entities[0])
	}
	if l.NextURI == "" || l.PreviousURI != "" || !strings.Contains(l.LastURI, "pageNumber=2") ||
		!strings.Contains(l.FirstURI, "pageNumber=1") || !strings.HasPrefix(l.SelfURI, "/api/v2/flows/datatables?") {
		t.Errorf("paging URIs %s", w.Body)
	}
	w = e.API(http.MethodGet, l.NextURI, tok, "")
	emutest.WantStatus(t, w, 200)
	l2 := emutest.DecodeJSON[listing](t, w.Body.Bytes())
	if l2.PageNumber != 2 || l2.NextURI != "" || l2.PreviousURI == "" || len(l2.Entities.([]any)) != 1 {
		t.Errorf("page 2 %s", w.Body)
	}

	// name filter: '*' wildcard, case-insensitive; expand=schema.
	w = e.API(http.MethodGet, "/api/v2/flows/datatables?name=ORDERS*&expand=schema", tok, "")
	emutest.WantStatus(t, w, 200)
	l = emutest.DecodeJSON[struct {
		listing
		Entities []map[string]any `json:"entities"`
	}](t, w.Body.Bytes())
	if l.Total != 2 || l.Entities[0]["schema"] == nil {
		t.Errorf("filtered listing %s", w.Body)
	}
	w = e.API(http.MethodGet, "/api/v2/flows/datatables?name=customers", tok, "")
	if l := emutest.DecodeJSON[listing](t, w.Body.Bytes()); l.Total != 1 {
		t.Errorf("exact name filter %s", w.Body)
	}
	emutest.WantStatus(t, e.API(http.MethodGet, "/api/v2/flows/datatables?sortBy=size", tok, ""), 400)

	id := ids["Customers"]
	w = e.API(http.MethodGet, "/api/v2/flows/datatables/"+id, tok, "")
	emutest.WantStatus(t, w, 200)
	if tj := emutest.DecodeJSON[tableJSON](t, w.Body.Bytes()); tj.Schema != nil || tj.SelfURI != "/api/v2/flows/datatables/"+id || tj.Description != "d" {
		t.Errorf("GET without expand %s", w.Body)
	}
}

func TestTablePutDelete(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.Token()
	e.createTable(tok, "orders-US", ordersSchema)
	id := e.createTable(tok, "Customers", ordersSchema)

	// PUT adds fields only.
	added := strings.Replace(ordersSchema, `"label": {`, `"city": {"type": "string", "default": "Paris"}, "label": {`, 1)
	w := e.API(http.MethodPut, "/api/v2/flows/datatables/"+id, tok, `{"name":"Customers","schema":`+added+`}`)
	emutest.WantStatus(t, w, 200)
	if tj := emutest.DecodeJSON[tableJSON](t, w.Body.Bytes()); tj.Schema["properties"].(map[string]any)["city"] == nil {
		t.Errorf("field not added: %s", w.Body)
	}
	removed := strings.Replace(ordersSchema, `"vip":   {"type": "boolean"},`, ``, 1)
	w = e.API(http.MethodPut, "/api/v2/flows/datatables/"+id, tok, `{"name":"Customers","schema":`+removed+`}`)
	emutest.WantStatus(t, w, 400)
	if eb := emutest.ErrBody(t, w); eb.Code != CodeSyntax || !slices.ContainsFunc(eb.Details, func(d core.ErrorDetail) bool { return d.FieldName == "vip" }) {
		t.Errorf("removal answer %s", w.Body)
	}
	changed := strings.Replace(added, `"type": "boolean"`, `"type": "string"`, 1)
	emutest.WantStatus(t, e.API(http.MethodPut, "/api/v2/flows/datatables/"+id, tok, `{"schema":`+changed+`}`), 400)
	emutest.WantStatus(t, e.API(http.MethodPut, "/api/v2/flows/datatables/"+id, tok, `{"name":"orders-us"}`), 409)
	emutest.WantStatus(t, e.API(http.MethodPut, "/api/v2/flows/datatables/nope", tok, `{"name":"x"}`), 404)

	// DELETE.
	w = e.API(http.MethodDelete, "/api/v2/flows/datatables/"+id, tok, "")
	emutest.WantStatus(t, w, 204)
	w = e.API(http.MethodGet, "/api/v2/flows/datatables/"+id, tok, "")
	emutest.WantStatus(t, w, 404)
	if eb := emutest.ErrBody(t, w); eb.Code != CodeTableNotFound || eb.EntityID != id {
		t.Errorf("missing table %s", w.Body)
	}
	emutest.WantStatus(t, e.API(http.MethodDelete, "/api/v2/flows/datatables/"+id, tok, ""), 404)
	if e.f.Rows(id) != nil {
		t.Error("Rows of a deleted table")
	}
}

func TestRowsCRUD(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.Token()
	id := e.createTable(tok, "Orders", ordersSchema)

	w := e.API(http.MethodPost, rowsPath(id), tok, `{"key":"a/b","n":1,"vip":true}`)
	emutest.WantStatus(t, w, 200)
	want := map[string]any{"key": "a/b", "n": float64(1), "price": float64(0), "vip": true, "label": ""}
	if got := emutest.DecodeJSON[map[string]any](t, w.Body.Bytes()); !emutest.EqualJSON(got, want) {
		t.Errorf("POST answer %v, want %v", got, want)
	}
	// The key arrives path-escaped.
	path := rowsPath(id, "a/b")
	if !strings.Contains(path, "a%2Fb") {
		t.Fatalf("path %s", path)
	}
	w = e.API(http.MethodGet, path, tok, "")
	emutest.WantStatus(t, w, 200)
	if got := emutest.DecodeJSON[map[string]any](t, w.Body.Bytes()); !emutest.EqualJSON(got, map[string]any{"key": "a/b"}) {
		t.Errorf("brief row %v", got)
	}
	w = e.API(http.MethodGet, path+"?showbrief=false", tok, "")
	if got := emutest.DecodeJSON[map[string]any](t, w.Body.Bytes()); !emutest.EqualJSON(got, want) {
		t.Errorf("full row %v", got)
	}
	emutest.WantStatus(t, e.API(http.MethodGet, path+"?showbrief=maybe", tok, ""), 400)

	// PUT replaces the whole row; the key may come from the path only.
	w = e.API(http.MethodPut, path, tok, `{"price":2.5,"label":"hi"}`)
	emutest.WantStatus(t, w, 200)
	want = map[string]any{"key": "a/b", "n": float64(7), "price": 2.5, "vip": false, "label": "hi"}
	if got := e.f.Rows(id)["a/b"]; !emutest.EqualJSON(got, want) {
		t.Errorf("stored after PUT %v, want %v", got, want)
	}
	w = e.API(http.MethodPut, path, tok, `{"key":"other","price":1}`)
	emutest.WantStatus(t, w, 400)
	if eb := emutest.ErrBody(t, w); eb.Code != CodeSyntax || eb.Details[0].FieldName != "key" {
		t.Errorf("key mismatch %s", w.Body)
	}

	// Keys with spaces, percent signs and unicode round-trip.
	for _, k := range []string{"with space", "100%", "clé"} {
		emutest.WantStatus(t, e.API(http.MethodPost, rowsPath(id), tok, fmt.Sprintf(`{"key":%q}`, k)), 200)
		emutest.WantStatus(t, e.API(http.MethodGet, rowsPath(id, k), tok, ""), 200)
	}

	w = e.API(http.MethodDelete, path, tok, "")
	emutest.WantStatus(t, w, 204)
	if w.Body.Len() != 0 {
		t.Errorf("DELETE body %q", w.Body)
	}
	w = e.API(http.MethodGet, path, tok, "")
	emutest.WantStatus(t, w, 404)
	if eb := emutest.ErrBody(t, w); eb.Code != CodeRowNotFound || eb.EntityID != "a/b" {
		t.Errorf("missing row %s", w.Body)
	}
	emutest.WantStatus(t, e.API(http.MethodDelete, path, tok, ""), 404)
	w = e.API(http.MethodPost, rowsPath("nope"), tok, `{"key":"x"}`)
	emutest.WantStatus(t, w, 404)
	if eb := emutest.ErrBody(t, w); eb.Code != CodeTableNotFound {
		t.Errorf("row on a missing table %s", w.Body)
	}

	// Defaults of fields added later apply to existing rows.
	added := strings.Replace(ordersSchema, `"label": {`, `"city": {"type": "string", "default": "Paris"}, "label": {`, 1)
	emutest.WantStatus(t, e.API(http.MethodPut, "/api/v2/flows/datatables/"+id, tok, `{"schema":`+added+`}`), 200)
	if got := e.f.Rows(id)["clé"]["city"]; got != "Paris" {
		t.Errorf("new field reads %v", got)
	}
	st := e.Srv.Stats()
	if st.ByKind[KindRowGet] < 4 || st.ByKind[KindRowCreate] != 5 || st.ByKind[KindRowDelete] != 2 {
		t.Errorf("stats by kind %v", st.ByKind)
	}
}

func TestRowValidationBody(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.Token()
	id := e.createTable(tok, "Orders", ordersSchema)

	w := e.API(http.MethodPost, rowsPath(id), tok, `{"key":"x","n":"three","extra":1,"label":"toolong","vip":null}`)
	emutest.WantStatus(t, w, 400)
	eb := emutest.ErrBody(t, w)
	if eb.Code != CodeSyntax || eb.EntityID != "x" {
		t.Errorf("body %s", w.Body)
	}
	got := map[string]string{}
	for _, d := range eb.Details {
		got[d.FieldName] = d.ErrorCode
		if d.EntityID != "x" {
			t.Errorf("detail %+v lacks the key", d)
		}
	}
	want := map[string]string{"n": "schema.type", "extra": "schema.additionalProperties", "label": "schema.maxLength", "vip": "schema.type"}
	if !emutest.EqualJSON(got, want) {
		t.Errorf("details %v, want %v", got, want)
	}
	if !strings.Contains(eb.Message, "Orders") || !strings.Contains(eb.Message, "n:") {
		t.Errorf("message %q", eb.Message)
	}

	for body, field := range map[string]string{
		`{"n":1}`:                 "key",
		`{"key":""}`:              "key",
		`{"key":5}`:               "key",
		`{"key":"k","n":1.5}`:     "n",
		`{"key":"k","price":"1"}`: "price",
	} {
		w := e.API(http.MethodPost, rowsPath(id), tok, body)
		emutest.WantStatus(t, w, 400)
		if eb := emutest.ErrBody(t, w); len(eb.Details) == 0 || eb.Details[0].FieldName != field {
			t.Errorf("%s: %s", body, w.Body)
		}
	}
	// An integral number is an integer.
	emutest.WantStatus(t, e.API(http.MethodPost, rowsPath(id), tok, `{"key":"k","n":3.0,"price":1e2}`), 200)
	if r := e.f.Rows(id)["k"]; r["n"] != float64(3) || r["price"] != float64(100) {
		t.Errorf("stored %v", r)
	}
	emutest.WantStatus(t, e.API(http.MethodPost, rowsPath(id), tok, `not json`), 400)
	if len(e.f.Rows(id)) != 1 {
		t.Errorf("rows %v", e.f.Rows(id))
	}
}

func TestRowsPaging(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.Token()
	id := e.createTable(tok, "Orders", ordersSchema)
	for i := range 30 {
		emutest.WantStatus(t, e.API(http.MethodPost, rowsPath(id), tok, fmt.Sprintf(`{"key":"k%02d","n":%d}`, i, i)), 200)
	}
	type rowsListing struct {
		listing
		Entities []map[string]any `json:"entities"`
	}
	w := e.API(http.MethodGet, rowsPath(id), tok, "")
	emutest.WantStatus(t, w, 200)
	l := emutest.DecodeJSON[rowsListing](t, w.Body.Bytes())
	if l.Total != 30 || l.PageSize != 25 || l.PageNumber != 1 || l.PageCount != 2 || len(l.Entities) != 25 {
		t.Fatalf("default page %s", w.Body)
	}
	if len(l.Entities[0]) != 1 || l.Entities[0]["key"] != "k00" {
		t.Errorf("showbrief defaults to true: %v", l.Entities[0])
	}
	base := "/api/v2/flows/datatables/" + id + "/rows?"
	if !strings.HasPrefix(l.NextURI, base) || !strings.Contains(l.NextURI, "pageNumber=2") || l.PreviousURI != "" ||
		!strings.Contains(l.LastURI, "pageNumber=2") || !strings.Contains(l.FirstURI, "pageNumber=1") || !strings.Contains(l.SelfURI, "pageNumber=1") {
		t.Errorf("URIs %s", w.Body)
	}
	w = e.API(http.MethodGet, l.NextURI+"&showbrief=false", tok, "")
	l = emutest.DecodeJSON[rowsListing](t, w.Body.Bytes())
	if len(l.Entities) != 5 || l.Entities[0]["key"] != "k25" || l.Entities[0]["n"] != float64(25) || l.NextURI != "" || l.PreviousURI == "" {
		t.Errorf("page 2 %s", w.Body)
	}
	w = e.API(http.MethodGet, rowsPath(id)+"?pageSize=10&pageNumber=1&sortOrder=descending&showbrief=false", tok, "")
	l = emutest.DecodeJSON[rowsListing](t, w.Body.Bytes())
	if l.PageCount != 3 || l.Entities[0]["key"] != "k29" || l.Entities[0]["label"] != "" || !strings.Contains(l.NextURI, "sortOrder=descending") {
		t.Errorf("descending %s", w.Body)
	}
	w = e.API(http.MethodGet, rowsPath(id)+"?pageNumber=9", tok, "")
	emutest.WantStatus(t, w, 200)
	if l := emutest.DecodeJSON[rowsListing](t, w.Body.Bytes()); len(l.Entities) != 0 || l.Total != 30 {
		t.Errorf("past the end %s", w.Body)
	}
	for _, q := range []string{"pageSize=501", "pageSize=0", "pageNumber=x", "sortOrder=up"} {
		emutest.WantStatus(t, e.API(http.MethodGet, rowsPath(id)+"?"+q, tok, ""), 400)
	}
	empty := e.createTable(tok, "Empty", ordersSchema)
	w = e.API(http.MethodGet, rowsPath(empty), tok, "")
	if l := emutest.DecodeJSON[rowsListing](t, w.Body.Bytes()); l.Total != 0 || l.PageCount != 0 || l.Entities == nil || l.NextURI != "" {
		t.Errorf("empty table %s", w.Body)
	}
}

func TestVariants(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.Token()
	id := e.createTable(tok, "Orders", ordersSchema)
	if v := e.f.Variants(); v != (Variants{PostExisting: "409", PutMissing: "404", DeleteStatus: 204}) {
		t.Errorf("default variants %+v", v)
	}
	emutest.WantStatus(t, e.API(http.MethodPost, rowsPath(id), tok, `{"key":"a","n":1}`), 200)

	// POST on an existing key.
	w := e.API(http.MethodPost, rowsPath(id), tok, `{"key":"a","n":2}`)
	emutest.WantStatus(t, w, 409)
	if eb := emutest.ErrBody(t, w); eb.Code != CodeRowExists || eb.EntityID != "a" {
		t.Errorf("409 body %s", w.Body)
	}
	if err := e.f.SetVariants(Variants{PostExisting: "400"}); err != nil {
		t.Fatal(err)
	}
	w = e.API(http.MethodPost, rowsPath(id), tok, `{"key":"a","n":2}`)
	emutest.WantStatus(t, w, 400)
	if eb := emutest.ErrBody(t, w); eb.Code != CodeRowExists {
		t.Errorf("400 body %s", w.Body)
	}
	if e.f.Rows(id)["a"]["n"] != float64(1) {
		t.Error("a refused POST changed the row")
	}

	// PUT on a missing key.
	w = e.API(http.MethodPut, rowsPath(id, "b"), tok, `{"n":3}`)
	emutest.WantStatus(t, w, 404)
	if eb := emutest.ErrBody(t, w); eb.Code != CodeRowNotFound {
		t.Errorf("PUT missing body %s", w.Body)
	}
	if err := e.f.SetVariants(Variants{PutMissing: "create"}); err != nil {
		t.Fatal(err)
	}
	emutest.WantStatus(t, e.API(http.MethodPut, rowsPath(id, "b"), tok, `{"n":3}`), 200)
	if e.f.Rows(id)["b"]["n"] != float64(3) {
		t.Errorf("PUT create stored %v", e.f.Rows(id)["b"])
	}
	if e.f.Variants().PostExisting != "409" {
		t.Error("SetVariants keeps defaults for fields left empty")
	}

	// DELETE status, through the admin API.
	admin := func(method, body string) *httptest.ResponseRecorder {
		return e.Do(method, "/emulator/datatables/variants", body, http.Header{"Content-Type": {"application/json"}})
	}
	w = admin(http.MethodPut, `{"deleteStatus":200}`)
	emutest.WantStatus(t, w, 200)
	if v := emutest.DecodeJSON[Variants](t, w.Body.Bytes()); v.DeleteStatus != 200 || v.PutMissing != "create" {
		t.Errorf("admin variants %s", w.Body)
	}
	w = e.API(http.MethodDelete, rowsPath(id, "b"), tok, "")
	emutest.WantStatus(t, w, 200)
	if w.Body.Len() != 0 {
		t.Errorf("DELETE 200 body %q", w.Body)
	}
	emutest.WantStatus(t, admin(http.MethodPut, `{"deleteStatus":201}`), 400)
	emutest.WantStatus(t, admin(http.MethodPut, `{"postExisting":"418"}`), 400)
	emutest.WantStatus(t, admin(http.MethodPut, `{"bogus":1}`), 400)
	w = admin(http.MethodGet, "")
	if v := emutest.DecodeJSON[Variants](t, w.Body.Bytes()); v.DeleteStatus != 200 {
		t.Errorf("GET variants %s", w.Body)
	}
	if err := e.f.SetVariants(Variants{DeleteStatus: 202}); !errors.Is(err, ErrInvalidVariant) {
		t.Errorf("SetVariants 202: %v", err)
	}
	if _, err := New(e.Srv, Config{Variants: Variants{PutMissing: "upsert"}}); !errors.Is(err, core.ErrInvalidConfig) {
		t.Errorf("New with a bad variant: %v", err)
	}

	// Reset restores the configured variants.
	e.Srv.Reset()
	if v := e.f.Variants(); v.DeleteStatus != 204 || v.PutMissing != "404" {
		t.Errorf("variants after Reset %+v", v)
	}
}

func TestLimits(t *testing.T) {
	e := newEnv(t, func(_ *core.Config, c *Config) { c.MaxRowsPerTable = 2; c.MaxKeyLength = 5; c.MaxTables = 2 })
	tok := e.Token()
	id := e.createTable(tok, "Orders", ordersSchema)
	emutest.WantStatus(t, e.API(http.MethodPost, rowsPath(id), tok, `{"key":"a"}`), 200)
	emutest.WantStatus(t, e.API(http.MethodPost, rowsPath(id), tok, `{"key":"b"}`), 200)
	w := e.API(http.MethodPost, rowsPath(id), tok, `{"key":"c"}`)
	emutest.WantStatus(t, w, 400)
	eb := emutest.ErrBody(t, w)
	if eb.Code != CodeLimit || eb.Limit == nil || eb.Limit.Value != 2 || eb.Limit.Key != "max.rows.per.table" || !strings.Contains(eb.Message, "2 rows") {
		t.Errorf("row limit %s", w.Body)
	}
	// Updates are fine at the limit; PUT-create is not.
	emutest.WantStatus(t, e.API(http.MethodPut, rowsPath(id, "b"), tok, `{"n":1}`), 200)
	_ = e.f.SetVariants(Variants{PutMissing: "create"})
	emutest.WantStatus(t, e.API(http.MethodPut, rowsPath(id, "c"), tok, `{"n":1}`), 400)

	// Key length counts characters.
	emutest.WantStatus(t, e.API(http.MethodDelete, rowsPath(id, "a"), tok, ""), 204)
	emutest.WantStatus(t, e.API(http.MethodPost, rowsPath(id), tok, `{"key":"ééééé"}`), 200)
	w = e.API(http.MethodPost, rowsPath(id), tok, `{"key":"abcdef"}`)
	emutest.WantStatus(t, w, 400)
	eb = emutest.ErrBody(t, w)
	if eb.Code != CodeSyntax || eb.Limit == nil || eb.Limit.Key != "max.key.length" || eb.Limit.Value != 5 ||
		eb.Details[0].ErrorCode != CodeKeyTooLong {
		t.Errorf("key limit %s", w.Body)
	}

	e.createTable(tok, "Second", ordersSchema)
	w = e.API(http.MethodPost, "/api/v2/flows/datatables", tok, `{"name":"Third","schema":`+ordersSchema+`}`)
	emutest.WantStatus(t, w, 400)
	if eb := emutest.ErrBody(t, w); eb.Code != CodeLimit || eb.Limit.Value != 2 {
		t.Errorf("table limit %s", w.Body)
	}
}

func TestRateWindowShortened(t *testing.T) {
	e := newEnv(t, func(c *core.Config, _ *Config) { c.RateWindow = 2 * time.Second; c.RateLimitPerMinute = 3 })
	tok := e.Token()
	for i := 1; i <= 3; i++ {
		w := e.API(http.MethodGet, "/api/v2/flows/datatables", tok, "")
		emutest.WantStatus(t, w, 200)
		if w.Header().Get("inin-ratelimit-count") != fmt.Sprint(i) || w.Header().Get("inin-ratelimit-reset") != "2" ||
			w.Header().Get("inin-ratelimit-allowed") != "3" {
			t.Errorf("request %d headers %v", i, w.Header())
		}
	}
	e.Clk.Advance(1500 * time.Millisecond)
	w := e.API(http.MethodGet, "/api/v2/flows/datatables", tok, "")
	emutest.WantStatus(t, w, 429)
	if w.Header().Get("Retry-After") != "1" || w.Header().Get("inin-ratelimit-reset") != "1" {
		t.Errorf("429 headers %v", w.Header())
	}
	if eb := emutest.ErrBody(t, w); eb.Message != "Rate limit exceeded the maximum. Retry the request in [1] seconds" {
		t.Errorf("429 body %s", w.Body)
	}
	e.Clk.Advance(500 * time.Millisecond)
	w = e.API(http.MethodGet, "/api/v2/flows/datatables", tok, "")
	emutest.WantStatus(t, w, 200)
	if w.Header().Get("inin-ratelimit-count") != "1" {
		t.Errorf("new window count %q", w.Header().Get("inin-ratelimit-count"))
	}
	w = e.API(http.MethodGet, "/api/v2/flows/datatables", "", "")
	if w.Header().Get("inin-ratelimit-reset") != "2" {
		t.Errorf("unauthenticated reset %q", w.Header().Get("inin-ratelimit-reset"))
	}
	if _, err := core.New(core.Config{Clients: map[string]string{"a": "b"}, RateWindow: -time.Second}); !errors.Is(err, core.ErrInvalidConfig) {
		t.Errorf("negative window: %v", err)
	}
}
