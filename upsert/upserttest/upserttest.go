// Package upserttest holds what the tests of the Genesys client and of its
// targets share: a minimal stand-in server (token endpoint plus an API
// handler the test supplies), a client on a fake clock, and a fake-clock
// driver that fires each wait at once and records it.
package upserttest

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
	"github.com/gcupsert/gcupsert/internal/retry"
	"github.com/gcupsert/gcupsert/upsert"
)

// The stub's OAuth client.
const (
	ClientID     = "client-id-1"
	ClientSecret = "s3cr3t-value-xyz"
)

// Start is the fake clock's start.
var Start = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// Request is one request the stub received on the API side.
type Request struct {
	Method string
	Path   string // escaped path
	Header http.Header
	Body   []byte
	Keys   []string // record ids of a records body
}

// Stub is a minimal Genesys stand-in: /oauth/token plus an API handler.
// Every API response carries ININ-Correlation-Id "corr-<n>".
type Stub struct {
	URL string

	mu        sync.Mutex
	tokens    int           // token requests served successfully
	tokenReqs []http.Header // headers of token requests
	tokenForm []string
	apiReqs   []Request
	// Token, when set, answers token requests (n counts from 1); it
	// reports false to let the stub issue a token.
	Token func(w http.ResponseWriter, r *http.Request, n int) bool
	// API answers API requests; nil means 200 with results, all created.
	API func(w http.ResponseWriter, r *http.Request, req Request, n int)
}

// NewStub starts a stub server, closed when the test ends.
func NewStub(t testing.TB) *Stub {
	t.Helper()
	s := &Stub{}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = srv.URL
	t.Cleanup(srv.Close)
	return s
}

func (s *Stub) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.URL.Path == "/oauth/token" {
		s.mu.Lock()
		s.tokenReqs = append(s.tokenReqs, r.Header.Clone())
		s.tokenForm = append(s.tokenForm, string(body))
		n := len(s.tokenReqs)
		h := s.Token
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
	req := Request{Method: r.Method, Path: r.URL.EscapedPath(), Header: r.Header.Clone(), Body: body}
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
	h := s.API
	s.mu.Unlock()
	w.Header().Set("ININ-Correlation-Id", fmt.Sprintf("corr-%d", n))
	if h == nil {
		OKRecords(w, req, "created")
		return
	}
	h(w, r, req, n)
}

// Requests returns the API requests so far.
func (s *Stub) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.apiReqs...)
}

// TokenCount is the number of token requests so far.
func (s *Stub) TokenCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tokenReqs)
}

// TokenRequests returns the headers and form bodies of the token requests.
func (s *Stub) TokenRequests() ([]http.Header, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]http.Header(nil), s.tokenReqs...), append([]string(nil), s.tokenForm...)
}

// OKRecords answers a records POST with 200 and one result per record.
func OKRecords(w http.ResponseWriter, req Request, status string) {
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

// WriteError answers status with body as JSON.
func WriteError(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// Advancer moves a fake clock to each timer's deadline as soon as one is
// armed, and records every wait.
type Advancer struct {
	mu    sync.Mutex
	waits []time.Duration
}

// AutoAdvance drives f until the test ends.
func AutoAdvance(t testing.TB, f *clock.Fake) *Advancer {
	t.Helper()
	a := &Advancer{}
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

// Recorded returns the waits so far.
func (a *Advancer) Recorded() []time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]time.Duration(nil), a.waits...)
}

// NewClient returns a client of the stub at baseURL on a fake clock set to
// Start: retries from 1s, at most 4s apart, for a minute; mod may change
// the configuration first.
func NewClient(t testing.TB, baseURL string, mod func(*upsert.ClientConfig)) (*upsert.Client, *clock.Fake) {
	t.Helper()
	fc := clock.NewFake(Start)
	cfg := upsert.ClientConfig{
		BaseURL:      baseURL,
		ClientID:     ClientID,
		ClientSecret: ClientSecret,
		Clock:        fc,
		Timeout:      5 * time.Second,
		Retry:        retry.Policy{Initial: time.Second, Max: 4 * time.Second, MaxElapsed: time.Minute},
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := upsert.NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c, fc
}

// NoSecret fails the test when s holds the stub's secret or a token.
func NoSecret(t testing.TB, what, s string) {
	t.Helper()
	for _, bad := range []string{ClientSecret, "tok-1", "tok-2"} {
		if strings.Contains(s, bad) {
			t.Errorf("%s contains %q: %s", what, bad, s)
		}
	}
}

// Keys returns n keys "<prefix>-000", "<prefix>-001", ...
func Keys(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%03d", prefix, i)
	}
	return out
}
