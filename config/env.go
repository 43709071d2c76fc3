package config

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// otherEnv lists the GCUPSERT_ variables read outside this package, with
// their readers. Load accepts them beside its own and refuses every other
// GCUPSERT_ variable, so that a misspelt one is an error rather than a
// setting silently not made. config/env_test.go keeps the list equal to
// the variables the tree reads.
var otherEnv = map[string]string{
	"GCUPSERT_CONFIG":                      "the configuration file of run, check-config, produce, tables and schema",
	"GCUPSERT_EMULATOR_ADDR":               "gcupsert emulator --addr",
	"GCUPSERT_EMULATOR_CLIENTS":            "gcupsert emulator --client",
	"GCUPSERT_EMULATOR_SCHEMAS":            "gcupsert emulator --schema",
	"GCUPSERT_EMULATOR_UNIQUE":             "gcupsert emulator --unique",
	"GCUPSERT_EMULATOR_RATE_WINDOW":        "gcupsert emulator --rate-window",
	"GCUPSERT_EMULATOR_FIXTURES":           "gcupsert emulator --fixtures",
	"GCUPSERT_EMULATOR_POST_EXISTING":      "gcupsert emulator --post-existing",
	"GCUPSERT_EMULATOR_PUT_MISSING":        "gcupsert emulator --put-missing",
	"GCUPSERT_EMULATOR_DELETE_STATUS":      "gcupsert emulator --delete-status",
	"GCUPSERT_EMULATOR_IMPORT_TIME":        "gcupsert emulator --import-time",
	"GCUPSERT_EMULATOR_EC_SOURCES":         "gcupsert emulator --ec-sources",
	"GCUPSERT_EMULATOR_EC_MAX_ENRICH":      "gcupsert emulator --ec-max-enrich",
	"GCUPSERT_EMULATOR_EC_MAX_BULK":        "gcupsert emulator --ec-max-bulk",
	"GCUPSERT_EMULATOR_EC_RETRYABLE_SHARE": "gcupsert emulator --ec-retryable-share",
	"GCUPSERT_TEST_BROKERS":                "the integration and end-to-end tests: a running broker",
	"GCUPSERT_TEST_LOG":                    "the integration tests: show the workers' logs",
	"GCUPSERT_KAFKA_DIR":                   "the end-to-end tests and scripts/kafka/kafka.sh: the broker's directory",
	"GCUPSERT_KAFKA_HOME":                  "scripts/kafka/kafka.sh: its cache of the broker's jars",
	"GCUPSERT_KAFKA_START_TIMEOUT":         "scripts/kafka/kafka.sh: how long to wait for the broker",
	"GCUPSERT_EVENTS_DUMP":                 "the event schema tests: a directory to write the events to",
	"GCUPSERT_TEST_POSTGRES":               "the tests that need PostgreSQL: a running server's URL",
	"GCUPSERT_PG_DIR":                      "scripts/postgres/postgres.sh: the server's directory",
	"GCUPSERT_PG_HOME":                     "scripts/postgres/postgres.sh: where it records the current server",
	"GCUPSERT_PG_START_TIMEOUT":            "scripts/postgres/postgres.sh: how long to wait for the server",
}

// checkEnvNames refuses the GCUPSERT_ variables of env that nothing reads,
// suggesting the nearest known name.
func checkEnvNames(env map[string]string) error {
	known := EnvNames()
	for k, v := range otherEnv {
		known[k] = v
	}
	var p problems
	for _, name := range slices.Sorted(maps.Keys(env)) {
		if _, ok := known[name]; ok {
			continue
		}
		hint := ""
		if near := nearest(name, slices.Collect(maps.Keys(known))); near != "" {
			hint = fmt.Sprintf(" (did you mean %s?)", near)
		}
		p.add(name, "is not a variable gcupsert reads%s; docs/config.md lists them", hint)
	}
	return p.err()
}

// nearest returns the name of names closest to s by edit distance, when
// it is close enough to be a misspelling; "" otherwise.
func nearest(s string, names []string) string {
	slices.Sort(names)
	best, bestD := "", 4
	for _, n := range names {
		if d := editDistance(s, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func envMap(environ []string) map[string]string {
	m := make(map[string]string)
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "GCUPSERT_") {
			m[k] = v
		}
	}
	return m
}

// applyEnv sets every scalar or list field whose GCUPSERT_ variable is present.
func applyEnv(cfg *Config, env map[string]string) error {
	return walk(reflect.ValueOf(cfg).Elem(), "GCUPSERT", "", func(v reflect.Value, name, key string) error {
		s, ok := env[name]
		if !ok {
			return nil
		}
		if err := setFromString(v, s); err != nil {
			return fmt.Errorf("config: %s (from %s): %w", key, name, err)
		}
		return nil
	})
}

// EnvNames lists every environment variable Load reads, with its YAML key.
func EnvNames() map[string]string {
	out := map[string]string{
		"GCUPSERT_GENESYS_CLIENT_SECRET":    "genesys.client_secret (environment only)",
		"GCUPSERT_KAFKA_SASL_PASSWORD":      "kafka.sasl.password (environment only)",
		"GCUPSERT_MIRROR_DATABASE_PASSWORD": "mirror.database_password (environment only)",
	}
	cfg := Default()
	_ = walk(reflect.ValueOf(&cfg).Elem(), "GCUPSERT", "", func(_ reflect.Value, name, key string) error {
		out[name] = key
		return nil
	})
	return out
}

func walk(v reflect.Value, envPrefix, keyPrefix string, fn func(reflect.Value, string, string) error) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		name := envPrefix + "_" + strings.ToUpper(tag)
		key := tag
		if keyPrefix != "" {
			key = keyPrefix + "." + tag
		}
		fv := v.Field(i)
		switch {
		case fv.Kind() == reflect.Struct:
			if err := walk(fv, name, key, fn); err != nil {
				return err
			}
		case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.Struct:
			// routes are read from the file only
		default:
			if err := fn(fv, name, key); err != nil {
				return err
			}
		}
	}
	return nil
}

func setFromString(v reflect.Value, s string) error {
	if v.Type() == reflect.TypeOf(Duration(0)) {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%q is not a duration (use a form such as 200ms, 30s or 2m)", s)
		}
		v.SetInt(int64(d))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", s)
		}
		v.SetInt(n)
	case reflect.Float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		v.SetFloat(f)
	case reflect.Slice:
		var parts []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		v.Set(reflect.ValueOf(parts))
	default:
		return fmt.Errorf("cannot be set from the environment")
	}
	return nil
}

func (c *Config) loadSecret(env map[string]string) error {
	var err error
	c.Genesys.ClientSecret, err = secret(env, "genesys.client_secret", c.Genesys.ClientSecretFile)
	if err != nil {
		return err
	}
	c.Kafka.SASL.Password, err = secret(env, "kafka.sasl.password", c.Kafka.SASL.PasswordFile)
	if err != nil {
		return err
	}
	c.Mirror.DatabasePassword, err = secret(env, "mirror.database_password", c.Mirror.DatabasePasswordFile)
	return err
}

// secret reads the secret key from its environment variable, else from
// the file named by key_file. A secret of only white space is refused: it
// is a mistake (an unset shell variable quoted, a blank line), never a
// credential.
func secret(env map[string]string, key, file string) (Secret, error) {
	name := "GCUPSERT_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
	fileKey := key + "_file"
	if s, ok := env[name]; ok && s != "" {
		if strings.TrimSpace(s) == "" {
			return "", fmt.Errorf("config: %s (from %s): is only white space", key, name)
		}
		return Secret(s), nil
	}
	if file == "" {
		return "", nil
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("config: %s: cannot read it: %v", fileKey, errors.Unwrap(err))
	}
	s := Secret(strings.TrimSpace(string(raw)))
	if s == "" {
		return "", fmt.Errorf("config: %s: the file %s is empty or only white space", fileKey, file)
	}
	return s, nil
}
