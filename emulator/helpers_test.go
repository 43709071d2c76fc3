package emulator

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gcupsert/gcupsert/internal/clock"
)

var testStart = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

const (
	testClient = "client-1"
	testSecret = "s3cret"
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

// env is a Server on a fake clock, called through its handler.
type env struct {
	t   *testing.T
	s   *Server
	clk *clock.Fake
}

func newEnv(t *testing.T, mutate func(*Config)) *env {
	t.Helper()
	clk := clock.NewFake(testStart)
	cfg := Config{
		Clients: map[string]string{testClient: testSecret},
		Schemas: map[string][]byte{testSchema: []byte(accountsSchema)},
		Clock:   clk,
		Seed:    1,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &env{t: t, s: s, clk: clk}
}

// do sends a request through the handler.
func (e *env) do(method, path, body string, header http.Header) *httptest.ResponseRecorder {
	e.t.Helper()
	var r *http.Request
	if body == "" {
		r = httptest.NewRequest(method, path, nil)
	} else {
		r = httptest.NewRequest(method, path, strings.NewReader(body))
	}
	for k, vs := range header {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	w := httptest.NewRecorder()
	e.s.Handler().ServeHTTP(w, r)
	return w
}

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
}

// tokenRequest posts a token request with the given Authorization and form.
func (e *env) tokenRequest(auth string, form url.Values) *httptest.ResponseRecorder {
	e.t.Helper()
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	if auth != "" {
		h.Set("Authorization", auth)
	}
	return e.do(http.MethodPost, "/oauth/token", form.Encode(), h)
}

// token fetches a valid access token.
func (e *env) token() string {
	e.t.Helper()
	w := e.tokenRequest(basic(testClient, testSecret), url.Values{"grant_type": {"client_credentials"}})
	if w.Code != http.StatusOK {
		e.t.Fatalf("token: status %d: %s", w.Code, w.Body)
	}
	var tr tokenResponse
	if err := json.Unmarshal(w.Body.Bytes(), &tr); err != nil || tr.AccessToken == "" {
		e.t.Fatalf("token body %s: %v", w.Body, err)
	}
	return tr.AccessToken
}

// api sends an API request with a bearer token ("" sends none).
func (e *env) api(method, path, tok, body string) *httptest.ResponseRecorder {
	e.t.Helper()
	h := http.Header{"Content-Type": {"application/json"}}
	if tok != "" {
		h.Set("Authorization", "Bearer "+tok)
	}
	return e.do(method, path, body, h)
}

// post sends a batch to testSchema.
func (e *env) post(tok, body string) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.api(http.MethodPost, "/api/v2/customobjects/"+testSchema+"/records", tok, body)
}

// batch wraps record documents in a batch body.
func batch(recs ...string) string {
	return `{"records":[` + strings.Join(recs, ",") + `]}`
}

// rec returns a valid record document.
func rec(id, conflict string) string {
	return fmt.Sprintf(`{"id":%q,"conflictResolution":%q,"name":"n-%s"}`, id, conflict, id)
}

// errBody decodes an ErrorBody and checks its status and contextId.
func errBody(t *testing.T, w *httptest.ResponseRecorder) ErrorBody {
	t.Helper()
	var eb ErrorBody
	if err := json.Unmarshal(w.Body.Bytes(), &eb); err != nil {
		t.Fatalf("error body %q: %v", w.Body, err)
	}
	if eb.Status != w.Code {
		t.Errorf("body status %d, response status %d", eb.Status, w.Code)
	}
	if cid := w.Header().Get("ININ-Correlation-Id"); cid == "" || eb.ContextID != cid {
		t.Errorf("contextId %q, correlation id %q", eb.ContextID, cid)
	}
	if eb.Details == nil || eb.Errors == nil {
		t.Errorf("details and errors must be arrays: %s", w.Body)
	}
	return eb
}

func wantStatus(t *testing.T, w *httptest.ResponseRecorder, status int) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d; body %s", w.Code, status, w.Body)
	}
}
