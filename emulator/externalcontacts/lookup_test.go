package externalcontacts

import (
	"fmt"
	"net/http"
	"testing"
)

func TestIdentifierLookup(t *testing.T) {
	e := newEnv(t, nil)
	r := e.enrich("",
		e.op("old", "Upsert", "1", `"firstName":"Old","workEmail":"Shared@X.io","cellPhone":{"display":"+1 704 298 4733"}`),
		e.op("new", "Upsert", "2", `"firstName":"New","otherEmail":"shared@x.io","homePhone":{"display":"+33 1 23 45 67 89"}`))
	res := byID(t, *r.Results, r.ErrorCount, r.ErrorIndexes)
	oldID, newID := *res["old"].Entity.ID, *res["new"].Entity.ID
	org := decodeSDK[sdkExternalorganization](t, e.must(http.MethodPost, "/organizations", `{"name":"Acme","externalIds":[`+e.extID("o1")+`]}`, 200))
	for _, tc := range []struct {
		name, path, body string
		status           int
		want             string
	}{
		{"external id", "/identifierlookup/contacts", e.ident("2"), 200, newID},
		{"external id, spaces", "/identifierlookup/contacts", e.ident(" 1 "), 200, oldID},
		{"external id miss", "/identifierlookup/contacts", e.ident("3"), 404, ""},
		{"unknown source", "/identifierlookup/contacts", `{"type":"ExternalId","value":"1","externalSource":{"id":"nope"}}`, 404, ""},
		{"email, the oldest wins", "/identifierlookup/contacts", `{"type":"Email","value":"SHARED@x.io"}`, 200, oldID},
		{"phone", "/identifierlookup/contacts", `{"type":"Phone","value":"+1 (704) 298-4733"}`, 200, oldID},
		{"phone of another field", "/identifierlookup/contacts", `{"type":"Phone","value":"+33123456789"}`, 200, newID},
		{"phone without +", "/identifierlookup/contacts", `{"type":"Phone","value":"704 298 4733"}`, 400, ""},
		{"cookie never matches", "/identifierlookup/contacts", `{"type":"Cookie","value":"c"}`, 404, ""},
		{"unknown type", "/identifierlookup/contacts", `{"type":"Fax","value":"1"}`, 400, ""},
		{"no value", "/identifierlookup/contacts", `{"type":"Email"}`, 400, ""},
		{"external id without source", "/identifierlookup/contacts", `{"type":"ExternalId","value":"1"}`, 400, ""},
		{"organization", "/identifierlookup/organizations", e.ident("o1"), 200, *org.ID},
		{"organization miss", "/identifierlookup/organizations", e.ident("o2"), 404, ""},
		{"organization by email", "/identifierlookup/organizations", `{"type":"Email","value":"shared@x.io"}`, 400, ""},
		{"not JSON", "/identifierlookup/contacts", `{`, 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := e.call(http.MethodPost, tc.path+"?expand=externalOrganization", tc.body)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			switch {
			case tc.status != 200:
				if eb := decodeSDK[sdkErrorbody](t, w.Body.Bytes()); *eb.Status != tc.status || (tc.status == 404) != (*eb.Code == "not.found") {
					t.Errorf("error %s", w.Body)
				}
			case tc.path == "/identifierlookup/organizations":
				if o := decodeSDK[sdkExternalorganization](t, w.Body.Bytes()); *o.ID != tc.want {
					t.Errorf("organization %s", w.Body)
				}
			default:
				if c := decodeSDK[sdkExternalcontact](t, w.Body.Bytes()); *c.ID != tc.want {
					t.Errorf("contact %s, want %s", w.Body, tc.want)
				}
			}
		})
	}
}

// Matching identifiers are tried in order: the first that matches picks
// the contact.
func TestEnrichMatchesInOrder(t *testing.T) {
	e := newEnv(t, nil)
	e.enrich("", e.op("a", "Insert", "a", `"firstName":"A","workEmail":"a@x.io"`), e.op("b", "Insert", "b", `"firstName":"B"`))
	op := fmt.Sprintf(`{"id":"u","action":"Update","matchingIdentifiers":[%s,{"type":"Email","value":"A@X.IO"},%s],"contact":{"title":"T"}}`,
		e.ident("none"), e.ident("b"))
	r := e.enrich("", op)
	if res := (*r.Results)[0]; *res.Status != 200 || *res.Entity.FirstName != "A" || len(*res.Entity.ExternalIds) != 1 || *res.Entity.Title != "T" {
		t.Errorf("matched %+v", res.Entity)
	}
}
