package upsert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/gcupsert/gcupsert/internal/clock"
	"github.com/gcupsert/gcupsert/internal/retry"
)

// ClientConfig configures a Client.
type ClientConfig struct {
	// Region selects the API and login hosts, e.g. "us_east_1", "eu_west_1"
	// (hyphens are accepted too). Ignored for the API when BaseURL is set.
	Region string
	// BaseURL overrides the API base URL, e.g. http://127.0.0.1:8080.
	BaseURL string
	// LoginURL overrides the login base URL; it defaults to BaseURL when
	// BaseURL is set.
	LoginURL string

	ClientID     string
	ClientSecret string
	// AuthStyle is how the credentials reach the token endpoint; default
	// AuthStyleBasic.
	AuthStyle AuthStyle

	// Timeout bounds one HTTP attempt, token request included. Default 30s.
	Timeout time.Duration
	// Retry bounds the retries of one request; zero fields take the
	// defaults of retry.Policy, and MaxElapsed defaults to 2m.
	Retry retry.Policy
	// Clock is used for every wait and for token expiry. Default clock.Real.
	Clock  clock.Clock
	Logger *slog.Logger
	// Limiter caps the API request rate (not token requests) on top of the
	// header-driven pacer; nil means no fixed cap.
	Limiter *rate.Limiter
	// Pacing configures the pacer that keeps API requests within the
	// budget the inin-ratelimit-* headers report; on by default.
	Pacing Pacing
	// HTTPClient supplies the base transport; nil means a clone of
	// http.DefaultTransport. Connections are kept alive.
	HTTPClient *http.Client
	// UserAgent defaults to "gcupsert".
	UserAgent string
	// Secrets are other secrets to keep out of errors and logs (the SASL
	// password); the client secret and the tokens always are.
	Secrets []string
}

var regionDomains = map[string]string{
	"us_east_1":      "mypurecloud.com",
	"us_east_2":      "use2.us-gov-pure.cloud",
	"us_west_2":      "usw2.pure.cloud",
	"ca_central_1":   "cac1.pure.cloud",
	"sa_east_1":      "sae1.pure.cloud",
	"mx_central_1":   "mxc1.pure.cloud",
	"eu_west_1":      "mypurecloud.ie",
	"eu_west_2":      "euw2.pure.cloud",
	"eu_central_1":   "mypurecloud.de",
	"eu_central_2":   "euc2.pure.cloud",
	"me_central_1":   "mec1.pure.cloud",
	"ap_south_1":     "aps1.pure.cloud",
	"ap_northeast_1": "mypurecloud.jp",
	"ap_northeast_2": "apne2.pure.cloud",
	"ap_northeast_3": "apne3.pure.cloud",
	"ap_southeast_1": "apse1.pure.cloud",
	"ap_southeast_2": "mypurecloud.com.au",
}

// Regions lists the known region names, sorted.
func Regions() []string {
	out := make([]string, 0, len(regionDomains))
	for r := range regionDomains {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// RegionURLs returns the API and login base URLs of a Genesys Cloud region.
func RegionURLs(region string) (apiURL, loginURL string, ok bool) {
	d, ok := regionDomains[strings.ReplaceAll(strings.ToLower(strings.TrimSpace(region)), "-", "_")]
	if !ok {
		return "", "", false
	}
	return "https://api." + d, "https://login." + d, true
}

// Client sends authenticated, paced and retried requests to the Genesys
// Cloud API. It is safe for concurrent use.
type Client struct {
	apiBase   string
	loginBase string
	http      *http.Client
	tokens    *tokenSource
	timeout   time.Duration
	retry     retry.Policy
	clock     clock.Clock
	log       *slog.Logger
	limiter   *rate.Limiter
	pacer     *pacer // nil when disabled
	userAgent string
	// raw sends requests outside the API (upload URIs): no token, no pacing.
	raw    *http.Client
	redact *Redactor
}

func (cfg *ClientConfig) setDefaults() {
	if cfg.Retry.MaxElapsed == 0 {
		cfg.Retry.MaxElapsed = 2 * time.Minute
	}
	cfg.Retry.SetDefaults()
	cfg.Pacing.setDefaults()
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "gcupsert"
	}
	if cfg.AuthStyle == "" {
		cfg.AuthStyle = AuthStyleBasic
	}
}

// Validate reports the first setting that cannot work. The error never
// holds the secret.
func (cfg *ClientConfig) Validate() error {
	if strings.TrimSpace(cfg.ClientID) == "" || strings.TrimSpace(cfg.ClientSecret) == "" {
		return errors.New("upsert: client id and client secret are required (not blank)")
	}
	if cfg.AuthStyle != AuthStyleBasic && cfg.AuthStyle != AuthStyleBasicURLEncoded {
		return fmt.Errorf("upsert: auth style %q is not %s or %s", cfg.AuthStyle, AuthStyleBasic, AuthStyleBasicURLEncoded)
	}
	if _, _, err := cfg.bases(); err != nil {
		return err
	}
	if err := cfg.Retry.Validate(); err != nil {
		return fmt.Errorf("upsert: %w", err)
	}
	if err := cfg.Pacing.Validate(); err != nil {
		return err
	}
	if cfg.Timeout < 0 {
		return errors.New("upsert: timeout must not be negative")
	}
	if l := cfg.Limiter; l != nil && l.Limit() != rate.Inf && l.Burst() < 1 {
		return errors.New("upsert: rate limiter burst must be at least 1")
	}
	return nil
}

// bases are the API and login base URLs the configuration names.
func (cfg *ClientConfig) bases() (apiBase, loginBase string, err error) {
	switch {
	case cfg.BaseURL != "":
		if apiBase, err = checkBaseURL("base URL", cfg.BaseURL); err != nil {
			return "", "", err
		}
		loginBase = apiBase
	case cfg.Region != "":
		var ok bool
		if apiBase, loginBase, ok = RegionURLs(cfg.Region); !ok {
			return "", "", fmt.Errorf("upsert: unknown region %q (known: %s)", cfg.Region, strings.Join(Regions(), ", "))
		}
	default:
		return "", "", errors.New("upsert: a region or a base URL is required")
	}
	if cfg.LoginURL != "" {
		if loginBase, err = checkBaseURL("login URL", cfg.LoginURL); err != nil {
			return "", "", err
		}
	}
	return apiBase, loginBase, nil
}

// NewClient fills cfg's defaults, validates it and returns a Client. No
// request is made until the first call.
func NewClient(cfg ClientConfig) (*Client, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	apiBase, loginBase, _ := cfg.bases()
	c := &Client{
		apiBase: apiBase, loginBase: loginBase, timeout: cfg.Timeout, retry: cfg.Retry,
		clock: cfg.Clock, log: cfg.Logger, limiter: cfg.Limiter, userAgent: cfg.UserAgent,
	}
	if !cfg.Pacing.Disabled {
		c.pacer = newPacer(c.clock, cfg.Pacing, c.retry.MaxRetryAfter)
	}
	var base http.RoundTripper
	if cfg.HTTPClient != nil && cfg.HTTPClient.Transport != nil {
		base = cfg.HTTPClient.Transport
	} else {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.DisableKeepAlives = false
		t.MaxIdleConnsPerHost = 32
		base = t
	}
	cc, tokenTransport := tokenConfig(cfg, c.loginBase+"/oauth/token", base)
	tokenTransport = userAgentTransport{base: tokenTransport, agent: cfg.UserAgent}
	c.redact = NewRedactor(cfg.ClientID, cfg.ClientSecret, cfg.Secrets...)
	c.tokens = newTokenSource(cc, &http.Client{Transport: tokenTransport, CheckRedirect: noRedirects}, c.clock, c.redact)
	c.http = &http.Client{Transport: &authTransport{base: countingTransport{base}, tokens: c.tokens}, CheckRedirect: noWriteRedirects}
	c.raw = &http.Client{Transport: countingTransport{base}, CheckRedirect: noWriteRedirects}
	return c, nil
}

// noWriteRedirects follows a redirect of a read only: a write answered
// with a 3xx gets that answer, which is an error (the record would
// otherwise be reported written, or deleted, at an address it does not
// live at).
func noWriteRedirects(req *http.Request, via []*http.Request) error {
	if m := via[0].Method; m != http.MethodGet && m != http.MethodHead {
		return http.ErrUseLastResponse
	}
	if len(via) >= 5 {
		return errors.New("stopped after 5 redirects")
	}
	return nil
}

// noRedirects keeps credentials where they were sent: the token request
// never follows a redirect.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func checkBaseURL(what, s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("upsert: %s %q must be an absolute http or https URL", what, s)
	}
	if u.User != nil || u.RawQuery != "" {
		return "", fmt.Errorf("upsert: %s must carry no credentials or query", what)
	}
	return strings.TrimRight(s, "/"), nil
}

// attemptKey carries a func() called for every API request sent.
type attemptKey struct{}

// countingTransport reports each API request to the hook in its context,
// so that a replay after a 401 counts as an attempt too.
type countingTransport struct{ base http.RoundTripper }

func (t countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if f, ok := req.Context().Value(attemptKey{}).(func()); ok {
		f()
	}
	return t.base.RoundTrip(req)
}

// Call is one logical API request, as a target makes it.
type Call struct {
	Method string
	// Path is the escaped path starting with "/" (query included), or an
	// absolute URL when External.
	Path string
	Body []byte // nil: no body
	// External marks a request outside the API (an upload URI): sent
	// without the bearer token, not paced, and never shown with its query
	// (which may carry a signature).
	External bool
	// Header holds extra request headers; ContentType overrides the
	// default application/json of a body.
	Header      map[string]string
	ContentType string
	// OnAttempt is called for every HTTP request sent for the call.
	OnAttempt func()
	// OnCorrelation receives the ININ-Correlation-Id of every response.
	OnCorrelation func(string)
}

// shown is the path as it may appear in errors and logs: an upload URI
// loses its query, which may carry a signature.
func (cl Call) shown() string {
	if !cl.External {
		return cl.Path
	}
	if u, err := url.Parse(cl.Path); err == nil {
		u.RawQuery, u.User, u.Fragment = "", nil, ""
		return u.String()
	}
	return "(upload URI)"
}

// Response is a 2xx answer to a Call; its Body is read whole.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

const maxResponseBody = 64 << 20

// Do sends a call, retrying transient failures (IsRetryable) under the
// client's retry policy, a Retry-After replacing the computed wait. The
// error is the context's error, the last transient error once the budget is
// spent, or the first permanent one (a *StatusError, *AuthError, ...).
func (c *Client) Do(ctx context.Context, cl Call) (*Response, error) {
	if cl.OnAttempt != nil {
		ctx = context.WithValue(ctx, attemptKey{}, cl.OnAttempt)
	}
	var out *Response
	op := func() error {
		if err := c.pace(ctx); err != nil {
			return retry.Permanent(err)
		}
		res, err := c.once(ctx, cl)
		if err == nil {
			out = res
			return nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return retry.Permanent(cerr)
		}
		if !IsRetryable(err) {
			return retry.Permanent(err)
		}
		var se *StatusError
		if errors.As(err, &se) {
			return retry.After(err, se.RetryAfter)
		}
		return err
	}
	notify := func(err error, wait time.Duration) {
		c.log.LogAttrs(ctx, slog.LevelWarn, "genesys request failed, retrying",
			slog.String("method", cl.Method), slog.String("path", cl.shown()),
			slog.Duration("wait", wait), slog.String("error", err.Error()))
	}
	if err := c.retry.Do(ctx, c.clock, op, notify); err != nil {
		return nil, err
	}
	return out, nil
}

// once sends one HTTP request.
func (c *Client) once(ctx context.Context, cl Call) (*Response, error) {
	release := func(int, http.Header) {}
	if c.pacer != nil && !cl.External {
		var err error
		if release, err = c.pacer.acquire(ctx); err != nil {
			return nil, err
		}
	}
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if cl.Body != nil {
		rd = bytes.NewReader(cl.Body)
	}
	target, hc := c.apiBase+cl.Path, c.http
	if cl.External {
		target, hc = cl.Path, c.raw
	}
	req, err := http.NewRequestWithContext(actx, cl.Method, target, rd)
	if err != nil {
		release(0, nil)
		return nil, fmt.Errorf("upsert: building request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if cl.Body != nil {
		ct := cl.ContentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	for k, v := range cl.Header {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if resp != nil {
		release(resp.StatusCode, resp.Header)
	} else {
		release(0, nil)
	}
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		var ae *AuthError
		if errors.As(err, &ae) && ae.Status != 0 {
			return nil, ae
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, &TransportError{Method: cl.Method, Path: cl.shown(), Err: err}
	}
	defer resp.Body.Close()
	if id := resp.Header.Get("ININ-Correlation-Id"); id != "" && cl.OnCorrelation != nil {
		cl.OnCorrelation(id)
	}
	if err := checkResponse(resp, c.clock.Now(), c.redact); err != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		return nil, &TransportError{Method: cl.Method, Path: cl.shown(), Err: err}
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// Retry runs op under the client's retry policy, as Do runs a request: an
// error of op marked retry.Permanent (or a cancelled ctx) stops at once,
// any other is retried after the policy's wait until the budget is spent.
// Targets use it for what a bulk API reports per entity as retryable
// (RetryableEntity decides that).
func (c *Client) Retry(ctx context.Context, what string, op func() error) error {
	notify := func(err error, wait time.Duration) {
		c.log.LogAttrs(ctx, slog.LevelWarn, what+" failed, retrying",
			slog.Duration("wait", wait), slog.String("error", err.Error()))
	}
	return c.retry.Do(ctx, c.clock, func() error {
		if err := ctx.Err(); err != nil {
			return retry.Permanent(err)
		}
		return op()
	}, notify)
}

// Clock is the clock the client waits on; targets measure with it too.
func (c *Client) Clock() clock.Clock { return c.clock }

// Logger is the client's logger.
func (c *Client) Logger() *slog.Logger { return c.log }

// Redact removes the secrets the client knows from text that came from a
// server, before a target logs it or puts it in a rejection.
func (c *Client) Redact(s string) string { return c.redact.Redact(s) }

// pace waits for the limiter, on the client's clock.
func (c *Client) pace(ctx context.Context) error {
	if c.limiter == nil {
		return ctx.Err()
	}
	now := c.clock.Now()
	r := c.limiter.ReserveN(now, 1)
	if !r.OK() {
		return errors.New("upsert: rate limiter cannot grant a request")
	}
	if err := clock.Sleep(ctx, c.clock, r.DelayFrom(now)); err != nil {
		r.CancelAt(c.clock.Now())
		return err
	}
	return nil
}
