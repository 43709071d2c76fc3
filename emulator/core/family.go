package core

import "net/http"

// Family is one API family of the emulator (customobjects, data tables,
// ...): its routes and its state. A family is built on a Server (it reads
// the clock, the logger and the fault switches there) and added to it with
// Register.
type Family interface {
	// Register adds the family's routes.
	Register(rt Routes)
	// Reset puts the family's state back to what was seeded; Server.Reset
	// calls it.
	Reset()
}

// Register adds family f: its routes now answer, and Reset resets it.
// Register every family before the server serves.
func (s *Server) Register(f Family) {
	f.Register(Routes{s: s})
	s.families = append(s.families, f)
}

// Routes is what a family registers its routes on.
type Routes struct{ s *Server }

// API serves pattern, a ServeMux pattern with a method under /api/v2/
// ("POST /api/v2/things/{id}"), with h once a request has passed the
// checks of the package comment (latency, down, bearer, rate limit,
// injected failures). The pattern is the request's kind in Stats.ByKind.
func (rt Routes) API(pattern string, h http.HandlerFunc) { rt.s.api.HandleFunc(pattern, h) }

// Admin serves pattern, a ServeMux pattern under /emulator/, with h. Admin
// requests are never faulted nor counted.
func (rt Routes) Admin(pattern string, h http.HandlerFunc) { rt.s.admin.HandleFunc(pattern, h) }

// Direct serves every path under prefix, which lies outside /oauth/token,
// /api/v2/ and /emulator/, with h, whatever the method: no bearer check,
// no rate limit, no fault (addresses such as pre-signed upload URLs).
// Requests are counted in Stats under kind.
func (rt Routes) Direct(prefix, kind string, h http.HandlerFunc) {
	rt.s.direct = append(rt.s.direct, directRoute{prefix: prefix, kind: kind, h: h})
}

// BusyCode sets the code of injected 503s for API paths under prefix
// (default server.too.busy).
func (rt Routes) BusyCode(prefix, code string) {
	rt.s.busy = append(rt.s.busy, busyCode{prefix: prefix, code: code})
}

type directRoute struct {
	prefix, kind string
	h            http.HandlerFunc
}

type busyCode struct{ prefix, code string }
