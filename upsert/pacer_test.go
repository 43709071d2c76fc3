package upsert

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gcupsert/gcupsert/internal/clock"
)

func TestPaceDecide(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	ms := time.Millisecond
	tests := []struct {
		name  string
		st    paceState
		start bool
		wait  time.Duration
	}{
		{"first request goes alone", paceState{}, true, 0},
		{"then waits for its answer", paceState{inflight: 1}, false, 0},
		{"no headers: unpaced", paceState{unpaced: true, inflight: 5}, true, 0},
		{"even: 190 left over 10s, 20ms since the last", paceState{even: true, known: true, allowed: 300, count: 100, inflight: 4,
			resetAt: now.Add(10 * time.Second), lastStart: now.Add(-20 * ms)}, false, 10*time.Second/190 - 20*ms},
		{"even: gap elapsed", paceState{even: true, known: true, allowed: 300, count: 100,
			resetAt: now.Add(10 * time.Second), lastStart: now.Add(-time.Second)}, true, 0},
		{"even: reserve reached, wait for the reset", paceState{even: true, known: true, allowed: 300, count: 290, inflight: 4,
			resetAt: now.Add(3 * time.Second), lastStart: now.Add(-time.Second)}, false, 3 * time.Second},
		{"burst: budget left, start at once", paceState{known: true, allowed: 300, count: 100, inflight: 4,
			resetAt: now.Add(10 * time.Second), lastStart: now.Add(-ms)}, true, 0},
		{"burst: within the reserve, one at a time", paceState{known: true, allowed: 300, count: 290, inflight: 4,
			resetAt: now.Add(3 * time.Second)}, false, 0},
		{"burst: within the reserve, none in flight", paceState{known: true, allowed: 300, count: 297,
			resetAt: now.Add(3 * time.Second)}, true, 0},
		{"burst: budget spent, wait for the reset", paceState{known: true, allowed: 300, count: 299, inflight: 1,
			resetAt: now.Add(3 * time.Second)}, false, 3 * time.Second},
		{"window over: one probe", paceState{known: true, allowed: 300, count: 294, resetAt: now.Add(-ms)}, true, 0},
		{"window over, probe in flight", paceState{known: true, allowed: 300, count: 294, inflight: 1, resetAt: now}, false, 0},
		{"after a 429", paceState{known: true, allowed: 300, count: 10, resetAt: now.Add(time.Minute), blockedUntil: now.Add(7 * time.Second)}, false, 7 * time.Second},
	}
	for _, tt := range tests {
		start, wait := tt.st.decide(now, 0.02)
		if start != tt.start || wait != tt.wait {
			t.Errorf("%s: start %v wait %s, want %v %s", tt.name, start, wait, tt.start, tt.wait)
		}
	}
	if r := reserveOf(300, 0.02); r != 6 {
		t.Errorf("reserve of 300: %d", r)
	}
	if r := reserveOf(10, 0.02); r != 1 {
		t.Errorf("reserve of 10: %d", r)
	}
}

func TestPaceObserve(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	var s paceState
	s.observe(t0, t0, 300, 1, 6*time.Second)
	if !s.known || s.count != 1 || !s.resetAt.Equal(t0.Add(6*time.Second)) || s.window != 6*time.Second {
		t.Fatalf("first: %+v", s)
	}
	// Later answers tighten the reset (ceil-rounded seconds).
	s.observe(t0, t0.Add(1500*time.Millisecond), 300, 40, 5*time.Second)
	if s.count != 40 || !s.resetAt.Equal(t0.Add(6*time.Second)) {
		t.Errorf("tighten: %+v", s)
	}
	s.observe(t0, t0.Add(1900*time.Millisecond), 300, 50, 4*time.Second)
	if !s.resetAt.Equal(t0.Add(5900 * time.Millisecond)) {
		t.Errorf("tighten: %v", s.resetAt.Sub(t0))
	}
	// A late answer with a lower count from the same window is ignored.
	s.observe(t0, t0.Add(2*time.Second), 300, 45, 4*time.Second)
	if s.count != 50 {
		t.Errorf("stale answer taken: %+v", s)
	}
	// A request sent after the reset shows the new window.
	s.observe(t0.Add(6*time.Second), t0.Add(6*time.Second), 300, 1, 6*time.Second)
	if s.count != 1 || !s.resetAt.Equal(t0.Add(12*time.Second)) {
		t.Errorf("new window: %+v", s)
	}
	// Floor-rounded headers: the window outlasts the estimate; the next
	// probe waits at least probeStep.
	s.observe(t0.Add(12*time.Second), t0.Add(12*time.Second), 300, 290, 0)
	if s.count != 290 || !s.resetAt.Equal(t0.Add(12*time.Second+probeStep)) {
		t.Errorf("longer window: %+v", s)
	}
}

// fixedWindow simulates the API's limiter: a window opened by the first
// request after the previous one ended, reset rounded up to seconds.
type fixedWindow struct {
	allowed int
	length  time.Duration
	start   time.Time
	count   int
	total   int
	denied  int
	max     int
}

func (f *fixedWindow) serve(now time.Time) (int, http.Header) {
	if f.start.IsZero() || !now.Before(f.start.Add(f.length)) {
		f.start, f.count = now, 0
	}
	f.count++
	f.total++
	if f.count > f.max {
		f.max = f.count
	}
	left := f.start.Add(f.length).Sub(now)
	h := http.Header{}
	h.Set(headerRateAllowed, strconv.Itoa(f.allowed))
	h.Set(headerRateCount, strconv.Itoa(f.count))
	h.Set(headerRateReset, strconv.Itoa(int(math.Ceil(left.Seconds()))))
	if f.count > f.allowed {
		f.denied++
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(left.Seconds()))))
		return http.StatusTooManyRequests, h
	}
	return http.StatusOK, h
}

func TestPacerKeepsWithinTheWindow(t *testing.T) {
	for _, tc := range []struct {
		window   time.Duration
		parallel int
		even     bool
	}{{6 * time.Second, 1, false}, {6 * time.Second, 8, false}, {60 * time.Second, 8, false}, {6 * time.Second, 8, true}, {60 * time.Second, 8, true}} {
		synctest.Test(t, func(t *testing.T) {
			start := time.Now()
			p := newPacer(clock.Real, Pacing{Reserve: 0.02, Even: tc.even}, time.Minute)
			srv := &fixedWindow{allowed: 300, length: tc.window}
			const n = 1000
			ctx := context.Background()
			// Workers send requests answered 5ms after they start.
			var mu sync.Mutex
			next := 0
			var wg sync.WaitGroup
			for w := 0; w < tc.parallel; w++ {
				wg.Go(func() {
					for {
						mu.Lock()
						if next == n {
							mu.Unlock()
							return
						}
						next++
						mu.Unlock()
						done, err := p.acquire(ctx)
						if err != nil {
							t.Error(err)
							return
						}
						time.Sleep(5 * time.Millisecond)
						mu.Lock()
						st, h := srv.serve(time.Now())
						mu.Unlock()
						done(st, h)
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			budget := float64(srv.allowed) * elapsed.Seconds() / tc.window.Seconds()
			used := float64(n) / budget
			t.Logf("window %s, %d parallel, even %v: %d requests in %s, %.1f%% of the budget, %d denied, at most %d in a window",
				tc.window, tc.parallel, tc.even, n, elapsed, 100*used, srv.denied, srv.max)
			if srv.denied != 0 {
				t.Errorf("%d requests denied", srv.denied)
			}
			// Time in the bubble moves only when every goroutine waits, so the
			// figure is the same on every run.
			if used < 0.95 {
				t.Errorf("used %.1f%% of the budget, want >= 95%%", 100*used)
			}
			// In burst mode a backlog takes the windows its requests need:
			// the last one starts at once and ends a moment later.
			if windows := (n + srv.allowed - 1) / srv.allowed; !tc.even && elapsed > time.Duration(windows-1)*tc.window+tc.window/10 {
				t.Errorf("%d requests took %s; %d windows of %s should do", n, elapsed, windows, tc.window)
			}
		})
	}
}

// A 429 that does not come from the budget (a storm with Retry-After 1s
// while the window has room) holds requests for the Retry-After only: then
// one request goes first, and once it is answered the pace resumes.
func TestPaceAfterAStormResumesAtTheRetryAfter(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	s := paceState{known: true, allowed: 300, count: 100, resetAt: t0.Add(40 * time.Second), window: time.Minute}
	s.throttled(t0, time.Second)
	if start, wait := s.decide(t0.Add(500*time.Millisecond), 0.02); start || wait != 500*time.Millisecond {
		t.Fatalf("during the hold: start %v wait %s", start, wait)
	}
	if start, _ := s.decide(t0.Add(time.Second), 0.02); !start {
		t.Fatal("no probe after the Retry-After")
	}
	s.inflight = 1
	if start, _ := s.decide(t0.Add(time.Second), 0.02); start {
		t.Fatal("a second request went while the probe is in flight")
	}
	// The probe's answer ends the probing; the window still has room.
	s.inflight, s.probing = 0, false
	s.observe(t0.Add(time.Second), t0.Add(1100*time.Millisecond), 300, 101, 39*time.Second)
	s.lastStart = t0.Add(time.Second)
	start, wait := s.decide(t0.Add(1200*time.Millisecond), 0.02)
	if !start && wait > time.Second {
		t.Fatalf("after the storm the pacer waits %s; the window has room", wait)
	}
}
