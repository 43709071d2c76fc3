package core_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gcupsert/gcupsert/emulator/core"
	"github.com/gcupsert/gcupsert/emulator/internal/emutest"
)

func TestNewValidatesConfig(t *testing.T) {
	good := map[string]string{"a": "b"}
	tests := []struct {
		name string
		cfg  core.Config
	}{
		{"empty client id", core.Config{Clients: map[string]string{"": "x"}}},
		{"colon in client id", core.Config{Clients: map[string]string{"a:b": "x"}}},
		{"empty secret", core.Config{Clients: map[string]string{"a": ""}}},
		{"negative lifetime", core.Config{Clients: good, TokenLifetime: -time.Second}},
		{"negative max body", core.Config{Clients: good, MaxBodyBytes: -1}},
		{"negative rate window", core.Config{Clients: good, RateWindow: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := core.New(tt.cfg)
			if !errors.Is(err, core.ErrInvalidConfig) || s != nil {
				t.Fatalf("New = %v, %v; want ErrInvalidConfig", s, err)
			}
		})
	}
	s, err := core.New(core.Config{Clients: good})
	if err != nil {
		t.Fatal(err)
	}
	if lifetime, limit, on, maxBody := s.Settings(); lifetime != core.DefaultTokenLifetime || limit != 300 || !on || maxBody != 2097152 {
		t.Errorf("defaults not applied: %v %d %v %d", lifetime, limit, on, maxBody)
	}
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
		{"success", emutest.Basic(emutest.Client, emutest.Secret), cc, 200, ""},
		{"wrong secret", emutest.Basic(emutest.Client, "nope"), cc, 401, "invalid_client"},
		{"unknown client", emutest.Basic("other", emutest.Secret), cc, 401, "invalid_client"},
		{"no credentials", "", cc, 401, "invalid_client"},
		{"form-only credentials", "", url.Values{"grant_type": {"client_credentials"},
			"client_id": {emutest.Client}, "client_secret": {emutest.Secret}}, 401, "invalid_client"},
		{"bearer instead of basic", "Bearer abc", cc, 401, "invalid_client"},
		{"wrong grant type", emutest.Basic(emutest.Client, emutest.Secret), url.Values{"grant_type": {"password"}}, 400, "unsupported_grant_type"},
		{"missing grant type", emutest.Basic(emutest.Client, emutest.Secret), url.Values{}, 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			w := e.TokenRequest(tt.auth, tt.form)
			emutest.WantStatus(t, w, tt.status)
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
				if e.Srv.Stats().TokensIssued != 1 {
					t.Errorf("TokensIssued = %d", e.Srv.Stats().TokensIssued)
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
			if strings.Contains(w.Body.String(), emutest.Secret) {
				t.Error("error body leaks the secret")
			}
			if e.Srv.Stats().TokensIssued != 0 {
				t.Error("token issued on failure")
			}
		})
	}
}

func TestTokenMethodNotAllowed(t *testing.T) {
	e := newEnv(t, nil)
	w := e.Do(http.MethodGet, "/oauth/token", "", nil)
	emutest.WantStatus(t, w, 405)
}

func TestTokenLifetimeAndExpiry(t *testing.T) {
	e := newEnv(t, func(c *core.Config) { c.TokenLifetime = 10 * time.Minute })
	w := e.TokenRequest(emutest.Basic(emutest.Client, emutest.Secret), url.Values{"grant_type": {"client_credentials"}})
	var tr emutest.TokenResponse
	_ = json.Unmarshal(w.Body.Bytes(), &tr)
	if tr.ExpiresIn != 600 {
		t.Fatalf("expires_in = %d, want 600", tr.ExpiresIn)
	}
	tok := tr.AccessToken
	e.Clk.Advance(10*time.Minute - time.Second)
	emutest.WantStatus(t, e.Post(tok, batch(rec("a", "upsert"))), 200)
	e.Clk.Advance(time.Second)
	w = e.Post(tok, batch(rec("b", "upsert")))
	emutest.WantStatus(t, w, 401)
	if eb := emutest.ErrBody(t, w); eb.Code != "credentials.expired" {
		t.Errorf("code %q, want credentials.expired", eb.Code)
	}
	if e.co.Records(testSchema)["b"] != nil {
		t.Error("record stored with an expired token")
	}
	emutest.WantStatus(t, e.Post(e.Token(), batch(rec("b", "upsert"))), 200)
}

func TestBearerCheck(t *testing.T) {
	tests := []struct {
		name   string
		header string
	}{
		{"missing", ""},
		{"unknown token", "Bearer not-a-token"},
		{"basic scheme", emutest.Basic(emutest.Client, emutest.Secret)},
		{"empty bearer", "Bearer "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			h := http.Header{}
			if tt.header != "" {
				h.Set("Authorization", tt.header)
			}
			w := e.Do(http.MethodPost, "/api/v2/customobjects/accounts/records", batch(rec("a", "upsert")), h)
			emutest.WantStatus(t, w, 401)
			if eb := emutest.ErrBody(t, w); eb.Code != "authentication.required" {
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
	old := e.Token()
	emutest.WantStatus(t, e.Post(old, batch(rec("a", "upsert"))), 200)
	e.Srv.RevokeTokens()
	w := e.Post(old, batch(rec("b", "upsert")))
	emutest.WantStatus(t, w, 401)
	if eb := emutest.ErrBody(t, w); eb.Code != "authentication.required" {
		t.Errorf("code %q", eb.Code)
	}
	// A token issued after the revocation works; the old one stays revoked.
	emutest.WantStatus(t, e.Post(e.Token(), batch(rec("b", "upsert"))), 200)
	emutest.WantStatus(t, e.Post(old, batch(rec("c", "upsert"))), 401)
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, func(c *core.Config) { c.RateLimitPerMinute = 3 })
	tok := e.Token()
	other := e.Token()
	for i := 1; i <= 3; i++ {
		w := e.Post(tok, batch(rec(fmt.Sprint(i), "upsert")))
		emutest.WantStatus(t, w, 200)
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
	e.Clk.Advance(10*time.Second + 500*time.Millisecond)
	w := e.Post(tok, batch(rec("4", "upsert")))
	emutest.WantStatus(t, w, 429)
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
	if e.co.Records(testSchema)["4"] != nil {
		t.Error("rate-limited record stored")
	}
	// Another token has its own window.
	emutest.WantStatus(t, e.Post(other, batch(rec("x", "upsert"))), 200)

	e.Clk.Advance(49 * time.Second)
	w = e.Post(tok, batch(rec("5", "upsert")))
	emutest.WantStatus(t, w, 429)
	if got := w.Header().Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After %q near the window end, want 1", got)
	}
	e.Clk.Advance(500 * time.Millisecond) // the window has ended
	w = e.Post(tok, batch(rec("6", "upsert")))
	emutest.WantStatus(t, w, 200)
	if w.Header().Get("inin-ratelimit-count") != "1" || w.Header().Get("inin-ratelimit-reset") != "60" {
		t.Errorf("new window headers %v", w.Header())
	}
	st := e.Srv.Stats()
	if st.TooManyRequests != 2 || st.RateLimited != 2 || st.MaxWindowRequests != 5 || st.ByStatus[429] != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestRateLimitDefaultAndDisabled(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*core.Config)
		limited bool
	}{
		{"default 300", nil, true},
		{"negative disables", func(c *core.Config) { c.RateLimitPerMinute = -1 }, false},
		{"DisableRateLimit", func(c *core.Config) { c.DisableRateLimit = true }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.mutate)
			tok := e.Token()
			for i := range 300 {
				w := e.API(http.MethodDelete, "/api/v2/customobjects/accounts/records/x", tok, "")
				if w.Code != 404 {
					t.Fatalf("request %d: status %d", i, w.Code)
				}
			}
			w := e.API(http.MethodDelete, "/api/v2/customobjects/accounts/records/x", tok, "")
			if got := w.Code == 429; got != tt.limited {
				t.Fatalf("301st request status %d, limited=%v", w.Code, tt.limited)
			}
			if tt.limited && (w.Header().Get("inin-ratelimit-allowed") != "300" || w.Header().Get("inin-ratelimit-count") != "301") {
				t.Errorf("headers %v", w.Header())
			}
			if !tt.limited && w.Header().Get("inin-ratelimit-allowed") != "" {
				t.Errorf("rate headers sent with the limit off: %v", w.Header())
			}
			if e.Srv.Stats().MaxWindowRequests != 301 {
				t.Errorf("MaxWindowRequests = %d", e.Srv.Stats().MaxWindowRequests)
			}
		})
	}
}

// The credentials are accepted raw (as the official SDKs send them) and
// URL-encoded (as RFC 6749 and golang.org/x/oauth2 do), so a secret
// holding "+ / = %" logs in either way.
func TestTokenAcceptsRawAndEncodedCredentials(t *testing.T) {
	const id, secret = "c+1", "se+cr/et=%41"
	e := emutest.New(t, func(c *core.Config) { c.Clients = map[string]string{id: secret} })
	cc := url.Values{"grant_type": {"client_credentials"}}
	for _, creds := range [][2]string{{id, secret}, {url.QueryEscape(id), url.QueryEscape(secret)}, {id, "wrong"}} {
		w := e.TokenRequest(emutest.Basic(creds[0], creds[1]), cc)
		want := http.StatusOK
		if creds[1] == "wrong" {
			want = http.StatusUnauthorized
		}
		if w.Code != want {
			t.Errorf("credentials %q: status %d, want %d", creds, w.Code, want)
		}
	}
}
