package externalcontacts

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gcupsert/gcupsert/emulator/core"
	"github.com/gcupsert/gcupsert/emulator/internal/emutest"
)

// env is a core server with the family, a token, and the id of the
// seeded source "crm".
type env struct {
	*emutest.Env
	f   *Family
	tok string
	src string
}

// newEnv returns an env whose family seeds the source "crm"; mutate, when
// not nil, changes the configurations of the core and of the family first.
func newEnv(t *testing.T, mutate func(*core.Config, *Config)) *env {
	t.Helper()
	cfg := Config{Sources: []string{"crm"}, Seed: 1}
	e, f := emutest.NewFamily(t, func(cc *core.Config) {
		cc.DisableRateLimit = true
		if mutate != nil {
			mutate(cc, &cfg)
		}
	}, func(s *core.Server) (*Family, error) { return New(s, cfg) })
	src, ok := f.SourceID("crm")
	if !ok && len(cfg.Sources) > 0 {
		t.Fatal("no seeded source crm")
	}
	return &env{Env: e, f: f, tok: e.Token(), src: src}
}

// call sends an API request under /api/v2/externalcontacts.
func (e *env) call(method, path, body string) *httptest.ResponseRecorder {
	e.T.Helper()
	return e.API(method, basePath+path, e.tok, body)
}

// must sends a request and fails unless it answers status.
func (e *env) must(method, path, body string, status int) []byte {
	e.T.Helper()
	w := e.call(method, path, body)
	emutest.WantStatus(e.T, w, status)
	return w.Body.Bytes()
}

// fail sends a request that must fail with status and code, and returns
// its error body.
func (e *env) fail(method, path, body string, status int, code string) core.ErrorBody {
	e.T.Helper()
	w := e.call(method, path, body)
	emutest.WantStatus(e.T, w, status)
	eb := emutest.ErrBody(e.T, w)
	if eb.Code != code {
		e.T.Fatalf("code %q, want %q: %s", eb.Code, code, w.Body)
	}
	return eb
}

// extID is the JSON of an ExternalId identifier or externalIds item of
// the crm source.
func (e *env) extID(v string) string {
	return fmt.Sprintf(`{"externalSource":{"id":%q},"value":%q}`, e.src, v)
}

// ident is the JSON of an ExternalId identifier of the crm source.
func (e *env) ident(v string) string {
	return fmt.Sprintf(`{"type":"ExternalId","value":%q,"externalSource":{"id":%q}}`, v, e.src)
}

// op is the JSON of a contact enrich operation with tracker id, action,
// the crm external id ext and the contact fields body (without braces).
func (e *env) op(id, action, ext, contact string) string {
	return fmt.Sprintf(`{"id":%q,"action":%q,"matchingIdentifiers":[%s],"contact":{%s}}`, id, action, e.ident(ext), contact)
}

// bulk wraps entities in a bulk body.
func bulk(entities ...string) string { return `{"entities":[` + strings.Join(entities, ",") + `]}` }

// enrich posts a bulk contacts enrich and decodes the answer.
func (e *env) enrich(query string, ops ...string) sdkBulkContactsEnrichResponse {
	e.T.Helper()
	b := e.must(http.MethodPost, "/bulk/contacts/enrich"+query, bulk(ops...), 200)
	return decodeSDK[sdkBulkContactsEnrichResponse](e.T, b)
}

// byID returns the results of a bulk enrich by tracker id, checking that
// errorCount and errorIndexes agree with them.
func byID[R interface{ result() (string, bool) }](t *testing.T, results []R, errorCount *int, errorIndexes *[]int) map[string]R {
	t.Helper()
	out := map[string]R{}
	var failed []int
	for i, r := range results {
		id, ok := r.result()
		out[id] = r
		if !ok {
			failed = append(failed, i)
		}
	}
	if errorCount == nil || *errorCount != len(failed) {
		t.Errorf("errorCount %v, %d results failed", errorCount, len(failed))
	}
	if errorIndexes == nil || fmt.Sprint(*errorIndexes) != fmt.Sprint(failed) && !(len(failed) == 0 && len(*errorIndexes) == 0) {
		t.Errorf("errorIndexes %v, failed results at %v", errorIndexes, failed)
	}
	return out
}

// schemaDoc is a jsonSchema with properties props (a JSON object body
// without braces).
func schemaDoc(props string) string {
	return `{"$schema":"http://json-schema.org/draft-04/schema#","title":"t","properties":{` + props + `}}`
}

// textProp is a text custom field definition with maxLength n.
func textProp(n int) string {
	return fmt.Sprintf(`{"allOf":[{"$ref":"#/definitions/text"}],"title":"T","minLength":1,"maxLength":%d}`, n)
}
