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

	"github.com/cenkalti/backoff/v4"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/time/rate"

	"github.com/gcupsert/gcupsert/internal/clock"
)

// RetryPolicy bounds the retries of one request. Zero fields take the
// defaults: InitialInterval 500ms, MaxInterval 30s, MaxElapsedTime 2m,
// Multiplier 2.0, RandomizationFactor 0.5, MaxRetryAfter 3m.
//
// A Retry-After header replaces the computed delay, capped at MaxRetryAfter.
// A wait that would end after MaxElapsedTime (measured from the first
// attempt) is not started: the last transient error is returned instead.
type RetryPolicy struct {
	InitialInterval     time.Duration
	MaxInterval         time.Duration
	MaxElapsedTime      time.Duration
	Multiplier          float64
	RandomizationFactor float64
	MaxRetryAfter       time.Duration
}

func (p RetryPolicy) withDefaults() (RetryPolicy, error) {
	if p.InitialInterval < 0 || p.MaxInterval < 0 || p.MaxElapsedTime < 0 || p.MaxRetryAfter < 0 {
		return p, errors.New("upsert: retry durations must not be negative")
	}
	if p.InitialInterval == 0 {
		p.InitialInterval = 500 * time.Millisecond
	}
	if p.MaxInterval == 0 {
		p.MaxInterval = 30 * time.Second
	}
	if p.MaxElapsedTime == 0 {
		p.MaxElapsedTime = 2 * time.Minute
	}
	if p.Multiplier == 0 {
		p.Multiplier = 2.0
	}
	if p.RandomizationFactor == 0 {
		p.RandomizationFactor = 0.5
	}
	if p.MaxRetryAfter == 0 {
		p.MaxRetryAfter = 3 * time.Minute
	}
	if p.Multiplier < 1 {
		return p, fmt.Errorf("upsert: retry multiplier %v must be at least 1", p.Multiplier)
	}
	if p.RandomizationFactor < 0 || p.RandomizationFactor > 1 {
		return p, fmt.Errorf("upsert: retry randomization factor %v must be within [0, 1]", p.RandomizationFactor)
	}
	if p.MaxInterval < p.InitialInterval {
		return p, fmt.Errorf("upsert: retry max interval %s is below the initial interval %s", p.MaxInterval, p.InitialInterval)
	}
	return p, nil
}

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

	// Timeout bounds one HTTP attempt, token request included. Default 30s.
	Timeout time.Duration
	Retry   RetryPolicy
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
	retry     RetryPolicy
	clock     clock.Clock
	log       *slog.Logger
	limiter   *rate.Limiter
	pacer     *pacer // nil when disabled
	userAgent string
	// raw sends requests outside the API (upload URIs): no token, no pacing.
	raw *http.Client
}

// NewClient validates cfg, fills its defaults and returns a Client. No
// request is made until the first call.
func NewClient(cfg ClientConfig) (*Client, error) {
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("upsert: client id and client secret are required")
	}
	c := &Client{timeout: cfg.Timeout, clock: cfg.Clock, log: cfg.Logger, limiter: cfg.Limiter, userAgent: cfg.UserAgent}
	var err error
	switch {
	case cfg.BaseURL != "":
		if c.apiBase, err = checkBaseURL("base URL", cfg.BaseURL); err != nil {
			return nil, err
		}
		c.loginBase = c.apiBase
	case cfg.Region != "":
		var ok bool
		if c.apiBase, c.loginBase, ok = RegionURLs(cfg.Region); !ok {
			return nil, fmt.Errorf("upsert: unknown region %q (known: %s)", cfg.Region, strings.Join(Regions(), ", "))
		}
	default:
		return nil, errors.New("upsert: a region or a base URL is required")
	}
	if cfg.LoginURL != "" {
		if c.loginBase, err = checkBaseURL("login URL", cfg.LoginURL); err != nil {
			return nil, err
		}
	}
	if c.retry, err = cfg.Retry.withDefaults(); err != nil {
		return nil, err
	}
	if c.timeout < 0 {
		return nil, errors.New("upsert: timeout must not be negative")
	}
	if c.timeout == 0 {
		c.timeout = 30 * time.Second
	}
	if c.clock == nil {
		c.clock = clock.Real
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.userAgent == "" {
		c.userAgent = "gcupsert"
	}
	pacing, err := cfg.Pacing.withDefaults()
	if err != nil {
		return nil, err
	}
	if !pacing.Disabled {
		c.pacer = newPacer(c.clock, pacing, c.retry.MaxRetryAfter)
	}
	if c.limiter != nil && c.limiter.Limit() != rate.Inf && c.limiter.Burst() < 1 {
		return nil, errors.New("upsert: rate limiter burst must be at least 1")
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
	cc := clientcredentials.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		TokenURL:     c.loginBase + "/oauth/token",
		AuthStyle:    oauth2.AuthStyleInHeader,
	}
	c.tokens = newTokenSource(cc, &http.Client{Transport: base}, c.clock)
	c.http = &http.Client{Transport: &authTransport{base: countingTransport{base}, tokens: c.tokens}}
	c.raw = &http.Client{Transport: countingTransport{base}}
	if cfg.HTTPClient != nil {
		c.http.CheckRedirect = cfg.HTTPClient.CheckRedirect
		c.raw.CheckRedirect = cfg.HTTPClient.CheckRedirect
	}
	return c, nil
}

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

// call is one logical API request.
type call struct {
	method string
	path   string // escaped, starting with "/"; an absolute URL when external
	body   []byte // nil: no body
	// external marks a request outside the API (an upload URI): sent
	// without the bearer token and not paced.
	external bool
	// header holds extra request headers; contentType overrides the
	// default application/json of a body.
	header      map[string]string
	contentType string
	// onAttempt is called for every HTTP request sent for the call.
	onAttempt func()
	// onCorrelation receives the ININ-Correlation-Id of every response.
	onCorrelation func(string)
}

// shown is the path as it may appear in errors and logs: an upload URI
// loses its query, which may carry a signature.
func (cl call) shown() string {
	if !cl.external {
		return cl.path
	}
	if u, err := url.Parse(cl.path); err == nil {
		u.RawQuery, u.User, u.Fragment = "", nil, ""
		return u.String()
	}
	return "(upload URI)"
}

type response struct {
	status int
	header http.Header
	body   []byte
}

const maxResponseBody = 64 << 20

// do sends a call, retrying transient failures under the client's
// RetryPolicy. The error is the context's error, the last transient error
// once the budget is spent, or the first permanent one.
func (c *Client) do(ctx context.Context, cl call) (*response, error) {
	if cl.onAttempt != nil {
		ctx = context.WithValue(ctx, attemptKey{}, cl.onAttempt)
	}
	bo := c.newBackOff()
	var out *response
	op := func() error {
		if err := c.pace(ctx); err != nil {
			return backoff.Permanent(err)
		}
		res, err := c.once(ctx, cl)
		if err == nil {
			out = res
			return nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return backoff.Permanent(cerr)
		}
		if !IsRetryable(err) {
			return backoff.Permanent(err)
		}
		var se *StatusError
		if errors.As(err, &se) {
			bo.retryAfter = se.RetryAfter
		}
		return err
	}
	notify := func(err error, wait time.Duration) {
		c.log.LogAttrs(ctx, slog.LevelWarn, "genesys request failed, retrying",
			slog.String("method", cl.method), slog.String("path", cl.shown()),
			slog.Duration("wait", wait), slog.String("error", err.Error()))
	}
	err := backoff.RetryNotifyWithTimer(op, backoff.WithContext(bo, ctx), notify, &backoffTimer{clock: c.clock})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// once sends one HTTP request.
func (c *Client) once(ctx context.Context, cl call) (*response, error) {
	release := func(int, http.Header) {}
	if c.pacer != nil && !cl.external {
		var err error
		if release, err = c.pacer.acquire(ctx); err != nil {
			return nil, err
		}
	}
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if cl.body != nil {
		rd = bytes.NewReader(cl.body)
	}
	target, hc := c.apiBase+cl.path, c.http
	if cl.external {
		target, hc = cl.path, c.raw
	}
	req, err := http.NewRequestWithContext(actx, cl.method, target, rd)
	if err != nil {
		release(0, nil)
		return nil, fmt.Errorf("upsert: building request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if cl.body != nil {
		ct := cl.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	for k, v := range cl.header {
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
		return nil, &TransportError{Method: cl.method, Path: cl.shown(), Err: err}
	}
	defer resp.Body.Close()
	if id := resp.Header.Get("ININ-Correlation-Id"); id != "" && cl.onCorrelation != nil {
		cl.onCorrelation(id)
	}
	if err := checkResponse(resp, c.clock.Now()); err != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		return nil, &TransportError{Method: cl.method, Path: cl.shown(), Err: err}
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

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

func (c *Client) newBackOff() *retryBackOff {
	p := c.retry
	return &retryBackOff{
		exp: &backoff.ExponentialBackOff{
			InitialInterval:     p.InitialInterval,
			RandomizationFactor: p.RandomizationFactor,
			Multiplier:          p.Multiplier,
			MaxInterval:         p.MaxInterval,
			MaxElapsedTime:      p.MaxElapsedTime,
			Stop:                backoff.Stop,
			Clock:               c.clock,
		},
		clock:         c.clock,
		maxElapsed:    p.MaxElapsedTime,
		maxRetryAfter: p.MaxRetryAfter,
	}
}

// retryBackOff is an exponential backoff whose next delay is replaced by a
// server's Retry-After (capped) when one was given.
type retryBackOff struct {
	exp           *backoff.ExponentialBackOff
	clock         clock.Clock
	start         time.Time
	maxElapsed    time.Duration
	maxRetryAfter time.Duration
	retryAfter    time.Duration // for the next wait only
}

func (b *retryBackOff) Reset() {
	b.exp.Reset()
	b.start = b.clock.Now()
	b.retryAfter = 0
}

func (b *retryBackOff) NextBackOff() time.Duration {
	next := b.exp.NextBackOff()
	ra := b.retryAfter
	b.retryAfter = 0
	if ra <= 0 {
		return next
	}
	if ra > b.maxRetryAfter {
		ra = b.maxRetryAfter
	}
	if b.maxElapsed > 0 && clock.Since(b.clock, b.start)+ra > b.maxElapsed {
		return backoff.Stop
	}
	return ra
}

// backoffTimer adapts a clock.Clock to backoff.Timer.
type backoffTimer struct {
	clock clock.Clock
	t     clock.Timer
}

func (t *backoffTimer) Start(d time.Duration) {
	if t.t != nil {
		t.t.Stop()
	}
	t.t = t.clock.NewTimer(d)
}

func (t *backoffTimer) Stop() {
	if t.t != nil {
		t.t.Stop()
	}
}

func (t *backoffTimer) C() <-chan time.Time { return t.t.C() }
