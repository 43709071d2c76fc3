package externalcontacts

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// customSchema is a contacts schema with one field of each core type.
var customSchema = schemaDoc(strings.Join([]string{
	`"note_text":` + prop("text", `"maxLength":10`),
	`"bio_longtext":` + prop("longtext", ""),
	`"site_url":` + prop("url", ""),
	`"code_identifier":` + prop("identifier", ""),
	`"tier_enum":` + prop("enum", `"enum":["gold","silver"]`),
	`"age_integer":` + prop("integer", `"minimum":0,"maximum":150`),
	`"score_number":` + prop("number", ""),
	`"vip_checkbox":` + prop("checkbox", ""),
	`"born_date":` + prop("date", ""),
	`"seen_datetime":` + prop("datetime", ""),
	`"labels_tag":` + prop("tag", `"maxItems":3`),
}, ","))

func TestCustomFieldsAreValidated(t *testing.T) {
	e := newEnv(t, nil)
	s := e.createSchema(EntityContacts, "Person", customSchema)
	o := e.createSchema(EntityOrganizations, "Company", schemaDoc(`"note_text":`+prop("text", "")))
	ref := fmt.Sprintf(`"schema":{"id":%q,"version":1}`, *s.ID)
	good := `"note_text":"hi","bio_longtext":"long","site_url":"https://x.io/a","code_identifier":"C-1","tier_enum":"gold",` +
		`"age_integer":42,"score_number":1.5,"vip_checkbox":true,"born_date":"1990-04-01","seen_datetime":"2030-01-02T03:04:05.123Z",` +
		`"labels_tag":["a","b"]`
	b := e.must(http.MethodPost, "/contacts", `{`+ref+`,"customFields":{`+good+`}}`, 200)
	c := decodeSDK[sdkExternalcontact](t, b)
	if *c.Schema.ID != *s.ID || *c.Schema.Version != 1 || c.Schema.JSONSchema != nil || (*c.CustomFields)["age_integer"] != 42.0 {
		t.Errorf("contact %s", b)
	}
	for _, tc := range []struct {
		name, body  string
		code, field string
		detail      string
	}{
		{"wrong type", `{` + ref + `,"customFields":{"age_integer":"old"}}`, "bad.request", "customFields.age_integer", "schema.type"},
		{"not an integer", `{` + ref + `,"customFields":{"age_integer":1.5}}`, "bad.request", "customFields.age_integer", "schema.type"},
		{"unknown key", `{` + ref + `,"customFields":{"shoe_text":"x"}}`, "bad.request", "customFields.shoe_text", "schema.additionalProperties"},
		{"maxLength", `{` + ref + `,"customFields":{"note_text":"` + strings.Repeat("n", 11) + `"}}`, "bad.request", "customFields.note_text", "schema.maxLength"},
		{"maximum", `{` + ref + `,"customFields":{"age_integer":151}}`, "bad.request", "customFields.age_integer", "schema.maximum"},
		{"enum", `{` + ref + `,"customFields":{"tier_enum":"bronze"}}`, "bad.request", "customFields.tier_enum", "schema.enum"},
		{"date", `{` + ref + `,"customFields":{"born_date":"01/04/1990"}}`, "bad.request", "customFields.born_date", "schema.pattern"},
		{"datetime", `{` + ref + `,"customFields":{"seen_datetime":"2030-01-02 03:04"}}`, "bad.request", "customFields.seen_datetime", "schema.pattern"},
		{"url", `{` + ref + `,"customFields":{"site_url":"x.io"}}`, "bad.request", "customFields.site_url", "schema.pattern"},
		{"checkbox", `{` + ref + `,"customFields":{"vip_checkbox":"yes"}}`, "bad.request", "customFields.vip_checkbox", "schema.type"},
		{"tags", `{` + ref + `,"customFields":{"labels_tag":["a","b","c","d"]}}`, "bad.request", "customFields.labels_tag", "schema.maxItems"},
		{"no schema", `{"customFields":{"note_text":"x"}}`, "bad.request", "schema", detailRequired},
		{"no schema id", `{"schema":{"version":1},"customFields":{"note_text":"x"}}`, "bad.request", "schema.id", detailRequired},
		{"no version", fmt.Sprintf(`{"schema":{"id":%q},"customFields":{}}`, *s.ID), "bad.request", "schema.version", detailRequired},
		{"unknown schema", `{"schema":{"id":"nope","version":1},"customFields":{"note_text":"x"}}`, "bad.request", "schema.id", detailUnknownSch},
		{"organization schema", fmt.Sprintf(`{"schema":{"id":%q,"version":1},"customFields":{"note_text":"x"}}`, *o.ID), "bad.request", "schema.id", detailUnknownSch},
		{"newer version", fmt.Sprintf(`{"schema":{"id":%q,"version":2},"customFields":{}}`, *s.ID), CodeSchemaVersionMismatch, "schema.version", CodeSchemaVersionMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eb := e.fail(http.MethodPost, "/contacts", tc.body, 400, tc.code)
			if len(eb.Details) != 1 || eb.Details[0].FieldName != tc.field || eb.Details[0].ErrorCode != tc.detail {
				t.Errorf("details %+v, want %s %s", eb.Details, tc.field, tc.detail)
			}
		})
	}
	// A newer version makes version 1 old; a disabled schema cannot be assigned.
	e.must(http.MethodPut, "/contacts/schemas/"+*s.ID, `{"version":1,"jsonSchema":`+customSchema+`}`, 200)
	e.fail(http.MethodPost, "/contacts", `{`+ref+`,"customFields":{"note_text":"x"}}`, 400, CodeSchemaVersionMismatch)
	ref2 := fmt.Sprintf(`"schema":{"id":%q,"version":2}`, *s.ID)
	e.must(http.MethodPost, "/contacts", `{`+ref2+`,"customFields":{"note_text":"x"}}`, 200)
	e.must(http.MethodPut, "/contacts/schemas/"+*s.ID, `{"version":2,"enabled":false,"jsonSchema":`+customSchema+`}`, 200)
	ref3 := fmt.Sprintf(`"schema":{"id":%q,"version":3}`, *s.ID)
	e.fail(http.MethodPost, "/contacts", `{`+ref3+`,"customFields":{"note_text":"x"}}`, 400, CodeSchemaDisabled)
}

// Custom field problems of a bulk operation come back in its error, one
// detail per field with the offending value.
func TestCustomFieldsInBulk(t *testing.T) {
	e := newEnv(t, nil)
	s := e.createSchema(EntityContacts, "Person", customSchema)
	ref := fmt.Sprintf(`"schema":{"id":%q,"version":1}`, *s.ID)
	r := e.enrich("",
		e.op("ok", "Upsert", "1", ref+`,"customFields":{"note_text":"fine"}`),
		e.op("bad", "Upsert", "2", ref+`,"customFields":{"note_text":"`+strings.Repeat("n", 200)+`","age_integer":"x"}`))
	res := byID(t, *r.Results, r.ErrorCount, r.ErrorIndexes)
	bad := res["bad"].Error
	if *res["ok"].Status != 201 || bad == nil || *bad.Status != 400 || *bad.Code != "bad.request" || len(*bad.Details) != 2 {
		t.Fatalf("results %+v", res)
	}
	for _, d := range *bad.Details {
		if !strings.HasPrefix(*d.FieldName, "customFields.") || d.Value == nil || len(*d.Value) > maxEcho+3 || d.Message == nil {
			t.Errorf("detail %+v", d)
		}
	}
	// An update that leaves schema and custom fields alone is not checked
	// against a newer schema version.
	e.must(http.MethodPut, "/contacts/schemas/"+*s.ID, `{"version":1,"jsonSchema":`+customSchema+`}`, 200)
	r = e.enrich("", e.op("name", "Update", "1", `"firstName":"Ada"`), e.op("cf", "Update", "1", `"customFields":{"note_text":"x"}`))
	res = byID(t, *r.Results, r.ErrorCount, r.ErrorIndexes)
	if *res["name"].Status != 200 || *res["cf"].Status != 400 || *res["cf"].Error.Code != CodeSchemaVersionMismatch {
		t.Errorf("results %+v %+v", res["name"], res["cf"].Error)
	}
}
