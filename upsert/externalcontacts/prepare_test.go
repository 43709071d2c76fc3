package externalcontacts

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/upsert"
)

// crmSchema is a data schema in the API's form: every property references
// a core type and is named with its suffix.
const crmSchema = `{"$schema":"http://json-schema.org/draft-04/schema#","title":"crm","id":"urn:x",
"properties":{
 "tier_enum":{"allOf":[{"$ref":"#/definitions/enum"}],"enum":["gold","silver"]},
 "seats_integer":{"allOf":[{"$ref":"#/definitions/integer"}],"minimum":0,"maximum":1000},
 "vip_checkbox":{"allOf":[{"$ref":"#/definitions/checkbox"}]},
 "since_date":{"allOf":[{"$ref":"#/definitions/date"}]},
 "labels_tag":{"allOf":[{"$ref":"#/definitions/tag"}],"maxItems":2}}}`

// testTarget is a Target built without the API: source src, and the data
// schema crmSchema at version 3 when withSchema.
func testTarget(t *testing.T, cfg Config, withSchema bool) *Target {
	t.Helper()
	if cfg.Source == "" {
		cfg.Source = "crm"
	}
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	tg := &Target{cfg: cfg, source: Source{ID: "src-1", Name: "crm"}, limits: change.Limits{Overhead: 15, Separator: 1}}
	if withSchema {
		cs, err := compileCustom(DataSchema{ID: "ds-1", Name: "crm", Version: 3, JSONSchema: json.RawMessage(crmSchema)}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		tg.schema = cs
	}
	return tg
}

func rec(key string, data map[string]any) change.Record {
	return change.Record{Key: key, Op: change.OpUpsert, Data: data}
}

func TestPrepareMapsStandardAndCustomFields(t *testing.T) {
	tg := testTarget(t, Config{Entity: Contact, OrganizationField: "accountId"}, true)
	it, rerr := tg.Prepare(rec("c-1", map[string]any{
		"firstName": " Ada ", "lastName": "Lovelace", "workEmail": "ada@example.com", "cellPhone": "+441234567890",
		"address.city": "London", "surveyOptOut": true, "accountId": "org-7",
		"tier_enum": "gold", "seats_integer": json.Number("12"), "labels_tag": []any{"a"}, "middleName": nil,
	}))
	if rerr != nil {
		t.Fatal(rerr)
	}
	var got map[string]any
	if err := json.Unmarshal(it.Body, &got); err != nil {
		t.Fatal(err)
	}
	want := `{"address":{"city":"London"},"cellPhone":{"display":"+441234567890"},` +
		`"customFields":{"labels_tag":["a"],"seats_integer":12,"tier_enum":"gold"},` +
		`"externalIds":[{"externalSource":{"id":"src-1"},"value":"c-1"}],"firstName":"Ada","lastName":"Lovelace",` +
		`"schema":{"id":"ds-1","version":3},"surveyOptOut":true,"workEmail":"ada@example.com"}`
	if string(it.Body) != want {
		t.Errorf("body\n%s\nwant\n%s", it.Body, want)
	}
}

func TestPrepareRejectsWhatTheModelRefuses(t *testing.T) {
	tg := testTarget(t, Config{Entity: Contact}, true)
	for _, tc := range []struct {
		data  map[string]any
		field string
		code  string
	}{
		{map[string]any{"cellPhone": "0044 1234"}, "cellPhone", "field.format"},
		{map[string]any{"workEmail": "not-an-address"}, "workEmail", "field.format"},
		{map[string]any{"firstName": strings.Repeat("x", 1001)}, "firstName", "field.too.long"},
		{map[string]any{"address.state": strings.Repeat("x", 51)}, "address.state", "field.too.long"},
		{map[string]any{"externalSystemUrl": "ftp://x"}, "externalSystemUrl", "field.format"},
		{map[string]any{"surveyOptOut": "yes"}, "surveyOptOut", "field.type"},
		{map[string]any{"shoeSize": 44}, "shoeSize", "field.unknown"},
		{map[string]any{"tier_enum": "bronze"}, "tier_enum", "enum"},
		{map[string]any{"seats_integer": 1.5}, "seats_integer", "type"},
		{map[string]any{"seats_integer": 5000}, "seats_integer", "maximum"},
		{map[string]any{"since_date": "01/02/2026"}, "since_date", "pattern"},
		{map[string]any{"labels_tag": []any{"a", "b", "c"}}, "labels_tag", "maxItems"},
		{map[string]any{"vip_checkbox": "true"}, "vip_checkbox", "type"},
	} {
		_, rerr := tg.Prepare(rec("k", tc.data))
		if rerr == nil || rerr.Code != "schema.violation" || len(rerr.Fields) == 0 {
			t.Errorf("%v: %v, want schema.violation", tc.data, rerr)
			continue
		}
		if f := rerr.Fields[0]; f.Field != tc.field || f.Code != tc.code {
			t.Errorf("%v: field %q code %q, want %q %q", tc.data, f.Field, f.Code, tc.field, tc.code)
		}
	}
	if _, rerr := tg.Prepare(rec(strings.Repeat("k", 256), map[string]any{})); rerr == nil || rerr.Code != "key.too.long" {
		t.Errorf("long key: %v", rerr)
	}
	// Without a data schema, a field that is not standard is unknown.
	plain := testTarget(t, Config{Entity: Contact}, false)
	if _, rerr := plain.Prepare(rec("k", map[string]any{"tier_enum": "gold"})); rerr == nil || rerr.Fields[0].Code != "field.unknown" {
		t.Errorf("custom field without a schema: %v", rerr)
	}
}

func TestOrganizationsNeedANameUnlessUpdateOnly(t *testing.T) {
	org := testTarget(t, Config{Entity: Organization}, false)
	if _, rerr := org.Prepare(rec("o", map[string]any{"industry": "x"})); rerr == nil || rerr.Fields[0].Field != "name" {
		t.Errorf("organization without a name: %v", rerr)
	}
	if _, rerr := org.Prepare(rec("o", map[string]any{"name": "Acme", "employeeCount": json.Number("12"), "tags": []any{"x"}})); rerr != nil {
		t.Errorf("good organization: %v", rerr)
	}
	upd := testTarget(t, Config{Entity: Organization, Conflict: change.ConflictUpdateOnly}, false)
	if _, rerr := upd.Prepare(rec("o", map[string]any{"industry": "x"})); rerr != nil {
		t.Errorf("updateOnly without a name: %v", rerr)
	}
}

// An operation carries its tracker id, the action, the matching external
// id, the field rules and the entity, with the organization spliced in.
func TestOperationEncoding(t *testing.T) {
	tg := testTarget(t, Config{Entity: Contact, Conflict: change.ConflictCreateOnly, OrganizationField: "org"}, false)
	a, _ := tg.Prepare(rec(`k"1`, map[string]any{"firstName": "A"}))
	e, _ := tg.Prepare(rec("k2", map[string]any{}))
	b := upsert.NewTracker([]change.Item{a, e})
	op, err := tg.op(b, 0, "org-9")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(op, &got); err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	c := got["contact"].(map[string]any)
	if got["id"] != "0" || got["action"] != "Insert" || c["externalOrganization"].(map[string]any)["id"] != "org-9" || c["firstName"] != "A" {
		t.Errorf("op %s", op)
	}
	mi := got["matchingIdentifiers"].([]any)[0].(map[string]any)
	if mi["value"] != `k"1` || mi["type"] != "ExternalId" || mi["externalSource"].(map[string]any)["id"] != "src-1" {
		t.Errorf("matching identifier %v", mi)
	}
	fr := got["fieldRules"].(map[string]any)
	if fr["defaultAction"] != PreferProvided || fr["defaultArrayAction"] != ArrayFill {
		t.Errorf("field rules %v", fr)
	}
	op, _ = tg.op(b, 1, "org-9")
	if err := json.Unmarshal(op, &got); err != nil {
		t.Fatalf("an entity with only its external id: %s: %v", op, err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{
		{Entity: "person", Source: "s"},
		{Entity: Contact},
		{Entity: Contact, Source: strings.Repeat("s", 201)},
		{Entity: Organization, Source: "s", OrganizationField: "x"},
		{Entity: Contact, Source: "s", OrganizationField: "firstName"},
		{Entity: Contact, Source: "s", MaxEnrich: 11},
		{Entity: Contact, Source: "s", DefaultAction: "Merge"},
		{Entity: Contact, Source: "s", ArrayAction: "Append"},
		{Entity: Contact, Source: "s", Conflict: "replace"},
		{Entity: Contact, Source: "s", ReferenceWait: -time.Second},
	} {
		c.setDefaults()
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: accepted", c)
		}
	}
}

func TestPhasesKeepPerKeyOrder(t *testing.T) {
	items := []change.Item{
		{Record: rec("a", nil)}, {Record: rec("b", nil)}, {Record: change.Record{Key: "a", Op: change.OpDelete}}, {Record: rec("a", nil)},
	}
	got := phases(upsert.NewTracker(items))
	if len(got) != 3 || len(got[0]) != 2 || got[1][0] != 2 || got[2][0] != 3 {
		t.Errorf("phases %v", got)
	}
}

// Two events of a key coalesce only when the newer stands for both, as
// enrich would apply them one after the other; an upsert after a delete
// does not.
func TestSupersedes(t *testing.T) {
	up := func(data map[string]any) change.Record {
		return change.Record{Key: "k", Op: change.OpUpsert, Data: data}
	}
	del := change.Record{Key: "k", Op: change.OpDelete}
	older := up(map[string]any{"firstName": "A", "title": "T", "score_integer": nil})
	covering := up(map[string]any{"firstName": "B", "title": "U", "lastName": "L"})
	partial := up(map[string]any{"firstName": "B", "title": nil})
	for i, tc := range []struct {
		cfg          Config
		older, newer change.Record
		combined     bool
	}{
		{Config{Entity: Contact}, older, covering, true},
		{Config{Entity: Contact}, older, partial, false},
		{Config{Entity: Contact, DefaultAction: AlwaysUseProvided}, older, partial, true},
		{Config{Entity: Contact, DefaultAction: PreferExisting}, older, covering, false},
		{Config{Entity: Contact}, older, del, true},
		{Config{Entity: Contact}, del, covering, false},
		{Config{Entity: Contact, Conflict: change.ConflictCreateOnly}, older, covering, false},
		{Config{Entity: Organization}, up(map[string]any{"tags": []any{"a"}}), up(map[string]any{"tags": []any{"b"}}), false},
		{Config{Entity: Organization, ArrayAction: ArrayReplace}, up(map[string]any{"tags": []any{"a"}}), up(map[string]any{"tags": []any{"b"}}), true},
	} {
		tg := testTarget(t, tc.cfg, false)
		if got := tg.Supersedes(tc.older, tc.newer); got != tc.combined {
			t.Errorf("case %d: supersedes %v, want %v", i, got, tc.combined)
		}
	}
}
