package core

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	randv2 "math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gcupsert/gcupsert/internal/clock"
)

// Defaults used by New for zero Config fields.
const (
	DefaultTokenLifetime      = 24 * time.Hour
	DefaultRateLimitPerMinute = 300
	DefaultMaxBodyBytes       = 2 << 20
	DefaultRateWindow         = 60 * time.Second
)

// Config configures a Server. Zero fields take the defaults above.
type Config struct {
	// Clients maps OAuth client ids to secrets. Ids must not contain ':'.
	// A server without clients issues no token until AddClients.
	Clients map[string]string
	// TokenLifetime is the lifetime of issued tokens (expires_in).
	TokenLifetime time.Duration
	// RateLimitPerMinute is the number of API requests a token may make per
	// rate window. Negative turns the limit off, as does DisableRateLimit;
	// with the limit off no inin-ratelimit-* headers are sent either, as
	// for an API with no budget to pace against (benchmarks, quick demos).
	RateLimitPerMinute int
	DisableRateLimit   bool
	// RateWindow is the length of a token's rate window (default 60 s). A
	// shorter window runs the rate clock faster: the limit per window stays
	// RateLimitPerMinute, and inin-ratelimit-reset and Retry-After count the
	// real seconds left in the shortened window (rounded up, at least 1).
	RateWindow time.Duration
	// MaxBodyBytes is the largest API request body a family accepts.
	MaxBodyBytes int
	// Clock is used for token expiry, rate windows and injected latency;
	// families read it through Server.Clock.
	Clock clock.Clock
	// Logger receives request and fault logs; nil discards them.
	Logger *slog.Logger
	// Seed seeds the fault randomness (5xx ratio, latency distribution);
	// 0 picks a random seed.
	Seed int64
}

// ErrInvalidConfig is wrapped by the errors New (and the constructors of
// the families) return for a bad configuration.
var ErrInvalidConfig = errors.New("emulator: invalid config")

// Server is the part of the emulator every API family shares. Create it
// with New, then Register the families.
type Server struct {
	clientsMu     sync.RWMutex
	clients       map[string]string
	tokenLifetime time.Duration
	rateLimit     int // the advertised limit
	rateLimitOn   bool
	rateWindow    time.Duration
	maxBodyBytes  int
	clock         clock.Clock
	log           *slog.Logger

	tokens   *tokens
	faults   *faults
	counters *counters

	families []Family
	api      *http.ServeMux // routes under /api/v2/
	admin    *http.ServeMux // routes under /emulator/
	direct   []directRoute  // routes outside /api/v2/ and /emulator/
	busy     []busyCode
	handler  http.Handler
}

// setDefaults fills the zero fields of c with the defaults. A negative
// RateLimitPerMinute becomes DisableRateLimit with the default limit, which
// is what it means.
func (c *Config) setDefaults() {
	if c.TokenLifetime == 0 {
		c.TokenLifetime = DefaultTokenLifetime
	}
	if c.RateLimitPerMinute < 0 {
		c.DisableRateLimit = true
		c.RateLimitPerMinute = 0
	}
	if c.RateLimitPerMinute == 0 {
		c.RateLimitPerMinute = DefaultRateLimitPerMinute
	}
	if c.RateWindow == 0 {
		c.RateWindow = DefaultRateWindow
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.Clock == nil {
		c.Clock = clock.Real
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Seed == 0 {
		c.Seed = randomSeed()
	}
}

// Validate reports the first setting that cannot work, wrapping
// ErrInvalidConfig. Zero fields are valid: they take the defaults.
func (c *Config) Validate() error {
	if err := CheckClients(c.Clients); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	switch {
	case c.RateWindow < 0:
		return fmt.Errorf("%w: negative RateWindow", ErrInvalidConfig)
	case c.TokenLifetime < 0:
		return fmt.Errorf("%w: negative token lifetime", ErrInvalidConfig)
	case c.MaxBodyBytes < 0:
		return fmt.Errorf("%w: negative MaxBodyBytes", ErrInvalidConfig)
	}
	return nil
}

// New fills cfg's defaults, validates it and returns a Server with no
// family.
func New(cfg Config) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{
		clients:       maps.Clone(cfg.Clients),
		tokenLifetime: cfg.TokenLifetime,
		rateLimit:     cfg.RateLimitPerMinute,
		rateLimitOn:   !cfg.DisableRateLimit,
		rateWindow:    cfg.RateWindow,
		maxBodyBytes:  cfg.MaxBodyBytes,
		clock:         cfg.Clock,
		log:           cfg.Logger,
		tokens:        newTokens(cfg.RateWindow),
		faults:        newFaults(cfg.Seed),
		counters:      newCounters(),
	}
	if s.clients == nil {
		s.clients = map[string]string{}
	}
	s.routes()
	s.handler = http.HandlerFunc(s.serveHTTP)
	return s, nil
}

// randomSeed returns a random fault seed.
func randomSeed() int64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	var u uint64
	for _, x := range b {
		u = u<<8 | uint64(x)
	}
	return int64(u)
}

// newFaults returns the fault state, its randomness seeded with seed.
func newFaults(seed int64) *faults {
	u := uint64(seed)
	return &faults{rng: randv2.New(randv2.NewPCG(u, u^0x9e3779b97f4a7c15))}
}

// routes registers the routes of the core: the catch-alls of the API and
// admin paths and the generic admin routes.
func (s *Server) routes() {
	s.api = http.NewServeMux()
	s.api.HandleFunc("/api/v2/", s.unmatched)
	s.admin = http.NewServeMux()
	s.registerAdmin(s.admin)
	s.admin.HandleFunc("/emulator/", s.unmatchedAdmin)
}

// Handler returns the HTTP handler serving token, API and admin requests.
func (s *Server) Handler() http.Handler { return s.handler }

// Clock returns the server's clock.
func (s *Server) Clock() clock.Clock { return s.clock }

// Log returns the server's logger.
func (s *Server) Log() *slog.Logger { return s.log }

// MaxBodyBytes returns the largest API request body a family accepts.
func (s *Server) MaxBodyBytes() int { return s.maxBodyBytes }

// Reset resets every family (see each family's Reset), turns every fault
// off, clears Stats and every token's rate window. Issued tokens stay
// valid.
func (s *Server) Reset() {
	for _, f := range s.families {
		f.Reset()
	}
	s.ClearFaults()
	s.counters.reset()
	s.tokens.resetWindows()
	s.log.Info("emulator reset")
}

// CheckClients checks OAuth clients: ids non-empty and free of ':',
// secrets non-empty.
func CheckClients(clients map[string]string) error {
	for id, secret := range clients {
		if id == "" || strings.Contains(id, ":") {
			return fmt.Errorf("client id %q must be non-empty and free of ':'", id)
		}
		if secret == "" {
			return fmt.Errorf("client %q has an empty secret", id)
		}
	}
	return nil
}

// AddClients adds OAuth clients (or replaces their secrets) after checking
// them all with CheckClients; on error none is added.
func (s *Server) AddClients(clients map[string]string) error {
	if err := CheckClients(clients); err != nil {
		return err
	}
	s.clientsMu.Lock()
	defer s.clientsMu.Unlock()
	for id, secret := range clients {
		s.clients[id] = secret
	}
	return nil
}

// client returns the secret of OAuth client id.
func (s *Server) client(id string) (string, bool) {
	s.clientsMu.RLock()
	defer s.clientsMu.RUnlock()
	secret, ok := s.clients[id]
	return secret, ok
}
