// Command gcupsert-bench measures gcupsert's throughput, cost per event,
// memory and API budget use (see package internal/bench), prints one table
// and writes the same figures as JSON.
//
//	gcupsert-bench [--out bench-results.json] [--only inproc,child,api,import,visibility,mirror]
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

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	o := bench.Defaults()
	fs := flag.NewFlagSet("gcupsert-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "bench-results.json", "write the results as JSON to this file (\"\" for none)")
	only := fs.String("only", "", "comma-separated scenario groups to run: inproc, child, api, import, visibility, mirror (default all)")
	fs.StringVar(&o.Bin, "bin", "", "gcupsert binary for the child-process run (default: build ./cmd/gcupsert)")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the in-process run to this file")
	fs.IntVar(&o.Partitions, "partitions", o.Partitions, "input partitions in the worker-cost runs")
	fs.IntVar(&o.InProcEvents, "inproc-events", o.InProcEvents, "backlog of the in-process run")
	fs.IntVar(&o.BaselineEvents, "baseline-events", o.BaselineEvents, "events of the regime-1 baseline")
	fs.IntVar(&o.ChildEvents, "child-events", o.ChildEvents, "backlog of the child-process run")
	fs.IntVar(&o.MirrorEvents, "mirror-events", o.MirrorEvents, "backlog of sync events of the mirror run")
	fs.DurationVar(&o.APIRun, "api-run", o.APIRun, "measured span of each API-bound customobjects run")
	fs.DurationVar(&o.APIWindow, "api-window", o.APIWindow, "emulator rate window of the API-bound customobjects runs (budget scaled to 300 a minute)")
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
