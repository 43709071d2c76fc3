// Package health serves a process's Prometheus metrics and its health and
// readiness: GET /metrics, /healthz and /readyz. A check answers 200 with
// "ok", or 503 with one line per reason.
package health

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check reports whether the process is healthy (or ready), and why not.
type Check func() (ok bool, why []string)

// OneReason adapts a check that gives a single reason.
func OneReason(check func() (bool, string)) Check {
	return func() (bool, []string) {
		ok, why := check()
		return ok, []string{why}
	}
}

// Handler serves reg at /metrics, healthy at /healthz and ready at /readyz.
func Handler(reg *prometheus.Registry, healthy, ready Check) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { write(w, healthy) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { write(w, ready) })
	return mux
}

func write(w http.ResponseWriter, check Check) {
	ok, why := check()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if ok {
		fmt.Fprintln(w, "ok")
		return
	}
	w.WriteHeader(http.StatusServiceUnavailable)
	for _, l := range why {
		fmt.Fprintln(w, l)
	}
}
