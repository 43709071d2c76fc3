// Command gcupsert-bench measures gcupsert's throughput, cost per event,
// memory and API budget use (see package internal/bench), prints one table
// and writes the same figures as JSON.
//
//	gcupsert-bench [--out bench-results.json] [--only inproc,child,api,import,visibility,mirror,real]
//
// The real group's rows (real-instant, real-50ms, real-budget, real-hotkeys,
// real-1m; each selectable by name) run against a real Apache Kafka broker
// started by scripts/kafka/kafka.sh (Java 17+ and Maven), or the one
// GCUPSERT_TEST_BROKERS names; without Java they are skipped.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/gcupsert/gcupsert/internal/app/bench"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == bench.ProfiledWorkerCommand {
		// The worker child of --child-cpuprofile runs.
		os.Exit(bench.ProfiledWorker(os.Args[2:], os.Stderr))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	o := bench.Defaults()
	fs := flag.NewFlagSet("gcupsert-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "bench-results.json", "write the results as JSON to this file (\"\" for none)")
	only := fs.String("only", "", "comma-separated scenario groups to run: inproc, child, api, import, visibility, mirror, real (default all); or real rows by name: real-instant, real-50ms, real-budget, real-hotkeys, real-1m")
	fs.StringVar(&o.Bin, "bin", "", "gcupsert binary for the child-process run (default: build ./cmd/gcupsert)")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the in-process run to this file")
	fs.IntVar(&o.Partitions, "partitions", o.Partitions, "input partitions in the worker-cost runs")
	fs.IntVar(&o.InProcEvents, "inproc-events", o.InProcEvents, "backlog of the in-process run")
	fs.IntVar(&o.BaselineEvents, "baseline-events", o.BaselineEvents, "events of the regime-1 baseline")
	fs.IntVar(&o.ChildEvents, "child-events", o.ChildEvents, "backlog of the child-process run")
	fs.IntVar(&o.MirrorEvents, "mirror-events", o.MirrorEvents, "backlog of sync events of the mirror run")
	fs.DurationVar(&o.APIRun, "api-run", o.APIRun, "measured span of each API-bound customobjects run")
	fs.DurationVar(&o.APIWindow, "api-window", o.APIWindow, "emulator rate window of the API-bound customobjects runs and of real-budget and real-hotkeys (budget scaled to 300 a minute)")
	fs.IntVar(&o.RealEvents, "real-events", o.RealEvents, "backlog of real-instant and real-50ms (all keys distinct)")
	fs.IntVar(&o.RealBudgetEvents, "real-budget-events", o.RealBudgetEvents, "backlog of real-budget (all keys distinct)")
	fs.IntVar(&o.RealHotEvents, "real-hot-events", o.RealHotEvents, "backlog of real-hotkeys")
	fs.IntVar(&o.RealHotKeys, "real-hot-keys", o.RealHotKeys, "distinct keys of real-hotkeys")
	fs.DurationVar(&o.RealHotLatency, "real-hot-latency", 0, "latency added to every API request of real-hotkeys (default none: instant)")
	fs.IntVar(&o.RealBigEvents, "real-1m-events", o.RealBigEvents, "backlog of real-1m")
	fs.IntVar(&o.RealBigKeys, "real-1m-keys", o.RealBigKeys, "distinct keys of real-1m")
	fs.StringVar(&o.KafkaScript, "kafka-script", "", "scripts/kafka/kafka.sh that starts the real broker (default: found above the current directory)")
	fs.StringVar(&o.ChildCPUProfile, "child-cpuprofile", "", "run the real rows' worker child as this binary's profiled worker, writing CPU profiles to FILE.<row>")
	fs.StringVar(&o.ChildTrace, "child-trace", "", "the same, writing execution traces to FILE.<row> (go tool trace)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *only != "" {
		o.Only = map[string]bool{}
		for _, g := range strings.Split(*only, ",") {
			o.Only[strings.TrimSpace(g)] = true
		}
	}
	o.Log = stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	results, err := bench.Run(ctx, o)
	fmt.Fprintln(stdout)
	bench.PrintTable(stdout, results)
	if *out != "" && len(results) > 0 {
		rep := bench.Report{Time: time.Now().UTC(), GoVersion: runtime.Version(), CPUs: runtime.NumCPU(), Commit: commit(), Results: results}
		if werr := bench.WriteJSON(*out, rep); werr != nil {
			fmt.Fprintln(stderr, "gcupsert-bench:", werr)
			return 1
		}
		fmt.Fprintf(stdout, "\nJSON written to %s\n", *out)
	}
	if err != nil {
		fmt.Fprintln(stderr, "gcupsert-bench:", err)
		return 1
	}
	return 0
}

// commit is the checked-out commit, when git can tell.
func commit() string {
	b, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
