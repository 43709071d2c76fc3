package customobjects

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gcupsert/gcupsert/emulator/core"
	"github.com/gcupsert/gcupsert/emulator/internal/emutest"
)

const (
	testSchema = "accounts"
	// accountsSchema describes the record fields of testSchema.
	accountsSchema = `{
		"type": "object",
		"properties": {
			"name": {"type": "string", "maxLength": 20},
			"age":  {"type": "integer"},
			"vip":  {"type": "boolean"}
		},
		"required": ["name"],
		"additionalProperties": false
	}`
)

// env is a core server with the family, which knows testSchema.
type env struct {
	*emutest.Env
	f *Family
}

// newEnv returns an env; mutate, when not nil, changes the configurations
// of the core and of the family first.
func newEnv(t *testing.T, mutate func(*core.Config, *Config)) *env {
	t.Helper()
	cfg := Config{Schemas: map[string][]byte{testSchema: []byte(accountsSchema)}}
	e := emutest.New(t, func(cc *core.Config) {
		if mutate != nil {
			mutate(cc, &cfg)
		}
	})
	f, err := New(e.Srv, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.Srv.Register(f)
	return &env{Env: e, f: f}
}

// post sends a batch to testSchema.
func (e *env) post(tok, body string) *httptest.ResponseRecorder {
	e.T.Helper()
	return e.API(http.MethodPost, "/api/v2/customobjects/"+testSchema+"/records", tok, body)
}

// batch wraps record documents in a batch body.
func batch(recs ...string) string {
	return `{"records":[` + strings.Join(recs, ",") + `]}`
}

// rec returns a valid record document.
func rec(id, conflict string) string {
	return fmt.Sprintf(`{"id":%q,"conflictResolution":%q,"name":"n-%s"}`, id, conflict, id)
}
