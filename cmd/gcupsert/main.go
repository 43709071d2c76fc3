// Command gcupsert streams record changes from Kafka into Genesys Cloud.
//
//	gcupsert run --config gcupsert.yaml   run the worker
//	gcupsert demo                         run the whole pipeline in one process
//	gcupsert emulator --addr :8080        serve the Genesys Cloud emulator
//	gcupsert version                      print the build's version
//
// Only this package handles signals: SIGINT or SIGTERM stops fetching, lets
// in-flight batches finish, commits what is done and leaves the group; a
// second signal, or the shutdown timeout, exits at once.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/gcupsert/gcupsert/config"
	"github.com/gcupsert/gcupsert/internal/app/worker"
	"github.com/gcupsert/gcupsert/internal/logging"
	"github.com/gcupsert/gcupsert/internal/version"
)

const usage = `gcupsert streams record changes from Kafka into Genesys Cloud.

Usage:
  gcupsert run --config FILE      run the worker (environment: GCUPSERT_*)
  gcupsert demo [flags]           run broker, emulator and worker in one process
  gcupsert emulator [flags]       serve the Genesys Cloud emulator
  gcupsert produce --file F --topic T [--key-field K] [--validate]
                                  load a CSV or JSONL file into a topic as change events
  gcupsert check-config --config FILE
                                  validate a configuration and the connections it names
  gcupsert tables [--name FILTER] list the Genesys data tables
  gcupsert schema pull --table NAME | --data-schema NAME [--entity contact|organization]
                                  print a data table's schema, or an External Contacts data schema
  gcupsert mirror --config FILE   keep a database in step with the sync topic, exactly once
  gcupsert mirror init --config FILE [--apply]
                                  print (and create) the mirror's tables
  gcupsert version                print the version, revision and Go version of this build

Run "gcupsert COMMAND -h" for a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "run":
		err = cmdRun(args[1:], stderr)
	case "mirror":
		err = cmdMirror(args[1:], stdout, stderr)
	case "demo":
		err = cmdDemo(args[1:], stdout, stderr)
	case "emulator":
		err = cmdEmulator(args[1:], stderr)
	case "produce":
		err = cmdProduce(args[1:], stdout, stderr)
	case "tables":
		err = cmdTables(args[1:], stdout, stderr)
	case "schema":
		err = cmdSchema(args[1:], stdout, stderr)
	case "check-config":
		err = cmdCheckConfig(args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintf(stdout, "gcupsert %s\n", version.Get())
		return 0
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "gcupsert: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "gcupsert %s: %v\n", args[0], err)
		return 2
	}
	fmt.Fprintf(stderr, "gcupsert %s: %v\n", args[0], err)
	return 1
}

type usageError struct{ error }

// newLogger logs with tint on a terminal and as JSON otherwise.
func newLogger(w io.Writer, level, format string) *slog.Logger {
	return logging.New(w, level, logging.Format(format))
}

// signalContext is cancelled on the first SIGINT or SIGTERM; a second one
// exits the process at once.
func signalContext(log *slog.Logger) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			log.Info("stopping: draining in-flight batches", "signal", s.String())
			cancel()
		case <-done:
			return
		}
		select {
		case s := <-ch:
			log.Warn("second signal: exiting now", "signal", s.String())
			os.Exit(130)
		case <-done:
		}
	}()
	return ctx, func() { signal.Stop(ch); close(done); cancel() }
}

func cmdRun(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", os.Getenv("GCUPSERT_CONFIG"), "configuration file (YAML); environment GCUPSERT_* overrides it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %v", fs.Args())}
	}
	cfg, err := config.Load(*path, os.Environ())
	if err != nil {
		return err
	}
	// The worker allocates per record and keeps little beyond its bounded
	// batches: fewer collections for some memory (GOGC=200), within a soft
	// limit so that a large backlog does not double the peak
	// (GOMEMLIMIT=112MiB), unless the environment sets them.
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetGCPercent(200)
		debug.SetMemoryLimit(112 << 20)
	}
	log := newLogger(stderr, cfg.Log.Level, cfg.Log.Format)
	ctx, stop := signalContext(log)
	defer stop()
	w, err := worker.NewContext(ctx, cfg, worker.Options{Logger: log})
	if err != nil {
		return err
	}
	log.Info("gcupsert starting", "version", version.Get().Version, "worker", cfg.WorkerID, "group", cfg.Kafka.GroupID, "brokers", cfg.Kafka.Brokers, "routes", len(cfg.Routes))
	return runUntilStopped(ctx, log, w.Run, cfg.ShutdownTimeout.D())
}

// runUntilStopped runs run until it returns; once ctx ends (a signal), it
// waits at most timeout for it.
func runUntilStopped(ctx context.Context, log *slog.Logger, run func(context.Context) error, timeout time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	select {
	case err := <-done:
		if err == nil {
			log.Info("gcupsert stopped")
		}
		return err
	case <-ctx.Done():
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case err := <-done:
		if err == nil {
			log.Info("gcupsert stopped")
		}
		return err
	case <-t.C:
		return fmt.Errorf("shutdown took longer than shutdown_timeout (%s); uncommitted work will be redone", timeout)
	}
}
