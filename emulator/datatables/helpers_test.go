package datatables

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/gcupsert/gcupsert/emulator/core"
	"github.com/gcupsert/gcupsert/emulator/internal/emutest"
)

// env is a core server with the family.
type env struct {
	*emutest.Env
	f *Family
}

// newEnv returns an env; mutate, when not nil, changes the configurations
// of the core and of the family first.
func newEnv(t *testing.T, mutate func(*core.Config, *Config)) *env {
	t.Helper()
	var cfg Config
	e, f := emutest.NewFamily(t, func(cc *core.Config) {
		if mutate != nil {
			mutate(cc, &cfg)
		}
	}, func(s *core.Server) (*Family, error) { return New(s, cfg) })
	return &env{Env: e, f: f}
}

// createTable creates a table through the API and returns its id.
func (e *env) createTable(tok, name, schema string) string {
	e.T.Helper()
	w := e.API(http.MethodPost, "/api/v2/flows/datatables", tok, fmt.Sprintf(`{"name":%q,"description":"d","schema":%s}`, name, schema))
	emutest.WantStatus(e.T, w, 200)
	tj := emutest.DecodeJSON[tableJSON](e.T, w.Body.Bytes())
	if tj.ID == "" || tj.Name != name || tj.Schema == nil || tj.Division["id"] == "" {
		e.T.Fatalf("created table %s", w.Body)
	}
	return tj.ID
}

func rowsPath(id string, rest ...string) string {
	p := "/api/v2/flows/datatables/" + id + "/rows"
	for _, r := range rest {
		p += "/" + url.PathEscape(r)
	}
	return p
}
