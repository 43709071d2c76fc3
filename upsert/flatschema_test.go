package upsert

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

// flatSchemas are flat: the plan may vouch for their records.
var flatSchemas = map[string]string{
	"accounts-2020": `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",
	  "required":["customerName","accountNumber","status"],
	  "properties":{
	    "customerName":{"type":"string","minLength":1,"maxLength":10},
	    "accountNumber":{"type":"string","pattern":"^AN-[0-9]{6}$"},
	    "status":{"type":"string","enum":["active","inactive"]},
	    "balance":{"type":"number","minimum":-0.5,"maximum":100},
	    "employees":{"type":"integer","minimum":0},
	    "vip":{"type":"boolean"}},
	  "additionalProperties":false}`,
	"table-draft4": `{"$schema":"http://json-schema.org/draft-04/schema#","type":"object","required":["key"],
	  "properties":{
	    "key":{"title":"key","type":"string"},
	    "note":{"type":["string","null"],"maxLength":3},
	    "count":{"type":"integer","default":0,"maximum":99.5},
	    "any":{},
	    "flag":{"type":["boolean","null"]}}}`,
}

// notFlat are schemas the plan must leave to the library.
var notFlat = map[string]string{
	"format":        `{"properties":{"a":{"type":"string","format":"email"}}}`,
	"allOf":         `{"properties":{"a":{"allOf":[{"type":"string"}]}}}`,
	"ref":           `{"definitions":{"t":{"type":"string"}},"properties":{"a":{"$ref":"#/definitions/t"}}}`,
	"exclusive":     `{"properties":{"a":{"type":"number","maximum":3,"exclusiveMaximum":true}}}`,
	"nested":        `{"properties":{"a":{"type":"object","properties":{"b":{"type":"string"}}}}}`,
	"numberEnum":    `{"properties":{"a":{"enum":[1,2]}}}`,
	"patternProps":  `{"patternProperties":{"^x":{"type":"string"}}}`,
	"additionalSch": `{"additionalProperties":{"type":"string"}}`,
	"arrayTop":      `{"type":["object","array"],"properties":{"a":{"type":"string"}}}`,
	"minProperties": `{"minProperties":1,"properties":{"a":{"type":"string"}}}`,
	"const":         `{"$schema":"https://json-schema.org/draft/2020-12/schema","properties":{"a":{"const":"x"}}}`,
	"falseProperty": `{"$schema":"https://json-schema.org/draft/2020-12/schema","properties":{"a":false}}`,
}

func TestFlatPlanIsOnlyForFlatSchemas(t *testing.T) {
	for name, doc := range notFlat {
		sch, err := CompileSchema(name, []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if newFlatPlan(sch) != nil {
			t.Errorf("%s: a flat plan for a schema the plan does not understand", name)
		}
	}
	for name, doc := range flatSchemas {
		sch, err := CompileSchema(name, []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if newFlatPlan(sch) == nil {
			t.Errorf("%s: no flat plan", name)
		}
	}
}

// TestFlatPlanNeverVouchesForAnInvalidRecord draws records of every kind
// of value for each flat schema and checks that whatever the plan vouches
// for, the library finds valid too; and that it vouches for most of the
// valid records, or it would save nothing.
func TestFlatPlanNeverVouchesForAnInvalidRecord(t *testing.T) {
	strs := []string{"", " ", "a", "active", "inactive", "Active", "AN-123456", "AN-12345", "AN-1234567",
		"xAN-123456", "äöüäöüäöüä", "äöüäöüäöüäö", "0123456789", "01234567890", "null", "1"}
	nums := []string{"0", "-0", "1", "-1", "1.0", "1e2", "0.5", "-0.5", "-0.50001", "100", "100.0",
		"100.0000000000000000001", "99.5", "99.50000000001", "99", "12345678901234567890", "-7", "3.25"}
	// likely are values of each field that are often valid, so that
	// records with every field valid are frequent.
	likely := map[string][]any{"customerName": {"Ada", "äöüäöüäöüä"}, "accountNumber": {"AN-123456"},
		"status": {"active", "inactive"}, "balance": {json.Number("3.25"), json.Number("-0.5"), json.Number("100")},
		"employees": {json.Number("0"), json.Number("12"), json.Number("1.0")}, "key": {"k"},
		"count": {json.Number("99"), json.Number("-7")}}
	value := func(r *rand.Rand, key string) any {
		if l := likely[key]; len(l) > 0 && r.IntN(2) == 0 {
			return l[r.IntN(len(l))]
		}
		switch r.IntN(9) {
		case 0, 1, 2:
			return strs[r.IntN(len(strs))]
		case 3, 4, 5:
			return json.Number(nums[r.IntN(len(nums))])
		case 6:
			return r.IntN(2) == 0
		case 7:
			return nil
		default:
			return []any{map[string]any{"x": 1.5}, map[string]any{}, []any{"a"}, 2.5, 7}[r.IntN(5)]
		}
	}
	for name, doc := range flatSchemas {
		sch, err := CompileSchema(name, []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		plan := newFlatPlan(sch)
		if plan == nil {
			t.Fatalf("%s: no flat plan", name)
		}
		keys := []string{"extra"}
		for k := range sch.Properties {
			keys = append(keys, k)
		}
		r := rand.New(rand.NewPCG(1, uint64(len(name))))
		var valid, vouched int
		for range 200_000 {
			data := map[string]any{}
			for _, k := range keys {
				if r.IntN(4) != 0 {
					data[k] = value(r, k)
				}
			}
			if r.IntN(3) != 0 {
				delete(data, "extra")
			}
			libOK := sch.Validate(data) == nil
			planOK := plan.valid(data)
			if planOK && !libOK {
				t.Fatalf("%s: the plan vouches for %v, the library rejects it: %v", name, data, sch.Validate(data))
			}
			if libOK {
				valid++
				if planOK {
					vouched++
				}
			}
		}
		t.Logf("%s: %d valid records of 200,000, the plan vouched for %d", name, valid, vouched)
		if valid < 50 || vouched*2 < valid {
			t.Errorf("%s: the plan vouched for %d of %d valid records", name, vouched, valid)
		}
	}
}

// TestValidateFieldsTakesTheFlatWay checks that a valid record of a flat
// schema needs no work of the library (no allocations beyond the plan's),
// and that an invalid one still gets the library's field errors.
func TestValidateFieldsTakesTheFlatWay(t *testing.T) {
	sch, err := CompileSchema("accounts", []byte(flatSchemas["accounts-2020"]))
	if err != nil {
		t.Fatal(err)
	}
	good := map[string]any{"customerName": "Ada", "accountNumber": "AN-000001", "status": "active",
		"employees": json.Number("12"), "vip": true}
	if fe, err := ValidateFields(sch, good); fe != nil || err != nil {
		t.Fatalf("valid record: %v %v", fe, err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = ValidateFields(sch, good) }); n != 0 {
		t.Errorf("a valid flat record costs %v allocations, want 0", n)
	}
	bad := map[string]any{"customerName": strings.Repeat("x", 11), "accountNumber": "AN-1", "status": "active"}
	fe, err := ValidateFields(sch, bad)
	if err != nil || len(fe) != 2 || fe[0].Code+fe[1].Code != "maxLengthpattern" && fe[0].Code+fe[1].Code != "patternmaxLength" {
		t.Errorf("invalid record: %+v %v", fe, err)
	}
}
