package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
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
	// Only, when non-empty, names the scenario groups to run: inproc,
	// child, api, import, visibility.
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
	brokers, api, schemaFile := stack.brokers, stack.api, stack.schemaFile
	o.logf("worker-inproc: producing %d events to %d partitions", o.InProcEvents, o.Partitions)
	msgs := Stream(o.InProcEvents, o.Keys, o.Partitions, "r1")
	if err := produce(ctx, brokers, msgs); err != nil {
		return nil, err
	}
	msgs = nil
	end, err := inspect.EndOffsets(ctx, brokers, inputTopic)
	if err != nil {
		return nil, err
	}
	runtime.GC()
	debug.FreeOSMemory()

	cfg := workerConfig(brokers, api.URL(), "bench-inproc", "customobjects", schemaFile)
	t := &tally{}
	if o.CPUProfile != "" {
		f, err := os.Create(o.CPUProfile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		defer pprof.StopCPUProfile()
	}
	resetPeakRSS()
	before := selfUsage()
	began := time.Now()
	w, err := startWorker(ctx, cfg, t)
	if err != nil {
		return nil, err
	}
	werr := waitCommitted(ctx, cfg, end)
	elapsed := time.Since(began)
	after := selfUsage()
	if o.CPUProfile != "" {
		pprof.StopCPUProfile()
	}
	peak, _ := peakRSS("self")
	if err := w.stop(); err != nil {
		return nil, fmt.Errorf("worker-inproc: %w", err)
	}
	if werr != nil {
		return nil, fmt.Errorf("worker-inproc: %w", werr)
	}
	n := int(sum(end))
	written, batches, dead, retries, assigned := t.snapshot()
	r := Result{
		Scenario:       "worker-inproc",
		Note:           "regime 1, one process: kfake + emulator (no latency, no limit) + worker; from worker start to committed == end; CPU, allocations and RSS are the whole process's",
		Events:         n,
		Seconds:        elapsed.Seconds(),
		EventsPerSec:   float64(n) / elapsed.Seconds(),
		CPUPerMillion:  fp((after.cpu - before.cpu).Seconds() / float64(n) * 1e6),
		AllocsPerEvent: fp(float64(after.mallocs-before.mallocs) / float64(n)),
		PeakRSSMB:      fp(mb(peak)),
		Extra: map[string]any{"partitions": o.Partitions, "written": written, "batches": batches, "deadLettered": dead,
			"batchRetries": retries, "joinSeconds": round(assigned.Sub(began).Seconds()),
			"eventsPerSecondAfterJoin": round(float64(n) / time.Since(assigned).Seconds())},
	}
	if dead != 0 || retries != 0 {
		r.Note += fmt.Sprintf(" (unexpected: %d dead letters, %d batch retries)", dead, retries)
	}
	o.logf("worker-inproc: %d events in %.1fs", n, elapsed.Seconds())

	// The baseline reads the same topic with its own group, on the same
	// emulator.
	api.reset()
	want := min(o.BaselineEvents, n)
	o.logf("baseline-inproc: %d events", want)
	bl := newBaseline(brokers, api.URL(), "bench-baseline")
	before = selfUsage()
	began = time.Now()
	bctx, bcancel := context.WithTimeout(ctx, 5*time.Minute)
	berr := bl.run(bctx, want)
	bcancel()
	belapsed := time.Since(began)
	after = selfUsage()
	if berr != nil {
		return nil, fmt.Errorf("baseline-inproc: %w", berr)
	}
	if bl.events < want {
		return nil, fmt.Errorf("baseline-inproc: %d of %d events in %v", bl.events, want, belapsed)
	}
	b := Result{
		Scenario:       "baseline-inproc",
		Note:           "regime 1 sequential baseline (100 a batch, token request per batch, POST, commit) on the same emulator and broker",
		Events:         bl.events,
		Seconds:        belapsed.Seconds(),
		EventsPerSec:   float64(bl.events) / belapsed.Seconds(),
		CPUPerMillion:  fp((after.cpu - before.cpu).Seconds() / float64(bl.events) * 1e6),
		AllocsPerEvent: fp(float64(after.mallocs-before.mallocs) / float64(bl.events)),
		TooMany:        ip(bl.tooMany),
	}
	r.RatioToBaseline = fp(r.EventsPerSec / b.EventsPerSec)
	return []Result{r, b}, nil
}

func round(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }
