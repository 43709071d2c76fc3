package externalcontacts

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// The stored contact each fieldRules case starts from.
const mergeBase = `"firstName":"Ada","lastName":"Lovelace","workEmail":"ada@x.io","address":{"address1":"1 Main","city":"London"},` +
	`"appleOpaqueIds":[{"value":"a1"}]`

func TestEnrichFieldRules(t *testing.T) {
	ten := make([]string, MaxExternalIDs)
	for i := range ten {
		ten[i] = fmt.Sprintf(`{"value":"v%d"}`, i)
	}
	for _, tc := range []struct {
		name, rules, contact string
		want                 map[string]any // fields of the result; nil: absent
		status               int
	}{
		{"PreferProvided by default", ``, `"firstName":"Augusta","title":"Dr"`,
			map[string]any{"firstName": "Augusta", "lastName": "Lovelace", "title": "Dr"}, 200},
		{"PreferProvided keeps omitted nested fields", ``, `"address":{"city":"Paris"}`,
			map[string]any{"address.address1": "1 Main", "address.city": "Paris"}, 200},
		{"AlwaysUseProvided clears omitted fields", `"defaultAction":"AlwaysUseProvided"`, `"firstName":"Augusta"`,
			map[string]any{"firstName": "Augusta", "lastName": nil, "workEmail": nil, "address": nil}, 200},
		{"PreferExisting fills only empty fields", `"defaultAction":"PreferExisting"`, `"firstName":"Augusta","title":"Dr"`,
			map[string]any{"firstName": "Ada", "title": "Dr"}, 200},
		{"a rule overrides the default", `"rules":[{"field":"$.firstName","action":"PreferExisting"}]`, `"firstName":"Augusta","lastName":"King"`,
			map[string]any{"firstName": "Ada", "lastName": "King"}, 200},
		{"a nested rule", `"rules":[{"field":"$.address.city","action":"PreferExisting"}]`, `"address":{"address1":"2 High","city":"Paris"}`,
			map[string]any{"address.address1": "2 High", "address.city": "London"}, 200},
		{"a rule on the parent object", `"defaultAction":"AlwaysUseProvided","rules":[{"field":"$.address","action":"PreferExisting"}]`,
			`"firstName":"A"`, map[string]any{"address.city": "London", "lastName": nil}, 200},
		{"arrays Fill by default", ``, `"appleOpaqueIds":[{"value":"a2"},{"value":"a1"}]`,
			map[string]any{"appleOpaqueIds": []any{"a1", "a2"}}, 200},
		{"arrays Replace", `"defaultArrayAction":"Replace"`, `"appleOpaqueIds":[{"value":"a2"}]`,
			map[string]any{"appleOpaqueIds": []any{"a2"}}, 200},
		{"arrays Extend by rule", `"rules":[{"field":"$.appleOpaqueIds","arrayAction":"Extend"}]`, `"appleOpaqueIds":[{"value":"a2"}]`,
			map[string]any{"appleOpaqueIds": []any{"a1", "a2"}}, 200},
		{"Fill stops at the limit", ``, `"appleOpaqueIds":[` + strings.Join(ten, ",") + `]`,
			map[string]any{"appleOpaqueIds": 10}, 200},
		{"Extend past the limit fails", `"defaultArrayAction":"Extend"`, `"appleOpaqueIds":[` + strings.Join(ten, ",") + `]`, nil, 400},
		{"PreferExisting keeps an array", `"defaultAction":"PreferExisting"`, `"appleOpaqueIds":[{"value":"a2"}]`,
			map[string]any{"appleOpaqueIds": []any{"a1"}}, 200},
		{"unknown action", `"defaultAction":"Sometimes"`, `"firstName":"A"`, nil, 400},
		{"unknown array action", `"defaultArrayAction":"fill"`, `"firstName":"A"`, nil, 400},
		{"bad path", `"rules":[{"field":"$.externalIds[0]","action":"PreferExisting"}]`, `"firstName":"A"`, nil, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.enrich("", e.op("seed", "Insert", "1", mergeBase))
			op := fmt.Sprintf(`{"id":"x","action":"Update","matchingIdentifiers":[%s],"contact":{%s},"fieldRules":{%s}}`, e.ident("1"), tc.contact, tc.rules)
			r := e.enrich("", op)
			res := (*r.Results)[0]
			if *res.Status != tc.status {
				t.Fatalf("status %d, want %d: %+v", *res.Status, tc.status, res.Error)
			}
			got, _ := e.f.FindByExternalID(EntityContacts, e.src, "1")
			if tc.status != 200 {
				if got["firstName"] != "Ada" || len(got["appleOpaqueIds"].([]any)) != 1 {
					t.Errorf("a failed operation changed the contact: %v", got)
				}
				return
			}
			for path, want := range tc.want {
				checkPath(t, got, path, want)
			}
			if ids := got["externalIds"]; tc.rules == "" && ids == nil {
				t.Error("the external id is gone")
			}
		})
	}
}

// checkPath checks the value at a dotted path of a contact; for
// appleOpaqueIds want is the values, or their count.
func checkPath(t *testing.T, c map[string]any, path string, want any) {
	t.Helper()
	var v any = c
	for _, k := range strings.Split(path, ".") {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	if path == "appleOpaqueIds" {
		arr, _ := v.([]any)
		if n, ok := want.(int); ok {
			if len(arr) != n {
				t.Errorf("%d apple ids, want %d", len(arr), n)
			}
			return
		}
		var vals []any
		for _, x := range arr {
			vals = append(vals, x.(map[string]any)["value"])
		}
		v = vals
	}
	a, _ := json.Marshal(v)
	b, _ := json.Marshal(want)
	if string(a) != string(b) {
		t.Errorf("%s = %s, want %s", path, a, b)
	}
}

// Organization arrays and external ids follow the array actions too.
func TestEnrichOrganizationArrays(t *testing.T) {
	e := newEnv(t, nil)
	op := func(rules, org string) string {
		return fmt.Sprintf(`{"action":"Upsert","matchingIdentifiers":[%s],"externalOrganization":{"name":"Acme",%s},"fieldRules":{%s}}`, e.ident("o"), org, rules)
	}
	e.must("POST", "/organizations/enrich", op("", `"tags":["a","b"]`), 201)
	for _, tc := range []struct{ rules, org, want string }{
		{``, `"tags":["b","c"]`, `["a","b","c"]`},
		{`"defaultArrayAction":"Replace"`, `"tags":["z"]`, `["z"]`},
		{`"rules":[{"field":"$.tags","arrayAction":"Extend"}]`, `"tags":["y"]`, `["z","y"]`},
	} {
		b := e.must("POST", "/organizations/enrich", op(tc.rules, tc.org), 200)
		o := decodeSDK[sdkExternalorganization](t, b)
		if got, _ := json.Marshal(*o.Tags); string(got) != tc.want {
			t.Errorf("%s: tags %s, want %s", tc.rules, got, tc.want)
		}
		if len(*o.ExternalIds) != 1 {
			t.Errorf("external ids %s", b)
		}
	}
}
