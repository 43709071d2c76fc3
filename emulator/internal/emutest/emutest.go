// Package emutest helps the emulator's tests: a core server on a fake
// clock with one OAuth client, and helpers to send requests and check
// answers.
package emutest

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

	"github.com/gcupsert/gcupsert/emulator/core"
	"github.com/gcupsert/gcupsert/internal/clock"
)

// Start is the time the fake clock starts at.
var Start = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// The OAuth client of New.
const (
	Client = "client-1"
	Secret = "s3cret"
)

// Env is a core server on a fake clock, called through its handler.
type Env struct {
	T   *testing.T
	Srv *core.Server
	Clk *clock.Fake
}

// New returns an Env whose server has Client, the fake clock and seed 1;
// mutate, when not nil, changes the configuration first.
func New(t *testing.T, mutate func(*core.Config)) *Env {
	t.Helper()
	clk := clock.NewFake(Start)
	cfg := core.Config{Clients: map[string]string{Client: Secret}, Clock: clk, Seed: 1}
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := core.New(cfg)
	if err != nil {
		t.Fatalf("core.New: %v", err)
	}
	return &Env{T: t, Srv: s, Clk: clk}
}

// Do sends a request through the handler.
func (e *Env) Do(method, path, body string, header http.Header) *httptest.ResponseRecorder {
	e.T.Helper()
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
	e.Srv.Handler().ServeHTTP(w, r)
	return w
}

// Basic is a Basic Authorization header value.
func Basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
}

// TokenResponse is the body of a successful token request.
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

// TokenRequest posts a token request with the given Authorization and form.
func (e *Env) TokenRequest(auth string, form url.Values) *httptest.ResponseRecorder {
	e.T.Helper()
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	if auth != "" {
		h.Set("Authorization", auth)
	}
	return e.Do(http.MethodPost, "/oauth/token", form.Encode(), h)
}

// Token fetches a valid access token for Client.
func (e *Env) Token() string {
	e.T.Helper()
	w := e.TokenRequest(Basic(Client, Secret), url.Values{"grant_type": {"client_credentials"}})
	if w.Code != http.StatusOK {
		e.T.Fatalf("token: status %d: %s", w.Code, w.Body)
	}
	var tr TokenResponse
	if err := json.Unmarshal(w.Body.Bytes(), &tr); err != nil || tr.AccessToken == "" {
		e.T.Fatalf("token body %s: %v", w.Body, err)
	}
	return tr.AccessToken
}

// API sends an API request with a bearer token ("" sends none).
func (e *Env) API(method, path, tok, body string) *httptest.ResponseRecorder {
	e.T.Helper()
	h := http.Header{"Content-Type": {"application/json"}}
	if tok != "" {
		h.Set("Authorization", "Bearer "+tok)
	}
	return e.Do(method, path, body, h)
}

// ErrBody decodes an ErrorBody and checks its status and contextId.
func ErrBody(t *testing.T, w *httptest.ResponseRecorder) core.ErrorBody {
	t.Helper()
	var eb core.ErrorBody
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

// WantStatus fails t unless w has status.
func WantStatus(t *testing.T, w *httptest.ResponseRecorder, status int) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d; body %s", w.Code, status, w.Body)
	}
}

// DecodeJSON decodes body into a T.
func DecodeJSON[T any](t *testing.T, body []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return v
}

// EqualJSON compares two values as JSON.
func EqualJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// NewFamily returns an Env (see New) with the family build makes on its
// server, registered.
func NewFamily[F core.Family](t *testing.T, mutate func(*core.Config), build func(*core.Server) (F, error)) (*Env, F) {
	t.Helper()
	e := New(t, mutate)
	f, err := build(e.Srv)
	if err != nil {
		t.Fatalf("building the family: %v", err)
	}
	e.Srv.Register(f)
	return e, f
}

// Customobjects test data: a schema, its JSON Schema, and batch bodies.
const (
	Schema = "accounts"
	// AccountsSchema describes the record fields of Schema.
	AccountsSchema = `{
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

// Batch wraps record documents in a batch body.
func Batch(recs ...string) string {
	return `{"records":[` + strings.Join(recs, ",") + `]}`
}

// Record returns a valid record document of Schema.
func Record(id, conflict string) string {
	return fmt.Sprintf(`{"id":%q,"conflictResolution":%q,"name":"n-%s"}`, id, conflict, id)
}

// Post sends a batch to Schema.
func (e *Env) Post(tok, body string) *httptest.ResponseRecorder {
	e.T.Helper()
	return e.API(http.MethodPost, "/api/v2/customobjects/"+Schema+"/records", tok, body)
}
