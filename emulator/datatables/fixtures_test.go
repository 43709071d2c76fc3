package datatables

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gcupsert/gcupsert/emulator/core"
	"github.com/gcupsert/gcupsert/emulator/internal/emutest"
)

const fixturesYAML = `
clients:
  fx-client: fx-secret
tables:
  - name: Stores
    id: stores-1
    description: shops
    schema:
      $schema: "http://json-schema.org/draft-04/schema#"
      type: object
      required: [key]
      additionalProperties: false
      properties:
        key: {type: string}
        open: {type: boolean, default: true}
        staff: {type: integer}
    rows:
      - {key: paris, staff: 12}
      - {key: "lyon/2", open: false}
`

func TestFixtures(t *testing.T) {
	e := newEnv(t, func(c *core.Config, _ *Config) { c.Clients = nil })
	if err := e.f.LoadFixtures(strings.NewReader(fixturesYAML)); err != nil {
		t.Fatal(err)
	}
	// The fixture client can fetch a token.
	w := e.TokenRequest(emutest.Basic("fx-client", "fx-secret"), url.Values{"grant_type": {"client_credentials"}})
	emutest.WantStatus(t, w, 200)
	tok := emutest.DecodeJSON[emutest.TokenResponse](t, w.Body.Bytes()).AccessToken

	id, ok := e.f.TableID("stores")
	if !ok || id != "stores-1" {
		t.Fatalf("TableID %q %v", id, ok)
	}
	want := map[string]map[string]any{
		"paris":  {"key": "paris", "open": true, "staff": float64(12)},
		"lyon/2": {"key": "lyon/2", "open": false, "staff": float64(0)},
	}
	if got := e.f.Rows(id); !emutest.EqualJSON(got, want) {
		t.Errorf("rows %v", got)
	}
	w = e.API(http.MethodGet, rowsPath(id, "lyon/2")+"?showbrief=false", tok, "")
	emutest.WantStatus(t, w, 200)

	// JSON through LoadFixtures and the admin API.
	js := `{"tables":[{"name":"Cities","schema":` + ordersSchema + `,"rows":[{"key":"c1","n":5}]}]}`
	if err := e.f.LoadFixtures(strings.NewReader(js)); err != nil {
		t.Fatal(err)
	}
	if err := e.f.LoadFixtures(strings.NewReader(js)); !errors.Is(err, ErrInvalidTable) {
		t.Errorf("duplicate table: %v", err)
	}
	w = e.Do(http.MethodPost, "/emulator/datatables", `{"tables":[{"name":"Towns","schema":`+ordersSchema+`}]}`, nil)
	emutest.WantStatus(t, w, 204)
	w = e.Do(http.MethodGet, "/emulator/datatables/Cities/rows", "", nil)
	emutest.WantStatus(t, w, 200)
	if got := emutest.DecodeJSON[map[string]map[string]any](t, w.Body.Bytes()); got["c1"]["n"] != float64(5) {
		t.Errorf("admin rows %s", w.Body)
	}
	emutest.WantStatus(t, e.Do(http.MethodGet, "/emulator/datatables/nope/rows", "", nil), 404)

	// Reset restores the seeded state: seeded rows back, API tables gone.
	emutest.WantStatus(t, e.API(http.MethodDelete, rowsPath(id, "paris"), tok, ""), 204)
	emutest.WantStatus(t, e.API(http.MethodPost, rowsPath(id), tok, `{"key":"nice"}`), 200)
	apiTable := e.createTable(tok, "Scratch", ordersSchema)
	e.Srv.Reset()
	if got := e.f.Rows(id); !emutest.EqualJSON(got, want) {
		t.Errorf("rows after Reset %v", got)
	}
	if e.f.Rows(apiTable) != nil {
		t.Error("an API-created table survived Reset")
	}
	if _, ok := e.f.TableID("Towns"); !ok {
		t.Error("an admin-loaded table did not survive Reset")
	}

	if _, err := ParseFixtures([]byte("{")); !errors.Is(err, ErrInvalidFixtures) {
		t.Errorf("broken fixtures: %v", err)
	}
}

// TestFixturesRefused loads documents that break a rule: nothing of them
// is added.
func TestFixturesRefused(t *testing.T) {
	e := newEnv(t, nil)
	if err := e.f.LoadFixtures(strings.NewReader(fixturesYAML)); err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]string{
		"bad row":     `{"tables":[{"name":"B1","schema":` + ordersSchema + `,"rows":[{"key":"a","n":"x"}]}]}`,
		"dup key":     `{"tables":[{"name":"B2","schema":` + ordersSchema + `,"rows":[{"key":"a"},{"key":"a"}]}]}`,
		"bad schema":  `{"tables":[{"name":"B3","schema":{"type":"object"}}]}`,
		"unknown":     `{"tablez":[]}`,
		"bad client":  `{"clients":{"a:b":"s"}}`,
		"second dup":  `{"tables":[{"name":"B4","schema":` + ordersSchema + `},{"name":"Stores","schema":` + ordersSchema + `}]}`,
		"not a table": `tables: 5`,
	} {
		if err := e.f.LoadFixtures(strings.NewReader(bad)); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
	if _, ok := e.f.TableID("B4"); ok {
		t.Error("a failed load left a table behind")
	}
	w := e.Do(http.MethodPost, "/emulator/datatables", `{"tables":[{"name":"B1"}]}`, nil)
	emutest.WantStatus(t, w, 400)
}
