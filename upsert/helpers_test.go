package upsert

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gcupsert/gcupsert/internal/clock"
)

const (
	testClientID     = "client-id-1"
	testClientSecret = "s3cr3t-value-xyz"
)

// apiRequest is one request the stub received on the API side.
type apiRequest struct {
	Method string
	Path   string // escaped path
	Header http.Header
	Body   []byte
	Keys   []string // record ids of a records body
}

// stub is a minimal Genesys stand-in: /oauth/token plus an API handler.
type stub struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	tokens    int           // token requests served successfully
	tokenReqs []http.Header // headers of token requests
	tokenForm []string
	apiReqs   []apiRequest
	// token, when set, answers token requests (n counts from 1).
	token func(w http.ResponseWriter, r *http.Request, n int) bool
	// api answers API requests; nil means 200 with results, all created.
	api func(w http.ResponseWriter, r *http.Request, req apiRequest, n int)
}

func newStub(t *testing.T) *stub {
	t.Helper()
	s := &stub{t: t}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *stub) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.URL.Path == "/oauth/token" {
		s.mu.Lock()
		s.tokenReqs = append(s.tokenReqs, r.Header.Clone())
		s.tokenForm = append(s.tokenForm, string(body))
		n := len(s.tokenReqs)
		h := s.token
		s.mu.Unlock()
		if h != nil && h(w, r, n) {
			return
		}
		s.mu.Lock()
		s.tokens++
		tok := fmt.Sprintf("tok-%d", s.tokens)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"bearer","expires_in":86400}`, tok)
		return
	}
	req := apiRequest{Method: r.Method, Path: r.URL.EscapedPath(), Header: r.Header.Clone(), Body: body}
	if len(body) > 0 {
		var rb struct {
			Records []map[string]any `json:"records"`
		}
		if err := json.Unmarshal(body, &rb); err == nil {
			for _, rec := range rb.Records {
				id, _ := rec["id"].(string)
				req.Keys = append(req.Keys, id)
			}
		}
	}
	s.mu.Lock()
	s.apiReqs = append(s.apiReqs, req)
	n := len(s.apiReqs)
	h := s.api
	s.mu.Unlock()
	w.Header().Set("ININ-Correlation-Id", fmt.Sprintf("corr-%d", n))
	if h == nil {
		okRecords(w, req, "created")
		return
	}
	h(w, r, req, n)
}

func (s *stub) requests() []apiRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]apiRequest(nil), s.apiReqs...)
}

func (s *stub) tokenCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tokenReqs)
}

// okRecords answers a records POST with 200 and one result per record.
func okRecords(w http.ResponseWriter, req apiRequest, status string) {
	var rb struct {
		Records []map[string]any `json:"records"`
	}
	_ = json.Unmarshal(req.Body, &rb)
	type result struct {
		ID     string         `json:"id"`
		Status string         `json:"status"`
		Record map[string]any `json:"record"`
	}
	out := struct {
		Results []result `json:"results"`
	}{Results: []result{}}
	for _, rec := range rb.Records {
		id, _ := rec["id"].(string)
		delete(rec, "conflictResolution")
		out.Results = append(out.Results, result{ID: id, Status: status, Record: rec})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func writeError(w http.ResponseWriter, status int, body ErrorBody) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// advancer moves a fake clock to each timer's deadline as soon as one is
// armed, and records every wait.
type advancer struct {
	mu    sync.Mutex
	waits []time.Duration
}

func autoAdvance(t *testing.T, f *clock.Fake) *advancer {
	t.Helper()
	a := &advancer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if err := f.WaitForTimers(ctx, 1); err != nil {
				return
			}
			d, ok := f.NextDeadline()
			if !ok {
				continue
			}
			w := d.Sub(f.Now())
			a.mu.Lock()
			a.waits = append(a.waits, w)
			a.mu.Unlock()
			f.Advance(w)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return a
}

func (a *advancer) recorded() []time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]time.Duration(nil), a.waits...)
}

var testStart = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// newTestClient returns a client on the stub with a fake clock.
func newTestClient(t *testing.T, s *stub, mod func(*ClientConfig)) (*Client, *clock.Fake) {
	t.Helper()
	fc := clock.NewFake(testStart)
	cfg := ClientConfig{
		BaseURL:      s.srv.URL,
		ClientID:     testClientID,
		ClientSecret: testClientSecret,
		Clock:        fc,
		Timeout:      5 * time.Second,
		Retry: RetryPolicy{
			InitialInterval: time.Second,
			MaxInterval:     4 * time.Second,
			MaxElapsedTime:  time.Minute,
		},
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c, fc
}

func newTestTarget(t *testing.T, c *Client, mod func(*CustomObjectsConfig)) *CustomObjects {
	t.Helper()
	cfg := CustomObjectsConfig{Schema: "accounts", Conflict: ConflictUpsert}
	if mod != nil {
		mod(&cfg)
	}
	co, err := NewCustomObjects(c, cfg)
	if err != nil {
		t.Fatalf("NewCustomObjects: %v", err)
	}
	return co
}

// prepareAll prepares upserts of keys with a name field.
func prepareAll(t testing.TB, co *CustomObjects, keys ...string) []Item {
	t.Helper()
	items := make([]Item, 0, len(keys))
	for _, k := range keys {
		it, rerr := co.Prepare(Record{Key: k, Op: OpUpsert, Data: map[string]any{"name": "name of " + k}})
		if rerr != nil {
			t.Fatalf("Prepare(%s): %v", k, rerr)
		}
		items = append(items, it)
	}
	return items
}

func keysN(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%03d", prefix, i)
	}
	return out
}

func contains(keys []string, k string) bool {
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}

func noSecret(t *testing.T, what, s string) {
	t.Helper()
	for _, bad := range []string{testClientSecret, "tok-1", "tok-2"} {
		if strings.Contains(s, bad) {
			t.Errorf("%s contains %q: %s", what, bad, s)
		}
	}
}
