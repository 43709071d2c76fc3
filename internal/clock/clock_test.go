package clock

import (
	"context"
	"testing"
	"time"
)

func TestFakeFiresTimersInOrderWhenDue(t *testing.T) {
	f := NewFake(time.Unix(100, 0))
	late := f.NewTimer(2 * time.Second)
	early := f.NewTimer(time.Second)
	f.Advance(999 * time.Millisecond)
	select {
	case <-early.C():
		t.Fatal("fired early")
	default:
	}
	f.Advance(time.Millisecond)
	if got := <-early.C(); !got.Equal(time.Unix(101, 0)) {
		t.Fatalf("fired at %v", got)
	}
	if f.Pending() != 1 {
		t.Fatalf("pending %d", f.Pending())
	}
	if !late.Stop() || late.Stop() {
		t.Fatal("Stop should report active once")
	}
	f.Advance(time.Hour)
	select {
	case <-late.C():
		t.Fatal("a stopped timer fired")
	default:
	}
}

func TestSleepOnFakeClock(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	done := make(chan error, 1)
	go func() { done <- Sleep(context.Background(), f, time.Minute) }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.WaitForTimers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if d, ok := f.NextDeadline(); !ok || !d.Equal(time.Unix(60, 0)) {
		t.Fatalf("deadline %v %v", d, ok)
	}
	f.Advance(time.Minute)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	if err := Sleep(cctx, f, time.Minute); err == nil {
		t.Fatal("Sleep ignored a cancelled context")
	}
	if err := Sleep(context.Background(), Real, 0); err != nil {
		t.Fatal(err)
	}
}
