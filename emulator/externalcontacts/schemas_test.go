package externalcontacts

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// prop is a custom field definition of core type t with extra keywords
// (a JSON object body without braces, possibly empty).
func prop(t, extra string) string {
	if extra != "" {
		extra = "," + extra
	}
	return fmt.Sprintf(`{"allOf":[{"$ref":"#/definitions/%s"}],"title":"%s field"%s}`, t, t, extra)
}

// createSchema creates a schema of et through the API and returns it.
func (e *env) createSchema(et EntityType, name, jsonSchema string) sdkDataschema {
	e.T.Helper()
	b := e.must(http.MethodPost, "/"+string(et)+"/schemas", fmt.Sprintf(`{"name":%q,"jsonSchema":%s}`, name, jsonSchema), 200)
	return decodeSDK[sdkDataschema](e.T, b)
}

func TestSchemaCreate(t *testing.T) {
	e := newEnv(t, nil)
	doc := schemaDoc(`"note_text":` + prop("text", `"minLength":1,"maxLength":50`))
	s := e.createSchema(EntityContacts, "Person", doc)
	if *s.Version != 1 || (*s.AppliesTo)[0] != "CONTACT" || !*s.Enabled || s.DateCreated == nil || s.CreatedBy.ID == nil ||
		*s.SelfURI != schemasPath(EntityContacts)+"/"+*s.ID || (*s.JSONSchema.Properties)["note_text"] == nil {
		t.Errorf("created %+v", s)
	}
	o := e.createSchema(EntityOrganizations, "Person", doc) // names are unique per entity type
	if (*o.AppliesTo)[0] != "EXTERNAL_ORGANIZATION" {
		t.Errorf("appliesTo %v", *o.AppliesTo)
	}
	b := e.must(http.MethodPost, "/contacts/schemas", `{"name":"Off","enabled":false,"jsonSchema":{}}`, 200)
	if s := decodeSDK[sdkDataschema](t, b); *s.Enabled {
		t.Errorf("enabled false ignored: %s", b)
	}
	e.fail(http.MethodPost, "/contacts/schemas", `{"name":"person","jsonSchema":{}}`, 409, CodeSchemaNameExists)
	l := decodeSDK[sdkDataschemalisting](t, e.must(http.MethodGet, "/contacts/schemas", "", 200))
	if *l.Total != 2 || (*l.Entities)[0].Name == nil || *(*l.Entities)[0].Name != "Off" {
		t.Errorf("listing %+v", l)
	}
	e.fail(http.MethodGet, "/contacts/schemas/"+*o.ID, "", 404, "not.found")
	e.fail(http.MethodGet, "/organizations/schemas/nope", "", 404, "not.found")
}

func TestSchemaRules(t *testing.T) {
	e := newEnv(t, nil)
	many := make([]string, MaxSchemaProperties+1)
	for i := range many {
		many[i] = fmt.Sprintf(`"f%d_text":%s`, i, prop("text", ""))
	}
	enum51 := make([]string, maxEnumValues+1)
	for i := range enum51 {
		enum51[i] = fmt.Sprintf(`"v%d"`, i)
	}
	for _, tc := range []struct {
		name, body  string
		code, field string
	}{
		{"no name", `{"jsonSchema":{}}`, "bad.request", "name"},
		{"no jsonSchema", `{"name":"x"}`, "bad.request", "jsonSchema"},
		{"unknown top key", `{"name":"x","jsonSchema":{"definitions":{}}}`, "bad.request", "jsonSchema.definitions"},
		{"other draft", `{"name":"x","jsonSchema":{"$schema":"http://json-schema.org/draft-07/schema#"}}`, "bad.request", "jsonSchema.$schema"},
		{"type array", `{"name":"x","jsonSchema":{"type":"array"}}`, "bad.request", "jsonSchema.type"},
		{"required unknown", `{"name":"x","jsonSchema":{"required":["a_text"]}}`, "bad.request", "jsonSchema.required"},
		{"no suffix", `{"name":"x","jsonSchema":` + schemaDoc(`"note":`+prop("text", "")) + `}`, "bad.request", "jsonSchema.properties.note"},
		{"suffix of another type", `{"name":"x","jsonSchema":` + schemaDoc(`"n_integer":`+prop("text", "")) + `}`, "bad.request", "jsonSchema.properties.n_integer"},
		{"suffix only", `{"name":"x","jsonSchema":` + schemaDoc(`"_text":`+prop("text", "")) + `}`, "bad.request", "jsonSchema.properties._text"},
		{"unknown core type", `{"name":"x","jsonSchema":` + schemaDoc(`"n_money":`+prop("money", "")) + `}`, "bad.request", "jsonSchema.properties.n_money.allOf"},
		{"no allOf", `{"name":"x","jsonSchema":` + schemaDoc(`"n_text":{"type":"string"}`) + `}`, "bad.request", "jsonSchema.properties.n_text.allOf"},
		{"text over 100", `{"name":"x","jsonSchema":` + schemaDoc(`"n_text":`+prop("text", `"maxLength":101`)) + `}`, "bad.request", "jsonSchema.properties.n_text.maxLength"},
		{"url over 200", `{"name":"x","jsonSchema":` + schemaDoc(`"n_url":`+prop("url", `"maxLength":201`)) + `}`, "bad.request", "jsonSchema.properties.n_url.maxLength"},
		{"minLength over maxLength", `{"name":"x","jsonSchema":` + schemaDoc(`"n_text":`+prop("text", `"minLength":9,"maxLength":3`)) + `}`, "bad.request", "jsonSchema.properties.n_text.minLength"},
		{"minimum on text", `{"name":"x","jsonSchema":` + schemaDoc(`"n_text":`+prop("text", `"minimum":1`)) + `}`, "bad.request", "jsonSchema.properties.n_text.minimum"},
		{"integer bound not integral", `{"name":"x","jsonSchema":` + schemaDoc(`"n_integer":`+prop("integer", `"minimum":1.5`)) + `}`, "bad.request", "jsonSchema.properties.n_integer.minimum"},
		{"enum without values", `{"name":"x","jsonSchema":` + schemaDoc(`"n_enum":`+prop("enum", "")) + `}`, "bad.request", "jsonSchema.properties.n_enum.enum"},
		{"enum of 51", `{"name":"x","jsonSchema":` + schemaDoc(`"n_enum":`+prop("enum", `"enum":[`+strings.Join(enum51, ",")+`]`)) + `}`, "bad.request", "jsonSchema.properties.n_enum.enum"},
		{"enum value over 100", `{"name":"x","jsonSchema":` + schemaDoc(`"n_enum":`+prop("enum", `"enum":["`+strings.Repeat("v", 101)+`"]`)) + `}`, "bad.request", "jsonSchema.properties.n_enum.enum"},
		{"tag over 10", `{"name":"x","jsonSchema":` + schemaDoc(`"n_tag":`+prop("tag", `"maxItems":11`)) + `}`, "bad.request", "jsonSchema.properties.n_tag.maxItems"},
		{"tag item over 100", `{"name":"x","jsonSchema":` + schemaDoc(`"n_tag":`+prop("tag", `"items":{"maxLength":101}`)) + `}`, "bad.request", "jsonSchema.properties.n_tag.items.maxLength"},
		{"constraint on date", `{"name":"x","jsonSchema":` + schemaDoc(`"n_date":`+prop("date", `"maxLength":3`)) + `}`, "bad.request", "jsonSchema.properties.n_date.maxLength"},
		{"26 fields", `{"name":"x","jsonSchema":` + schemaDoc(strings.Join(many, ",")) + `}`, CodeSchemaLimit, "jsonSchema.properties"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eb := e.fail(http.MethodPost, "/contacts/schemas", tc.body, 400, tc.code)
			if len(eb.Details) == 0 || eb.Details[0].FieldName != tc.field {
				t.Errorf("details %+v, want field %s", eb.Details, tc.field)
			}
		})
	}
	all := []string{}
	for _, t := range []string{"text", "longtext", "url", "identifier", "integer", "number", "checkbox", "date", "datetime"} {
		all = append(all, fmt.Sprintf(`"a_%s":%s`, t, prop(t, "")))
	}
	all = append(all, `"b_enum":`+prop("enum", `"enum":["x","y"],"_enumProperties":{"x":{"title":"X","_disabled":false}}`),
		`"c_tag":`+prop("tag", `"items":{"minLength":1,"maxLength":20},"minItems":0,"maxItems":5,"uniqueItems":true`))
	e.createSchema(EntityContacts, "every type", schemaDoc(strings.Join(all, ",")))
}

func TestSchemaCountLimit(t *testing.T) {
	e := newEnv(t, nil)
	for i := range MaxSchemas {
		et := EntityContacts
		if i%2 == 1 {
			et = EntityOrganizations
		}
		e.createSchema(et, fmt.Sprintf("s%d", i), `{}`)
	}
	eb := e.fail(http.MethodPost, "/organizations/schemas", `{"name":"one more","jsonSchema":{}}`, 400, CodeSchemaLimit)
	if eb.Limit == nil || eb.Limit.Value != MaxSchemas {
		t.Errorf("limit %+v", eb.Limit)
	}
}

func TestSchemaVersions(t *testing.T) {
	e := newEnv(t, nil)
	s := e.createSchema(EntityContacts, "P", schemaDoc(`"a_text":`+prop("text", "")))
	path := "/contacts/schemas/" + *s.ID
	v2 := schemaDoc(`"a_text":` + prop("text", `"maxLength":20`) + `,"b_integer":` + prop("integer", ""))
	e.fail(http.MethodPut, path, `{"name":"P","jsonSchema":`+v2+`}`, 400, "bad.request")              // no version
	e.fail(http.MethodPut, path, `{"version":2,"jsonSchema":`+v2+`}`, 409, CodeSchemaVersionConflict) // not current
	b := e.must(http.MethodPut, path, `{"version":1,"jsonSchema":`+v2+`}`, 200)
	up := decodeSDK[sdkDataschema](t, b)
	if *up.Version != 2 || *up.Name != "P" || *up.ID != *s.ID || len(*up.JSONSchema.Properties) != 2 {
		t.Errorf("updated %s", b)
	}
	e.fail(http.MethodPut, path, `{"version":1,"jsonSchema":`+v2+`}`, 409, CodeSchemaVersionConflict)
	removed := schemaDoc(`"b_integer":` + prop("integer", ""))
	retyped := schemaDoc(`"a_text":` + prop("longtext", "") + `,"b_integer":` + prop("integer", ""))
	for _, doc := range []string{removed, retyped} {
		e.fail(http.MethodPut, path, `{"version":2,"jsonSchema":`+doc+`}`, 400, "bad.request")
	}
	b = e.must(http.MethodPut, path, `{"version":2,"name":"Q","enabled":false,"jsonSchema":`+v2+`}`, 200)
	if up := decodeSDK[sdkDataschema](t, b); *up.Version != 3 || *up.Name != "Q" || *up.Enabled {
		t.Errorf("third version %s", b)
	}
	l := decodeSDK[sdkDataschemalisting](t, e.must(http.MethodGet, path+"/versions", "", 200))
	if *l.Total != 3 || *(*l.Entities)[0].Version != 1 || *(*l.Entities)[2].Version != 3 {
		t.Errorf("versions %+v", l)
	}
	v1 := decodeSDK[sdkDataschema](t, e.must(http.MethodGet, path+"/versions/1", "", 200))
	if *v1.Version != 1 || *v1.Name != "P" || len(*v1.JSONSchema.Properties) != 1 {
		t.Errorf("version 1 %+v", v1)
	}
	for _, v := range []string{"0", "4", "x"} {
		e.fail(http.MethodGet, path+"/versions/"+v, "", 404, "not.found")
	}
	if cur := decodeSDK[sdkDataschema](t, e.must(http.MethodGet, path, "", 200)); *cur.Version != 3 {
		t.Errorf("current %d", *cur.Version)
	}
	e.must(http.MethodDelete, path, "", 204)
	e.fail(http.MethodGet, path, "", 404, "not.found")
	o := e.createSchema(EntityOrganizations, "O", `{}`)
	e.fail(http.MethodDelete, "/organizations/schemas/"+*o.ID, "", 405, "method.not.allowed")
}
