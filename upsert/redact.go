package upsert

import (
	"encoding/base64"
	"net/url"
	"regexp"
	"strings"
	"sync"
)

// Redacted replaces a secret in text.
const Redacted = "[redacted]"

// authPattern matches a credential after an HTTP auth scheme, whoever's.
var authPattern = regexp.MustCompile(`(?i)\b(bearer|basic)(\s+|%20|\+)[A-Za-z0-9._~+/=%-]{4,}`)

// Redactor removes secrets from text that comes from a server (or from
// input) before it is logged, returned or published: the client secret,
// other configured secrets (the SASL password), the current and previous
// access tokens, their Basic forms, and any "Bearer <token>" or
// "Basic <credentials>". It is safe for concurrent use.
type Redactor struct {
	mu      sync.RWMutex
	secrets []string // longest first
	tokens  [2]string
}

// NewRedactor redacts the given secrets (empty ones are ignored) and, for
// each client id and secret pair, the Basic forms of them.
func NewRedactor(clientID, clientSecret string, more ...string) *Redactor {
	r := &Redactor{}
	add := func(s string) {
		if len(s) >= 4 {
			r.secrets = append(r.secrets, s)
		}
	}
	add(clientSecret)
	for _, s := range more {
		add(s)
	}
	if clientSecret != "" {
		raw := clientID + ":" + clientSecret
		add(base64.StdEncoding.EncodeToString([]byte(raw)))
		add(base64.URLEncoding.EncodeToString([]byte(raw)))
		add(base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(clientID) + ":" + url.QueryEscape(clientSecret))))
		add(url.QueryEscape(clientSecret))
	}
	r.sortSecrets()
	return r
}

func (r *Redactor) sortSecrets() {
	// Longest first, so that a secret inside another goes with it.
	for i := 1; i < len(r.secrets); i++ {
		for j := i; j > 0 && len(r.secrets[j]) > len(r.secrets[j-1]); j-- {
			r.secrets[j], r.secrets[j-1] = r.secrets[j-1], r.secrets[j]
		}
	}
}

// Token records a new access token; the previous one stays redacted too.
func (r *Redactor) Token(tok string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if tok != r.tokens[0] {
		r.tokens[1], r.tokens[0] = r.tokens[0], tok
	}
}

// Redact returns s without the secrets.
func (r *Redactor) Redact(s string) string {
	if r == nil || s == "" {
		return s
	}
	r.mu.RLock()
	for _, t := range r.tokens {
		if len(t) >= 4 {
			s = strings.ReplaceAll(s, t, Redacted)
		}
	}
	r.mu.RUnlock()
	for _, sec := range r.secrets {
		s = strings.ReplaceAll(s, sec, Redacted)
	}
	return authPattern.ReplaceAllString(s, "${1} "+Redacted)
}

// redactBody redacts every text of an error document.
func (r *Redactor) redactBody(eb *ErrorBody) {
	eb.Message = r.Redact(eb.Message)
	eb.MessageWithParams = r.Redact(eb.MessageWithParams)
	eb.Code = r.Redact(eb.Code)
	eb.EntityName = r.Redact(eb.EntityName)
	for k, v := range eb.MessageParams {
		eb.MessageParams[k] = r.Redact(v)
	}
	for i := range eb.Details {
		eb.Details[i].ErrorCode = r.Redact(eb.Details[i].ErrorCode)
		eb.Details[i].FieldName = r.Redact(eb.Details[i].FieldName)
		eb.Details[i].EntityName = r.Redact(eb.Details[i].EntityName)
	}
	for i := range eb.Errors {
		r.redactBody(&eb.Errors[i])
	}
}
