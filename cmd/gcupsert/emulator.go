package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gcupsert/gcupsert/emulator"
)

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// emulatorFlags is the emulator command's command line: the settings that
// map one to one onto the emulator's configuration, bound into cfg, and the
// address, lists and files still to be read.
type emulatorFlags struct {
	addr, fixtures, level    string
	clients, schemas, unique listFlag
	cfg                      emulator.Config
}

func parseEmulatorFlags(args []string, stderr io.Writer) (*emulatorFlags, error) {
	f := &emulatorFlags{}
	fs := flag.NewFlagSet("emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.addr, "addr", envOr("GCUPSERT_EMULATOR_ADDR", ":8080"), "listen address")
	fs.Var(&f.clients, "client", "OAuth client as ID:SECRET (repeatable); default from GCUPSERT_EMULATOR_CLIENTS (comma-separated)")
	fs.Var(&f.schemas, "schema", "customobjects schema as NAME=FILE (JSON Schema; repeatable); default from GCUPSERT_EMULATOR_SCHEMAS")
	fs.Var(&f.unique, "unique", "unique field as SCHEMA=FIELD (repeatable); default from GCUPSERT_EMULATOR_UNIQUE")
	fs.IntVar(&f.cfg.RateLimitPerMinute, "rate-limit", 300, "API requests per rate window per token; negative turns the limit off")
	fs.DurationVar(&f.cfg.RateWindow, "rate-window", envDuration("GCUPSERT_EMULATOR_RATE_WINDOW", emulator.DefaultRateWindow),
		"length of a token's rate window; shorter runs the rate clock faster (env GCUPSERT_EMULATOR_RATE_WINDOW)")
	fs.StringVar(&f.fixtures, "fixtures", os.Getenv("GCUPSERT_EMULATOR_FIXTURES"),
		"JSON or YAML file seeding OAuth clients and data tables (env GCUPSERT_EMULATOR_FIXTURES)")
	fs.StringVar(&f.cfg.Variants.PostExisting, "post-existing", envOr("GCUPSERT_EMULATOR_POST_EXISTING", "409"),
		"status of a datatable row POST on an existing key: 409 or 400 (env GCUPSERT_EMULATOR_POST_EXISTING)")
	fs.StringVar(&f.cfg.Variants.PutMissing, "put-missing", envOr("GCUPSERT_EMULATOR_PUT_MISSING", "404"),
		"datatable row PUT on a missing key: 404 or create (env GCUPSERT_EMULATOR_PUT_MISSING)")
	fs.IntVar(&f.cfg.Variants.DeleteStatus, "delete-status", envInt("GCUPSERT_EMULATOR_DELETE_STATUS", 204),
		"status of a successful datatable row DELETE: 204 or 200 (env GCUPSERT_EMULATOR_DELETE_STATUS)")
	fs.DurationVar(&f.cfg.ImportProcessingTime, "import-time", envDuration("GCUPSERT_EMULATOR_IMPORT_TIME", emulator.DefaultImportProcessing),
		"how long an uploaded import job stays Processing; negative: none (env GCUPSERT_EMULATOR_IMPORT_TIME)")
	fs.IntVar(&f.cfg.MaxRowsPerTable, "max-rows", emulator.DefaultMaxRowsPerTable, "rows per datatable")
	fs.IntVar(&f.cfg.MaxFields, "max-fields", emulator.DefaultMaxFields, "fields per datatable schema, key included")
	fs.IntVar(&f.cfg.MaxKeyLength, "max-key-length", emulator.DefaultMaxKeyLength, "characters in a datatable row key")
	fs.DurationVar(&f.cfg.TokenLifetime, "token-lifetime", 24*time.Hour, "lifetime of issued tokens")
	fs.StringVar(&f.level, "log-level", "info", "log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if len(f.clients) == 0 {
		f.clients = splitList(os.Getenv("GCUPSERT_EMULATOR_CLIENTS"))
	}
	if len(f.schemas) == 0 {
		f.schemas = splitList(os.Getenv("GCUPSERT_EMULATOR_SCHEMAS"))
	}
	if len(f.unique) == 0 {
		f.unique = splitList(os.Getenv("GCUPSERT_EMULATOR_UNIQUE"))
	}
	return f, nil
}

// config checks the flags and completes the emulator's configuration with
// the clients, schemas, unique fields and fixtures they name.
func (f *emulatorFlags) config(stderr io.Writer) (emulator.Config, error) {
	cfg := f.cfg
	cfg.Logger = newLogger(stderr, f.level, "auto")
	if cfg.RateWindow <= 0 {
		return cfg, usageError{fmt.Errorf("--rate-window %s: want a positive duration", cfg.RateWindow)}
	}
	if cfg.ImportProcessingTime == 0 {
		cfg.ImportProcessingTime = -1 // zero means none here, not the default
	}
	if f.fixtures != "" {
		doc, err := os.ReadFile(f.fixtures)
		if err != nil {
			return cfg, fmt.Errorf("--fixtures: %w", err)
		}
		cfg.Fixtures = doc
	}
	var err error
	if cfg.Clients, err = clientSecrets(f.clients); err != nil {
		return cfg, err
	}
	if len(cfg.Clients) == 0 && len(cfg.Fixtures) == 0 {
		return cfg, usageError{fmt.Errorf("no OAuth client: give --client ID:SECRET, GCUPSERT_EMULATOR_CLIENTS or --fixtures")}
	}
	if cfg.Schemas, err = readSchemas(f.schemas); err != nil {
		return cfg, err
	}
	cfg.UniqueFields, err = uniqueFields(f.unique)
	return cfg, err
}

// clientSecrets maps each --client ID:SECRET to its secret.
func clientSecrets(clients []string) (map[string]string, error) {
	out := map[string]string{}
	for _, c := range clients {
		id, secret, err := cutPair("client", c, ":", "ID:SECRET")
		if err != nil {
			return nil, err
		}
		out[id] = secret
	}
	return out, nil
}

// readSchemas reads the file of each --schema NAME=FILE.
func readSchemas(schemas []string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, s := range schemas {
		name, file, err := cutPair("schema", s, "=", "NAME=FILE")
		if err != nil {
			return nil, err
		}
		doc, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--schema %s: %w", name, err)
		}
		out[name] = doc
	}
	return out, nil
}

// uniqueFields lists the fields of each --unique SCHEMA=FIELD by schema.
func uniqueFields(unique []string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, u := range unique {
		name, field, err := cutPair("unique", u, "=", "SCHEMA=FIELD")
		if err != nil {
			return nil, err
		}
		out[name] = append(out[name], field)
	}
	return out, nil
}

// cutPair splits the value v of --name around sep; both sides must be
// non-empty, as the form want shows.
func cutPair(name, v, sep, want string) (string, string, error) {
	a, b, ok := strings.Cut(v, sep)
	if !ok || a == "" || b == "" {
		return "", "", usageError{fmt.Errorf("--%s %q: want %s", name, v, want)}
	}
	return a, b, nil
}

func cmdEmulator(args []string, stderr io.Writer) error {
	f, err := parseEmulatorFlags(args, stderr)
	if err != nil {
		return err
	}
	cfg, err := f.config(stderr)
	if err != nil {
		return err
	}
	srv, err := emulator.New(cfg)
	if errors.Is(err, emulator.ErrInvalidVariant) {
		return usageError{err}
	}
	if err != nil {
		return err
	}
	ln, err := srv.Listen(f.addr)
	if err != nil {
		return err
	}
	log := cfg.Logger
	ctx, stop := signalContext(log)
	defer stop()
	log.Info("Genesys Cloud emulator listening", "addr", ln.Addr().String(), "clients", len(cfg.Clients),
		"schemas", len(cfg.Schemas), "fixtures", f.fixtures, "rateWindow", cfg.RateWindow, "variants", fmt.Sprintf("%+v", srv.Variants()))
	return srv.Serve(ctx, ln)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func envInt(k string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(k)); err == nil {
		return v
	}
	return def
}

func envDuration(k string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(k)); err == nil {
		return v
	}
	return def
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
