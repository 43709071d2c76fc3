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

func cmdEmulator(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", envOr("GCUPSERT_EMULATOR_ADDR", ":8080"), "listen address")
	var clients, schemas, unique listFlag
	fs.Var(&clients, "client", "OAuth client as ID:SECRET (repeatable); default from GCUPSERT_EMULATOR_CLIENTS (comma-separated)")
	fs.Var(&schemas, "schema", "customobjects schema as NAME=FILE (JSON Schema; repeatable); default from GCUPSERT_EMULATOR_SCHEMAS")
	fs.Var(&unique, "unique", "unique field as SCHEMA=FIELD (repeatable); default from GCUPSERT_EMULATOR_UNIQUE")
	rpm := fs.Int("rate-limit", 300, "API requests per rate window per token; negative turns the limit off")
	window := fs.Duration("rate-window", envDuration("GCUPSERT_EMULATOR_RATE_WINDOW", emulator.DefaultRateWindow),
		"length of a token's rate window; shorter runs the rate clock faster (env GCUPSERT_EMULATOR_RATE_WINDOW)")
	fixtures := fs.String("fixtures", os.Getenv("GCUPSERT_EMULATOR_FIXTURES"),
		"JSON or YAML file seeding OAuth clients and data tables (env GCUPSERT_EMULATOR_FIXTURES)")
	postExisting := fs.String("post-existing", envOr("GCUPSERT_EMULATOR_POST_EXISTING", "409"),
		"status of a datatable row POST on an existing key: 409 or 400 (env GCUPSERT_EMULATOR_POST_EXISTING)")
	putMissing := fs.String("put-missing", envOr("GCUPSERT_EMULATOR_PUT_MISSING", "404"),
		"datatable row PUT on a missing key: 404 or create (env GCUPSERT_EMULATOR_PUT_MISSING)")
	deleteStatus := fs.Int("delete-status", envInt("GCUPSERT_EMULATOR_DELETE_STATUS", 204),
		"status of a successful datatable row DELETE: 204 or 200 (env GCUPSERT_EMULATOR_DELETE_STATUS)")
	importTime := fs.Duration("import-time", envDuration("GCUPSERT_EMULATOR_IMPORT_TIME", emulator.DefaultImportProcessing),
		"how long an uploaded import job stays Processing; negative: none (env GCUPSERT_EMULATOR_IMPORT_TIME)")
	maxRows := fs.Int("max-rows", emulator.DefaultMaxRowsPerTable, "rows per datatable")
	maxFields := fs.Int("max-fields", emulator.DefaultMaxFields, "fields per datatable schema, key included")
	maxKey := fs.Int("max-key-length", emulator.DefaultMaxKeyLength, "characters in a datatable row key")
	lifetime := fs.Duration("token-lifetime", 24*time.Hour, "lifetime of issued tokens")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(clients) == 0 {
		clients = splitList(os.Getenv("GCUPSERT_EMULATOR_CLIENTS"))
	}
	if len(schemas) == 0 {
		schemas = splitList(os.Getenv("GCUPSERT_EMULATOR_SCHEMAS"))
	}
	if len(unique) == 0 {
		unique = splitList(os.Getenv("GCUPSERT_EMULATOR_UNIQUE"))
	}
	cfg := emulator.Config{
		Clients:              map[string]string{},
		Schemas:              map[string][]byte{},
		UniqueFields:         map[string][]string{},
		RateLimitPerMinute:   *rpm,
		RateWindow:           *window,
		TokenLifetime:        *lifetime,
		MaxRowsPerTable:      *maxRows,
		MaxFields:            *maxFields,
		MaxKeyLength:         *maxKey,
		ImportProcessingTime: *importTime,
		Variants: emulator.Variants{
			PostExisting: *postExisting,
			PutMissing:   *putMissing,
			DeleteStatus: *deleteStatus,
		},
		Logger: newLogger(stderr, *level, "auto"),
	}
	if *window <= 0 {
		return usageError{fmt.Errorf("--rate-window %s: want a positive duration", *window)}
	}
	if *importTime == 0 {
		cfg.ImportProcessingTime = -1 // zero means none here, not the default
	}
	if *fixtures != "" {
		doc, err := os.ReadFile(*fixtures)
		if err != nil {
			return fmt.Errorf("--fixtures: %w", err)
		}
		cfg.Fixtures = doc
	}
	for _, c := range clients {
		id, secret, ok := strings.Cut(c, ":")
		if !ok || id == "" || secret == "" {
			return usageError{fmt.Errorf("--client %q: want ID:SECRET", c)}
		}
		cfg.Clients[id] = secret
	}
	if len(cfg.Clients) == 0 && len(cfg.Fixtures) == 0 {
		return usageError{fmt.Errorf("no OAuth client: give --client ID:SECRET, GCUPSERT_EMULATOR_CLIENTS or --fixtures")}
	}
	for _, s := range schemas {
		name, file, ok := strings.Cut(s, "=")
		if !ok || name == "" || file == "" {
			return usageError{fmt.Errorf("--schema %q: want NAME=FILE", s)}
		}
		doc, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("--schema %s: %w", name, err)
		}
		cfg.Schemas[name] = doc
	}
	for _, u := range unique {
		name, field, ok := strings.Cut(u, "=")
		if !ok || name == "" || field == "" {
			return usageError{fmt.Errorf("--unique %q: want SCHEMA=FIELD", u)}
		}
		cfg.UniqueFields[name] = append(cfg.UniqueFields[name], field)
	}
	srv, err := emulator.New(cfg)
	if errors.Is(err, emulator.ErrInvalidVariant) {
		return usageError{err}
	}
	if err != nil {
		return err
	}
	ln, err := srv.Listen(*addr)
	if err != nil {
		return err
	}
	log := cfg.Logger
	ctx, stop := signalContext(log)
	defer stop()
	log.Info("Genesys Cloud emulator listening", "addr", ln.Addr().String(), "clients", len(cfg.Clients),
		"schemas", len(cfg.Schemas), "fixtures", *fixtures, "rateWindow", cfg.RateWindow, "variants", fmt.Sprintf("%+v", srv.Variants()))
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
