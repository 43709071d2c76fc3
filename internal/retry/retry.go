// Package retry is gcupsert's one retry policy: exponential backoff with
// jitter (github.com/cenkalti/backoff/v4) in which a server's Retry-After
// replaces the computed wait (capped), bounded by an optional overall time
// budget, waiting on an injected clock. Every layer that retries (the
// Genesys client, the outbound publisher, the consumer's batch retries) uses
// it; what is worth retrying is decided by the caller's op, which returns a
// Permanent error to stop at once.
package retry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/gcupsert/gcupsert/internal/clock"
)

// Policy bounds the retries of one operation. Zero fields take the defaults
// of SetDefaults; MaxElapsed zero means no overall bound (retry until the
// context ends).
type Policy struct {
	// Initial is the first computed wait, Max the largest.
	Initial, Max time.Duration
	// Multiplier grows the wait after each failure (at least 1).
	Multiplier float64
	// Jitter is the randomization factor in [0, 1]: a wait d is drawn from
	// [d(1-Jitter), d(1+Jitter)].
	Jitter float64
	// MaxElapsed bounds the whole operation, measured from its first
	// attempt: a wait that would end after it is not started and the last
	// error is returned. Zero: no bound.
	MaxElapsed time.Duration
	// MaxRetryAfter caps a server's Retry-After.
	MaxRetryAfter time.Duration
}

// Defaults of a zero Policy.
const (
	DefaultInitial       = 500 * time.Millisecond
	DefaultMax           = 30 * time.Second
	DefaultMultiplier    = 2.0
	DefaultJitter        = 0.5
	DefaultMaxRetryAfter = 3 * time.Minute
)

// SetDefaults fills p's zero fields (MaxElapsed stays: zero is no bound).
func (p *Policy) SetDefaults() {
	if p.Initial == 0 {
		p.Initial = DefaultInitial
	}
	if p.Max == 0 {
		p.Max = max(DefaultMax, p.Initial)
	}
	if p.Multiplier == 0 {
		p.Multiplier = DefaultMultiplier
	}
	if p.Jitter == 0 {
		p.Jitter = DefaultJitter
	}
	if p.MaxRetryAfter == 0 {
		p.MaxRetryAfter = DefaultMaxRetryAfter
	}
}

// Validate reports a policy that cannot work.
func (p Policy) Validate() error {
	switch {
	case p.Initial < 0 || p.Max < 0 || p.MaxElapsed < 0 || p.MaxRetryAfter < 0:
		return errors.New("retry durations must not be negative")
	case p.Multiplier < 1:
		return fmt.Errorf("retry multiplier %v must be at least 1", p.Multiplier)
	case p.Jitter < 0 || p.Jitter > 1:
		return fmt.Errorf("retry jitter %v must be within [0, 1]", p.Jitter)
	case p.Max < p.Initial:
		return fmt.Errorf("retry max interval %s is below the initial interval %s", p.Max, p.Initial)
	}
	return nil
}

// Permanent marks err as not worth retrying: Do returns it at once.
func Permanent(err error) error { return backoff.Permanent(err) }

// IsPermanent reports whether err was marked Permanent.
func IsPermanent(err error) bool {
	var pe *backoff.PermanentError
	return errors.As(err, &pe)
}

// After marks err as transient with a server-given wait (Retry-After),
// which replaces the next computed wait, capped at MaxRetryAfter.
func After(err error, d time.Duration) error {
	if d <= 0 {
		return err
	}
	return &afterError{err: err, d: d}
}

type afterError struct {
	err error
	d   time.Duration
}

func (e *afterError) Error() string { return e.err.Error() }
func (e *afterError) Unwrap() error { return e.err }

// Notify is told of each failed attempt that will be retried and of the
// wait before the next one.
type Notify func(err error, wait time.Duration)

// Do runs op until it returns nil, a Permanent error (returned unwrapped),
// ctx ends (ctx's error) or the budget is spent (the last error). Waits are
// on clk (clock.Real when nil).
func (p Policy) Do(ctx context.Context, clk clock.Clock, op func() error, notify Notify) error {
	p.SetDefaults()
	if clk == nil {
		clk = clock.Real
	}
	bo := &policyBackOff{
		exp: &backoff.ExponentialBackOff{
			InitialInterval:     p.Initial,
			RandomizationFactor: p.Jitter,
			Multiplier:          p.Multiplier,
			MaxInterval:         p.Max,
			MaxElapsedTime:      p.MaxElapsed,
			Stop:                backoff.Stop,
			Clock:               clk,
		},
		clock:         clk,
		maxElapsed:    p.MaxElapsed,
		maxRetryAfter: p.MaxRetryAfter,
	}
	wrapped := func() error {
		err := op()
		if err == nil {
			return nil
		}
		if cerr := ctx.Err(); cerr != nil && !IsPermanent(err) {
			return backoff.Permanent(cerr)
		}
		var ae *afterError
		if errors.As(err, &ae) {
			bo.retryAfter = ae.d
			if !IsPermanent(err) {
				err = ae.err
			}
		}
		return err
	}
	var n backoff.Notify
	if notify != nil {
		n = backoff.Notify(notify)
	}
	return backoff.RetryNotifyWithTimer(wrapped, backoff.WithContext(bo, ctx), n, &timer{clock: clk})
}

// policyBackOff is an exponential backoff whose next wait is replaced by a
// server's Retry-After (capped) when one was given.
type policyBackOff struct {
	exp           *backoff.ExponentialBackOff
	clock         clock.Clock
	start         time.Time
	maxElapsed    time.Duration
	maxRetryAfter time.Duration
	retryAfter    time.Duration // for the next wait only
}

func (b *policyBackOff) Reset() {
	b.exp.Reset()
	b.start = b.clock.Now()
	b.retryAfter = 0
}

func (b *policyBackOff) NextBackOff() time.Duration {
	next := b.exp.NextBackOff()
	ra := b.retryAfter
	b.retryAfter = 0
	if ra <= 0 {
		return next
	}
	ra = min(ra, b.maxRetryAfter)
	if b.maxElapsed > 0 && clock.Since(b.clock, b.start)+ra > b.maxElapsed {
		return backoff.Stop
	}
	return ra
}

// timer adapts a clock.Clock to backoff.Timer.
type timer struct {
	clock clock.Clock
	t     clock.Timer
}

func (t *timer) Start(d time.Duration) {
	if t.t != nil {
		t.t.Stop()
	}
	t.t = t.clock.NewTimer(d)
}

func (t *timer) Stop() {
	if t.t != nil {
		t.t.Stop()
	}
}

func (t *timer) C() <-chan time.Time { return t.t.C() }
