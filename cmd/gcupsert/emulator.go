package main

import (
	"flag"
	"fmt"
	"io"
	"os"
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
	rpm := fs.Int("rate-limit", 300, "API requests per minute per token; negative turns the limit off")
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
		Clients:            map[string]string{},
		Schemas:            map[string][]byte{},
		UniqueFields:       map[string][]string{},
		RateLimitPerMinute: *rpm,
		TokenLifetime:      *lifetime,
		Logger:             newLogger(stderr, *level, "auto"),
	}
	for _, c := range clients {
		id, secret, ok := strings.Cut(c, ":")
		if !ok || id == "" || secret == "" {
			return usageError{fmt.Errorf("--client %q: want ID:SECRET", c)}
		}
		cfg.Clients[id] = secret
	}
	if len(cfg.Clients) == 0 {
		return usageError{fmt.Errorf("no OAuth client: give --client ID:SECRET or GCUPSERT_EMULATOR_CLIENTS")}
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
	log.Info("Genesys Cloud emulator listening", "addr", ln.Addr().String(), "clients", len(cfg.Clients), "schemas", len(cfg.Schemas))
	return srv.Serve(ctx, ln)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
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
