package externalcontacts

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestSourceCreateChecksTheBody(t *testing.T) {
	e := newEnv(t, nil)
	long := strings.Repeat("n", MaxSourceName+1)
	for _, tc := range []struct {
		name, body string
		status     int
		code       string
		field      string
	}{
		{"no name", `{}`, 400, "bad.request", "name"},
		{"blank name", `{"name":"   "}`, 400, "bad.request", "name"},
		{"long name", `{"name":"` + long + `"}`, 400, "bad.request", "name"},
		{"taken name (case-insensitive)", `{"name":" CRM "}`, 409, CodeSourceNameExists, "name"},
		{"uriTemplate missing", `{"name":"a","linkConfiguration":{}}`, 400, "bad.request", "linkConfiguration.uriTemplate"},
		{"uriTemplate not http", `{"name":"a","linkConfiguration":{"uriTemplate":"ftp://h/{{externalId.value}}"}}`, 400, "bad.request", "linkConfiguration.uriTemplate"},
		{"uriTemplate relative", `{"name":"a","linkConfiguration":{"uriTemplate":"/x/{{externalId.value}}"}}`, 400, "bad.request", "linkConfiguration.uriTemplate"},
		{"uriTemplate long", `{"name":"a","linkConfiguration":{"uriTemplate":"https://h/` + strings.Repeat("x", MaxURITemplate) + `"}}`, 400, "bad.request", "linkConfiguration.uriTemplate"},
		{"not JSON", `{"name":`, 400, "bad.request", ""},
		{"name not a string", `{"name":5}`, 400, "bad.request", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eb := e.fail(http.MethodPost, "/externalsources", tc.body, tc.status, tc.code)
			if tc.field != "" && (len(eb.Details) == 0 || eb.Details[0].FieldName != tc.field) {
				t.Errorf("details %+v, want field %s", eb.Details, tc.field)
			}
			if len(eb.Message) > 300 {
				t.Errorf("message of %d bytes: request text must be bounded", len(eb.Message))
			}
		})
	}
}

func TestSourceLifecycle(t *testing.T) {
	e := newEnv(t, nil)
	b := e.must(http.MethodPost, "/externalsources", `{"name":"  Billing ","linkConfiguration":{"uriTemplate":" https://some.host/{{externalId.value}} "}}`, 200)
	s := decodeSDK[sdkExternalsource](t, b)
	if *s.Name != "Billing" || !*s.Active || *s.LinkConfiguration.URITemplate != "https://some.host/{{externalId.value}}" ||
		*s.SelfURI != sourcesPath+"/"+*s.ID {
		t.Fatalf("created %s", b)
	}
	id := *s.ID
	b = e.must(http.MethodPut, "/externalsources/"+id, `{"name":"Billing2","active":false}`, 200)
	s = decodeSDK[sdkExternalsource](t, b)
	if *s.Name != "Billing2" || *s.Active || s.LinkConfiguration != nil {
		t.Errorf("updated %s", b)
	}
	if g := decodeSDK[sdkExternalsource](t, e.must(http.MethodGet, "/externalsources/"+id, "", 200)); *g.Name != "Billing2" {
		t.Errorf("get %+v", g)
	}
	e.fail(http.MethodPut, "/externalsources/"+id, `{"name":"crm"}`, 409, CodeSourceNameExists)
	e.must(http.MethodPut, "/externalsources/"+id, `{"name":"billing2"}`, 200) // its own name, another case
	e.fail(http.MethodPut, "/externalsources/nope", `{"name":"x"}`, 404, "not.found")
	e.must(http.MethodDelete, "/externalsources/"+id, "", 204)
	e.fail(http.MethodGet, "/externalsources/"+id, "", 404, "not.found")
	e.fail(http.MethodDelete, "/externalsources/"+id, "", 404, "not.found")
}

// listSources fetches every page of the source listing for query q and
// returns the names, checking the cursors on the way.
func listSources(e *env, q url.Values) []string {
	e.T.Helper()
	var names []string
	for page := 0; ; page++ {
		if page > 50 {
			e.T.Fatal("the cursors never end")
		}
		b := e.must(http.MethodGet, "/externalsources?"+q.Encode(), "", 200)
		l := decodeSDK[sdkCursorexternalsourcelisting](e.T, b)
		for _, s := range *l.Entities {
			names = append(names, *s.Name)
		}
		if l.Cursors == nil || l.Cursors.After == nil {
			if l.NextURI != nil {
				e.T.Errorf("a last page with a nextUri: %s", b)
			}
			return names
		}
		if l.NextURI == nil || !strings.Contains(*l.NextURI, "cursor="+*l.Cursors.After) {
			e.T.Errorf("nextUri %v, cursor %s", l.NextURI, *l.Cursors.After)
		}
		q.Set("cursor", *l.Cursors.After)
	}
}

func TestSourceListingPagesWithCursors(t *testing.T) {
	e := newEnv(t, nil)
	for i := range 25 {
		e.must(http.MethodPost, "/externalsources", fmt.Sprintf(`{"name":"Src-%02d","active":%v}`, i, i%5 != 0), 200)
	}
	e.must(http.MethodPost, "/externalsources", `{"name":"other"}`, 200)
	all := listSources(e, url.Values{"limit": {"10"}})
	if len(all) != 27 || all[0] != "crm" || all[1] != "other" || all[2] != "Src-00" || all[26] != "Src-24" {
		t.Errorf("all sources %v", all)
	}
	for _, tc := range []struct {
		q    url.Values
		want int
	}{
		{url.Values{"limit": {"10"}, "name": {"src-"}}, 25},
		{url.Values{"limit": {"10"}, "name": {"SRC-1"}}, 10},
		{url.Values{"limit": {"0"}, "name": {"Src"}, "active": {"false"}}, 5},
		{url.Values{"limit": {"10"}, "name": {"Src"}, "active": {"true"}}, 20},
		{url.Values{"name": {"nothing"}}, 0},
	} {
		if got := listSources(e, tc.q); len(got) != tc.want {
			t.Errorf("%v: %d sources %v, want %d", tc.q, len(got), got, tc.want)
		}
	}
	l := decodeSDK[sdkCursorexternalsourcelisting](t, e.must(http.MethodGet, "/externalsources?limit=0&active=true", "", 200))
	if len(*l.Entities) != 22 || l.Cursors != nil {
		t.Errorf("limit=0 is the default 100: %d sources", len(*l.Entities))
	}
	for _, q := range []string{"limit=9", "limit=201", "limit=ten", "active=maybe", "cursor=unknown"} {
		e.fail(http.MethodGet, "/externalsources?"+q, "", 400, "bad.request")
	}
	l = decodeSDK[sdkCursorexternalsourcelisting](t, e.must(http.MethodGet, "/externalsources?limit=10", "", 200))
	after := *l.Cursors.After
	e.must(http.MethodGet, "/externalsources?limit=10&cursor="+after, "", 200)
	e.Clk.Advance(CursorTTL)
	e.tok = e.Token()
	e.fail(http.MethodGet, "/externalsources?limit=10&cursor="+after, "", 400, "bad.request")
}
