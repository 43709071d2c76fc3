package core_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gcupsert/gcupsert/emulator/core"
	"github.com/gcupsert/gcupsert/emulator/customobjects"
	"github.com/gcupsert/gcupsert/emulator/internal/emutest"
)

func TestFailNext(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.Token()
	if err := e.Srv.FailNext(2, 503); err != nil {
		t.Fatal(err)
	}
	if err := e.Srv.Storm429(false, 7*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := e.Srv.FailNext(1, 429); err != nil {
		t.Fatal(err)
	}
	if err := e.Srv.FailNext(1, 500); err != nil {
		t.Fatal(err)
	}
	if got := e.Srv.Faults().FailNext; !slices.Equal(got, []int{503, 503, 429, 500}) {
		t.Fatalf("queued %v", got)
	}
	// A request failing the bearer check does not consume a failure.
	emutest.WantStatus(t, e.Post("", batch(rec("a", "upsert"))), 401)

	wants := []struct {
		status int
		code   string
	}{
		{503, "server.too.busy"},
		{503, "server.too.busy"},
		{429, "too.many.requests.retry.after"},
		{500, "internal.server.error"},
	}
	for i, want := range wants {
		w := e.Post(tok, batch(rec(fmt.Sprint(i), "upsert")))
		emutest.WantStatus(t, w, want.status)
		if eb := emutest.ErrBody(t, w); eb.Code != want.code {
			t.Errorf("request %d: code %q, want %q", i, eb.Code, want.code)
		}
		if want.status == 429 {
			if got := w.Header().Get("Retry-After"); got != "7" {
				t.Errorf("Retry-After %q, want 7", got)
			}
			if eb := emutest.ErrBody(t, w); eb.Message != "Rate limit exceeded the maximum. Retry the request in [7] seconds" {
				t.Errorf("429 message %q", eb.Message)
			}
		}
		if w.Header().Get("inin-ratelimit-count") != fmt.Sprint(i+1) {
			t.Errorf("request %d: rate headers %v", i, w.Header())
		}
	}
	emutest.WantStatus(t, e.Post(tok, batch(rec("ok", "upsert"))), 200)
	if n := len(e.co.Records(testSchema)); n != 1 {
		t.Errorf("%d records stored, want only the last", n)
	}
	// The token endpoint is never faulted.
	if err := e.Srv.FailNext(1, 503); err != nil {
		t.Fatal(err)
	}
	e.Token()
	emutest.WantStatus(t, e.Post(tok, batch(rec("x", "upsert"))), 503)

	for _, bad := range []struct{ n, status int }{{1, 200}, {1, 302}, {1, 600}, {-1, 503}} {
		if err := e.Srv.FailNext(bad.n, bad.status); !errors.Is(err, core.ErrInvalidFault) {
			t.Errorf("FailNext(%d, %d) = %v", bad.n, bad.status, err)
		}
	}
}

func TestDown(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.Token()
	e.Srv.Down(true)
	for _, tk := range []string{tok, "", "unknown"} {
		w := e.Post(tk, batch(rec("a", "upsert")))
		emutest.WantStatus(t, w, 503)
		if eb := emutest.ErrBody(t, w); eb.Code != "service.unavailable" {
			t.Errorf("code %q", eb.Code)
		}
		if w.Header().Get("inin-ratelimit-allowed") == "" {
			t.Error("no rate-limit headers")
		}
	}
	// Tokens are still issued while the API is down.
	tok2 := e.Token()
	e.Srv.Down(false)
	emutest.WantStatus(t, e.Post(tok2, batch(rec("a", "upsert"))), 200)
	if e.Srv.Stats().ByStatus[503] != 3 {
		t.Errorf("stats %+v", e.Srv.Stats())
	}
}

func TestStorm429(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.Token()
	if err := e.Srv.Storm429(true, 2500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		w := e.Post(tok, batch(rec("a", "upsert")))
		emutest.WantStatus(t, w, 429)
		if w.Header().Get("Retry-After") != "3" {
			t.Errorf("Retry-After %q, want 3", w.Header().Get("Retry-After"))
		}
		cid := w.Header().Get("ININ-Correlation-Id")
		want := `{"message":"Rate limit exceeded the maximum. Retry the request in [3] seconds","code":"too.many.requests.retry.after","status":429,"contextId":"` + cid + `","details":[],"errors":[]}`
		if w.Body.String() != want {
			t.Errorf("body %s", w.Body)
		}
	}
	if err := e.Srv.Storm429(false, 0); err != nil {
		t.Fatal(err)
	}
	emutest.WantStatus(t, e.Post(tok, batch(rec("a", "upsert"))), 200)
	st := e.Srv.Stats()
	if st.TooManyRequests != 3 || st.RateLimited != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestErrorRatio(t *testing.T) {
	tests := []struct {
		name       string
		ratio      float64
		status     int
		wantStatus int
		wantCode   string
		min, max   int // failures out of 400
	}{
		{"all 503", 1, 0, 503, "server.too.busy", 400, 400},
		{"all 502", 1, 502, 502, "bad.gateway", 400, 400},
		{"half 500", 0.5, 500, 500, "internal.server.error", 150, 250},
		{"none", 0, 0, 0, "", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *core.Config) { c.DisableRateLimit = true })
			tok := e.Token()
			if err := e.Srv.SetErrorRatio(tt.ratio, tt.status); err != nil {
				t.Fatal(err)
			}
			failed := 0
			for i := range 400 {
				w := e.API(http.MethodDelete, fmt.Sprintf("/api/v2/customobjects/accounts/records/%d", i), tok, "")
				switch w.Code {
				case 404:
				case tt.wantStatus:
					failed++
					if eb := emutest.ErrBody(t, w); eb.Code != tt.wantCode {
						t.Fatalf("code %q", eb.Code)
					}
				default:
					t.Fatalf("status %d", w.Code)
				}
			}
			if failed < tt.min || failed > tt.max {
				t.Errorf("%d failures, want %d..%d", failed, tt.min, tt.max)
			}
		})
	}
	e := newEnv(t, nil)
	for _, bad := range []struct {
		ratio  float64
		status int
	}{{-0.1, 0}, {1.1, 0}, {0.5, 404}, {0.5, 600}} {
		if err := e.Srv.SetErrorRatio(bad.ratio, bad.status); !errors.Is(err, core.ErrInvalidFault) {
			t.Errorf("SetErrorRatio(%v, %d) = %v", bad.ratio, bad.status, err)
		}
	}
}

func TestLatencyWaitsOnClock(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.Token()
	if err := e.Srv.SetLatency(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() { done <- e.Post(tok, batch(rec("a", "upsert"))) }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Clk.WaitForTimers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
		t.Fatal("answered before the latency passed")
	default:
	}
	e.Clk.Advance(time.Second)
	if e.co.Records(testSchema)["a"] != nil {
		t.Fatal("applied before the latency passed")
	}
	e.Clk.Advance(time.Second)
	select {
	case w := <-done:
		emutest.WantStatus(t, w, 200)
	case <-ctx.Done():
		t.Fatal("not answered after the latency")
	}
}

func TestLatencyCancelled(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.Token()
	_ = e.Srv.SetLatency(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/api/v2/customobjects/accounts/records",
		nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	done := make(chan struct{})
	go func() { e.Srv.Handler().ServeHTTP(w, r); close(done) }()
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := e.Clk.WaitForTimers(wctx, 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-done:
	case <-wctx.Done():
		t.Fatal("handler kept waiting after cancellation")
	}
	if w.Code != 503 {
		t.Errorf("status %d", w.Code)
	}
}

func TestLatencyDistribution(t *testing.T) {
	e := newEnv(t, nil)
	median, p99 := 100*time.Millisecond, time.Second
	if err := e.Srv.SetLatencyDistribution(median, p99); err != nil {
		t.Fatal(err)
	}
	const n = 20000
	samples := make([]time.Duration, n)
	for i := range samples {
		samples[i] = e.Srv.SampleLatency()
	}
	slices.Sort(samples)
	if got := samples[n/2]; got < 85*time.Millisecond || got > 115*time.Millisecond {
		t.Errorf("median %v, want about %v", got, median)
	}
	if got := samples[n*99/100]; got < 800*time.Millisecond || got > 1250*time.Millisecond {
		t.Errorf("p99 %v, want about %v", got, p99)
	}
	if got := samples[n-1]; got > 4*p99 {
		t.Errorf("max %v over the cap", got)
	}
	// Fixed latency adds to the distribution; p99 <= median means fixed.
	_ = e.Srv.SetLatency(time.Second)
	_ = e.Srv.SetLatencyDistribution(50*time.Millisecond, 0)
	if got := e.Srv.SampleLatency(); got != 1050*time.Millisecond {
		t.Errorf("latency %v", got)
	}
	if err := e.Srv.SetLatency(-time.Second); !errors.Is(err, core.ErrInvalidFault) {
		t.Errorf("negative latency accepted: %v", err)
	}
}

func TestSetFaultsAndReset(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.Token()
	emutest.WantStatus(t, e.Post(tok, batch(rec("a", "upsert"))), 200)
	f := core.Faults{Down: true, OmitEntityIDs: true, FailNext: []int{502}, Latency: time.Millisecond}
	if err := e.Srv.SetFaults(f); err != nil {
		t.Fatal(err)
	}
	f.FailNext[0] = 400 // the server keeps its own copy
	got := e.Srv.Faults()
	if !got.Down || !got.OmitEntityIDs || !slices.Equal(got.FailNext, []int{502}) {
		t.Errorf("core.Faults() = %+v", got)
	}
	if err := e.Srv.SetFaults(core.Faults{ErrorRatio: 2}); !errors.Is(err, core.ErrInvalidFault) {
		t.Errorf("invalid faults accepted: %v", err)
	}
	e.Srv.Reset()
	if got := e.Srv.Faults(); !isZero(got) {
		t.Errorf("faults after Reset: %+v", got)
	}
	if len(e.co.Records(testSchema)) != 0 || e.Srv.Stats().Requests != 0 {
		t.Error("Reset kept records or stats")
	}
	// Tokens survive a reset; their windows restart.
	w := e.Post(tok, batch(rec("b", "upsert")))
	emutest.WantStatus(t, w, 200)
	if w.Header().Get("inin-ratelimit-count") != "1" {
		t.Errorf("window not reset: %v", w.Header())
	}
}

func isZero(f core.Faults) bool {
	return f.Latency == 0 && f.LatencyMedian == 0 && f.LatencyP99 == 0 && f.ErrorRatio == 0 &&
		f.ErrorStatus == 0 && !f.Storm429 && f.RetryAfter == 0 && !f.Down && !f.OmitEntityIDs && len(f.FailNext) == 0
}

func TestCorrelationIDs(t *testing.T) {
	e := newEnv(t, func(c *core.Config) { c.RateLimitPerMinute = 1 })
	tok := e.Token()
	responses := []*httptest.ResponseRecorder{
		e.TokenRequest(emutest.Basic(emutest.Client, emutest.Secret), nil),
		e.TokenRequest("", nil),
		e.Post(tok, batch(rec("a", "upsert"))),
		e.Post(tok, batch(rec("a", "upsert"))), // 429
		e.Post("", ""),
		e.API(http.MethodDelete, "/api/v2/customobjects/accounts/records/zz", "", ""),
		e.Do(http.MethodGet, "/nowhere", "", nil),
		e.Do(http.MethodGet, "/emulator/stats", "", nil),
		e.Do(http.MethodGet, "/emulator/nothing", "", nil),
	}
	seen := map[string]bool{}
	for i, w := range responses {
		cid := w.Header().Get("ININ-Correlation-Id")
		if len(cid) != 36 || seen[cid] {
			t.Errorf("response %d (status %d): correlation id %q missing or repeated", i, w.Code, cid)
		}
		seen[cid] = true
		if w.Code >= 400 && w.Header().Get("Content-Type") == "application/json" {
			var m map[string]any
			_ = json.Unmarshal(w.Body.Bytes(), &m)
			if ctx, ok := m["contextId"]; ok && ctx != cid {
				t.Errorf("response %d: contextId %v, header %s", i, ctx, cid)
			}
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	e := newEnv(t, func(c *core.Config) { c.DisableRateLimit = true })
	tok := e.Token()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				id := fmt.Sprintf("g%d-%d", g, i)
				w := e.Post(tok, batch(rec(id, "createOnly")))
				if w.Code != 200 && w.Code != 503 {
					t.Errorf("status %d", w.Code)
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 50 {
			_ = e.Srv.SetErrorRatio(float64(i%2)*0.1, 0)
			_ = e.Srv.Stats()
			_ = e.co.Records(testSchema)
			_ = e.Srv.Faults()
		}
	}()
	wg.Wait()
	st := e.Srv.Stats()
	if got := len(e.co.Records(testSchema)); got != st.ByStatus[200]-1 { // minus the token request
		t.Errorf("%d records, %d successes", got, st.ByStatus[200]-1)
	}
	if st.ByKind[customobjects.KindUpsert] != 400 {
		t.Errorf("byKind %v", st.ByKind)
	}
}
