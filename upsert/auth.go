package upsert

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gcupsert/gcupsert/internal/clock"
)

// tokenSource caches one client-credentials token, refreshes it before it
// expires and drops it on request. Safe for concurrent use; at most one
// token request is in flight.
type tokenSource struct {
	cfg    clientcredentials.Config
	http   *http.Client // token endpoint client, no auth
	clock  clock.Clock
	redact *Redactor

	sem chan struct{} // holds the right to read or fetch the token

	tok       *oauth2.Token
	refreshAt time.Time // clock time after which the token is refreshed
}

func newTokenSource(cfg clientcredentials.Config, hc *http.Client, c clock.Clock, r *Redactor) *tokenSource {
	return &tokenSource{cfg: cfg, http: hc, clock: c, redact: r, sem: make(chan struct{}, 1)}
}

// token returns the cached token or fetches a new one.
func (s *tokenSource) token(ctx context.Context) (*oauth2.Token, error) {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.sem }()
	if s.tok != nil && (s.refreshAt.IsZero() || s.clock.Now().Before(s.refreshAt)) {
		return s.tok, nil
	}
	tok, err := s.cfg.Token(context.WithValue(ctx, oauth2.HTTPClient, s.http))
	if err != nil {
		return nil, authError(err, s.redact)
	}
	s.tok = tok
	s.redact.Token(tok.AccessToken)
	s.refreshAt = time.Time{}
	if !tok.Expiry.IsZero() {
		life := time.Until(tok.Expiry)
		early := life / 10
		if early > 5*time.Minute {
			early = 5 * time.Minute
		}
		s.refreshAt = s.clock.Now().Add(life - early)
	}
	return tok, nil
}

// invalidate drops tok if it is still the cached token.
func (s *tokenSource) invalidate(tok *oauth2.Token) {
	s.sem <- struct{}{}
	defer func() { <-s.sem }()
	if s.tok == tok {
		s.tok = nil
	}
}

// authError sorts a failed token request; text from the server is
// redacted (a token endpoint may echo the credentials it was sent).
func authError(err error, r *Redactor) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		ae := &AuthError{Code: clip(r.Redact(re.ErrorCode), 200), Description: clip(r.Redact(re.ErrorDescription), 1000)}
		if re.Response != nil {
			ae.Status = re.Response.StatusCode
		}
		if ae.Status == 0 {
			ae.Status = http.StatusBadGateway
		}
		return ae
	}
	var ue *url.Error
	var ne net.Error
	if errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, context.Canceled) ||
		errors.Is(err, context.DeadlineExceeded) || strings.HasPrefix(err.Error(), "oauth2: cannot fetch token") {
		return &AuthError{Err: err} // endpoint unreachable or response cut short
	}
	// A 2xx response without a usable token.
	return &AuthError{Status: http.StatusOK, Code: "invalid_token_response", Description: clip(r.Redact(err.Error()), 1000)}
}

// authTransport adds the bearer token to each request. On a 401 it drops the
// token, fetches a new one and sends the request once more; the second
// response is returned whatever it is.
type authTransport struct {
	base   http.RoundTripper
	tokens *tokenSource
}

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	tok, err := t.tokens.token(ctx)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	r := req.Clone(ctx)
	tok.SetAuthHeader(r)
	resp, err := t.base.RoundTrip(r)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return resp, nil // cannot replay the body
	}
	t.tokens.invalidate(tok)
	tok2, err := t.tokens.token(ctx)
	drain(resp.Body)
	if err != nil {
		return nil, err
	}
	r2 := req.Clone(ctx)
	if req.GetBody != nil {
		if r2.Body, err = req.GetBody(); err != nil {
			return nil, err
		}
	}
	tok2.SetAuthHeader(r2)
	return t.base.RoundTrip(r2)
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// drain reads a little of a body so the connection can be reused, then closes it.
func drain(rc io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(rc, maxErrorBody))
	rc.Close()
}

// AuthStyle is how the client credentials reach the token endpoint.
type AuthStyle string

const (
	// AuthStyleBasic sends "Authorization: Basic base64(id:secret)" with
	// the id and secret as they are, as the official Genesys SDKs do.
	AuthStyleBasic AuthStyle = "basic"
	// AuthStyleBasicURLEncoded URL-encodes the id and the secret first
	// (RFC 6749, 2.3.1), as golang.org/x/oauth2 does: a server comparing
	// raw credentials refuses a secret holding "+ / = %" this way.
	AuthStyleBasicURLEncoded AuthStyle = "basic_urlencoded"
)

// tokenConfig is the client-credentials configuration of cfg's auth style
// and the transport of its token requests.
func tokenConfig(cfg ClientConfig, tokenURL string, base http.RoundTripper) (clientcredentials.Config, http.RoundTripper) {
	if cfg.AuthStyle == AuthStyleBasicURLEncoded {
		return clientcredentials.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, TokenURL: tokenURL,
			AuthStyle: oauth2.AuthStyleInHeader}, base
	}
	// x/oauth2 would encode the credentials in the header: it is given
	// none, and the transport adds them raw.
	return clientcredentials.Config{TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInParams},
		rawBasicAuth{base: base, id: cfg.ClientID, secret: cfg.ClientSecret}
}

// rawBasicAuth adds the credentials, unencoded, to token requests.
type rawBasicAuth struct {
	base       http.RoundTripper
	id, secret string
}

func (t rawBasicAuth) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.SetBasicAuth(t.id, t.secret)
	return t.base.RoundTrip(r)
}

// userAgentTransport names the client in token requests, as the API
// requests do.
type userAgentTransport struct {
	base  http.RoundTripper
	agent string
}

func (t userAgentTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.Header.Set("User-Agent", t.agent)
	return t.base.RoundTrip(r)
}
