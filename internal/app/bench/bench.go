// Package bench measures gcupsert in its two performance regimes and
// prints one table of figures (and a JSON report):
//
//   - worker cost, with the API out of the way (emulator with no latency
//     and no rate limit): events per second end to end, CPU seconds per
//     million events, allocations per event, peak RSS; once with the
//     broker, emulator and worker in one process, once with the worker as
//     a child process over a large backlog, so that its memory is its own;
//   - API-bound, with the emulator at a realistic latency (log-normal, 100
//     ms median, long tail) and the 300-requests-a-minute token budget:
//     records written per minute, share of the budget used, 429s seen; a
//     Data Tables initial load by import jobs; the time until a single
//     row change is visible in rows mode.
//
// A further scenario measures gcupsert mirror: sync events applied to
// PostgreSQL per second, the mirror's CPU and the server's per event.
//
// The last rows run the worker as a child process against a real Apache
// Kafka broker (scripts/kafka/kafka.sh) and hold its figures to goals: CPU
// per event, time with API latency, the token budget, coalescing of hot
// keys and peak RSS over a million events (real.go).
//
// Each regime also runs a sequential baseline on the same emulator (100
// events a batch, a token request per batch, no pipelining) and reports
// gcupsert's ratio to it. Nothing is hard-coded: every figure is measured
// by the run that prints it.
package bench

import (
	"context"
	"os"
	"time"
)

// Defaults sizes a full run of a few minutes on a 2-core machine.
func Defaults() Options {
	return Options{
		Partitions:     6,
		InProcEvents:   200_000,
		BaselineEvents: 50_000,
		ChildEvents:    1_000_000,
		MirrorEvents:   200_000,
		Keys:           100_000,
		APIWindow:      60 * time.Second,
		APIRun:         120 * time.Second,

		RealEvents:       100_000,
		RealBudgetEvents: 60_000,
		RealHotEvents:    100_000,
		RealHotKeys:      2_000,
		RealBigEvents:    1_000_000,
		RealBigKeys:      50_000,
	}
}

// Run runs the scenarios o selects and returns their results; it stops at
// the first scenario that fails, returning the results so far.
func Run(ctx context.Context, o Options) ([]Result, error) {
	dir, err := os.MkdirTemp("", "gcupsert-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	var out []Result
	steps := []struct {
		group string
		run   func(context.Context, *Options, string) ([]Result, error)
	}{
		{"inproc", inProc},
		{"child", child},
		{"api", apiBound},
		{"import", dtImport},
		{"visibility", rowVisibility},
		{"mirror", mirrorBench},
		{"real", realBench}, // selects its rows itself
	}
	for _, s := range steps {
		if s.group != "real" && !o.want(s.group) {
			continue
		}
		rs, err := s.run(ctx, &o, dir)
		out = append(out, rs...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}
