package externalcontacts

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gcupsert/gcupsert/emulator/core"
)

func TestEnrichUpsertCreatesThenUpdates(t *testing.T) {
	e := newEnv(t, nil)
	r := e.enrich("", e.op("a", "Upsert", "42", `"firstName":"Ada","lastName":"Lovelace"`))
	a := byID(t, *r.Results, r.ErrorCount, r.ErrorIndexes)["a"]
	if !*a.Success || *a.Status != 201 || a.Error != nil || *a.Entity.FirstName != "Ada" ||
		*(*a.Entity.ExternalIds)[0].Value != "42" || *(*a.Entity.ExternalIds)[0].ExternalSource.ID != e.src {
		t.Fatalf("create %+v", a)
	}
	id := *a.Entity.ID
	e.Clk.Advance(1500e6)
	r = e.enrich("", e.op("b", "Upsert", "42", `"firstName":"Augusta"`))
	b := byID(t, *r.Results, r.ErrorCount, r.ErrorIndexes)["b"]
	if *b.Status != 200 || *b.Entity.ID != id || *b.Entity.FirstName != "Augusta" || *b.Entity.LastName != "Lovelace" ||
		b.Entity.ModifyDate.Sub(b.Entity.CreateDate.Time) != 1500e6 {
		t.Fatalf("update %+v", b.Entity)
	}
	if got, ok := e.f.FindByExternalID(EntityContacts, e.src, "42"); !ok || got["firstName"] != "Augusta" || len(e.f.Contacts()) != 1 {
		t.Errorf("stored %v", got)
	}
}

func TestEnrichActionsFailPerEntity(t *testing.T) {
	e := newEnv(t, nil)
	e.enrich("", e.op("seed", "Insert", "1", `"firstName":"One"`))
	r := e.enrich("",
		e.op("ins-existing", "Insert", "1", `"firstName":"Again"`),
		e.op("upd-missing", "Update", "2", `"firstName":"Two"`),
		e.op("ins-new", "Insert", "3", `"firstName":"Three"`),
		e.op("upd-existing", "Update", "1", `"title":"Dr"`),
		e.op("merge", "Merge", "4", `"firstName":"Four"`),
		`{"id":"bad-action","action":"Replace","matchingIdentifiers":[`+e.ident("5")+`]}`,
		`{"id":"no-idents","action":"Upsert","matchingIdentifiers":[]}`,
		`{"id":"unreadable","action":7}`,
		`"not an object"`,
		e.op("bad-org", "Upsert", "6", `"externalOrganization":{"id":"nope"}`),
	)
	res := byID(t, *r.Results, r.ErrorCount, r.ErrorIndexes)
	for _, tc := range []struct {
		id     string
		status int
		code   string
	}{
		{"ins-existing", 409, CodeEnrichConflict},
		{"upd-missing", 404, CodeEnrichNotFound},
		{"ins-new", 201, ""},
		{"upd-existing", 200, ""},
		{"merge", 201, ""},
		{"bad-action", 400, "bad.request"},
		{"no-idents", 400, "bad.request"},
		{"unreadable", 400, "bad.request"},
		{"", 400, "bad.request"},
		{"bad-org", 400, "bad.request"},
	} {
		got, ok := res[tc.id]
		if !ok || *got.Status != tc.status {
			t.Errorf("%s: result %+v, want status %d", tc.id, got, tc.status)
			continue
		}
		if tc.code == "" {
			if !*got.Success || got.Entity == nil || got.Error != nil {
				t.Errorf("%s: %+v", tc.id, got)
			}
			continue
		}
		er := got.Error
		if *got.Success || got.Entity != nil || er == nil || *er.Code != tc.code || *er.Status != tc.status || *er.Retryable {
			t.Errorf("%s: %+v error %+v", tc.id, got, er)
			continue
		}
		if tc.id != "" && (er.Entity == nil || *er.Entity.ID != tc.id) {
			t.Errorf("%s: the error does not echo the operation: %+v", tc.id, er.Entity)
		}
	}
	if ins := res["ins-existing"].Error.Entity; *ins.Action != "Insert" || *ins.Contact.FirstName != "Again" || len(*ins.MatchingIdentifiers) != 1 {
		t.Errorf("echo %+v", ins)
	}
	if d := *res["bad-org"].Error.Details; len(d) != 1 || *d[0].FieldName != "externalOrganization" || *d[0].Value != "nope" {
		t.Errorf("organization detail %+v", d)
	}
	if got, _ := e.f.FindByExternalID(EntityContacts, e.src, "1"); got["firstName"] != "One" || got["title"] != "Dr" {
		t.Errorf("contact 1: %v", got)
	}
	if _, ok := e.f.FindByExternalID(EntityContacts, e.src, "2"); ok {
		t.Error("Update created a contact")
	}
}

// Results come back shuffled; each carries its operation's id, and
// errorIndexes point at the failed results.
func TestEnrichResultsAreShuffled(t *testing.T) {
	e := newEnv(t, nil)
	var ops, want []string
	for i := range 10 {
		id := fmt.Sprint(i)
		action := "Upsert"
		if i%3 == 0 {
			action = "Update" // fails: nothing to update
		}
		ops, want = append(ops, e.op(id, action, id, `"firstName":"n`+id+`"`)), append(want, id)
	}
	r := e.enrich("", ops...)
	var order []string
	for i, res := range *r.Results {
		order = append(order, *res.ID)
		failed := slices.Contains(*r.ErrorIndexes, i)
		if failed == *res.Success || (*res.Success && *res.Entity.FirstName != "n"+*res.ID) {
			t.Errorf("result %d %+v: failed %v", i, res, failed)
		}
	}
	if *r.ErrorCount != 4 || len(*r.ErrorIndexes) != 4 {
		t.Errorf("errorCount %d, errorIndexes %v", *r.ErrorCount, *r.ErrorIndexes)
	}
	if slices.Equal(order, want) {
		t.Errorf("results in request order %v", order)
	}
	slices.Sort(order)
	if !slices.Equal(order, want) {
		t.Errorf("result ids %v", order)
	}
}

// Operations run in request order: an operation sees what an earlier one
// of the same request wrote.
func TestEnrichOperationsSeeEachOther(t *testing.T) {
	e := newEnv(t, nil)
	r := e.enrich("", e.op("1", "Insert", "x", `"firstName":"A"`), e.op("2", "Update", "x", `"lastName":"B"`), e.op("3", "Insert", "x", ""))
	res := byID(t, *r.Results, r.ErrorCount, r.ErrorIndexes)
	if *res["1"].Status != 201 || *res["2"].Status != 200 || *res["2"].Entity.FirstName != "A" || *res["3"].Status != 409 {
		t.Errorf("results %+v", res)
	}
}

func TestEnrichRequestLimits(t *testing.T) {
	e := newEnv(t, func(cc *core.Config, c *Config) { cc.MaxBodyBytes = 4000; c.MaxEnrich = 3 })
	ops := []string{e.op("1", "Upsert", "1", ""), e.op("2", "Upsert", "2", ""), e.op("3", "Upsert", "3", "")}
	e.must(http.MethodPost, "/bulk/contacts/enrich", bulk(ops...), 200)
	eb := e.fail(http.MethodPost, "/bulk/contacts/enrich", bulk(append(ops, e.op("4", "Upsert", "4", ""))...), 400, "bad.request")
	if eb.Limit == nil || eb.Limit.Value != 3 || eb.Limit.Key != "max.enrich.operations" {
		t.Errorf("limit %+v", eb.Limit)
	}
	big := e.op("big", "Upsert", "1", `"title":"`+strings.Repeat("x", 4000)+`"`)
	if eb := e.fail(http.MethodPost, "/bulk/contacts/enrich", bulk(big), 413, "request.entity.too.large"); eb.Limit.Value != 4000 {
		t.Errorf("413 limit %+v", eb.Limit)
	}
	for _, body := range []string{`{"entities":[]}`, `{}`, `[]`, `{"entities":`, `{"entities":{}}`} {
		e.fail(http.MethodPost, "/bulk/contacts/enrich", body, 400, "bad.request")
	}
	e.fail(http.MethodPost, "/bulk/contacts/enrich?dryRun=maybe", bulk(ops[0]), 400, "bad.request")
	idents := make([]string, MaxMatchingIDs+1)
	for i := range idents {
		idents[i] = e.ident(fmt.Sprint(i))
	}
	r := e.enrich("", `{"id":"many","action":"Upsert","matchingIdentifiers":[`+strings.Join(idents, ",")+`]}`)
	if res := (*r.Results)[0]; *res.Status != 400 || *(*res.Error.Details)[0].FieldName != "matchingIdentifiers" {
		t.Errorf("26 identifiers: %+v", res.Error)
	}
}

// Injected failures are retryable 503s that change nothing.
func TestEnrichRetryableFailures(t *testing.T) {
	e := newEnv(t, func(_ *core.Config, c *Config) { c.RetryableShare = 1 })
	r := e.enrich("", e.op("a", "Upsert", "1", ""), e.op("b", "Upsert", "2", ""))
	for _, res := range *r.Results {
		er := res.Error
		if *res.Success || *res.Status != 503 || er == nil || *er.Code != CodeUnavailable || !*er.Retryable || *er.Entity.ID != *res.ID {
			t.Errorf("result %+v error %+v", res, er)
		}
	}
	if len(e.f.Contacts()) != 0 {
		t.Error("a failed operation changed the contacts")
	}
	if err := e.f.SetRetryableShare(0.5); err != nil {
		t.Fatal(err)
	}
	var ops []string
	for i := range 10 {
		ops = append(ops, e.op(fmt.Sprint(i), "Upsert", fmt.Sprint(i), ""))
	}
	r = e.enrich("", ops...)
	res := byID(t, *r.Results, r.ErrorCount, r.ErrorIndexes)
	if *r.ErrorCount == 0 || *r.ErrorCount == 10 {
		t.Errorf("share 0.5 failed %d of 10", *r.ErrorCount)
	}
	for id, x := range res {
		_, stored := e.f.FindByExternalID(EntityContacts, e.src, id)
		if stored != *x.Success {
			t.Errorf("%s: success %v, stored %v", id, *x.Success, stored)
		}
	}
	if err := e.f.SetRetryableShare(1.5); err == nil {
		t.Error("share 1.5 accepted")
	}
}

func TestEnrichDryRun(t *testing.T) {
	e := newEnv(t, nil)
	e.enrich("", e.op("seed", "Upsert", "1", `"firstName":"One"`))
	r := e.enrich("?dryRun=true", e.op("new", "Upsert", "2", `"firstName":"Two"`), e.op("upd", "Upsert", "1", `"firstName":"Uno"`),
		e.op("new-again", "Insert", "2", ""))
	res := byID(t, *r.Results, r.ErrorCount, r.ErrorIndexes)
	if *res["new"].Status != 201 || *res["upd"].Status != 200 || *res["upd"].Entity.FirstName != "Uno" || *res["new-again"].Status != 409 {
		t.Errorf("dry run results %+v", res)
	}
	cs := e.f.Contacts()
	if len(cs) != 1 {
		t.Fatalf("dry run stored %d contacts", len(cs))
	}
	for _, c := range cs {
		if c["firstName"] != "One" {
			t.Errorf("dry run changed %v", c)
		}
	}
	b := e.must(http.MethodPost, "/contacts/enrich?dryRun=true", e.op("x", "Upsert", "9", ""), 201)
	if decodeSDK[sdkExternalcontact](t, b).ID == nil || len(e.f.Contacts()) != 1 {
		t.Errorf("single dry run %s", b)
	}
}

func TestEnrichOne(t *testing.T) {
	e := newEnv(t, nil)
	c := decodeSDK[sdkExternalcontact](t, e.must(http.MethodPost, "/contacts/enrich", e.op("", "Upsert", "1", `"firstName":"A"`), 201))
	u := decodeSDK[sdkExternalcontact](t, e.must(http.MethodPost, "/contacts/enrich", e.op("", "Upsert", "1", `"lastName":"B"`), 200))
	if *u.ID != *c.ID || *u.FirstName != "A" || *u.LastName != "B" {
		t.Errorf("enrich %+v then %+v", c, u)
	}
	e.fail(http.MethodPost, "/contacts/enrich", e.op("", "Insert", "1", ""), 409, CodeEnrichConflict)
	e.fail(http.MethodPost, "/contacts/enrich", e.op("", "Update", "2", ""), 404, CodeEnrichNotFound)
	e.fail(http.MethodPost, "/contacts/enrich", `{"action":"Upsert"}`, 400, "bad.request")
	o := fmt.Sprintf(`{"action":"Upsert","matchingIdentifiers":[%s],"externalOrganization":{"name":"Acme"}}`, e.ident("o1"))
	org := decodeSDK[sdkExternalorganization](t, e.must(http.MethodPost, "/organizations/enrich", o, 201))
	if *org.Name != "Acme" {
		t.Errorf("organization %+v", org)
	}
}

func TestEnrichOrganizations(t *testing.T) {
	e := newEnv(t, nil)
	op := func(id, action, ext, org string) string {
		return fmt.Sprintf(`{"id":%q,"action":%q,"matchingIdentifiers":[%s],"externalOrganization":{%s}}`, id, action, e.ident(ext), org)
	}
	b := e.must(http.MethodPost, "/bulk/organizations/enrich", bulk(
		op("a", "Upsert", "o1", `"name":"Acme","tags":["x"]`),
		op("b", "Upsert", "o2", `"industry":"no name"`),
		op("c", "Merge", "o3", `"name":"C"`),
		`{"id":"d","action":"Upsert","matchingIdentifiers":[{"type":"Email","value":"a@b.io"}],"externalOrganization":{"name":"D"}}`,
	), 200)
	r := decodeSDK[sdkBulkOrgsEnrichResponse](t, b)
	res := byID(t, *r.Results, r.ErrorCount, r.ErrorIndexes)
	if *res["a"].Status != 201 || *res["b"].Status != 400 || *res["c"].Status != 400 || *res["d"].Status != 400 {
		t.Errorf("results %s", b)
	}
	if echo := res["b"].Error.Entity; *echo.ExternalOrganization.Industry != "no name" {
		t.Errorf("echo %+v", echo)
	}
	// A contact enrich may name the organization.
	org := *res["a"].Entity.ID
	r2 := e.enrich("", e.op("c", "Upsert", "c1", fmt.Sprintf(`"externalOrganization":{"id":%q}`, org)))
	if c := (*r2.Results)[0]; *c.Entity.ExternalOrganization.Name != "Acme" {
		t.Errorf("contact %+v", c.Entity.ExternalOrganization)
	}
}

// An updated entity keeps the external id it was matched by, whatever the
// field rules do to externalIds; it takes no other identifier.
func TestEnrichKeepsTheMatchingExternalID(t *testing.T) {
	e := newEnv(t, nil)
	e.enrich("", e.op("a", "Insert", "1", `"externalIds":[`+e.extID("2")+`]`))
	op := fmt.Sprintf(`{"id":"r","action":"Update","matchingIdentifiers":[%s,%s],"contact":{"externalIds":[%s]},"fieldRules":{"defaultArrayAction":"Replace"}}`,
		e.ident("1"), e.ident("3"), e.extID("9"))
	r := e.enrich("", op)
	var vals []string
	for _, x := range *(*r.Results)[0].Entity.ExternalIds {
		vals = append(vals, *x.Value)
	}
	if !slices.Equal(vals, []string{"9", "1"}) {
		t.Errorf("external ids %v, want [9 1]", vals)
	}
}
