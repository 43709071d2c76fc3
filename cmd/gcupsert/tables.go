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
	"github.com/gcupsert/gcupsert/upsert/externalcontacts"
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
	const use = "usage: gcupsert schema pull (--table NAME | --data-schema NAME [--entity contact|organization]) [--config FILE]"
	if len(args) == 0 || args[0] != "pull" {
		return usageError{errors.New(use)}
	}
	fs := flag.NewFlagSet("schema pull", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", os.Getenv("GCUPSERT_CONFIG"), "configuration file (its genesys section is used)")
	table := fs.String("table", "", "data table name or id")
	dataSchema := fs.String("data-schema", "", "External Contacts data schema name (custom fields)")
	entity := fs.String("entity", "contact", "the data schema's entity: contact or organization")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if (*table == "") == (*dataSchema == "") {
		return usageError{errors.New("one of --table and --data-schema is required")}
	}
	if *entity != string(externalcontacts.Contact) && *entity != string(externalcontacts.Organization) {
		return usageError{fmt.Errorf("--entity %q is not contact or organization", *entity)}
	}
	c, _, err := apiClient(*path, stderr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var doc []byte
	var what string
	if *table != "" {
		t, err := c.GetTable(ctx, *table, true)
		if err != nil {
			return err
		}
		doc, what = t.Schema, "table "+t.Name
	} else {
		ds, ok, err := externalcontacts.FindDataSchema(ctx, c, externalcontacts.Entity(*entity), *dataSchema)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("no %s data schema is named %q", *entity, *dataSchema)
		}
		doc, what = ds.JSONSchema, fmt.Sprintf("data schema %s (version %d)", ds.Name, ds.Version)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, doc, "", "  "); err != nil {
		return fmt.Errorf("%s: the schema is not JSON: %w", what, err)
	}
	out.WriteByte('\n')
	_, err = stdout.Write(out.Bytes())
	return err
}
