package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/gcupsert/gcupsert/internal/inspect"
)

// Options sizes a bench run.
type Options struct {
	// Partitions of the input topic in the worker-cost scenarios.
	Partitions int
	// InProcEvents is the backlog of the in-process run and of the
	// regime-1 baseline; ChildEvents that of the child-process run.
	InProcEvents   int
	BaselineEvents int
	ChildEvents    int
	// MirrorEvents is the backlog of sync events of the mirror scenario.
	MirrorEvents int
	// Keys is the number of distinct record keys of the worker-cost streams.
	Keys int
	// Bin is the gcupsert binary for the child-process run ("" builds it).
	Bin string
	// CPUProfile, when set, receives a CPU profile of the in-process run.
	CPUProfile string
	// APIWindow is the emulator's rate window in the API-bound customobjects
	// scenario; the budget per window is scaled to keep 300 a minute.
	APIWindow time.Duration
	// APIRun is how long the API-bound customobjects runs are measured.
	APIRun time.Duration
	// RealEvents is the backlog of real-instant and real-50ms (all keys
	// distinct), RealBudgetEvents that of real-budget (all keys distinct),
	// RealHotEvents over RealHotKeys that of real-hotkeys, and RealBigEvents
	// over RealBigKeys that of real-1m.
	RealEvents       int
	RealBudgetEvents int
	RealHotEvents    int
	RealHotKeys      int
	RealHotLatency   time.Duration // added to every API request of real-hotkeys; 0: instant
	RealBigEvents    int
	RealBigKeys      int
	// KafkaScript is scripts/kafka/kafka.sh ("" finds it above the current
	// directory).
	KafkaScript string
	// ChildCPUProfile, when set, runs the real rows' worker as this
	// binary's profiled worker (ProfiledWorkerCommand), each writing a CPU
	// profile to ChildCPUProfile.<row>.
	ChildCPUProfile string
	// ChildTrace is the same for an execution trace (runtime/trace).
	ChildTrace string
	// Only, when non-empty, names the scenario groups to run: inproc,
	// child, api, import, visibility, mirror, real; or single real rows
	// (real-instant, real-50ms, real-budget, real-hotkeys, real-1m).
	Only map[string]bool
	Log  io.Writer
}

func (o Options) want(group string) bool { return len(o.Only) == 0 || o.Only[group] }

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", args...)
	}
}

// inProc runs the worker in this process against an embedded broker and
// an emulator with no latency and no rate limit, then the sequential
// baseline on the same emulator.
func inProc(ctx context.Context, o *Options, dir string) ([]Result, error) {
	stack, err := newCostStack(o.Partitions, dir)
	if err != nil {
		return nil, err
	}
	defer stack.Close()
	o.logf("worker-inproc: producing %d events to %d partitions", o.InProcEvents, o.Partitions)
	if err := produce(ctx, stack.brokers, Stream(o.InProcEvents, o.Keys, o.Partitions, "r1")); err != nil {
		return nil, err
	}
	end, err := inspect.EndOffsets(ctx, stack.brokers, inputTopic)
	if err != nil {
		return nil, err
	}
	runtime.GC()
	debug.FreeOSMemory()

	r, err := workerInProc(ctx, o, stack, end)
	if err != nil {
		return nil, err
	}
	// The baseline reads the same topic with its own group, on the same
	// emulator.
	b, err := baselineInProc(ctx, o, stack, min(o.BaselineEvents, r.Events))
	if err != nil {
		return nil, err
	}
	r.RatioToBaseline = fp(r.EventsPerSec / b.EventsPerSec)
	return []Result{r, b}, nil
}

// workerInProc runs the worker in this process until its group has
// committed end, and measures it, with a CPU profile if o asks for one.
func workerInProc(ctx context.Context, o *Options, stack *costStack, end map[int]int64) (Result, error) {
	cfg := workerConfig(stack.brokers, stack.api.URL(), "bench-inproc", "customobjects", stack.schemaFile)
	t := &tally{}
	stopProfile, err := startCPUProfile(o.CPUProfile)
	if err != nil {
		return Result{}, err
	}
	defer stopProfile()
	resetPeakRSS()
	before := selfUsage()
	began := time.Now()
	w, err := startWorker(ctx, cfg, t)
	if err != nil {
		return Result{}, err
	}
	werr := waitCommitted(ctx, cfg, end)
	elapsed := time.Since(began)
	after := selfUsage()
	stopProfile()
	peak, _ := peakRSS("self")
	if err := w.stop(); err != nil {
		return Result{}, fmt.Errorf("worker-inproc: %w", err)
	}
	if werr != nil {
		return Result{}, fmt.Errorf("worker-inproc: %w", werr)
	}
	n := int(sum(end))
	written, batches, dead, retries, assigned := t.snapshot()
	cpu, allocs := after.perEvent(before, n)
	r := Result{
		Scenario:       "worker-inproc",
		Note:           "regime 1, one process: kfake + emulator (no latency, no limit) + worker; from worker start to committed == end; CPU, allocations and RSS are the whole process's",
		Events:         n,
		Seconds:        elapsed.Seconds(),
		EventsPerSec:   float64(n) / elapsed.Seconds(),
		CPUPerMillion:  cpu,
		AllocsPerEvent: allocs,
		PeakRSSMB:      fp(mb(peak)),
		Extra: map[string]any{"partitions": o.Partitions, "written": written, "batches": batches, "deadLettered": dead,
			"batchRetries": retries, "joinSeconds": round(assigned.Sub(began).Seconds()),
			"eventsPerSecondAfterJoin": round(float64(n) / time.Since(assigned).Seconds())},
	}
	r.Goals = []Goal{atLeast("events/s end to end, broker in the same process", r.EventsPerSec, 50_000, "", 0)}
	if dead != 0 || retries != 0 {
		r.Note += fmt.Sprintf(" (unexpected: %d dead letters, %d batch retries)", dead, retries)
	}
	o.logf("worker-inproc: %d events in %.1fs", n, elapsed.Seconds())
	return r, nil
}

// startCPUProfile starts a CPU profile into path, none when path is "".
// The function it returns stops the profile and closes the file; it may be
// called more than once.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			pprof.StopCPUProfile()
			f.Close()
		})
	}, nil
}

// baselineInProc runs the sequential baseline over want events, five
// minutes at most, on the stack's emulator reset.
func baselineInProc(ctx context.Context, o *Options, stack *costStack, want int) (Result, error) {
	stack.api.reset()
	o.logf("baseline-inproc: %d events", want)
	bl := newBaseline(stack.brokers, stack.api.URL(), "bench-baseline")
	before := selfUsage()
	began := time.Now()
	bctx, bcancel := context.WithTimeout(ctx, 5*time.Minute)
	berr := bl.run(bctx, want)
	bcancel()
	elapsed := time.Since(began)
	after := selfUsage()
	if berr != nil {
		return Result{}, fmt.Errorf("baseline-inproc: %w", berr)
	}
	if bl.events < want {
		return Result{}, fmt.Errorf("baseline-inproc: %d of %d events in %v", bl.events, want, elapsed)
	}
	cpu, allocs := after.perEvent(before, bl.events)
	return Result{
		Scenario:       "baseline-inproc",
		Note:           "regime 1 sequential baseline (100 a batch, token request per batch, POST, commit) on the same emulator and broker",
		Events:         bl.events,
		Seconds:        elapsed.Seconds(),
		EventsPerSec:   float64(bl.events) / elapsed.Seconds(),
		CPUPerMillion:  cpu,
		AllocsPerEvent: allocs,
		TooMany:        ip(bl.tooMany),
	}, nil
}

func round(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }
