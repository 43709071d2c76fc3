package upsert

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gcupsert/gcupsert/internal/clock"
)

// Pacing configures the pacer that keeps a Client's API requests within the
// token's budget as the inin-ratelimit-* response headers report it.
//
// The pacer learns the budget (inin-ratelimit-allowed), the requests used in
// the current window (inin-ratelimit-count) and the seconds to the window's
// end (inin-ratelimit-reset) from every /api/v2 response, counting the
// requests in flight. In burst mode (the default) the budget a window has
// left is spent as soon as there is work, since the window's reset is known:
// a backlog takes as few windows as its requests need. Only the last
// Reserve of the budget goes one request at a time, each after the answer
// to the previous one has shown the count, so that no request of this
// process meets a 429. In even mode the requests the window has left are
// spread evenly over the time left, the reserve held back. When the window
// is believed over, a single request goes first; the others follow once its
// response has shown the new window. A 429 holds every request back for its
// Retry-After. Until the first response has been seen a single request is
// in flight; when responses carry no such headers, requests are not paced.
type Pacing struct {
	// Disabled turns the pacer off.
	Disabled bool
	// Even spreads each window's requests over the window instead of
	// spending its budget at once.
	Even bool
	// Reserve is the fraction of each window's budget used carefully: in
	// burst mode one request at a time, in even mode not at all (a margin
	// for requests the worker cannot see: token refreshes, replays after a
	// 401, another process on the same token). Default 0.02; at least one
	// request.
	Reserve float64
}

func (p *Pacing) setDefaults() {
	if p.Reserve == 0 {
		p.Reserve = 0.02
	}
}

// Validate reports a reserve outside [0, 1).
func (p *Pacing) Validate() error {
	if p.Reserve < 0 || p.Reserve >= 1 || math.IsNaN(p.Reserve) {
		return errors.New("upsert: pacing reserve must be within [0, 1)")
	}
	return nil
}

// Rate-limit response headers.
const (
	headerRateAllowed = "inin-ratelimit-allowed"
	headerRateCount   = "inin-ratelimit-count"
	headerRateReset   = "inin-ratelimit-reset"
)

// probeStep is the least time between two requests sent to find out
// whether a window that was believed over has ended.
const probeStep = 250 * time.Millisecond

// paceState is the pacer's knowledge of the token's window. Its methods
// are pure functions of their arguments and the state, so the pacing
// decision can be tested on its own.
type paceState struct {
	even    bool // spread the window's requests instead of spending them at once
	known   bool // a response carried the headers
	unpaced bool // a response came without the headers and none with
	allowed int
	count   int       // highest count seen in the current window
	resetAt time.Time // earliest end of the current window seen
	window  time.Duration
	// inflight counts requests started and not yet answered.
	inflight  int
	lastStart time.Time
	// blockedUntil holds every request back after a 429.
	blockedUntil time.Time
	// probing lets a single request go after a 429's hold, until a
	// response other than a 429 arrives.
	probing bool
}

// reserve is the number of requests held back per window.
func reserveOf(allowed int, frac float64) int {
	r := int(math.Ceil(float64(allowed) * frac))
	if r < 1 {
		r = 1
	}
	return r
}

// decide says whether a request may start at now. When it may not, wait is
// the time after which to ask again; a waiter should also ask again when a
// response arrives (the state may have changed).
func (s *paceState) decide(now time.Time, reserveFrac float64) (start bool, wait time.Duration) {
	if now.Before(s.blockedUntil) {
		return false, s.blockedUntil.Sub(now)
	}
	if s.probing {
		return s.inflight == 0, 0
	}
	if !s.known {
		if s.unpaced || s.inflight == 0 {
			return true, 0
		}
		return false, 0
	}
	if !now.Before(s.resetAt) {
		// The window is believed over: one request finds out.
		if s.inflight == 0 {
			return true, 0
		}
		return false, 0
	}
	if !s.even {
		left := s.allowed - s.count - s.inflight
		switch {
		case left <= 0:
			return false, s.resetAt.Sub(now)
		case left <= reserveOf(s.allowed, reserveFrac) && s.inflight > 0:
			return false, 0 // the next answer shows the count
		}
		return true, 0
	}
	remaining := s.allowed - reserveOf(s.allowed, reserveFrac) - s.count - s.inflight
	if remaining <= 0 {
		return false, s.resetAt.Sub(now)
	}
	gap := s.resetAt.Sub(now) / time.Duration(remaining)
	if s.lastStart.IsZero() {
		return true, 0
	}
	next := s.lastStart.Add(gap)
	if !next.After(now) {
		return true, 0
	}
	return false, next.Sub(now)
}

// observe takes in the headers of a response to a request started at
// sentAt and received at now.
func (s *paceState) observe(sentAt, now time.Time, allowed, count int, reset time.Duration) {
	resetAt := now.Add(reset)
	if reset > s.window {
		s.window = reset
	}
	s.unpaced = false
	if !s.known {
		s.known, s.allowed, s.count, s.resetAt = true, allowed, count, resetAt
		return
	}
	s.allowed = allowed
	sentAfterReset := !sentAt.Before(s.resetAt)
	switch {
	case count < s.count:
		// Another window: a newer one, or a late answer from an older one.
		if sentAfterReset || resetAt.After(s.resetAt.Add(s.window/2)) {
			s.count, s.resetAt = count, resetAt
		}
	case sentAfterReset:
		// Sent after the window was believed over, and the count has not
		// dropped: the window lasts longer than the headers said (or a
		// new one is further along than this worker knows).
		s.count = count
		if min := now.Add(probeStep); resetAt.Before(min) {
			resetAt = min
		}
		s.resetAt = resetAt
	default:
		s.count = count
		if resetAt.Before(s.resetAt) {
			s.resetAt = resetAt
		}
	}
}

// throttled records a 429: nothing starts before the Retry-After has passed,
// and then a single request goes first, as at a window's end. The window
// itself is left as the headers describe it: a 429 that does not come from
// the budget (a storm, a shared limit) must not hold requests back until
// the window resets; one that does carries a Retry-After up to the reset.
func (s *paceState) throttled(now time.Time, retryAfter time.Duration) {
	if retryAfter <= 0 {
		retryAfter = time.Second
	}
	if until := now.Add(retryAfter); until.After(s.blockedUntil) {
		s.blockedUntil = until
	}
	s.probing = true
}

// pacer paces a Client's API requests. Safe for concurrent use.
type pacer struct {
	clock   clock.Clock
	reserve float64
	// maxHold caps the wait after a 429, as RetryPolicy.MaxRetryAfter
	// caps the retry of the request itself.
	maxHold time.Duration

	mu      sync.Mutex
	st      paceState
	changed chan struct{} // closed and replaced when a response arrives

	// Counters, for tests and logs.
	throttles int
}

func newPacer(c clock.Clock, p Pacing, maxHold time.Duration) *pacer {
	return &pacer{clock: c, reserve: p.Reserve, maxHold: maxHold, changed: make(chan struct{}), st: paceState{even: p.Even}}
}

// acquire waits until a request may start and returns the function to call
// with its response (nil header when there was none).
func (p *pacer) acquire(ctx context.Context) (func(status int, h http.Header), error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p.mu.Lock()
		now := p.clock.Now()
		start, wait := p.st.decide(now, p.reserve)
		if start {
			p.st.inflight++
			p.st.lastStart = now
			p.mu.Unlock()
			var once sync.Once
			return func(status int, h http.Header) {
				once.Do(func() { p.done(now, status, h) })
			}, nil
		}
		ch := p.changed
		p.mu.Unlock()
		var tc <-chan time.Time
		var t clock.Timer
		if wait > 0 {
			t = p.clock.NewTimer(wait)
			tc = t.C()
		}
		select {
		case <-ctx.Done():
		case <-tc:
		case <-ch:
		}
		if t != nil {
			t.Stop()
		}
	}
}

func (p *pacer) done(sentAt time.Time, status int, h http.Header) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clock.Now()
	p.st.inflight--
	if h != nil {
		allowed, count, reset, ok := parseRateHeaders(h)
		switch {
		case ok:
			p.st.observe(sentAt, now, allowed, count, reset)
		case !p.st.known:
			p.st.unpaced = true
		}
		if status != http.StatusTooManyRequests {
			p.st.probing = false
		} else {
			p.throttles++
			hold := parseRetryAfter(h.Get("Retry-After"), now)
			if p.maxHold > 0 && hold > p.maxHold {
				hold = p.maxHold
			}
			p.st.throttled(now, hold)
		}
	}
	close(p.changed)
	p.changed = make(chan struct{})
}

// parseRateHeaders reads the inin-ratelimit-* headers; ok is false unless
// all three are present and sane.
func parseRateHeaders(h http.Header) (allowed, count int, reset time.Duration, ok bool) {
	a, err1 := strconv.Atoi(strings.TrimSpace(h.Get(headerRateAllowed)))
	c, err2 := strconv.Atoi(strings.TrimSpace(h.Get(headerRateCount)))
	r, err3 := strconv.ParseFloat(strings.TrimSpace(h.Get(headerRateReset)), 64)
	if err1 != nil || err2 != nil || err3 != nil || a <= 0 || c < 0 || r < 0 || r > 86400 {
		return 0, 0, 0, false
	}
	return a, c, time.Duration(r * float64(time.Second)), true
}
