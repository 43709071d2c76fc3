package core

import "time"

// Names the tests of package core_test use.
type FaultsJSON = faultsJSON

// SampleLatency samples the injected latency of one request.
func (s *Server) SampleLatency() time.Duration { return s.faults.latency() }

// Settings returns the configured token lifetime, rate limit (and whether
// it is on) and body limit, defaults applied.
func (s *Server) Settings() (time.Duration, int, bool, int) {
	return s.tokenLifetime, s.rateLimit, s.rateLimitOn, s.maxBodyBytes
}
