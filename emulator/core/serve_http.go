package core

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/gcupsert/gcupsert/internal/clock"
)

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

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set(headerCorrelationID, NewID())
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
	default:
		kind = s.serveDirect(rec, r)
	}
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	s.counters.count(kind, rec.status)
	s.log.Debug("emulator request", "method", r.Method, "path", path, "kind", kind,
		"status", rec.status, "correlationId", correlationID(w), "elapsed", clock.Since(s.clock, start))
}

// serveDirect serves a path outside the token endpoint, the API and the
// admin API: a family's direct route, else 404. It returns the kind.
func (s *Server) serveDirect(w http.ResponseWriter, r *http.Request) string {
	for _, d := range s.direct {
		if strings.HasPrefix(r.URL.Path, d.prefix) {
			d.h(w, r)
			return d.kind
		}
	}
	WriteError(w, StatusError(http.StatusNotFound))
	return KindOther
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
			WriteError(w, StatusError(http.StatusServiceUnavailable))
			return kind
		}
	}
	if !s.admit(w, r) {
		return kind
	}
	if d := s.faults.decide(); d.status != 0 {
		switch d.status {
		case http.StatusTooManyRequests:
			write429(w, d.retryAfter)
		case http.StatusServiceUnavailable:
			eb := StatusError(d.status)
			eb.Code, eb.Message = s.busyCode(r), "The server is too busy to handle the request. Try again later."
			WriteError(w, eb)
		default:
			WriteError(w, StatusError(d.status))
		}
		return kind
	}
	s.api.ServeHTTP(w, r)
	return kind
}

// admit runs the down, bearer and rate-limit checks of an API request; it
// answers the request and returns false when one fails.
func (s *Server) admit(w http.ResponseWriter, r *http.Request) bool {
	tok := bearer(r)
	now := s.clock.Now()
	if s.faults.down() {
		s.rateHeaders(w, s.tokens.peek(tok, now))
		eb := StatusError(http.StatusServiceUnavailable)
		eb.Message = "The service is currently unavailable. Try again later."
		WriteError(w, eb)
		return false
	}
	switch s.tokens.check(tok, now) {
	case tokenMissing:
		s.rateHeaders(w, window{reset: ceilSeconds(s.rateWindow)})
		WriteError(w, StatusError(http.StatusUnauthorized))
		return false
	case tokenUnknown, tokenRevoked:
		s.rateHeaders(w, window{reset: ceilSeconds(s.rateWindow)})
		eb := StatusError(http.StatusUnauthorized)
		eb.Message = "Invalid login credentials."
		WriteError(w, eb)
		return false
	case tokenExpired:
		s.rateHeaders(w, window{reset: ceilSeconds(s.rateWindow)})
		eb := StatusError(http.StatusUnauthorized)
		eb.Code, eb.Message = CodeCredentialsExpired, "The supplied credentials are expired and cannot be used."
		WriteError(w, eb)
		return false
	}
	win := s.tokens.take(tok, now)
	s.rateHeaders(w, win)
	if s.rateLimitOn && win.count > s.rateLimit {
		s.counters.countRateLimited()
		write429(w, win.reset)
		return false
	}
	return true
}

// busyCode is the code of an injected 503 for r's family.
func (s *Server) busyCode(r *http.Request) string {
	for _, b := range s.busy {
		if strings.HasPrefix(r.URL.Path, b.prefix) {
			return b.code
		}
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
		WriteError(w, StatusError(http.StatusMethodNotAllowed))
		return
	}
	WriteError(w, StatusError(http.StatusNotFound))
}
