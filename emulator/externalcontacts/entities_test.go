package externalcontacts

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestEntityConstraints(t *testing.T) {
	e := newEnv(t, nil)
	long := func(n int) string { return strings.Repeat("x", n) }
	ids := make([]string, MaxExternalIDs+1)
	for i := range ids {
		ids[i] = e.extID(fmt.Sprint(i))
	}
	for _, tc := range []struct {
		name, path, body string
		field, code      string
	}{
		{"firstName", "/contacts", `{"firstName":"` + long(1001) + `"}`, "firstName", detailTooLong},
		{"lastName", "/contacts", `{"lastName":"` + long(1001) + `"}`, "lastName", detailTooLong},
		{"title", "/contacts", `{"title":"` + long(1001) + `"}`, "title", detailTooLong},
		{"email form", "/contacts", `{"workEmail":"ada.example.com"}`, "workEmail", detailEmail},
		{"email length", "/contacts", `{"personalEmail":"a@` + long(252) + `.io"}`, "personalEmail", detailTooLong},
		{"address city", "/contacts", `{"address":{"city":"` + long(101) + `"}}`, "address.city", detailTooLong},
		{"address postalCode", "/contacts", `{"address":{"postalCode":"` + long(26) + `"}}`, "address.postalCode", detailTooLong},
		{"phone display", "/contacts", `{"cellPhone":{"display":"` + long(513) + `"}}`, "cellPhone.display", detailTooLong},
		{"system url scheme", "/contacts", `{"externalSystemUrl":"ftp://crm/1"}`, "externalSystemUrl", detailURL},
		{"system url length", "/contacts", `{"externalSystemUrl":"https://crm/` + long(1000) + `"}`, "externalSystemUrl", detailTooLong},
		{"11 external ids", "/contacts", `{"externalIds":[` + strings.Join(ids, ",") + `]}`, "externalIds", detailTooMany},
		{"external id value", "/contacts", `{"externalIds":[` + e.extID(long(256)) + `]}`, "externalIds[0].value", detailTooLong},
		{"external id no value", "/contacts", `{"externalIds":[{"externalSource":{"id":"` + e.src + `"}}]}`, "externalIds[0].value", detailRequired},
		{"external id no source", "/contacts", `{"externalIds":[{"value":"1"}]}`, "externalIds[0].externalSource.id", detailRequired},
		{"external id unknown source", "/contacts", `{"externalIds":[{"externalSource":{"id":"nope"},"value":"1"}]}`, "externalIds[0].externalSource.id", detailUnknownSrc},
		{"unknown organization", "/contacts", `{"externalOrganization":{"id":"nope"}}`, "externalOrganization", detailUnknownOrg},
		{"screen name", "/contacts", `{"twitterId":{"screenName":"a b"}}`, "twitterId.screenName", detailInvalid},
		{"two line ids", "/contacts", `{"lineId":{"ids":[{"userId":"a"},{"userId":"b"}]}}`, "lineId.ids", detailTooMany},
		{"organization without name", "/organizations", `{"industry":"x"}`, "name", detailRequired},
		{"organization blank name", "/organizations", `{"name":"  "}`, "name", detailRequired},
		{"organization long name", "/organizations", `{"name":"` + long(1001) + `"}`, "name", detailTooLong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eb := e.fail(http.MethodPost, tc.path, tc.body, 400, "bad.request")
			if len(eb.Details) != 1 || eb.Details[0].FieldName != tc.field || eb.Details[0].ErrorCode != tc.code {
				t.Errorf("details %+v, want %s %s", eb.Details, tc.field, tc.code)
			}
			if len(eb.Message) > 400 {
				t.Errorf("message of %d bytes: request text must be bounded", len(eb.Message))
			}
		})
	}
	e.fail(http.MethodPost, "/contacts", `{"firstName":5}`, 400, "bad.request")
	e.fail(http.MethodPost, "/contacts", `{"firstName":"a"} {}`, 400, "bad.request")
	if n := len(e.f.Contacts()); n != 0 {
		t.Errorf("%d contacts stored by refused writes", n)
	}
}

func TestPhonesAreNormalised(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct{ display, e164 string }{
		{"+1 704 298 4733", "+17042984733"},
		{"+44 (20) 7946-0958", "+442079460958"},
		{"+1-704.298.4733", "+17042984733"},
		{"+12345678", "+12345678"},
		{"+123456789012345", "+123456789012345"},
		{"704 298 4733", ""},
		{"+1234567", ""},
		{"+1234567890123456", ""},
		{"+1 704 CALL NOW", ""},
	} {
		b := e.must(http.MethodPost, "/contacts", fmt.Sprintf(`{"workPhone":{"display":%q,"e164":"+999","userInput":"x","countryCode":"1"}}`, tc.display), 200)
		c := decodeSDK[sdkExternalcontact](t, b)
		p := c.WorkPhone
		if *p.Display != tc.display || *p.UserInput != tc.display || p.CountryCode != nil {
			t.Errorf("%q: phone %s", tc.display, b)
		}
		if got := ""; p.E164 != nil {
			got = *p.E164
			if got != tc.e164 {
				t.Errorf("%q: e164 %q, want %q", tc.display, got, tc.e164)
			}
		} else if tc.e164 != "" {
			t.Errorf("%q: no e164, want %q", tc.display, tc.e164)
		}
	}
}

func TestEntityLifecycle(t *testing.T) {
	e := newEnv(t, nil)
	ob := e.must(http.MethodPost, "/organizations", `{"name":" Acme ","tags":["a"],"employeeCount":12,"externalIds":[`+e.extID("o1")+`]}`, 200)
	org := decodeSDK[sdkExternalorganization](t, ob)
	if *org.Name != "Acme" || *org.EmployeeCount != 12 || *org.SelfURI != entityPath(EntityOrganizations)+"/"+*org.ID ||
		*(*org.ExternalIds)[0].ExternalSource.Name != "crm" {
		t.Errorf("organization %s", ob)
	}
	body := fmt.Sprintf(`{"id":"ignored","firstName":"  Ada ","lastName":"   ","externalOrganization":{"id":%q},"externalIds":[%s,%s]}`,
		*org.ID, e.extID("c1"), e.extID(" c1 "))
	cb := e.must(http.MethodPost, "/contacts", body, 200)
	c := decodeSDK[sdkExternalcontact](t, cb)
	if *c.ID == "ignored" || *c.FirstName != "Ada" || c.LastName != nil || *c.Type != "Curated" || len(*c.ExternalIds) != 1 ||
		*c.ExternalOrganization.Name != "Acme" || !c.CreateDate.Equal(c.ModifyDate.Time) || *c.Division.Name != "Home" {
		t.Errorf("contact %s", cb)
	}
	g := decodeSDK[sdkExternalcontact](t, e.must(http.MethodGet, "/contacts/"+*c.ID, "", 200))
	if *g.ID != *c.ID || *g.FirstName != "Ada" {
		t.Errorf("get %+v", g)
	}
	e.fail(http.MethodPost, "/contacts", `{"externalIds":[`+e.extID("c1")+`]}`, 409, CodeExternalIDConflict)
	e.must(http.MethodPost, "/organizations", `{"name":"B","externalIds":[`+e.extID("c1")+`]}`, 200) // another entity type

	e.must(http.MethodDelete, "/organizations/"+*org.ID, "", 204)
	if g := decodeSDK[sdkExternalcontact](t, e.must(http.MethodGet, "/contacts/"+*c.ID, "", 200)); g.ExternalOrganization != nil {
		t.Errorf("the contact still names the removed organization: %+v", g.ExternalOrganization)
	}
	e.must(http.MethodDelete, "/contacts/"+*c.ID, "", 204)
	for _, p := range []string{"/contacts/" + *c.ID, "/organizations/" + *org.ID} {
		e.fail(http.MethodGet, p, "", 404, "not.found")
		e.fail(http.MethodDelete, p, "", 404, "not.found")
	}
}

// Request text in error messages is bounded, a huge number included.
func TestErrorMessagesAreBounded(t *testing.T) {
	e := newEnv(t, nil)
	huge := strings.Repeat("9", 5000)
	for _, tc := range []struct{ path, body string }{
		{"/contacts", `{"firstName":` + huge + `}`},
		{"/contacts", `{"workEmail":"` + strings.Repeat("x", 5000) + `"}`},
		{"/contacts/enrich", `{"action":` + huge + `}`},
		{"/identifierlookup/contacts", `{"type":"` + strings.Repeat("T", 5000) + `","value":"v"}`},
		{"/externalsources", `{"name":"` + strings.Repeat("n", 5000) + `"}`},
	} {
		w := e.call(http.MethodPost, tc.path, tc.body)
		if w.Code != 400 || w.Body.Len() > 1000 {
			t.Errorf("%s: status %d, %d bytes: %.200s", tc.path, w.Code, w.Body.Len(), w.Body)
		}
	}
	if w := e.call(http.MethodGet, "/contacts/"+strings.Repeat("i", 3000), ""); w.Code != 404 || w.Body.Len() > 600 {
		t.Errorf("get: status %d, %d bytes", w.Code, w.Body.Len())
	}
}
