package core_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gcupsert/gcupsert/emulator/core"
	"github.com/gcupsert/gcupsert/emulator/customobjects"
	"github.com/gcupsert/gcupsert/emulator/internal/emutest"
)

// The tests of the core send their API requests to the customobjects
// family, the simplest one.
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

// env is a core server with the customobjects family.
type env struct {
	*emutest.Env
	co *customobjects.Family
}

func newEnv(t *testing.T, mutate func(*core.Config)) *env {
	t.Helper()
	e := emutest.New(t, mutate)
	co, err := customobjects.New(e.Srv, customobjects.Config{Schemas: map[string][]byte{testSchema: []byte(accountsSchema)}})
	if err != nil {
		t.Fatal(err)
	}
	e.Srv.Register(co)
	return &env{Env: e, co: co}
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
