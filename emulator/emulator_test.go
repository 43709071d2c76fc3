package emulator

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gcupsert/gcupsert/emulator/internal/emutest"
)

func TestNewValidatesConfig(t *testing.T) {
	good := map[string]string{"a": "b"}
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no clients", Config{}},
		{"no clients anywhere", Config{Fixtures: []byte(`{"tables":[]}`)}},
		{"empty client id", Config{Clients: map[string]string{"": "x"}}},
		{"colon in client id", Config{Clients: map[string]string{"a:b": "x"}}},
		{"empty secret", Config{Clients: map[string]string{"a": ""}}},
		{"negative lifetime", Config{Clients: good, TokenLifetime: -time.Second}},
		{"negative window", Config{Clients: good, RateWindow: -time.Second}},
		{"negative max records", Config{Clients: good, MaxRecords: -1}},
		{"negative max body", Config{Clients: good, MaxBodyBytes: -1}},
		{"bad schema json", Config{Clients: good, Schemas: map[string][]byte{"x": []byte(`{`)}}},
		{"bad schema", Config{Clients: good, Schemas: map[string][]byte{"x": []byte(`{"type":"nope"}`)}}},
		{"external ref", Config{Clients: good, Schemas: map[string][]byte{"x": []byte(`{"$ref":"other.json"}`)}}},
		{"bad schema name", Config{Clients: good, Schemas: map[string][]byte{"a/b": []byte(`{}`)}}},
		{"negative max rows", Config{Clients: good, MaxRowsPerTable: -1}},
		{"bad variant", Config{Clients: good, Variants: Variants{PutMissing: "upsert"}}},
		{"broken fixtures", Config{Clients: good, Fixtures: []byte("{")}},
		{"bad fixture table", Config{Clients: good, Fixtures: []byte(`{"tables":[{"name":"T"}]}`)}},
		{"bad external source", Config{Clients: good, ECSources: []string{" "}}},
		{"schema name twice", Config{Clients: good, ECSchemas: []ECSchema{
			{Entity: "contacts", Name: "a", JSONSchema: []byte(`{}`)}, {Entity: "contacts", Name: "A", JSONSchema: []byte(`{}`)}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.cfg)
			if !errors.Is(err, ErrInvalidConfig) || s != nil {
				t.Fatalf("New = %v, %v; want ErrInvalidConfig", s, err)
			}
		})
	}
	if _, err := New(Config{Clients: good, Variants: Variants{DeleteStatus: 202}}); !errors.Is(err, ErrInvalidVariant) {
		t.Errorf("a bad variant is not ErrInvalidVariant: %v", err)
	}
	if _, err := New(Config{Fixtures: []byte("clients: {fx: secret}")}); err != nil {
		t.Errorf("clients from fixtures only: %v", err)
	}
}

const storesFixtures = `
clients: {c: s}
tables:
  - name: Stores
    schema:
      type: object
      required: [key]
      additionalProperties: false
      properties:
        key: {type: string}
    rows:
      - {key: paris}
`

// call sends a request through s's handler.
func call(s *Server, method, path, tok, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if tok != "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, r)
	return w
}

// TestFamiliesTogether serves every family on one server: one token
// budget, one Stats, the busy code of each family, and one Reset.
func TestFamiliesTogether(t *testing.T) {
	s, err := New(Config{
		Fixtures:  []byte(storesFixtures),
		Schemas:   map[string][]byte{"accounts": []byte(`{"type":"object"}`)},
		ECSources: []string{"crm"},
		Seed:      1,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth("c", "s")
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, r)
	tok := emutest.DecodeJSON[emutest.TokenResponse](t, w.Body.Bytes()).AccessToken

	recs := "/api/v2/customobjects/accounts/records"
	emutest.WantStatus(t, call(s, http.MethodPost, recs, tok, `{"records":[{"id":"a","conflictResolution":"upsert"}]}`), 200)
	id, _ := s.TableID("Stores")
	rows := "/api/v2/flows/datatables/" + id + "/rows"
	w = call(s, http.MethodPost, rows, tok, `{"key":"lyon"}`)
	emutest.WantStatus(t, w, 200)
	if w.Header().Get("inin-ratelimit-count") != "2" {
		t.Errorf("one window for both families: %v", w.Header())
	}

	if err := s.FailNext(2, http.StatusServiceUnavailable); err != nil {
		t.Fatal(err)
	}
	if eb := emutest.ErrBody(t, call(s, http.MethodPost, recs, tok, `{}`)); eb.Code != "server.too.busy" {
		t.Errorf("customobjects busy code %q", eb.Code)
	}
	if eb := emutest.ErrBody(t, call(s, http.MethodGet, rows, tok, "")); eb.Code != "flows.datatables.server.too.busy" {
		t.Errorf("datatables busy code %q", eb.Code)
	}
	if st := s.Stats(); st.Requests != 5 || st.ByStatus[503] != 2 {
		t.Errorf("stats %+v", st)
	}

	src, _ := s.ExternalContacts().SourceID("crm")
	enrich := `{"entities":[{"action":"Upsert","matchingIdentifiers":[{"type":"ExternalId","value":"1","externalSource":{"id":"` + src + `"}}]}]}`
	emutest.WantStatus(t, call(s, http.MethodPost, "/api/v2/externalcontacts/bulk/contacts/enrich", tok, enrich), 200)
	if len(s.ExternalContacts().Contacts()) != 1 {
		t.Errorf("contacts %v", s.ExternalContacts().Contacts())
	}

	emutest.WantStatus(t, call(s, http.MethodPost, "/emulator/reset", "", ""), 204)
	if len(s.Records("accounts")) != 0 || len(s.Rows(id)) != 1 || s.Rows(id)["paris"] == nil || s.Stats().Requests != 0 ||
		len(s.ExternalContacts().Contacts()) != 0 {
		t.Errorf("after reset: records %v, rows %v, stats %+v", s.Records("accounts"), s.Rows(id), s.Stats())
	}
	emutest.WantStatus(t, call(s, http.MethodPost, recs, tok, `{"records":[{"id":"b","conflictResolution":"upsert"}]}`), 200)
}
