package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestNewValidatesConfig(t *testing.T) {
	good := map[string]string{"a": "b"}
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no clients", Config{}},
		{"empty client id", Config{Clients: map[string]string{"": "x"}}},
		{"colon in client id", Config{Clients: map[string]string{"a:b": "x"}}},
		{"empty secret", Config{Clients: map[string]string{"a": ""}}},
		{"negative lifetime", Config{Clients: good, TokenLifetime: -time.Second}},
		{"negative max records", Config{Clients: good, MaxRecords: -1}},
		{"negative max body", Config{Clients: good, MaxBodyBytes: -1}},
		{"bad schema json", Config{Clients: good, Schemas: map[string][]byte{"x": []byte(`{`)}}},
		{"bad schema", Config{Clients: good, Schemas: map[string][]byte{"x": []byte(`{"type":"nope"}`)}}},
		{"external ref", Config{Clients: good, Schemas: map[string][]byte{"x": []byte(`{"$ref":"other.json"}`)}}},
		{"bad schema name", Config{Clients: good, Schemas: map[string][]byte{"a/b": []byte(`{}`)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.cfg)
			if !errors.Is(err, ErrInvalidConfig) || s != nil {
				t.Fatalf("New = %v, %v; want ErrInvalidConfig", s, err)
			}
		})
	}
	s, err := New(Config{Clients: good})
	if err != nil {
		t.Fatal(err)
	}
	_ = s
}

func TestToken(t *testing.T) {
	cc := url.Values{"grant_type": {"client_credentials"}}
	tests := []struct {
		name      string
		auth      string
		form      url.Values
		status    int
		errorCode string
	}{
		{"success", basic(testClient, testSecret), cc, 200, ""},
		{"wrong secret", basic(testClient, "nope"), cc, 401, "invalid_client"},
		{"unknown client", basic("other", testSecret), cc, 401, "invalid_client"},
		{"no credentials", "", cc, 401, "invalid_client"},
		{"form-only credentials", "", url.Values{"grant_type": {"client_credentials"},
			"client_id": {testClient}, "client_secret": {testSecret}}, 401, "invalid_client"},
		{"bearer instead of basic", "Bearer abc", cc, 401, "invalid_client"},
		{"wrong grant type", basic(testClient, testSecret), url.Values{"grant_type": {"password"}}, 400, "unsupported_grant_type"},
		{"missing grant type", basic(testClient, testSecret), url.Values{}, 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			w := e.tokenRequest(tt.auth, tt.form)
			wantStatus(t, w, tt.status)
			if w.Header().Get("ININ-Correlation-Id") == "" {
				t.Error("no correlation id")
			}
			if tt.status == 200 {
				var body map[string]any
				if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
					t.Fatal(err)
				}
				if body["token_type"] != "bearer" || body["expires_in"] != float64(86400) ||
					body["access_token"] == "" || len(body) != 3 {
					t.Errorf("token body %v", body)
				}
				if e.s.Stats().TokensIssued != 1 {
					t.Errorf("TokensIssued = %d", e.s.Stats().TokensIssued)
				}
				return
			}
			var oe map[string]string
			if err := json.Unmarshal(w.Body.Bytes(), &oe); err != nil {
				t.Fatal(err)
			}
			if oe["error"] != tt.errorCode || oe["description"] == "" || oe["error_description"] != oe["description"] {
				t.Errorf("error body %v, want error %q", oe, tt.errorCode)
			}
			if strings.Contains(w.Body.String(), testSecret) {
				t.Error("error body leaks the secret")
			}
			if e.s.Stats().TokensIssued != 0 {
				t.Error("token issued on failure")
			}
		})
	}
}

func TestTokenMethodNotAllowed(t *testing.T) {
	e := newEnv(t, nil)
	w := e.do(http.MethodGet, "/oauth/token", "", nil)
	wantStatus(t, w, 405)
}

func TestTokenLifetimeAndExpiry(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.TokenLifetime = 10 * time.Minute })
	w := e.tokenRequest(basic(testClient, testSecret), url.Values{"grant_type": {"client_credentials"}})
	var tr tokenResponse
	_ = json.Unmarshal(w.Body.Bytes(), &tr)
	if tr.ExpiresIn != 600 {
		t.Fatalf("expires_in = %d, want 600", tr.ExpiresIn)
	}
	tok := tr.AccessToken
	e.clk.Advance(10*time.Minute - time.Second)
	wantStatus(t, e.post(tok, batch(rec("a", "upsert"))), 200)
	e.clk.Advance(time.Second)
	w = e.post(tok, batch(rec("b", "upsert")))
	wantStatus(t, w, 401)
	if eb := errBody(t, w); eb.Code != "credentials.expired" {
		t.Errorf("code %q, want credentials.expired", eb.Code)
	}
	if e.s.Records(testSchema)["b"] != nil {
		t.Error("record stored with an expired token")
	}
	wantStatus(t, e.post(e.token(), batch(rec("b", "upsert"))), 200)
}

func TestBearerCheck(t *testing.T) {
	tests := []struct {
		name   string
		header string
	}{
		{"missing", ""},
		{"unknown token", "Bearer not-a-token"},
		{"basic scheme", basic(testClient, testSecret)},
		{"empty bearer", "Bearer "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			h := http.Header{}
			if tt.header != "" {
				h.Set("Authorization", tt.header)
			}
			w := e.do(http.MethodPost, "/api/v2/customobjects/accounts/records", batch(rec("a", "upsert")), h)
			wantStatus(t, w, 401)
			if eb := errBody(t, w); eb.Code != "authentication.required" {
				t.Errorf("code %q", eb.Code)
			}
			for _, hd := range []string{"inin-ratelimit-allowed", "inin-ratelimit-count", "inin-ratelimit-reset"} {
				if w.Header().Get(hd) == "" {
					t.Errorf("missing header %s", hd)
				}
			}
		})
	}
}

func TestRevokeTokens(t *testing.T) {
	e := newEnv(t, nil)
	old := e.token()
	wantStatus(t, e.post(old, batch(rec("a", "upsert"))), 200)
	e.s.RevokeTokens()
	w := e.post(old, batch(rec("b", "upsert")))
	wantStatus(t, w, 401)
	if eb := errBody(t, w); eb.Code != "authentication.required" {
		t.Errorf("code %q", eb.Code)
	}
	// A token issued after the revocation works; the old one stays revoked.
	wantStatus(t, e.post(e.token(), batch(rec("b", "upsert"))), 200)
	wantStatus(t, e.post(old, batch(rec("c", "upsert"))), 401)
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RateLimitPerMinute = 3 })
	tok := e.token()
	other := e.token()
	for i := 1; i <= 3; i++ {
		w := e.post(tok, batch(rec(fmt.Sprint(i), "upsert")))
		wantStatus(t, w, 200)
		if got := w.Header().Get("inin-ratelimit-count"); got != fmt.Sprint(i) {
			t.Errorf("count header %q, want %d", got, i)
		}
		if got := w.Header().Get("inin-ratelimit-allowed"); got != "3" {
			t.Errorf("allowed header %q", got)
		}
		if got := w.Header().Get("inin-ratelimit-reset"); got != "60" {
			t.Errorf("reset header %q", got)
		}
	}
	e.clk.Advance(10*time.Second + 500*time.Millisecond)
	w := e.post(tok, batch(rec("4", "upsert")))
	wantStatus(t, w, 429)
	// 49.5 s remain in the window: rounded up.
	if got := w.Header().Get("Retry-After"); got != "50" {
		t.Errorf("Retry-After %q, want 50", got)
	}
	cid := w.Header().Get("ININ-Correlation-Id")
	want := `{"message":"Rate limit exceeded the maximum. Retry the request in [50] seconds",` +
		`"code":"too.many.requests.retry.after","status":429,"contextId":"` + cid + `","details":[],"errors":[]}`
	if w.Body.String() != want {
		t.Errorf("429 body\n got %s\nwant %s", w.Body, want)
	}
	if w.Header().Get("inin-ratelimit-count") != "4" || w.Header().Get("inin-ratelimit-reset") != "50" {
		t.Errorf("headers %v", w.Header())
	}
	if e.s.Records(testSchema)["4"] != nil {
		t.Error("rate-limited record stored")
	}
	// Another token has its own window.
	wantStatus(t, e.post(other, batch(rec("x", "upsert"))), 200)

	e.clk.Advance(49 * time.Second)
	w = e.post(tok, batch(rec("5", "upsert")))
	wantStatus(t, w, 429)
	if got := w.Header().Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After %q near the window end, want 1", got)
	}
	e.clk.Advance(500 * time.Millisecond) // the window has ended
	w = e.post(tok, batch(rec("6", "upsert")))
	wantStatus(t, w, 200)
	if w.Header().Get("inin-ratelimit-count") != "1" || w.Header().Get("inin-ratelimit-reset") != "60" {
		t.Errorf("new window headers %v", w.Header())
	}
	st := e.s.Stats()
	if st.TooManyRequests != 2 || st.RateLimited != 2 || st.MaxWindowRequests != 5 || st.ByStatus[429] != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestRateLimitDefaultAndDisabled(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Config)
		limited bool
	}{
		{"default 300", nil, true},
		{"negative disables", func(c *Config) { c.RateLimitPerMinute = -1 }, false},
		{"DisableRateLimit", func(c *Config) { c.DisableRateLimit = true }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.mutate)
			tok := e.token()
			for i := range 300 {
				w := e.api(http.MethodDelete, "/api/v2/customobjects/accounts/records/x", tok, "")
				if w.Code != 404 {
					t.Fatalf("request %d: status %d", i, w.Code)
				}
			}
			w := e.api(http.MethodDelete, "/api/v2/customobjects/accounts/records/x", tok, "")
			if got := w.Code == 429; got != tt.limited {
				t.Fatalf("301st request status %d, limited=%v", w.Code, tt.limited)
			}
			if tt.limited && (w.Header().Get("inin-ratelimit-allowed") != "300" || w.Header().Get("inin-ratelimit-count") != "301") {
				t.Errorf("headers %v", w.Header())
			}
			if !tt.limited && w.Header().Get("inin-ratelimit-allowed") != "" {
				t.Errorf("rate headers sent with the limit off: %v", w.Header())
			}
			if e.s.Stats().MaxWindowRequests != 301 {
				t.Errorf("MaxWindowRequests = %d", e.s.Stats().MaxWindowRequests)
			}
		})
	}
}
