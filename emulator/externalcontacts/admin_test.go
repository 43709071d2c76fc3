package externalcontacts

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/gcupsert/gcupsert/emulator/core"
	"github.com/gcupsert/gcupsert/emulator/internal/emutest"
)

func TestGoAPIAndReset(t *testing.T) {
	e := newEnv(t, func(_ *core.Config, c *Config) {
		c.Sources = append(c.Sources, "billing")
		c.Schemas = []SeedSchema{{Entity: EntityContacts, Name: "Seeded", JSONSchema: []byte(schemaDoc(`"a_text":` + prop("text", "")))}}
		c.RetryableShare = 0.25
	})
	billing, ok := e.f.SourceID("BILLING")
	if !ok {
		t.Fatal("no billing source")
	}
	web, err := e.f.CreateSource("web")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.f.CreateSource("Web"); err == nil {
		t.Error("a taken name was accepted")
	}
	orgSchema, err := e.f.CreateSchema(EntityOrganizations, "Company", []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct {
		et  EntityType
		doc string
	}{{"people", `{}`}, {EntityContacts, `{"properties":{"x":{}}}`}, {EntityContacts, `[`}} {
		if _, err := e.f.CreateSchema(bad.et, "bad", []byte(bad.doc)); err == nil {
			t.Errorf("CreateSchema(%s, %s) accepted", bad.et, bad.doc)
		}
	}
	if e.f.RetryableShare() != 0.25 {
		t.Errorf("share %v", e.f.RetryableShare())
	}
	_ = e.f.SetRetryableShare(0)

	// Changes through the API.
	api := decodeSDK[sdkExternalsource](t, e.must(http.MethodPost, "/externalsources", `{"name":"api"}`, 200))
	schemas := decodeSDK[sdkDataschemalisting](t, e.must(http.MethodGet, "/contacts/schemas", "", 200))
	seeded := *(*schemas.Entities)[0].ID
	e.must(http.MethodPut, "/contacts/schemas/"+seeded, `{"version":1,"jsonSchema":{"properties":{"a_text":`+prop("text", "")+`,"b_text":`+prop("text", "")+`}}}`, 200)
	e.must(http.MethodPost, "/externalsources", `{"name":"api2"}`, 200)
	e.must(http.MethodDelete, "/externalsources/"+billing, "", 204)
	e.enrich("", e.op("a", "Upsert", "1", `"firstName":"A"`))
	e.must(http.MethodPost, "/organizations", `{"name":"O","externalIds":[{"externalSource":{"id":"`+web+`"},"value":"w"}]}`, 200)
	if o, ok := e.f.FindByExternalID(EntityOrganizations, web, "w"); !ok || o["name"] != "O" {
		t.Errorf("organization by external id: %v", o)
	}
	if len(e.f.Contacts()) != 1 || len(e.f.Organizations()) != 1 {
		t.Fatalf("contacts %v organizations %v", e.f.Contacts(), e.f.Organizations())
	}

	e.Srv.Reset()
	if len(e.f.Contacts()) != 0 || len(e.f.Organizations()) != 0 || e.f.RetryableShare() != 0.25 {
		t.Errorf("after reset: contacts %v, organizations %v, share %v", e.f.Contacts(), e.f.Organizations(), e.f.RetryableShare())
	}
	for name, want := range map[string]string{"crm": e.src, "billing": billing, "web": web} {
		if id, ok := e.f.SourceID(name); !ok || id != want {
			t.Errorf("source %s: %s, want %s", name, id, want)
		}
	}
	if _, ok := e.f.SourceID(*api.Name); ok {
		t.Error("a source created through the API survived Reset")
	}
	s := decodeSDK[sdkDataschema](t, e.must(http.MethodGet, "/contacts/schemas/"+seeded, "", 200))
	if *s.Version != 1 {
		t.Errorf("seeded schema at version %d after Reset", *s.Version)
	}
	e.must(http.MethodGet, "/organizations/schemas/"+orgSchema, "", 200)
}

func TestAdminRoutes(t *testing.T) {
	e := newEnv(t, nil)
	e.enrich("", e.op("a", "Upsert", "1", `"firstName":"A"`))
	e.must(http.MethodPost, "/organizations", `{"name":"O"}`, 200)
	for path, n := range map[string]int{"/emulator/externalcontacts/contacts": 1, "/emulator/externalcontacts/organizations": 1, "/emulator/externalcontacts/sources": 1} {
		w := e.Do(http.MethodGet, path, "", nil)
		emutest.WantStatus(t, w, 200)
		var m map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil || len(m) != n {
			t.Errorf("%s: %s", path, w.Body)
		}
	}
	w := e.Do(http.MethodPut, "/emulator/externalcontacts/config", `{"retryableShare":0.5}`, nil)
	emutest.WantStatus(t, w, 200)
	if c := emutest.DecodeJSON[AdminConfig](t, w.Body.Bytes()); c != (AdminConfig{RetryableShare: 0.5, MaxEnrich: DefaultMaxEnrich, MaxBulk: DefaultMaxBulk}) {
		t.Errorf("config %+v", c)
	}
	if e.f.RetryableShare() != 0.5 {
		t.Errorf("share %v", e.f.RetryableShare())
	}
	for _, body := range []string{`{"retryableShare":2}`, `{"maxEnrich":3}`, `{`} {
		emutest.WantStatus(t, e.Do(http.MethodPut, "/emulator/externalcontacts/config", body, nil), 400)
	}
	emutest.WantStatus(t, e.Do(http.MethodGet, "/emulator/externalcontacts/config", "", nil), 200)
	if st := e.Srv.Stats(); st.ByKind[KindBulkContactsEnrich] != 1 || st.ByKind[KindOrgCreate] != 1 {
		t.Errorf("stats %v", st.ByKind)
	}
}
