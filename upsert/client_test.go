package upsert

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

func TestRegionURLs(t *testing.T) {
	tests := []struct{ region, api, login string }{
		{"us_east_1", "https://api.mypurecloud.com", "https://login.mypurecloud.com"},
		{"us_east_2", "https://api.use2.us-gov-pure.cloud", "https://login.use2.us-gov-pure.cloud"},
		{"us_west_2", "https://api.usw2.pure.cloud", "https://login.usw2.pure.cloud"},
		{"ca_central_1", "https://api.cac1.pure.cloud", "https://login.cac1.pure.cloud"},
		{"sa_east_1", "https://api.sae1.pure.cloud", "https://login.sae1.pure.cloud"},
		{"mx_central_1", "https://api.mxc1.pure.cloud", "https://login.mxc1.pure.cloud"},
		{"eu_west_1", "https://api.mypurecloud.ie", "https://login.mypurecloud.ie"},
		{"eu_west_2", "https://api.euw2.pure.cloud", "https://login.euw2.pure.cloud"},
		{"eu_central_1", "https://api.mypurecloud.de", "https://login.mypurecloud.de"},
		{"eu_central_2", "https://api.euc2.pure.cloud", "https://login.euc2.pure.cloud"},
		{"me_central_1", "https://api.mec1.pure.cloud", "https://login.mec1.pure.cloud"},
		{"ap_south_1", "https://api.aps1.pure.cloud", "https://login.aps1.pure.cloud"},
		{"ap_northeast_1", "https://api.mypurecloud.jp", "https://login.mypurecloud.jp"},
		{"ap_northeast_2", "https://api.apne2.pure.cloud", "https://login.apne2.pure.cloud"},
		{"ap_northeast_3", "https://api.apne3.pure.cloud", "https://login.apne3.pure.cloud"},
		{"ap_southeast_1", "https://api.apse1.pure.cloud", "https://login.apse1.pure.cloud"},
		{"ap_southeast_2", "https://api.mypurecloud.com.au", "https://login.mypurecloud.com.au"},
		{"EU-West-1", "https://api.mypurecloud.ie", "https://login.mypurecloud.ie"},
	}
	for _, tt := range tests {
		api, login, ok := RegionURLs(tt.region)
		if !ok || api != tt.api || login != tt.login {
			t.Errorf("RegionURLs(%q) = %q, %q, %v; want %q, %q", tt.region, api, login, ok, tt.api, tt.login)
		}
		c, err := NewClient(ClientConfig{Region: tt.region, ClientID: "a", ClientSecret: "b"})
		if err != nil {
			t.Fatalf("NewClient(region %q): %v", tt.region, err)
		}
		if c.apiBase != tt.api || c.tokens.cfg.TokenURL != tt.login+"/oauth/token" {
			t.Errorf("region %q: api %q token URL %q", tt.region, c.apiBase, c.tokens.cfg.TokenURL)
		}
	}
	if got := len(Regions()); got != 17 {
		t.Errorf("Regions() has %d entries, want 17", got)
	}
	if _, _, ok := RegionURLs("mars_north_1"); ok {
		t.Error("unknown region accepted")
	}
}

func TestNewClientConfig(t *testing.T) {
	c, err := NewClient(ClientConfig{BaseURL: "http://127.0.0.1:8080/", ClientID: "a", ClientSecret: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if c.apiBase != "http://127.0.0.1:8080" || c.tokens.cfg.TokenURL != "http://127.0.0.1:8080/oauth/token" {
		t.Errorf("base %q token URL %q", c.apiBase, c.tokens.cfg.TokenURL)
	}
	if c.retry != (RetryPolicy{500 * time.Millisecond, 30 * time.Second, 2 * time.Minute, 2.0, 0.5, 3 * time.Minute}) {
		t.Errorf("default retry policy %+v", c.retry)
	}
	if c.timeout != 30*time.Second {
		t.Errorf("default timeout %s", c.timeout)
	}
	c, err = NewClient(ClientConfig{Region: "eu_west_1", BaseURL: "http://api.local", LoginURL: "http://login.local", ClientID: "a", ClientSecret: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if c.apiBase != "http://api.local" || c.tokens.cfg.TokenURL != "http://login.local/oauth/token" {
		t.Errorf("overrides: base %q token URL %q", c.apiBase, c.tokens.cfg.TokenURL)
	}
	bad := []ClientConfig{
		{Region: "us_east_1"},
		{ClientID: "a", ClientSecret: "b"},
		{Region: "nowhere", ClientID: "a", ClientSecret: "b"},
		{BaseURL: "ftp://x", ClientID: "a", ClientSecret: "b"},
		{BaseURL: "http://x", ClientID: "a", ClientSecret: "b", Timeout: -1},
		{BaseURL: "http://x", ClientID: "a", ClientSecret: "b", Retry: RetryPolicy{RandomizationFactor: 2}},
		{BaseURL: "http://x", ClientID: "a", ClientSecret: "b", Limiter: rate.NewLimiter(1, 0)},
	}
	for i, cfg := range bad {
		if _, err := NewClient(cfg); err == nil {
			t.Errorf("config %d accepted", i)
		} else {
			noSecret(t, "config error", err.Error())
		}
	}
}

func TestTokenRequestAndHeaders(t *testing.T) {
	s := newStub(t)
	s.api = func(w http.ResponseWriter, r *http.Request, req apiRequest, n int) {
		if r.Method == http.MethodDelete {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		okRecords(w, req, "created")
	}
	c, _ := newTestClient(t, s, nil)
	co := newTestTarget(t, c, nil)
	items := prepareAll(t, co, "k1")
	items = append(items, Item{Record: Record{Key: "k2", Op: OpDelete}})
	res, err := co.Upsert(context.Background(), items)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcomes[0].Status != StatusCreated || res.Outcomes[1].Status != StatusDeleted {
		t.Fatalf("outcomes %+v", res.Outcomes)
	}
	if _, err := co.Upsert(context.Background(), prepareAll(t, co, "k3")); err != nil {
		t.Fatal(err)
	}

	if n := s.tokenCount(); n != 1 {
		t.Fatalf("token requests = %d, want 1 (token reused)", n)
	}
	h := s.tokenReqs[0]
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(testClientID+":"+testClientSecret))
	if got := h.Get("Authorization"); got != want {
		t.Errorf("token Authorization = %q, want %q", got, want)
	}
	if ct := h.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		t.Errorf("token Content-Type = %q", ct)
	}
	form, err := url.ParseQuery(s.tokenForm[0])
	if err != nil {
		t.Fatal(err)
	}
	if form.Get("grant_type") != "client_credentials" || form.Has("scope") || form.Has("client_secret") {
		t.Errorf("token form = %q", s.tokenForm[0])
	}

	reqs := s.requests()
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
	if reqs[0].Method != http.MethodPost || reqs[0].Path != "/api/v2/customobjects/accounts/records" || reqs[0].Header.Get("Content-Type") != "application/json" {
		t.Errorf("POST request %s %s Content-Type %q", reqs[0].Method, reqs[0].Path, reqs[0].Header.Get("Content-Type"))
	}
	if reqs[1].Method != http.MethodDelete || reqs[1].Header.Get("Content-Type") != "" || len(reqs[1].Body) != 0 {
		t.Errorf("DELETE request %s Content-Type %q body %q", reqs[1].Method, reqs[1].Header.Get("Content-Type"), reqs[1].Body)
	}
}

func TestUnauthorizedRefreshesOnce(t *testing.T) {
	s := newStub(t)
	s.api = func(w http.ResponseWriter, r *http.Request, req apiRequest, n int) {
		if r.Header.Get("Authorization") == "Bearer tok-1" {
			writeError(w, http.StatusUnauthorized, ErrorBody{Code: "credentials.expired", Status: 401, Message: "expired"})
			return
		}
		okRecords(w, req, "updated")
	}
	c, _ := newTestClient(t, s, nil)
	co := newTestTarget(t, c, nil)
	res, err := co.Upsert(context.Background(), prepareAll(t, co, "k1", "k2"))
	if err != nil {
		t.Fatal(err)
	}
	if s.tokenCount() != 2 {
		t.Errorf("token requests = %d, want 2", s.tokenCount())
	}
	reqs := s.requests()
	if len(reqs) != 2 || len(reqs[1].Keys) != 2 {
		t.Fatalf("API requests %d, want 2 with the body replayed", len(reqs))
	}
	for i, o := range res.Outcomes {
		if o.Status != StatusUpdated || o.Attempts != 2 {
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
	if s.tokenCount() != 2 {
		t.Errorf("token requests after another batch = %d, want 2", s.tokenCount())
	}
}

func TestUnauthorizedTwiceIsPermanent(t *testing.T) {
	s := newStub(t)
	s.api = func(w http.ResponseWriter, r *http.Request, req apiRequest, n int) {
		writeError(w, http.StatusUnauthorized, ErrorBody{Code: "authentication.required", Status: 401, Message: "no"})
	}
	c, _ := newTestClient(t, s, nil)
	co := newTestTarget(t, c, nil)
	res, err := co.Upsert(context.Background(), prepareAll(t, co, "k1", "k2"))
	// Refused credentials concern every record alike: no record is
	// rejected, the batch stays with the caller.
	if err == nil || !IsAuthFailure(err) || IsRetryable(err) {
		t.Fatalf("Upsert error %v, want an authentication failure", err)
	}
	if len(res.Outcomes) != 0 {
		t.Errorf("%d outcomes, want none", len(res.Outcomes))
	}
	if len(s.requests()) != 2 || s.tokenCount() != 2 {
		t.Errorf("API requests %d token requests %d, want 2 and 2", len(s.requests()), s.tokenCount())
	}
}

func TestInvalidClientIsPermanent(t *testing.T) {
	s := newStub(t)
	s.token = func(w http.ResponseWriter, r *http.Request, n int) bool {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":"invalid_client","description":"client not found","error_description":"client not found"}`))
		return true
	}
	c, _ := newTestClient(t, s, nil)
	_, err := c.do(context.Background(), call{method: http.MethodGet, path: "/api/v2/x"})
	var ae *AuthError
	if !errors.As(err, &ae) || ae.Status != 401 || ae.Code != "invalid_client" {
		t.Fatalf("err = %v (%T), want AuthError 401 invalid_client", err, err)
	}
	if IsRetryable(err) {
		t.Error("invalid_client is retryable")
	}
	noSecret(t, "auth error", err.Error())
	if !strings.Contains(err.Error(), "invalid_client") {
		t.Errorf("message %q does not name the cause", err)
	}
	if s.tokenCount() != 1 || len(s.requests()) != 0 {
		t.Errorf("token requests %d API requests %d, want 1 and 0", s.tokenCount(), len(s.requests()))
	}

	co := newTestTarget(t, c, nil)
	res, err := co.Upsert(context.Background(), prepareAll(t, co, "k1"))
	if err == nil || !IsAuthFailure(err) || len(res.Outcomes) != 0 {
		t.Fatalf("Upsert = %d outcomes, err %v; want an authentication failure and no outcome", len(res.Outcomes), err)
	}
	noSecret(t, "upsert error", err.Error())
}

func TestTokenEndpointFailureRetried(t *testing.T) {
	s := newStub(t)
	s.token = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		return false
	}
	c, fc := newTestClient(t, s, nil)
	adv := autoAdvance(t, fc)
	co := newTestTarget(t, c, nil)
	res, err := co.Upsert(context.Background(), prepareAll(t, co, "k1"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcomes[0].Status != StatusCreated || s.tokenCount() != 2 || len(adv.recorded()) != 1 {
		t.Errorf("outcome %v token requests %d waits %v", res.Outcomes[0].Status, s.tokenCount(), adv.recorded())
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
			s := newStub(t)
			s.api = func(w http.ResponseWriter, r *http.Request, req apiRequest, n int) {
				if n == 1 {
					w.Header().Set("Retry-After", tt.retryAfter)
					writeError(w, http.StatusTooManyRequests, ErrorBody{Code: "too.many.requests.retry.after", Status: 429, Message: "Rate limit exceeded"})
					return
				}
				okRecords(w, req, "created")
			}
			c, fc := newTestClient(t, s, func(cfg *ClientConfig) {
				cfg.Retry.MaxRetryAfter = tt.cap
				cfg.Retry.MaxElapsedTime = time.Hour
			})
			adv := autoAdvance(t, fc)
			co := newTestTarget(t, c, nil)
			res, err := co.Upsert(context.Background(), prepareAll(t, co, "k1"))
			if err != nil {
				t.Fatal(err)
			}
			waits := adv.recorded()
			if len(waits) != 1 || waits[0] != tt.want {
				t.Errorf("waits %v, want [%s]", waits, tt.want)
			}
			if got := fc.Now().Sub(testStart); got != tt.want {
				t.Errorf("fake time moved %s, want %s", got, tt.want)
			}
			if res.Outcomes[0].Status != StatusCreated || res.Outcomes[0].Attempts != 2 {
				t.Errorf("outcome %+v", res.Outcomes[0])
			}
			if len(res.CorrelationIDs) != 2 || res.CorrelationIDs[0] != "corr-1" {
				t.Errorf("correlation ids %v", res.CorrelationIDs)
			}
		})
	}
}

func TestServerErrorsRetried(t *testing.T) {
	s := newStub(t)
	s.api = func(w http.ResponseWriter, r *http.Request, req apiRequest, n int) {
		switch n {
		case 1:
			writeError(w, http.StatusServiceUnavailable, ErrorBody{Code: "flows.datatables.server.too.busy", Status: 503})
		case 2:
			w.WriteHeader(http.StatusBadGateway)
		default:
			okRecords(w, req, "created")
		}
	}
	c, fc := newTestClient(t, s, nil)
	adv := autoAdvance(t, fc)
	co := newTestTarget(t, c, nil)
	res, err := co.Upsert(context.Background(), prepareAll(t, co, "k1", "k2"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Attempts != 3 || res.Outcomes[0].Attempts != 3 || res.Outcomes[1].Status != StatusCreated {
		t.Errorf("attempts %d outcomes %+v", res.Attempts, res.Outcomes)
	}
	waits := adv.recorded()
	if len(waits) != 2 {
		t.Fatalf("waits %v, want 2", waits)
	}
	// InitialInterval 1s, factor 0.5: first wait in [0.5s, 1.5s], second in [1s, 3s].
	if waits[0] < 500*time.Millisecond || waits[0] > 1500*time.Millisecond || waits[1] < time.Second || waits[1] > 3*time.Second {
		t.Errorf("waits %v outside the backoff bounds", waits)
	}
}

func TestNotImplementedNotRetried(t *testing.T) {
	s := newStub(t)
	s.api = func(w http.ResponseWriter, r *http.Request, req apiRequest, n int) {
		writeError(w, http.StatusNotImplemented, ErrorBody{Code: "not.implemented", Status: 501, Message: "nope"})
	}
	c, fc := newTestClient(t, s, nil)
	adv := autoAdvance(t, fc)
	co := newTestTarget(t, c, nil)
	res, err := co.Upsert(context.Background(), prepareAll(t, co, "k1", "k2"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.requests()) != 1 || len(adv.recorded()) != 0 {
		t.Errorf("requests %d waits %v, want one request and no wait", len(s.requests()), adv.recorded())
	}
	for _, o := range res.Outcomes {
		if o.Status != StatusRejected || o.Err.Status != 501 || o.Err.Class != "api" {
			t.Errorf("outcome %+v", o)
		}
	}
}

func TestRetryBudgetExhausted(t *testing.T) {
	s := newStub(t)
	s.api = func(w http.ResponseWriter, r *http.Request, req apiRequest, n int) {
		writeError(w, http.StatusServiceUnavailable, ErrorBody{Code: "service.unavailable", Status: 503})
	}
	c, fc := newTestClient(t, s, func(cfg *ClientConfig) {
		cfg.Retry = RetryPolicy{InitialInterval: time.Second, MaxInterval: 2 * time.Second, MaxElapsedTime: 10 * time.Second}
	})
	adv := autoAdvance(t, fc)
	co := newTestTarget(t, c, nil)
	res, err := co.Upsert(context.Background(), prepareAll(t, co, "k1", "k2"))
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 503 || !IsRetryable(err) {
		t.Fatalf("err = %v, want retryable 503", err)
	}
	if res.Outcomes != nil {
		t.Errorf("outcomes %+v, want none", res.Outcomes)
	}
	if elapsed := fc.Now().Sub(testStart); elapsed > 10*time.Second || elapsed < 4*time.Second {
		t.Errorf("retried for %s of fake time, want within the 10s budget", elapsed)
	}
	if res.Attempts != len(s.requests()) || res.Attempts < 3 {
		t.Errorf("attempts %d requests %d waits %v", res.Attempts, len(s.requests()), adv.recorded())
	}
}

func TestRetryAfterBeyondBudgetStops(t *testing.T) {
	s := newStub(t)
	s.api = func(w http.ResponseWriter, r *http.Request, req apiRequest, n int) {
		w.Header().Set("Retry-After", "90")
		writeError(w, http.StatusTooManyRequests, ErrorBody{Code: "too.many.requests.retry.after", Status: 429})
	}
	c, fc := newTestClient(t, s, func(cfg *ClientConfig) { cfg.Retry.MaxElapsedTime = time.Minute })
	adv := autoAdvance(t, fc)
	_, err := c.do(context.Background(), call{method: http.MethodGet, path: "/x"})
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 429 || se.RetryAfter != 90*time.Second || !IsRetryable(err) {
		t.Fatalf("err = %v", err)
	}
	if len(adv.recorded()) != 0 || len(s.requests()) != 1 {
		t.Errorf("waits %v requests %d, want no wait past the budget", adv.recorded(), len(s.requests()))
	}
}

func TestContextCancelStopsRetries(t *testing.T) {
	s := newStub(t)
	s.api = func(w http.ResponseWriter, r *http.Request, req apiRequest, n int) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	c, fc := newTestClient(t, s, nil)
	co := newTestTarget(t, c, nil)
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
		if !errors.Is(err, context.Canceled) || IsRetryable(err) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Upsert did not stop on cancel")
	}
	if n := len(s.requests()); n != 1 {
		t.Errorf("requests %d, want 1", n)
	}
}

func TestLimiterPacesOnClock(t *testing.T) {
	s := newStub(t)
	c, fc := newTestClient(t, s, func(cfg *ClientConfig) { cfg.Limiter = rate.NewLimiter(rate.Every(2*time.Second), 1) })
	adv := autoAdvance(t, fc)
	co := newTestTarget(t, c, nil)
	for _, k := range []string{"k1", "k2", "k3"} {
		if _, err := co.Upsert(context.Background(), prepareAll(t, co, k)); err != nil {
			t.Fatal(err)
		}
	}
	waits := adv.recorded()
	if len(waits) != 2 || waits[0] != 2*time.Second || waits[1] != 2*time.Second {
		t.Errorf("limiter waits %v, want [2s 2s]", waits)
	}
}

func TestTransportErrorRetried(t *testing.T) {
	s := newStub(t)
	s.api = func(w http.ResponseWriter, r *http.Request, req apiRequest, n int) {
		if n == 1 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		okRecords(w, req, "created")
	}
	c, fc := newTestClient(t, s, nil)
	autoAdvance(t, fc)
	co := newTestTarget(t, c, nil)
	res, err := co.Upsert(context.Background(), prepareAll(t, co, "k1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.requests()) != 2 || res.Outcomes[0].Status != StatusCreated || res.Attempts != 2 {
		t.Errorf("outcome %+v attempts %d", res.Outcomes[0], res.Attempts)
	}
}

func TestUnusableTokenResponseIsPermanent(t *testing.T) {
	s := newStub(t)
	s.token = func(w http.ResponseWriter, r *http.Request, n int) bool {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"token_type":"bearer"}`))
		return true
	}
	c, fc := newTestClient(t, s, nil)
	adv := autoAdvance(t, fc)
	_, err := c.do(context.Background(), call{method: http.MethodGet, path: "/api/v2/x"})
	var ae *AuthError
	if !errors.As(err, &ae) || ae.Code != "invalid_token_response" || IsRetryable(err) {
		t.Fatalf("err = %v, want permanent invalid_token_response", err)
	}
	if s.tokenCount() != 1 || len(adv.recorded()) != 0 {
		t.Errorf("token requests %d waits %v, want 1 and none", s.tokenCount(), adv.recorded())
	}
}
