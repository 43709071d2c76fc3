package externalcontacts

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gcupsert/gcupsert/emulator/core"
)

func TestBulkRemove(t *testing.T) {
	e := newEnv(t, nil)
	r := e.enrich("", e.op("a", "Upsert", "a", ""), e.op("b", "Upsert", "b", ""), e.op("c", "Upsert", "c", ""))
	res := byID(t, *r.Results, r.ErrorCount, r.ErrorIndexes)
	a, b := *res["a"].Entity.ID, *res["b"].Entity.ID
	body := fmt.Sprintf(`{"entities":[{"id":%q},{"id":"unknown"},{"id":%q},{}]}`, a, b)
	d := decodeSDK[sdkBulkDeleteResponse](t, e.must(http.MethodPost, "/bulk/contacts/remove", body, 200))
	got := byID(t, *d.Results, d.ErrorCount, d.ErrorIndexes)
	for _, id := range []string{a, b} {
		if x := got[id]; !*x.Success || *x.Status != 200 || x.Entity != nil || x.Error != nil {
			t.Errorf("%s: %+v", id, x)
		}
	}
	if x := got["unknown"]; *x.Success || *x.Status != 404 || *x.Error.Code != "not.found" || *x.Error.Entity.ID != "unknown" || *x.Error.Retryable {
		t.Errorf("unknown: %+v %+v", x, x.Error)
	}
	if x := got[""]; *x.Status != 400 || *x.Error.Code != "bad.request" {
		t.Errorf("no id: %+v", x)
	}
	if cs := e.f.Contacts(); len(cs) != 1 {
		t.Errorf("%d contacts left", len(cs))
	}
	// Removing an organization unlinks its contacts.
	org := decodeSDK[sdkExternalorganization](t, e.must(http.MethodPost, "/organizations", `{"name":"Acme"}`, 200))
	e.enrich("", e.op("c", "Update", "c", fmt.Sprintf(`"externalOrganization":{"id":%q}`, *org.ID)))
	d = decodeSDK[sdkBulkDeleteResponse](t, e.must(http.MethodPost, "/bulk/organizations/remove", `{"entities":[{"id":"`+*org.ID+`"}]}`, 200))
	if *d.ErrorCount != 0 || len(e.f.Organizations()) != 0 {
		t.Errorf("organization remove %+v", d)
	}
	if c, _ := e.f.FindByExternalID(EntityContacts, e.src, "c"); c["externalOrganization"] != nil {
		t.Errorf("contact still names the organization: %v", c)
	}
}

func TestBulkFetch(t *testing.T) {
	e := newEnv(t, nil)
	r := e.enrich("", e.op("a", "Upsert", "a", `"firstName":"A"`))
	a := *(*r.Results)[0].Entity.ID
	f := decodeSDK[sdkBulkFetchContactsResponse](t, e.must(http.MethodPost, "/bulk/contacts", `{"entities":[{"id":"`+a+`"},{"id":"x"}]}`, 200))
	got := byID(t, *f.Results, f.ErrorCount, f.ErrorIndexes)
	if *got[a].Entity.FirstName != "A" || *got[a].Status != 200 || *got["x"].Status != 404 || *got["x"].Error.Entity.ID != "x" {
		t.Errorf("fetch %+v", got)
	}
	o := decodeSDK[sdkBulkFetchOrgsResponse](t, e.must(http.MethodPost, "/bulk/organizations", `{"entities":[{"id":"x"}]}`, 200))
	if *o.ErrorCount != 1 {
		t.Errorf("organization fetch %+v", o)
	}
}

func TestBulkLimits(t *testing.T) {
	e := newEnv(t, func(cc *core.Config, c *Config) { c.MaxBulk = 2; cc.MaxBodyBytes = 100 })
	for _, p := range []string{"/bulk/contacts/remove", "/bulk/contacts", "/bulk/organizations/remove", "/bulk/organizations"} {
		e.must(http.MethodPost, p, `{"entities":[{"id":"a"},{"id":"b"}]}`, 200)
		eb := e.fail(http.MethodPost, p, `{"entities":[{"id":"a"},{"id":"b"},{"id":"c"}]}`, 400, "bad.request")
		if eb.Limit == nil || eb.Limit.Value != 2 {
			t.Errorf("%s: limit %+v", p, eb.Limit)
		}
		e.fail(http.MethodPost, p, `{"entities":[]}`, 400, "bad.request")
		e.fail(http.MethodPost, p, `{"entities":[{"id":"`+strings.Repeat("x", 100)+`"}]}`, 413, "request.entity.too.large")
	}
}
