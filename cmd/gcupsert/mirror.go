package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/gcupsert/gcupsert/config"
	"github.com/gcupsert/gcupsert/internal/app/mirror"
	"github.com/gcupsert/gcupsert/internal/version"
)

// cmdMirror runs gcupsert mirror, or gcupsert mirror init.
func cmdMirror(args []string, stdout, stderr io.Writer) error {
	initTables := len(args) > 0 && args[0] == "init"
	if initTables {
		args = args[1:]
	}
	name := "mirror"
	if initTables {
		name = "mirror init"
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", os.Getenv("GCUPSERT_CONFIG"), "configuration file (YAML): its kafka, topics, routes and mirror sections")
	apply := fs.Bool("apply", false, "mirror init: create the tables (or add the columns they lack), not only print them")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %v", fs.Args())}
	}
	cfg, err := config.LoadUnchecked(*path, os.Environ())
	if err != nil {
		return err
	}
	if err := cfg.ValidateMirror(); err != nil {
		return err
	}
	log := newLogger(stderr, cfg.Log.Level, cfg.Log.Format)
	if initTables {
		return mirror.Init(context.Background(), cfg, stdout, *apply, mirror.Options{Logger: log})
	}
	ctx, stop := signalContext(log)
	defer stop()
	app, err := mirror.New(ctx, cfg, mirror.Options{Logger: log})
	if err != nil {
		return err
	}
	log.Info("gcupsert mirror starting", "version", version.Get().Version, "group", cfg.Mirror.GroupID,
		"topic", cfg.Topics.Sync, "database", config.RedactURL(cfg.Mirror.Database))
	return runUntilStopped(ctx, log, app.Run, cfg.ShutdownTimeout.D())
}
