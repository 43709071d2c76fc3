package health

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestHandler(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "things_total", Help: "things"})
	reg.MustRegister(c)
	c.Inc()
	up := func() (bool, []string) { return true, nil }
	down := func() (bool, []string) { return false, []string{"not joined", "no token"} }
	h := Handler(reg, up, down)
	for path, want := range map[string]struct {
		status int
		body   string
	}{
		"/healthz": {200, "ok\n"},
		"/readyz":  {503, "not joined\nno token\n"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != want.status || rec.Body.String() != want.body {
			t.Errorf("%s: %d %q, want %d %q", path, rec.Code, rec.Body.String(), want.status, want.body)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != 200 || !strings.Contains(string(body), "things_total 1") {
		t.Errorf("/metrics: %d %s", rec.Code, body)
	}
}

func TestOneReason(t *testing.T) {
	h := Handler(prometheus.NewRegistry(), OneReason(func() (bool, string) { return false, "wedged: partition 2" }),
		OneReason(func() (bool, string) { return true, "ok" }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != 503 || rec.Body.String() != "wedged: partition 2\n" {
		t.Errorf("/healthz: %d %q", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != 200 || rec.Body.String() != "ok\n" {
		t.Errorf("/readyz: %d %q", rec.Code, rec.Body.String())
	}
}
