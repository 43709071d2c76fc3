package core

import (
	"maps"
	"sync"
)

// Request kinds of the core counted in Stats.ByKind. API kinds are the
// route patterns each family registers (see Routes.API).
const (
	KindToken = "POST /oauth/token"
	// KindOther counts requests that matched no route.
	KindOther = "other"
)

// Stats counts what the emulator served since it started or was Reset.
// Admin requests (under /emulator/) are not counted.
type Stats struct {
	// Requests is the number of token and API requests answered.
	Requests int `json:"requests"`
	// ByKind counts requests by route: KindToken, KindOther and the
	// families' route patterns.
	ByKind map[string]int `json:"byKind"`
	// ByStatus counts responses by HTTP status.
	ByStatus map[int]int `json:"byStatus"`
	// TokensIssued is the number of access tokens issued.
	TokensIssued int `json:"tokensIssued"`
	// TooManyRequests is the number of 429 responses sent, for any reason.
	TooManyRequests int `json:"tooManyRequests"`
	// RateLimited is the number of 429s sent because a token's window was
	// exhausted (not injected ones).
	RateLimited int `json:"rateLimited"`
	// MaxWindowRequests is the largest number of requests, rejected ones
	// included, that one token made within one rate-limit window.
	MaxWindowRequests int `json:"maxWindowRequests"`
}

// counters is the mutable part of Stats. Safe for concurrent use.
type counters struct {
	mu          sync.Mutex
	requests    int
	byKind      map[string]int
	byStatus    map[int]int
	tooMany     int
	rateLimited int
}

func newCounters() *counters {
	return &counters{byKind: map[string]int{}, byStatus: map[int]int{}}
}

func (c *counters) count(kind string, status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests++
	c.byKind[kind]++
	if status != 0 {
		c.byStatus[status]++
	}
	if status == 429 {
		c.tooMany++
	}
}

func (c *counters) countRateLimited() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rateLimited++
}

func (c *counters) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests, c.tooMany, c.rateLimited = 0, 0, 0
	c.byKind, c.byStatus = map[string]int{}, map[int]int{}
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	issued, maxWindow := s.tokens.counts()
	c := s.counters
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{
		Requests:          c.requests,
		ByKind:            maps.Clone(c.byKind),
		ByStatus:          maps.Clone(c.byStatus),
		TokensIssued:      issued,
		TooManyRequests:   c.tooMany,
		RateLimited:       c.rateLimited,
		MaxWindowRequests: maxWindow,
	}
}
