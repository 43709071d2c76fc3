package core

import (
	"crypto/rand"
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// tokenState is what a bearer check found.
type tokenState int

const (
	tokenMissing tokenState = iota
	tokenUnknown
	tokenExpired
	tokenRevoked
	tokenValid
)

type tokenInfo struct {
	expires     time.Time
	revoked     bool
	windowStart time.Time
	windowCount int
}

// tokens holds issued access tokens and their rate-limit windows. Safe for
// concurrent use.
type tokens struct {
	mu        sync.Mutex
	window    time.Duration // the rate-limit window of one token
	byToken   map[string]*tokenInfo
	issued    int
	maxWindow int
}

func newTokens(window time.Duration) *tokens {
	return &tokens{window: window, byToken: map[string]*tokenInfo{}}
}

// sweepAt is the token count above which expired and revoked tokens are
// dropped when a new one is issued.
const sweepAt = 4096

func (t *tokens) issue(now time.Time, lifetime time.Duration) string {
	tok := rand.Text() + rand.Text()
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.byToken) >= sweepAt {
		for k, ti := range t.byToken {
			if ti.revoked || now.Sub(ti.expires) > time.Hour {
				delete(t.byToken, k)
			}
		}
	}
	t.byToken[tok] = &tokenInfo{expires: now.Add(lifetime)}
	t.issued++
	return tok
}

func (t *tokens) check(tok string, now time.Time) tokenState {
	if tok == "" {
		return tokenMissing
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	ti, ok := t.byToken[tok]
	switch {
	case !ok:
		return tokenUnknown
	case ti.revoked:
		return tokenRevoked
	case !now.Before(ti.expires):
		return tokenExpired
	}
	return tokenValid
}

// window is a token's rate-limit state after a request.
type window struct {
	count int
	reset int // whole seconds until the window resets, at least 1
}

// take counts one request against tok's window.
func (t *tokens) take(tok string, now time.Time) window {
	t.mu.Lock()
	defer t.mu.Unlock()
	ti, ok := t.byToken[tok]
	if !ok {
		return window{reset: ceilSeconds(t.window)}
	}
	if ti.windowCount == 0 || !now.Before(ti.windowStart.Add(t.window)) {
		ti.windowStart, ti.windowCount = now, 0
	}
	ti.windowCount++
	t.maxWindow = max(t.maxWindow, ti.windowCount)
	return window{count: ti.windowCount, reset: ceilSeconds(ti.windowStart.Add(t.window).Sub(now))}
}

// peek returns tok's window without counting a request.
func (t *tokens) peek(tok string, now time.Time) window {
	t.mu.Lock()
	defer t.mu.Unlock()
	ti, ok := t.byToken[tok]
	if !ok || ti.windowCount == 0 || !now.Before(ti.windowStart.Add(t.window)) {
		return window{reset: ceilSeconds(t.window)}
	}
	return window{count: ti.windowCount, reset: ceilSeconds(ti.windowStart.Add(t.window).Sub(now))}
}

func (t *tokens) revokeAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, ti := range t.byToken {
		ti.revoked = true
	}
}

func (t *tokens) resetWindows() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, ti := range t.byToken {
		ti.windowCount = 0
	}
	t.issued, t.maxWindow = 0, 0
}

func (t *tokens) counts() (issued, maxWindow int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.issued, t.maxWindow
}

// ceilSeconds rounds d up to whole seconds, at least 1.
func ceilSeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

// bearer returns the bearer token of r, or "".
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	const prefix = "bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return ""
	}
	return strings.TrimSpace(h[len(prefix):])
}

// tokenResponse is the body of a successful token request.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

// oauthError is the body of a failed token request.
type oauthError struct {
	Error            string `json:"error"`
	Description      string `json:"description"`
	ErrorDescription string `json:"error_description"`
}

func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="oauth"`)
	}
	WriteJSON(w, status, oauthError{Error: code, Description: desc, ErrorDescription: desc})
}

// maxTokenBody bounds the form body of a token request.
const maxTokenBody = 64 << 10

// handleToken serves POST /oauth/token (client credentials, Basic auth).
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeOAuthError(w, http.StatusMethodNotAllowed, "invalid_request", "token requests must use POST")
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client",
			"client authentication must use the HTTP Basic authorization header")
		return
	}
	if !s.authenticates(id, secret) {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxTokenBody)
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "the request body is not a valid form")
		return
	}
	switch gt := r.PostForm.Get("grant_type"); gt {
	case "client_credentials":
	case "":
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "grant_type is required")
		return
	default:
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type",
			"grant type is not supported; use client_credentials")
		return
	}
	tok := s.tokens.issue(s.clock.Now(), s.tokenLifetime)
	WriteJSON(w, http.StatusOK, tokenResponse{
		AccessToken: tok,
		TokenType:   "bearer",
		ExpiresIn:   max(int64(s.tokenLifetime/time.Second), 1),
	})
}

// authenticates reports whether id and secret, as they arrived in the Basic
// header, name a client: either raw (as the official SDKs send them) or
// each URL-encoded first (RFC 6749, 2.3.1).
func (s *Server) authenticates(id, secret string) bool {
	match := func(id, secret string) bool {
		want, known := s.client(id)
		return known && subtle.ConstantTimeCompare([]byte(secret), []byte(want)) == 1
	}
	if match(id, secret) {
		return true
	}
	uid, err1 := url.QueryUnescape(id)
	usecret, err2 := url.QueryUnescape(secret)
	return err1 == nil && err2 == nil && match(uid, usecret)
}
