package bench

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/trace"
	"syscall"
	"time"

	"github.com/gcupsert/gcupsert/config"
	"github.com/gcupsert/gcupsert/internal/app/worker"
	"github.com/gcupsert/gcupsert/internal/logging"
)

// ProfiledWorkerCommand is the hidden subcommand of gcupsert-bench that
// runs the worker as `gcupsert run` does (the same configuration loading
// and internal/app/worker pipeline) while writing a CPU profile or an
// execution trace of the whole process; the bench starts it as the child
// instead of gcupsert when --child-cpuprofile or --child-trace is given.
// The product binary has no profiling.
const ProfiledWorkerCommand = "profiled-worker"

// ProfiledWorker is ProfiledWorkerCommand: args are its flags, --config,
// --cpuprofile and --trace. SIGTERM or SIGINT stops the worker, which drains as
// gcupsert run does, and then the profile is written.
func ProfiledWorker(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet(ProfiledWorkerCommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file (YAML); environment GCUPSERT_* overrides it")
	profile := fs.String("cpuprofile", "", "write the CPU profile here")
	traceTo := fs.String("trace", "", "write the execution trace here")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := profiledWorker(*path, *profile, *traceTo, stderr); err != nil {
		fmt.Fprintln(stderr, "gcupsert-bench profiled-worker:", err)
		return 1
	}
	return 0
}

func profiledWorker(path, profile, traceTo string, stderr io.Writer) error {
	cfg, err := config.Load(path, os.Environ())
	if err != nil {
		return err
	}
	stop, err := startCPUProfile(profile)
	if err != nil {
		return err
	}
	defer stop()
	if traceTo != "" {
		f, err := os.Create(traceTo)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := trace.Start(f); err != nil {
			return err
		}
		defer trace.Stop()
	}
	log := logging.New(stderr, cfg.Log.Level, logging.Format(cfg.Log.Format))
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()
	w, err := worker.NewContext(ctx, cfg, worker.Options{Logger: log})
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		select {
		case err = <-done:
		case <-time.After(cfg.ShutdownTimeout.D()):
			err = fmt.Errorf("shutdown took longer than %s", cfg.ShutdownTimeout.D())
		}
	}
	return err
}
