package retry

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gcupsert/gcupsert/internal/clock"
)

// run runs p.Do with op on a fake clock, firing every wait at once, and
// returns the error and the waits asked for.
func run(t *testing.T, p Policy, op func() error) (error, []time.Duration) {
	t.Helper()
	clk := clock.NewFake(time.Unix(0, 0))
	var waits []time.Duration
	done := make(chan error, 1)
	go func() {
		done <- p.Do(context.Background(), clk, op, func(_ error, d time.Duration) { waits = append(waits, d) })
	}()
	for {
		select {
		case err := <-done:
			return err, waits
		default:
		}
		if d, ok := clk.NextDeadline(); ok {
			clk.Advance(d.Sub(clk.Now()))
			continue
		}
		time.Sleep(time.Millisecond)
	}
}

func TestWaitsGrowToTheMaximum(t *testing.T) {
	p := Policy{Initial: 100 * time.Millisecond, Max: time.Second, Jitter: 0.5}
	n := 0
	err, waits := run(t, p, func() error {
		if n++; n < 8 {
			return errors.New("transient")
		}
		return nil
	})
	if err != nil || len(waits) != 7 {
		t.Fatalf("err %v, %d waits", err, len(waits))
	}
	for i, ceiling := range []time.Duration{100, 200, 400, 800, 1000, 1000, 1000} {
		ceiling *= time.Millisecond
		if waits[i] < ceiling/2 || waits[i] > ceiling*3/2 {
			t.Errorf("wait %d = %s, want within [%s, %s]", i, waits[i], ceiling/2, ceiling*3/2)
		}
	}
}

func TestRetryAfterReplacesTheWaitCapped(t *testing.T) {
	p := Policy{Initial: 100 * time.Millisecond, MaxRetryAfter: 30 * time.Second}
	n := 0
	err, waits := run(t, p, func() error {
		n++
		switch n {
		case 1:
			return After(errors.New("429"), 7*time.Second)
		case 2:
			return After(errors.New("429"), time.Hour)
		}
		return nil
	})
	if err != nil || len(waits) != 2 || waits[0] != 7*time.Second || waits[1] != 30*time.Second {
		t.Fatalf("err %v, waits %v; want [7s 30s]", err, waits)
	}
}

func TestMaxElapsedReturnsTheLastError(t *testing.T) {
	p := Policy{Initial: time.Second, Max: time.Second, MaxElapsed: 10 * time.Second}
	last := errors.New("still down")
	err, waits := run(t, p, func() error { return last })
	if !errors.Is(err, last) {
		t.Fatalf("err %v, want the last error", err)
	}
	var total time.Duration
	for _, w := range waits {
		total += w
	}
	if total > 10*time.Second+1500*time.Millisecond || len(waits) < 5 {
		t.Errorf("waited %s in %d waits for a 10s budget", total, len(waits))
	}
	// A Retry-After that would end past the budget is not waited for.
	err, waits = run(t, p, func() error { return After(last, time.Minute) })
	if !errors.Is(err, last) || len(waits) != 0 {
		t.Errorf("err %v, waits %v; want the error at once", err, waits)
	}
}

func TestPermanentStopsAtOnce(t *testing.T) {
	perm := errors.New("never")
	calls := 0
	err, waits := run(t, Policy{}, func() error { calls++; return Permanent(perm) })
	if !errors.Is(err, perm) || calls != 1 || len(waits) != 0 {
		t.Fatalf("err %v after %d calls and %d waits", err, calls, len(waits))
	}
	if !IsPermanent(Permanent(perm)) || IsPermanent(perm) {
		t.Error("IsPermanent is wrong")
	}
}

func TestCancelStopsTheWait(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	clk := clock.NewFake(time.Unix(0, 0))
	done := make(chan error, 1)
	go func() {
		done <- Policy{}.Do(ctx, clk, func() error { return errors.New("down") }, nil)
	}()
	if err := clk.WaitForTimers(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}

func TestValidate(t *testing.T) {
	for name, p := range map[string]Policy{
		"negative":          {Initial: -1},
		"multiplier":        {Multiplier: 0.5},
		"jitter":            {Jitter: 2},
		"max below initial": {Initial: time.Second, Max: time.Millisecond},
	} {
		p.SetDefaults()
		if err := p.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, p)
		}
	}
	var p Policy
	p.SetDefaults()
	if err := p.Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}
