package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/gcupsert/gcupsert/config"
	"github.com/gcupsert/gcupsert/internal/app/worker"
	"github.com/gcupsert/gcupsert/internal/clock"
	"github.com/gcupsert/gcupsert/upsert"
)

// apiClient loads the configuration's genesys and retry sections and builds
// the client; the rest of the configuration need not be complete.
func apiClient(path string, stderr io.Writer) (*upsert.Client, config.Config, error) {
	cfg, err := config.LoadUnchecked(path, os.Environ())
	if err != nil {
		return nil, cfg, err
	}
	if err := cfg.ValidateAPI(); err != nil {
		return nil, cfg, err
	}
	c, err := worker.NewClient(cfg, clock.Real, newLogger(stderr, "warn", "auto"), nil)
	return c, cfg, err
}

func cmdTables(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tables", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", os.Getenv("GCUPSERT_CONFIG"), "configuration file (its genesys section is used)")
	name := fs.String("name", "", "only tables whose name matches (* is a wildcard)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, _, err := apiClient(*path, stderr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tables, err := c.ListTables(ctx, *name)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tDESCRIPTION")
	for _, t := range tables {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", t.ID, t.Name, t.Description)
	}
	return tw.Flush()
}

func cmdSchema(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "pull" {
		return usageError{errors.New("usage: gcupsert schema pull --table NAME [--config FILE]")}
	}
	fs := flag.NewFlagSet("schema pull", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", os.Getenv("GCUPSERT_CONFIG"), "configuration file (its genesys section is used)")
	table := fs.String("table", "", "data table name or id")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *table == "" {
		return usageError{errors.New("--table is required")}
	}
	c, _, err := apiClient(*path, stderr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t, err := c.GetTable(ctx, *table, true)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, t.Schema, "", "  "); err != nil {
		return fmt.Errorf("table %s: the schema is not JSON: %w", t.Name, err)
	}
	out.WriteByte('\n')
	_, err = stdout.Write(out.Bytes())
	return err
}
