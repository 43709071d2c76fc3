package core

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// Faults is the set of failures the emulator injects into API requests
// (paths under /api/v2/). Token requests are never faulted, although revoked
// tokens fail the API bearer check. The zero value injects nothing.
type Faults struct {
	// Latency is added to every API request before it is answered.
	Latency time.Duration
	// LatencyMedian and LatencyP99, when LatencyMedian > 0, add a further
	// log-normal delay with that median and 99th percentile (a long tail);
	// samples are capped at four times LatencyP99. With LatencyP99 <=
	// LatencyMedian the added delay is exactly LatencyMedian.
	LatencyMedian time.Duration
	LatencyP99    time.Duration
	// ErrorRatio is the fraction (0..1) of API requests answered with
	// ErrorStatus (500..599, default 503) instead of being served.
	ErrorRatio  float64
	ErrorStatus int
	// Storm429, while true, answers every API request with 429 and a
	// Retry-After of RetryAfter.
	Storm429 bool
	// RetryAfter is the Retry-After of injected 429s (storm and FailNext),
	// rounded up to whole seconds; 0 means 1 s.
	RetryAfter time.Duration
	// Down, while true, answers every API request with 503, before the
	// bearer check.
	Down bool
	// OmitEntityIDs makes 400 and 409 batch error bodies name no records:
	// no entityId and an empty errors[].
	OmitEntityIDs bool
	// FailNext holds the statuses (400..599) of the next API requests that
	// pass the bearer and rate checks; each such request consumes one.
	FailNext []int
}

// ErrInvalidFault is returned for a fault setting out of range.
var ErrInvalidFault = errors.New("emulator: invalid fault setting")

// maxFailNext bounds the queued FailNext statuses.
const maxFailNext = 1 << 20

// Validate reports the first fault setting out of range, wrapping
// ErrInvalidFault. Zero fields are valid: they turn a fault off or, for
// ErrorStatus and RetryAfter, take the defaults (503, 1 s) when the fault
// is injected. Faults has no setDefaults: Server.Faults reports the
// settings as they were set.
func (f *Faults) Validate() error {
	switch {
	case f.Latency < 0, f.LatencyMedian < 0, f.LatencyP99 < 0, f.RetryAfter < 0:
		return fmt.Errorf("%w: durations must not be negative", ErrInvalidFault)
	case math.IsNaN(f.ErrorRatio) || f.ErrorRatio < 0 || f.ErrorRatio > 1:
		return fmt.Errorf("%w: errorRatio must be within 0..1", ErrInvalidFault)
	case f.ErrorStatus != 0 && (f.ErrorStatus < 500 || f.ErrorStatus > 599):
		return fmt.Errorf("%w: errorStatus must be within 500..599", ErrInvalidFault)
	case len(f.FailNext) > maxFailNext:
		return fmt.Errorf("%w: at most %d queued failures", ErrInvalidFault, maxFailNext)
	}
	for _, st := range f.FailNext {
		if err := validFailStatus(st); err != nil {
			return err
		}
	}
	return nil
}

func validFailStatus(st int) error {
	if st < 400 || st > 599 {
		return fmt.Errorf("%w: failure status %d not within 400..599", ErrInvalidFault, st)
	}
	return nil
}

// faults is the live fault state. Safe for concurrent use.
type faults struct {
	mu  sync.Mutex
	f   Faults
	rng *rand.Rand
}

func (fs *faults) get() Faults {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f := fs.f
	f.FailNext = append([]int(nil), fs.f.FailNext...)
	return f
}

func (fs *faults) set(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	f.FailNext = append([]int(nil), f.FailNext...)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.f = f
	return nil
}

// update applies fn to a copy of the state and keeps the result if valid.
func (fs *faults) update(fn func(*Faults) error) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f := fs.f
	f.FailNext = append([]int(nil), fs.f.FailNext...)
	if err := fn(&f); err != nil {
		return err
	}
	if err := f.Validate(); err != nil {
		return err
	}
	fs.f = f
	return nil
}

// latency samples the delay to add to one request.
func (fs *faults) latency() time.Duration {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	d := fs.f.Latency
	med, p99 := fs.f.LatencyMedian, fs.f.LatencyP99
	if med <= 0 {
		return d
	}
	if p99 <= med {
		return d + med
	}
	const z99 = 2.3263478740408408 // standard normal 99th percentile
	sigma := math.Log(float64(p99)/float64(med)) / z99
	sample := float64(med) * math.Exp(sigma*fs.rng.NormFloat64())
	return d + time.Duration(min(sample, 4*float64(p99)))
}

// decision is what the fault layer does with a request that passed the
// bearer and rate checks.
type decision struct {
	status     int // 0: serve normally
	retryAfter int // seconds, for 429
}

func (fs *faults) decide() decision {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	ra := ceilSeconds(fs.f.RetryAfter)
	if len(fs.f.FailNext) > 0 {
		st := fs.f.FailNext[0]
		fs.f.FailNext = fs.f.FailNext[1:]
		return decision{status: st, retryAfter: ra}
	}
	if fs.f.Storm429 {
		return decision{status: 429, retryAfter: ra}
	}
	if fs.f.ErrorRatio > 0 && fs.rng.Float64() < fs.f.ErrorRatio {
		st := fs.f.ErrorStatus
		if st == 0 {
			st = 503
		}
		return decision{status: st}
	}
	return decision{}
}

func (fs *faults) down() bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.f.Down
}

// EntityIDsOmitted reports whether the OmitEntityIDs fault is on: a family
// then leaves the record references out of its 400 and 409 batch error
// bodies.
func (s *Server) EntityIDsOmitted() bool {
	fs := s.faults
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.f.OmitEntityIDs
}

// Faults returns the current fault settings.
func (s *Server) Faults() Faults { return s.faults.get() }

// SetFaults replaces every fault setting, queued failures included.
func (s *Server) SetFaults(f Faults) error {
	if err := s.faults.set(f); err != nil {
		return err
	}
	s.log.Info("emulator faults set", "faults", fmt.Sprintf("%+v", f))
	return nil
}

// ClearFaults turns every fault off and drops queued failures.
func (s *Server) ClearFaults() { _ = s.faults.set(Faults{}) }

// SetLatency sets the fixed latency added to every API request.
func (s *Server) SetLatency(d time.Duration) error {
	return s.faults.update(func(f *Faults) error { f.Latency = d; return nil })
}

// SetLatencyDistribution sets the log-normal latency added to every API
// request (see Faults.LatencyMedian); a zero median turns it off.
func (s *Server) SetLatencyDistribution(median, p99 time.Duration) error {
	return s.faults.update(func(f *Faults) error { f.LatencyMedian, f.LatencyP99 = median, p99; return nil })
}

// SetErrorRatio makes the given fraction of API requests fail with status
// (500..599; 0 means 503). A ratio of 0 turns it off.
func (s *Server) SetErrorRatio(ratio float64, status int) error {
	return s.faults.update(func(f *Faults) error { f.ErrorRatio, f.ErrorStatus = ratio, status; return nil })
}

// FailNext makes the next n API requests that pass the bearer and rate
// checks fail with status (400..599), after any failures already queued. A
// 429 carries Retry-After (Faults.RetryAfter) and the Genesys 429 body.
func (s *Server) FailNext(n int, status int) error {
	if n < 0 {
		return fmt.Errorf("%w: negative count", ErrInvalidFault)
	}
	if err := validFailStatus(status); err != nil {
		return err
	}
	return s.faults.update(func(f *Faults) error {
		if len(f.FailNext)+n > maxFailNext {
			return fmt.Errorf("%w: at most %d queued failures", ErrInvalidFault, maxFailNext)
		}
		for range n {
			f.FailNext = append(f.FailNext, status)
		}
		return nil
	})
}

// Storm429 turns the 429 storm on or off; while on, every API request gets
// 429 with Retry-After = retryAfter (rounded up to whole seconds, at least 1).
func (s *Server) Storm429(on bool, retryAfter time.Duration) error {
	return s.faults.update(func(f *Faults) error { f.Storm429, f.RetryAfter = on, retryAfter; return nil })
}

// Down makes every API request fail with 503 while down is true.
func (s *Server) Down(down bool) {
	_ = s.faults.update(func(f *Faults) error { f.Down = down; return nil })
}

// OmitEntityIDs makes 400 and 409 batch error bodies name no records while
// on, so that clients must bisect to find the offenders.
func (s *Server) OmitEntityIDs(on bool) {
	_ = s.faults.update(func(f *Faults) error { f.OmitEntityIDs = on; return nil })
}

// RevokeTokens invalidates every token issued so far; API requests that
// carry one get 401 authentication.required. Tokens issued later are valid.
func (s *Server) RevokeTokens() {
	s.tokens.revokeAll()
	s.log.Info("emulator tokens revoked")
}
