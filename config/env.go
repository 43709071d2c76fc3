package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"
)

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
		"GCUPSERT_GENESYS_CLIENT_SECRET": "genesys.client_secret (environment only)",
		"GCUPSERT_KAFKA_SASL_PASSWORD":   "kafka.sasl.password (environment only)",
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
	c.Genesys.ClientSecret, err = secret(env, "GCUPSERT_GENESYS_CLIENT_SECRET", "genesys.client_secret_file", c.Genesys.ClientSecretFile)
	if err != nil {
		return err
	}
	c.Kafka.SASL.Password, err = secret(env, "GCUPSERT_KAFKA_SASL_PASSWORD", "kafka.sasl.password_file", c.Kafka.SASL.PasswordFile)
	return err
}

// secret reads a secret from the environment variable name, else from the
// file named by the key fileKey.
func secret(env map[string]string, name, fileKey, file string) (Secret, error) {
	if s, ok := env[name]; ok && s != "" {
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
		return "", fmt.Errorf("config: %s: the file is empty", fileKey)
	}
	return s, nil
}
