package metrics

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Serve serves h on addr (its /metrics, /healthz and /readyz) until the
// returned stop is called; stop shuts the server down (waiting at most 2 s
// for open requests) and waits for it.
func Serve(addr string, h http.Handler, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	log.Info("metrics and health endpoints", "addr", ln.Addr().String(), "paths", "/metrics /healthz /readyz")
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	var served sync.WaitGroup
	served.Go(func() { _ = srv.Serve(ln) })
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = srv.Shutdown(ctx)
		cancel()
		served.Wait()
	}, nil
}
