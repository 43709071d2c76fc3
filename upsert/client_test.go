package upsert_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/internal/retry"
	"github.com/gcupsert/gcupsert/upsert"
	"github.com/gcupsert/gcupsert/upsert/customobjects"
	"github.com/gcupsert/gcupsert/upsert/upserttest"
)

func TestTokenRequestAndHeaders(t *testing.T) {
	s := upserttest.NewStub(t)
	s.API = func(w http.ResponseWriter, r *http.Request, req upserttest.Request, n int) {
		if r.Method == http.MethodDelete {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		upserttest.OKRecords(w, req, "created")
	}
	c, _ := upserttest.NewClient(t, s.URL, nil)
	co := newTarget(t, c, nil)
	items := prepareAll(t, co, "k1")
	items = append(items, change.Item{Record: change.Record{Key: "k2", Op: change.OpDelete}})
	res, err := co.Upsert(context.Background(), items)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcomes[0].Status != change.StatusCreated || res.Outcomes[1].Status != change.StatusDeleted {
		t.Fatalf("outcomes %+v", res.Outcomes)
	}
	if _, err := co.Upsert(context.Background(), prepareAll(t, co, "k3")); err != nil {
		t.Fatal(err)
	}

	if n := s.TokenCount(); n != 1 {
		t.Fatalf("token requests = %d, want 1 (token reused)", n)
	}
	tokenHeaders, tokenForms := s.TokenRequests()
	h := tokenHeaders[0]
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(upserttest.ClientID+":"+upserttest.ClientSecret))
	if got := h.Get("Authorization"); got != want {
		t.Errorf("token Authorization = %q, want %q", got, want)
	}
	if ct := h.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		t.Errorf("token Content-Type = %q", ct)
	}
	form, err := url.ParseQuery(tokenForms[0])
	if err != nil {
		t.Fatal(err)
	}
	if form.Get("grant_type") != "client_credentials" || form.Has("scope") || form.Has("client_secret") {
		t.Errorf("token form = %q", tokenForms[0])
	}

	reqs := s.Requests()
	if len(reqs) != 3 {
		t.Fatalf("API requests = %d, want 3", len(reqs))
	}
	for _, r := range reqs {
		if r.Header.Get("Authorization") != "Bearer tok-1" {
			t.Errorf("%s %s Authorization = %q", r.Method, r.Path, r.Header.Get("Authorization"))
		}
		if r.Header.Get("Accept") != "application/json" {
			t.Errorf("%s Accept = %q", r.Method, r.Header.Get("Accept"))
		}
		if r.Header.Get("User-Agent") != "gcupsert" {
			t.Errorf("%s User-Agent = %q", r.Method, r.Header.Get("User-Agent"))
		}
	}
	// The upsert and the delete go in parallel: find each by its method.
	byMethod := map[string]upserttest.Request{}
	for _, r := range reqs[:2] {
		byMethod[r.Method] = r
	}
	if post := byMethod[http.MethodPost]; post.Path != "/api/v2/customobjects/accounts/records" || post.Header.Get("Content-Type") != "application/json" {
		t.Errorf("POST request %s %s Content-Type %q", post.Method, post.Path, post.Header.Get("Content-Type"))
	}
	if d, ok := byMethod[http.MethodDelete]; !ok || d.Header.Get("Content-Type") != "" || len(d.Body) != 0 {
		t.Errorf("DELETE request %s Content-Type %q body %q", d.Method, d.Header.Get("Content-Type"), d.Body)
	}
}

func TestUnauthorizedRefreshesOnce(t *testing.T) {
	s := upserttest.NewStub(t)
	s.API = func(w http.ResponseWriter, r *http.Request, req upserttest.Request, n int) {
		if r.Header.Get("Authorization") == "Bearer tok-1" {
			upserttest.WriteError(w, http.StatusUnauthorized, upsert.ErrorBody{Code: "credentials.expired", Status: 401, Message: "expired"})
			return
		}
		upserttest.OKRecords(w, req, "updated")
	}
	c, _ := upserttest.NewClient(t, s.URL, nil)
	co := newTarget(t, c, nil)
	res, err := co.Upsert(context.Background(), prepareAll(t, co, "k1", "k2"))
	if err != nil {
		t.Fatal(err)
	}
	if s.TokenCount() != 2 {
		t.Errorf("token requests = %d, want 2", s.TokenCount())
	}
	reqs := s.Requests()
	if len(reqs) != 2 || len(reqs[1].Keys) != 2 {
		t.Fatalf("API requests %d, want 2 with the body replayed", len(reqs))
	}
	for i, o := range res.Outcomes {
		if o.Status != change.StatusUpdated || o.Attempts != 2 {
			t.Errorf("outcome %d = %v attempts %d, want updated after 2 attempts", i, o.Status, o.Attempts)
		}
	}
	if res.Attempts != 2 {
		t.Errorf("batch attempts = %d, want 2", res.Attempts)
	}
	// The new token is kept.
	if _, err := co.Upsert(context.Background(), prepareAll(t, co, "k3")); err != nil {
		t.Fatal(err)
	}
	if s.TokenCount() != 2 {
		t.Errorf("token requests after another batch = %d, want 2", s.TokenCount())
	}
}

func TestUnauthorizedTwiceIsPermanent(t *testing.T) {
	s := upserttest.NewStub(t)
	s.API = func(w http.ResponseWriter, r *http.Request, req upserttest.Request, n int) {
		upserttest.WriteError(w, http.StatusUnauthorized, upsert.ErrorBody{Code: "authentication.required", Status: 401, Message: "no"})
	}
	c, _ := upserttest.NewClient(t, s.URL, nil)
	co := newTarget(t, c, nil)
	res, err := co.Upsert(context.Background(), prepareAll(t, co, "k1", "k2"))
	// Refused credentials concern every record alike: no record is
	// rejected, the batch stays with the caller.
	if err == nil || !upsert.IsAuthFailure(err) || upsert.IsRetryable(err) {
		t.Fatalf("Upsert error %v, want an authentication failure", err)
	}
	if len(res.Outcomes) != 0 {
		t.Errorf("%d outcomes, want none", len(res.Outcomes))
	}
	if len(s.Requests()) != 2 || s.TokenCount() != 2 {
		t.Errorf("API requests %d token requests %d, want 2 and 2", len(s.Requests()), s.TokenCount())
	}
}

func TestInvalidClientIsPermanent(t *testing.T) {
	s := upserttest.NewStub(t)
	s.Token = func(w http.ResponseWriter, r *http.Request, n int) bool {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":"invalid_client","description":"client not found","error_description":"client not found"}`))
		return true
	}
	c, _ := upserttest.NewClient(t, s.URL, nil)
	_, err := c.Do(context.Background(), upsert.Call{Method: http.MethodGet, Path: "/api/v2/x"})
	var ae *upsert.AuthError
	if !errors.As(err, &ae) || ae.Status != 401 || ae.Code != "invalid_client" {
		t.Fatalf("err = %v (%T), want upsert.AuthError 401 invalid_client", err, err)
	}
	if upsert.IsRetryable(err) {
		t.Error("invalid_client is retryable")
	}
	upserttest.NoSecret(t, "auth error", err.Error())
	if !strings.Contains(err.Error(), "invalid_client") {
		t.Errorf("message %q does not name the cause", err)
	}
	if s.TokenCount() != 1 || len(s.Requests()) != 0 {
		t.Errorf("token requests %d API requests %d, want 1 and 0", s.TokenCount(), len(s.Requests()))
	}

	co := newTarget(t, c, nil)
	res, err := co.Upsert(context.Background(), prepareAll(t, co, "k1"))
	if err == nil || !upsert.IsAuthFailure(err) || len(res.Outcomes) != 0 {
		t.Fatalf("Upsert = %d outcomes, err %v; want an authentication failure and no outcome", len(res.Outcomes), err)
	}
	upserttest.NoSecret(t, "upsert error", err.Error())
}

func TestTokenEndpointFailureRetried(t *testing.T) {
	s := upserttest.NewStub(t)
	s.Token = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		return false
	}
	c, fc := upserttest.NewClient(t, s.URL, nil)
	adv := upserttest.AutoAdvance(t, fc)
	co := newTarget(t, c, nil)
	res, err := co.Upsert(context.Background(), prepareAll(t, co, "k1"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcomes[0].Status != change.StatusCreated || s.TokenCount() != 2 || len(adv.Recorded()) != 1 {
		t.Errorf("outcome %v token requests %d waits %v", res.Outcomes[0].Status, s.TokenCount(), adv.Recorded())
	}
}

func TestRetryAfterObeyed(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter string
		cap        time.Duration
		want       time.Duration
	}{
		{"seconds", "7", 3 * time.Minute, 7 * time.Second},
		{"capped", "600", 10 * time.Second, 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := upserttest.NewStub(t)
			s.API = func(w http.ResponseWriter, r *http.Request, req upserttest.Request, n int) {
				if n == 1 {
					w.Header().Set("Retry-After", tt.retryAfter)
					upserttest.WriteError(w, http.StatusTooManyRequests, upsert.ErrorBody{Code: "too.many.requests.retry.after", Status: 429, Message: "Rate limit exceeded"})
					return
				}
				upserttest.OKRecords(w, req, "created")
			}
			c, fc := upserttest.NewClient(t, s.URL, func(cfg *upsert.ClientConfig) {
				cfg.Retry.MaxRetryAfter = tt.cap
				cfg.Retry.MaxElapsed = time.Hour
			})
			adv := upserttest.AutoAdvance(t, fc)
			co := newTarget(t, c, nil)
			res, err := co.Upsert(context.Background(), prepareAll(t, co, "k1"))
			if err != nil {
				t.Fatal(err)
			}
			waits := adv.Recorded()
			if len(waits) != 1 || waits[0] != tt.want {
				t.Errorf("waits %v, want [%s]", waits, tt.want)
			}
			if got := fc.Now().Sub(upserttest.Start); got != tt.want {
				t.Errorf("fake time moved %s, want %s", got, tt.want)
			}
			if res.Outcomes[0].Status != change.StatusCreated || res.Outcomes[0].Attempts != 2 {
				t.Errorf("outcome %+v", res.Outcomes[0])
			}
			if len(res.CorrelationIDs) != 2 || res.CorrelationIDs[0] != "corr-1" {
				t.Errorf("correlation ids %v", res.CorrelationIDs)
			}
		})
	}
}

func TestServerErrorsRetried(t *testing.T) {
	s := upserttest.NewStub(t)
	s.API = func(w http.ResponseWriter, r *http.Request, req upserttest.Request, n int) {
		switch n {
		case 1:
			upserttest.WriteError(w, http.StatusServiceUnavailable, upsert.ErrorBody{Code: "flows.datatables.server.too.busy", Status: 503})
		case 2:
			w.WriteHeader(http.StatusBadGateway)
		default:
			upserttest.OKRecords(w, req, "created")
		}
	}
	c, fc := upserttest.NewClient(t, s.URL, nil)
	adv := upserttest.AutoAdvance(t, fc)
	co := newTarget(t, c, nil)
	res, err := co.Upsert(context.Background(), prepareAll(t, co, "k1", "k2"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Attempts != 3 || res.Outcomes[0].Attempts != 3 || res.Outcomes[1].Status != change.StatusCreated {
		t.Errorf("attempts %d outcomes %+v", res.Attempts, res.Outcomes)
	}
	waits := adv.Recorded()
	if len(waits) != 2 {
		t.Fatalf("waits %v, want 2", waits)
	}
	// Initial 1s, factor 0.5: first wait in [0.5s, 1.5s], second in [1s, 3s].
	if waits[0] < 500*time.Millisecond || waits[0] > 1500*time.Millisecond || waits[1] < time.Second || waits[1] > 3*time.Second {
		t.Errorf("waits %v outside the backoff bounds", waits)
	}
}

func TestNotImplementedNotRetried(t *testing.T) {
	s := upserttest.NewStub(t)
	s.API = func(w http.ResponseWriter, r *http.Request, req upserttest.Request, n int) {
		upserttest.WriteError(w, http.StatusNotImplemented, upsert.ErrorBody{Code: "not.implemented", Status: 501, Message: "nope"})
	}
	c, fc := upserttest.NewClient(t, s.URL, nil)
	adv := upserttest.AutoAdvance(t, fc)
	co := newTarget(t, c, nil)
	res, err := co.Upsert(context.Background(), prepareAll(t, co, "k1", "k2"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Requests()) != 1 || len(adv.Recorded()) != 0 {
		t.Errorf("requests %d waits %v, want one request and no wait", len(s.Requests()), adv.Recorded())
	}
	for _, o := range res.Outcomes {
		if o.Status != change.StatusRejected || o.Err.Status != 501 || o.Err.Class != "api" {
			t.Errorf("outcome %+v", o)
		}
	}
}

func TestRetryBudgetExhausted(t *testing.T) {
	s := upserttest.NewStub(t)
	s.API = func(w http.ResponseWriter, r *http.Request, req upserttest.Request, n int) {
		upserttest.WriteError(w, http.StatusServiceUnavailable, upsert.ErrorBody{Code: "service.unavailable", Status: 503})
	}
	c, fc := upserttest.NewClient(t, s.URL, func(cfg *upsert.ClientConfig) {
		cfg.Retry = retry.Policy{Initial: time.Second, Max: 2 * time.Second, MaxElapsed: 10 * time.Second}
	})
	adv := upserttest.AutoAdvance(t, fc)
	co := newTarget(t, c, nil)
	res, err := co.Upsert(context.Background(), prepareAll(t, co, "k1", "k2"))
	var se *upsert.StatusError
	if !errors.As(err, &se) || se.Status != 503 || !upsert.IsRetryable(err) {
		t.Fatalf("err = %v, want retryable 503", err)
	}
	if res.Outcomes != nil {
		t.Errorf("outcomes %+v, want none", res.Outcomes)
	}
	if elapsed := fc.Now().Sub(upserttest.Start); elapsed > 10*time.Second || elapsed < 4*time.Second {
		t.Errorf("retried for %s of fake time, want within the 10s budget", elapsed)
	}
	if res.Attempts != len(s.Requests()) || res.Attempts < 3 {
		t.Errorf("attempts %d requests %d waits %v", res.Attempts, len(s.Requests()), adv.Recorded())
	}
}

func TestRetryAfterBeyondBudgetStops(t *testing.T) {
	s := upserttest.NewStub(t)
	s.API = func(w http.ResponseWriter, r *http.Request, req upserttest.Request, n int) {
		w.Header().Set("Retry-After", "90")
		upserttest.WriteError(w, http.StatusTooManyRequests, upsert.ErrorBody{Code: "too.many.requests.retry.after", Status: 429})
	}
	c, fc := upserttest.NewClient(t, s.URL, func(cfg *upsert.ClientConfig) { cfg.Retry.MaxElapsed = time.Minute })
	adv := upserttest.AutoAdvance(t, fc)
	_, err := c.Do(context.Background(), upsert.Call{Method: http.MethodGet, Path: "/x"})
	var se *upsert.StatusError
	if !errors.As(err, &se) || se.Status != 429 || se.RetryAfter != 90*time.Second || !upsert.IsRetryable(err) {
		t.Fatalf("err = %v", err)
	}
	if len(adv.Recorded()) != 0 || len(s.Requests()) != 1 {
		t.Errorf("waits %v requests %d, want no wait past the budget", adv.Recorded(), len(s.Requests()))
	}
}

func TestContextCancelStopsRetries(t *testing.T) {
	s := upserttest.NewStub(t)
	s.API = func(w http.ResponseWriter, r *http.Request, req upserttest.Request, n int) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	c, fc := upserttest.NewClient(t, s.URL, nil)
	co := newTarget(t, c, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := co.Upsert(ctx, prepareAll(t, co, "k1"))
		done <- err
	}()
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := fc.WaitForTimers(wctx, 1); err != nil {
		t.Fatal("no retry wait armed")
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || upsert.IsRetryable(err) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Upsert did not stop on cancel")
	}
	if n := len(s.Requests()); n != 1 {
		t.Errorf("requests %d, want 1", n)
	}
}

func TestLimiterPacesOnClock(t *testing.T) {
	s := upserttest.NewStub(t)
	c, fc := upserttest.NewClient(t, s.URL, func(cfg *upsert.ClientConfig) { cfg.Limiter = rate.NewLimiter(rate.Every(2*time.Second), 1) })
	adv := upserttest.AutoAdvance(t, fc)
	co := newTarget(t, c, nil)
	for _, k := range []string{"k1", "k2", "k3"} {
		if _, err := co.Upsert(context.Background(), prepareAll(t, co, k)); err != nil {
			t.Fatal(err)
		}
	}
	waits := adv.Recorded()
	if len(waits) != 2 || waits[0] != 2*time.Second || waits[1] != 2*time.Second {
		t.Errorf("limiter waits %v, want [2s 2s]", waits)
	}
}

func TestTransportErrorRetried(t *testing.T) {
	s := upserttest.NewStub(t)
	s.API = func(w http.ResponseWriter, r *http.Request, req upserttest.Request, n int) {
		if n == 1 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		upserttest.OKRecords(w, req, "created")
	}
	c, fc := upserttest.NewClient(t, s.URL, nil)
	upserttest.AutoAdvance(t, fc)
	co := newTarget(t, c, nil)
	res, err := co.Upsert(context.Background(), prepareAll(t, co, "k1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Requests()) != 2 || res.Outcomes[0].Status != change.StatusCreated || res.Attempts != 2 {
		t.Errorf("outcome %+v attempts %d", res.Outcomes[0], res.Attempts)
	}
}

func TestUnusableTokenResponseIsPermanent(t *testing.T) {
	s := upserttest.NewStub(t)
	s.Token = func(w http.ResponseWriter, r *http.Request, n int) bool {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"token_type":"bearer"}`))
		return true
	}
	c, fc := upserttest.NewClient(t, s.URL, nil)
	adv := upserttest.AutoAdvance(t, fc)
	_, err := c.Do(context.Background(), upsert.Call{Method: http.MethodGet, Path: "/api/v2/x"})
	var ae *upsert.AuthError
	if !errors.As(err, &ae) || ae.Code != "invalid_token_response" || upsert.IsRetryable(err) {
		t.Fatalf("err = %v, want permanent invalid_token_response", err)
	}
	if s.TokenCount() != 1 || len(adv.Recorded()) != 0 {
		t.Errorf("token requests %d waits %v, want 1 and none", s.TokenCount(), adv.Recorded())
	}
}

func newTarget(t *testing.T, c *upsert.Client, mod func(*customobjects.Config)) *customobjects.Target {
	t.Helper()
	cfg := customobjects.Config{Schema: "accounts"}
	if mod != nil {
		mod(&cfg)
	}
	co, err := customobjects.New(c, cfg)
	if err != nil {
		t.Fatalf("customobjects.New: %v", err)
	}
	return co
}

// prepareAll prepares upserts of keys with a name field.
func prepareAll(t testing.TB, co *customobjects.Target, keys ...string) []change.Item {
	t.Helper()
	items := make([]change.Item, 0, len(keys))
	for _, k := range keys {
		it, rerr := co.Prepare(change.Record{Key: k, Op: change.OpUpsert, Data: map[string]any{"name": "name of " + k}})
		if rerr != nil {
			t.Fatalf("Prepare(%s): %v", k, rerr)
		}
		items = append(items, it)
	}
	return items
}

func TestErrorsCarryNoSecrets(t *testing.T) {
	s := upserttest.NewStub(t)
	s.API = func(w http.ResponseWriter, r *http.Request, req upserttest.Request, n int) {
		upserttest.WriteError(w, http.StatusForbidden, upsert.ErrorBody{Code: "missing.permissions", Status: 403, Message: "forbidden"})
	}
	c, _ := upserttest.NewClient(t, s.URL, nil)
	_, err := c.Do(context.Background(), upsert.Call{Method: http.MethodGet, Path: "/api/v2/x"})
	if err == nil {
		t.Fatal("no error")
	}
	upserttest.NoSecret(t, "status error", err.Error())
	upserttest.NoSecret(t, "status error (%+v)", fmt.Sprintf("%+v", err))

	// An unreachable token endpoint.
	c2, err := upsert.NewClient(upsert.ClientConfig{BaseURL: s.URL, LoginURL: "http://127.0.0.1:1", ClientID: upserttest.ClientID,
		ClientSecret: upserttest.ClientSecret, Retry: retry.Policy{MaxElapsed: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c2.Do(context.Background(), upsert.Call{Method: http.MethodGet, Path: "/api/v2/x"})
	if err == nil || !upsert.IsRetryable(err) {
		t.Fatalf("err = %v, want retryable", err)
	}
	upserttest.NoSecret(t, "auth transport error", err.Error())
}
