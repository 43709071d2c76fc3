package emulator

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
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
	DefaultMaxRecords         = 100
	DefaultMaxBodyBytes       = 2 << 20
	DefaultRateWindow         = 60 * time.Second
	DefaultMaxRowsPerTable    = 5000
	DefaultMaxFields          = 50
	DefaultMaxKeyLength       = 256
	DefaultMaxTables          = 200
	DefaultImportProcessing   = 2 * time.Second
)

// Config configures a Server. Zero fields take the defaults above.
type Config struct {
	// Clients maps OAuth client ids to secrets; at least one is required,
	// here or in Fixtures. Ids must not contain ':'.
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
	// MaxRecords is the most records one batch request may carry.
	MaxRecords int
	// MaxBodyBytes is the largest batch request body accepted.
	MaxBodyBytes int
	// Schemas maps customobjects schema names to JSON Schema documents
	// describing a record's fields (id and conflictResolution excluded).
	// Schemas without "$schema" are read as draft-04; they must be
	// self-contained (no external $ref).
	Schemas map[string][]byte
	// UniqueFields maps a schema name to fields whose values must be unique
	// across the schema's records (each field on its own). A record that
	// takes a value another id holds is refused with 409 unique.violation.
	UniqueFields map[string][]string
	// Fixtures seeds data tables (with schemas and rows) and OAuth clients
	// from a JSON or YAML document; see LoadFixtures.
	Fixtures []byte
	// MaxRowsPerTable, MaxFields (properties of a table schema, key
	// included), MaxKeyLength (characters of a row key) and MaxTables are
	// the data-table limits.
	MaxRowsPerTable int
	MaxFields       int
	MaxKeyLength    int
	MaxTables       int
	// ImportProcessingTime is how long, on the Clock, an import job stays
	// Processing after its CSV is uploaded (default 2 s; negative: none).
	ImportProcessingTime time.Duration
	// Variants choose the data-table behaviours the documentation leaves
	// open; the zero value takes the defaults.
	Variants Variants
	// Clock is used for token expiry, rate windows, import jobs and
	// injected latency.
	Clock clock.Clock
	// Logger receives request and fault logs; nil discards them.
	Logger *slog.Logger
	// Seed seeds the fault randomness (5xx ratio, latency distribution);
	// 0 picks a random seed.
	Seed int64
}

// ErrInvalidConfig is wrapped by the errors New returns for a bad Config.
var ErrInvalidConfig = errors.New("emulator: invalid config")

// Server is the emulator. Create it with New.
type Server struct {
	clientsMu     sync.RWMutex
	clients       map[string]string
	tokenLifetime time.Duration
	rateLimit     int // the advertised limit
	rateLimitOn   bool
	rateWindow    time.Duration
	maxRecords    int
	maxBodyBytes  int
	clock         clock.Clock
	log           *slog.Logger

	tokens   *tokens
	faults   *faults
	counters *counters
	objects  *customObjects
	tables   *dataTables

	api     *http.ServeMux // routes under /api/v2/
	admin   *http.ServeMux // routes under /emulator/
	handler http.Handler
}

// New checks cfg, fills its defaults and returns a Server.
func New(cfg Config) (*Server, error) {
	var fx *fixtures
	if len(cfg.Fixtures) > 0 {
		var err error
		if fx, err = parseFixtures(cfg.Fixtures); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
	}
	clients := make(map[string]string, len(cfg.Clients))
	for id, secret := range cfg.Clients {
		if err := checkClient(id, secret); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
		clients[id] = secret
	}
	if len(clients) == 0 && (fx == nil || len(fx.Clients) == 0) {
		return nil, fmt.Errorf("%w: at least one OAuth client is required", ErrInvalidConfig)
	}
	if cfg.RateWindow < 0 {
		return nil, fmt.Errorf("%w: negative RateWindow", ErrInvalidConfig)
	}
	if cfg.RateWindow == 0 {
		cfg.RateWindow = DefaultRateWindow
	}
	lim, err := newTableLimits(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if err := cfg.Variants.fill(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	s := &Server{
		clients:       clients,
		tokenLifetime: cfg.TokenLifetime,
		rateLimit:     cfg.RateLimitPerMinute,
		rateLimitOn:   !cfg.DisableRateLimit && cfg.RateLimitPerMinute >= 0,
		rateWindow:    cfg.RateWindow,
		maxRecords:    cfg.MaxRecords,
		maxBodyBytes:  cfg.MaxBodyBytes,
		clock:         cfg.Clock,
		log:           cfg.Logger,
		tokens:        newTokens(cfg.RateWindow),
		counters:      newCounters(),
		objects:       newCustomObjects(),
	}
	switch {
	case s.tokenLifetime < 0:
		return nil, fmt.Errorf("%w: negative token lifetime", ErrInvalidConfig)
	case s.tokenLifetime == 0:
		s.tokenLifetime = DefaultTokenLifetime
	}
	if s.rateLimit <= 0 {
		s.rateLimit = DefaultRateLimitPerMinute
	}
	switch {
	case s.maxRecords < 0:
		return nil, fmt.Errorf("%w: negative MaxRecords", ErrInvalidConfig)
	case s.maxRecords == 0:
		s.maxRecords = DefaultMaxRecords
	}
	switch {
	case s.maxBodyBytes < 0:
		return nil, fmt.Errorf("%w: negative MaxBodyBytes", ErrInvalidConfig)
	case s.maxBodyBytes == 0:
		s.maxBodyBytes = DefaultMaxBodyBytes
	}
	if s.clock == nil {
		s.clock = clock.Real
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.tables = newDataTables(lim, cfg.Variants, s.clock)
	seed := uint64(cfg.Seed)
	if seed == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		for _, x := range b {
			seed = seed<<8 | uint64(x)
		}
	}
	s.faults = &faults{rng: randv2.New(randv2.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	for name, doc := range cfg.Schemas {
		if err := s.AddSchema(name, doc); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
	}
	for name, fields := range cfg.UniqueFields {
		if err := s.SetUniqueFields(name, fields); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
	}
	if fx != nil {
		if err := s.loadFixtures(fx); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
	}
	s.routes()
	s.handler = http.HandlerFunc(s.serveHTTP)
	return s, nil
}

// routes registers every route. API routes are registered on s.api with
// their Kind pattern; each target adds its own.
func (s *Server) routes() {
	s.api = http.NewServeMux()
	s.registerCustomObjects(s.api)
	s.registerDataTables(s.api)
	s.api.HandleFunc("/api/v2/", s.unmatched)

	s.admin = http.NewServeMux()
	s.registerAdmin(s.admin)
	s.admin.HandleFunc("/emulator/", s.unmatchedAdmin)
}

// Handler returns the HTTP handler serving token, API and admin requests.
func (s *Server) Handler() http.Handler { return s.handler }

// Reset drops every record (schemas stay), puts the data tables back to
// their seeded state (tables from Fixtures, LoadFixtures and CreateTable
// with their seeded rows; tables created through the API are dropped, and
// so is every import job), restores the configured Variants, turns every
// fault off, clears Stats and every token's rate window. Issued tokens stay
// valid.
func (s *Server) Reset() {
	s.objects.reset()
	s.tables.reset()
	s.ClearFaults()
	s.counters.reset()
	s.tokens.resetWindows()
	s.log.Info("emulator reset")
}

// statusRecorder remembers the status written through it.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// newCorrelationID returns a random UUID (version 4).
func newCorrelationID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set(headerCorrelationID, newCorrelationID())
	path := r.URL.Path
	if strings.HasPrefix(path, "/emulator/") {
		s.admin.ServeHTTP(w, r)
		return
	}
	start := s.clock.Now()
	rec := &statusRecorder{ResponseWriter: w}
	var kind string
	switch {
	case path == "/oauth/token":
		kind = KindToken
		s.handleToken(rec, r)
	case strings.HasPrefix(path, "/api/v2/"):
		kind = s.serveAPI(rec, r)
	case strings.HasPrefix(path, uploadPrefix):
		kind = KindDataTableUpload
		s.handleUpload(rec, r)
	default:
		kind = KindOther
		writeError(rec, statusError(http.StatusNotFound))
	}
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	s.counters.count(kind, rec.status)
	s.log.Debug("emulator request", "method", r.Method, "path", path, "kind", kind,
		"status", rec.status, "correlationId", correlationID(w), "elapsed", clock.Since(s.clock, start))
}

// serveAPI runs the checks of the package comment, then the route; it
// returns the request's kind.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) string {
	_, pattern := s.api.Handler(r)
	kind := pattern
	if kind == "" || kind == "/api/v2/" {
		kind = KindOther
	}
	if d := s.faults.latency(); d > 0 {
		if err := clock.Sleep(r.Context(), s.clock, d); err != nil {
			// The client left or the server is shutting down.
			writeError(w, statusError(http.StatusServiceUnavailable))
			return kind
		}
	}
	tok := bearer(r)
	now := s.clock.Now()
	if s.faults.down() {
		s.rateHeaders(w, s.tokens.peek(tok, now))
		eb := statusError(http.StatusServiceUnavailable)
		eb.Message = "The service is currently unavailable. Try again later."
		writeError(w, eb)
		return kind
	}
	switch s.tokens.check(tok, now) {
	case tokenMissing:
		s.rateHeaders(w, window{reset: ceilSeconds(s.rateWindow)})
		writeError(w, statusError(http.StatusUnauthorized))
		return kind
	case tokenUnknown, tokenRevoked:
		s.rateHeaders(w, window{reset: ceilSeconds(s.rateWindow)})
		eb := statusError(http.StatusUnauthorized)
		eb.Message = "Invalid login credentials."
		writeError(w, eb)
		return kind
	case tokenExpired:
		s.rateHeaders(w, window{reset: ceilSeconds(s.rateWindow)})
		eb := statusError(http.StatusUnauthorized)
		eb.Code, eb.Message = CodeCredentialsExpired, "The supplied credentials are expired and cannot be used."
		writeError(w, eb)
		return kind
	}
	win := s.tokens.take(tok, now)
	s.rateHeaders(w, win)
	if s.rateLimitOn && win.count > s.rateLimit {
		s.counters.countRateLimited()
		write429(w, win.reset)
		return kind
	}
	if d := s.faults.decide(); d.status != 0 {
		switch d.status {
		case http.StatusTooManyRequests:
			write429(w, d.retryAfter)
		case http.StatusServiceUnavailable:
			eb := statusError(d.status)
			eb.Code, eb.Message = s.busyCode(r), "The server is too busy to handle the request. Try again later."
			writeError(w, eb)
		default:
			writeError(w, statusError(d.status))
		}
		return kind
	}
	s.api.ServeHTTP(w, r)
	return kind
}

// busyCode is the code of an injected 503 for r's target.
func (s *Server) busyCode(r *http.Request) string {
	if strings.HasPrefix(r.URL.Path, "/api/v2/flows/datatables") {
		return CodeDataTablesTooBusy
	}
	return CodeServerTooBusy
}

func (s *Server) rateHeaders(w http.ResponseWriter, win window) {
	if !s.rateLimitOn {
		return
	}
	h := w.Header()
	h.Set(headerRateAllowed, fmt.Sprint(s.rateLimit))
	h.Set(headerRateCount, fmt.Sprint(win.count))
	h.Set(headerRateReset, fmt.Sprint(win.reset))
}

// unmatched answers API paths no route serves: 405 when the path is served
// for another method, else 404.
func (s *Server) unmatched(w http.ResponseWriter, r *http.Request) {
	writeUnmatched(w, r, s.api, "/api/v2/")
}

func (s *Server) unmatchedAdmin(w http.ResponseWriter, r *http.Request) {
	writeUnmatched(w, r, s.admin, "/emulator/")
}

func writeUnmatched(w http.ResponseWriter, r *http.Request, mux *http.ServeMux, catchAll string) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		r2 := r.Clone(context.Background())
		r2.Method = m
		if _, p := mux.Handler(r2); p != "" && p != catchAll {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, statusError(http.StatusMethodNotAllowed))
		return
	}
	writeError(w, statusError(http.StatusNotFound))
}

// checkClient checks one OAuth client of the configuration or fixtures.
func checkClient(id, secret string) error {
	if id == "" || strings.Contains(id, ":") {
		return fmt.Errorf("client id %q must be non-empty and free of ':'", id)
	}
	if secret == "" {
		return fmt.Errorf("client %q has an empty secret", id)
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
