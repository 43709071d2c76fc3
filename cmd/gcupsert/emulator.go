package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
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
	ecSources                listFlag
	cfg                      emulator.Config
	// origin names where a flag's value came from, for errors: "--flag",
	// or the environment variable that set it.
	origin map[string]string
}

// emulatorEnv lists the environment variables of `gcupsert emulator`, each
// the default of a flag: a flag given on the command line wins, and a
// repeatable flag takes a comma-separated list.
var emulatorEnv = []struct{ flag, env string }{
	{flag: "addr", env: "GCUPSERT_EMULATOR_ADDR"},
	{flag: "client", env: "GCUPSERT_EMULATOR_CLIENTS"},
	{flag: "schema", env: "GCUPSERT_EMULATOR_SCHEMAS"},
	{flag: "unique", env: "GCUPSERT_EMULATOR_UNIQUE"},
	{flag: "rate-window", env: "GCUPSERT_EMULATOR_RATE_WINDOW"},
	{flag: "fixtures", env: "GCUPSERT_EMULATOR_FIXTURES"},
	{flag: "post-existing", env: "GCUPSERT_EMULATOR_POST_EXISTING"},
	{flag: "put-missing", env: "GCUPSERT_EMULATOR_PUT_MISSING"},
	{flag: "delete-status", env: "GCUPSERT_EMULATOR_DELETE_STATUS"},
	{flag: "import-time", env: "GCUPSERT_EMULATOR_IMPORT_TIME"},
	{flag: "ec-sources", env: "GCUPSERT_EMULATOR_EC_SOURCES"},
	{flag: "ec-max-enrich", env: "GCUPSERT_EMULATOR_EC_MAX_ENRICH"},
	{flag: "ec-max-bulk", env: "GCUPSERT_EMULATOR_EC_MAX_BULK"},
	{flag: "ec-retryable-share", env: "GCUPSERT_EMULATOR_EC_RETRYABLE_SHARE"},
}

// parseEmulatorFlags reads the command line, then the environment
// (environ, as os.Environ returns it) for the flags not given.
func parseEmulatorFlags(args, environ []string, stderr io.Writer) (*emulatorFlags, error) {
	f := &emulatorFlags{origin: map[string]string{}}
	fs := flag.NewFlagSet("emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.addr, "addr", ":8080", "listen address (env GCUPSERT_EMULATOR_ADDR)")
	fs.Var(&f.clients, "client", "OAuth client as ID:SECRET (repeatable; env GCUPSERT_EMULATOR_CLIENTS, comma-separated)")
	fs.Var(&f.schemas, "schema", "customobjects schema as NAME=FILE (JSON Schema; repeatable; env GCUPSERT_EMULATOR_SCHEMAS)")
	fs.Var(&f.unique, "unique", "unique field as SCHEMA=FIELD (repeatable; env GCUPSERT_EMULATOR_UNIQUE)")
	fs.IntVar(&f.cfg.RateLimitPerMinute, "rate-limit", 300, "API requests per rate window per token; negative turns the limit off")
	fs.DurationVar(&f.cfg.RateWindow, "rate-window", emulator.DefaultRateWindow,
		"length of a token's rate window; shorter runs the rate clock faster (env GCUPSERT_EMULATOR_RATE_WINDOW)")
	fs.StringVar(&f.fixtures, "fixtures", "", "JSON or YAML file seeding OAuth clients and data tables (env GCUPSERT_EMULATOR_FIXTURES)")
	fs.StringVar(&f.cfg.Variants.PostExisting, "post-existing", "409",
		"status of a datatable row POST on an existing key: 409 or 400 (env GCUPSERT_EMULATOR_POST_EXISTING)")
	fs.StringVar(&f.cfg.Variants.PutMissing, "put-missing", "404",
		"datatable row PUT on a missing key: 404 or create (env GCUPSERT_EMULATOR_PUT_MISSING)")
	fs.IntVar(&f.cfg.Variants.DeleteStatus, "delete-status", 204,
		"status of a successful datatable row DELETE: 204 or 200 (env GCUPSERT_EMULATOR_DELETE_STATUS)")
	fs.DurationVar(&f.cfg.ImportProcessingTime, "import-time", emulator.DefaultImportProcessing,
		"how long an uploaded import job stays Processing; negative: none (env GCUPSERT_EMULATOR_IMPORT_TIME)")
	fs.IntVar(&f.cfg.MaxRowsPerTable, "max-rows", emulator.DefaultMaxRowsPerTable, "rows per datatable")
	fs.IntVar(&f.cfg.MaxFields, "max-fields", emulator.DefaultMaxFields, "fields per datatable schema, key included")
	fs.IntVar(&f.cfg.MaxKeyLength, "max-key-length", emulator.DefaultMaxKeyLength, "characters in a datatable row key")
	fs.Var(&f.ecSources, "ec-sources",
		"External Contacts sources to seed as NAME,NAME,... (repeatable; env GCUPSERT_EMULATOR_EC_SOURCES)")
	fs.IntVar(&f.cfg.ECMaxEnrich, "ec-max-enrich", emulator.DefaultECMaxEnrich,
		"operations per External Contacts bulk enrich request (env GCUPSERT_EMULATOR_EC_MAX_ENRICH)")
	fs.IntVar(&f.cfg.ECMaxBulk, "ec-max-bulk", emulator.DefaultECMaxBulk,
		"entities per External Contacts bulk remove or fetch request (env GCUPSERT_EMULATOR_EC_MAX_BULK)")
	fs.Float64Var(&f.cfg.ECRetryableShare, "ec-retryable-share", 0,
		"share, 0 to 1, of External Contacts bulk enrich operations that fail with a retryable 503 (env GCUPSERT_EMULATOR_EC_RETRYABLE_SHARE)")
	fs.DurationVar(&f.cfg.TokenLifetime, "token-lifetime", 24*time.Hour, "lifetime of issued tokens")
	fs.StringVar(&f.level, "log-level", "info", "log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	fs.Visit(func(fl *flag.Flag) { f.origin[fl.Name] = "--" + fl.Name })
	if err := f.applyEnv(fs, environ); err != nil {
		return nil, usageError{err}
	}
	return f, nil
}

// applyEnv sets each flag not given on the command line from its
// environment variable, through the flag's own parser: a value it refuses
// is an error naming the variable, and so is a GCUPSERT_EMULATOR_ variable
// the command does not read.
func (f *emulatorFlags) applyEnv(fs *flag.FlagSet, environ []string) error {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "GCUPSERT_EMULATOR_") {
			env[k] = v
		}
	}
	var errs []error
	for _, e := range emulatorEnv {
		v, set := env[e.env]
		delete(env, e.env)
		if _, given := f.origin[e.flag]; !set || v == "" || given {
			continue
		}
		fl := fs.Lookup(e.flag)
		values := []string{v}
		if _, list := fl.Value.(*listFlag); list {
			values = splitList(v)
		}
		for _, x := range values {
			if err := fl.Value.Set(x); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: want %s%s", e.env, v, wantOf(fl.Value), reason(err)))
				break
			}
		}
		f.origin[e.flag] = e.env
	}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		errs = append(errs, fmt.Errorf("%s is not a variable gcupsert emulator reads (see gcupsert emulator -h)", k))
	}
	return errors.Join(errs...)
}

// wantOf describes the values a flag takes.
func wantOf(v flag.Value) string {
	g, _ := v.(flag.Getter)
	if g == nil {
		return "a valid value"
	}
	switch g.Get().(type) {
	case time.Duration:
		return "a duration such as 500ms, 30s or 1m"
	case int:
		return "a whole number"
	case float64:
		return "a number such as 0.1"
	}
	return "a valid value"
}

// reason is err's text after a separator, unless it says no more than that
// the value did not parse.
func reason(err error) string {
	if err.Error() == "parse error" {
		return ""
	}
	return " (" + err.Error() + ")"
}

// from shows value with where it came from: `--name "value"`, or
// `VARIABLE="value"` when the environment set flag name.
func (f *emulatorFlags) from(name, value string) string {
	if o, ok := f.origin[name]; ok && !strings.HasPrefix(o, "--") {
		return fmt.Sprintf("%s=%q", o, value)
	}
	return fmt.Sprintf("--%s %q", name, value)
}

// config checks the flags and completes the emulator's configuration with
// the clients, schemas, unique fields and fixtures they name.
func (f *emulatorFlags) config(stderr io.Writer) (emulator.Config, error) {
	cfg := f.cfg
	cfg.Logger = newLogger(stderr, f.level, "auto")
	if cfg.RateWindow <= 0 {
		return cfg, usageError{fmt.Errorf("%s: want a positive duration", f.from("rate-window", cfg.RateWindow.String()))}
	}
	if err := f.checkVariants(); err != nil {
		return cfg, usageError{err}
	}
	if err := f.checkExternalContacts(); err != nil {
		return cfg, usageError{err}
	}
	for _, s := range f.ecSources {
		cfg.ECSources = append(cfg.ECSources, splitList(s)...)
	}
	if cfg.ImportProcessingTime == 0 {
		cfg.ImportProcessingTime = -1 // zero means none here, not the default
	}
	if f.fixtures != "" {
		doc, err := os.ReadFile(f.fixtures)
		if err != nil {
			return cfg, fmt.Errorf("%s: %w", f.from("fixtures", f.fixtures), err)
		}
		cfg.Fixtures = doc
	}
	var err error
	if cfg.Clients, err = f.clientSecrets(); err != nil {
		return cfg, err
	}
	if len(cfg.Clients) == 0 && len(cfg.Fixtures) == 0 {
		return cfg, usageError{fmt.Errorf("no OAuth client: give --client ID:SECRET, GCUPSERT_EMULATOR_CLIENTS or --fixtures")}
	}
	if cfg.Schemas, err = f.readSchemas(); err != nil {
		return cfg, err
	}
	cfg.UniqueFields, err = f.uniqueFields()
	return cfg, err
}

// checkVariants checks each data-table variant on its own, so that an
// error names the flag or variable at fault.
func (f *emulatorFlags) checkVariants() error {
	v := f.cfg.Variants
	for _, c := range []struct {
		flag, value string
		only        emulator.Variants
	}{
		{"post-existing", v.PostExisting, emulator.Variants{PostExisting: v.PostExisting}},
		{"put-missing", v.PutMissing, emulator.Variants{PutMissing: v.PutMissing}},
		{"delete-status", strconv.Itoa(v.DeleteStatus), emulator.Variants{DeleteStatus: v.DeleteStatus}},
	} {
		if err := c.only.Validate(); err != nil {
			return fmt.Errorf("%s: %w", f.from(c.flag, c.value), err)
		}
	}
	return nil
}

// checkExternalContacts checks the External Contacts limits and share,
// each naming its flag or variable.
func (f *emulatorFlags) checkExternalContacts() error {
	c := f.cfg
	for _, n := range []struct {
		flag  string
		value int
	}{{"ec-max-enrich", c.ECMaxEnrich}, {"ec-max-bulk", c.ECMaxBulk}} {
		if n.value < 1 {
			return fmt.Errorf("%s: want a positive whole number", f.from(n.flag, strconv.Itoa(n.value)))
		}
	}
	if s := c.ECRetryableShare; !(s >= 0 && s <= 1) {
		return fmt.Errorf("%s: want a share from 0 to 1", f.from("ec-retryable-share", strconv.FormatFloat(s, 'g', -1, 64)))
	}
	return nil
}

// clientSecrets maps each --client ID:SECRET to its secret.
func (f *emulatorFlags) clientSecrets() (map[string]string, error) {
	out := map[string]string{}
	for _, c := range f.clients {
		id, secret, err := f.cutPair("client", c, ":", "ID:SECRET")
		if err != nil {
			return nil, err
		}
		out[id] = secret
	}
	return out, nil
}

// readSchemas reads the file of each --schema NAME=FILE.
func (f *emulatorFlags) readSchemas() (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, s := range f.schemas {
		name, file, err := f.cutPair("schema", s, "=", "NAME=FILE")
		if err != nil {
			return nil, err
		}
		doc, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.from("schema", s), err)
		}
		out[name] = doc
	}
	return out, nil
}

// uniqueFields lists the fields of each --unique SCHEMA=FIELD by schema.
func (f *emulatorFlags) uniqueFields() (map[string][]string, error) {
	out := map[string][]string{}
	for _, u := range f.unique {
		name, field, err := f.cutPair("unique", u, "=", "SCHEMA=FIELD")
		if err != nil {
			return nil, err
		}
		out[name] = append(out[name], field)
	}
	return out, nil
}

// cutPair splits the value v of flag name around sep; both sides must be
// non-empty, as the form want shows.
func (f *emulatorFlags) cutPair(name, v, sep, want string) (string, string, error) {
	a, b, ok := strings.Cut(v, sep)
	if !ok || a == "" || b == "" {
		return "", "", usageError{fmt.Errorf("%s: want %s", f.from(name, v), want)}
	}
	return a, b, nil
}

func cmdEmulator(args []string, stderr io.Writer) error {
	f, err := parseEmulatorFlags(args, os.Environ(), stderr)
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
		"schemas", len(cfg.Schemas), "fixtures", f.fixtures, "rateWindow", cfg.RateWindow, "variants", fmt.Sprintf("%+v", srv.Variants()),
		"externalSources", cfg.ECSources, "ecMaxEnrich", cfg.ECMaxEnrich, "ecRetryableShare", cfg.ECRetryableShare)
	return srv.Serve(ctx, ln)
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
