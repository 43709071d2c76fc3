package config

import (
	"strings"
	"testing"
)

// loadErr loads good with the secret set and the extra environment, and
// returns the error text ("" when it loads).
func loadErr(t *testing.T, body string, env ...string) string {
	t.Helper()
	_, err := Load(write(t, body), append([]string{"GCUPSERT_GENESYS_CLIENT_SECRET=x"}, env...))
	if err == nil {
		return ""
	}
	return err.Error()
}

// A broker's port must be a number from 1 to 65535: "host:abc" used to be
// accepted and then failed on every dial.
func TestBrokerPortMustBeANumber(t *testing.T) {
	for _, b := range []string{"host:abc", "host:0", "host:65536", "host:-1"} {
		want := `kafka.brokers: "` + b + `": the port "` + strings.TrimPrefix(b, "host:") + `" is not a number from 1 to 65535`
		if msg := loadErr(t, good, "GCUPSERT_KAFKA_BROKERS=k1:9092,"+b); !strings.Contains(msg, want) {
			t.Errorf("%s: error %q, want %q", b, msg, want)
		}
	}
	if msg := loadErr(t, strings.Replace(good, "[localhost:9092]", `["host:abc"]`, 1)); !strings.Contains(msg, `kafka.brokers: "host:abc": the port "abc"`) {
		t.Errorf("from the file: %q", msg)
	}
	if msg := loadErr(t, good, "GCUPSERT_KAFKA_BROKERS=k1:1,[::1]:65535"); msg != "" {
		t.Errorf("good ports refused: %s", msg)
	}
}

// worker_id names the worker in logs and event headers: a newline or any
// other control character is refused.
func TestWorkerIDRefusesControlCharacters(t *testing.T) {
	for _, id := range []string{"w1\n", "w\r1", "w\t1", "w\x001", "w\u00851"} {
		if msg := loadErr(t, good, "GCUPSERT_WORKER_ID="+id); !strings.Contains(msg, "worker_id: ") || !strings.Contains(msg, "control character") {
			t.Errorf("%q: error %q, want worker_id refused", id, msg)
		}
	}
	if msg := loadErr(t, strings.Replace(good, "worker_id: w1", `worker_id: "w1\n"`, 1)); !strings.Contains(msg, `worker_id: "w1\n" holds the control character U+000A`) {
		t.Errorf("from the file: %q", msg)
	}
	if msg := loadErr(t, good, "GCUPSERT_WORKER_ID=pod-7 (eu) ✓"); msg != "" {
		t.Errorf("a printable id refused: %s", msg)
	}
}

// Durations too small to work are refused: a shutdown_timeout below 1s
// abandons every in-flight batch, and a retry budget below the first
// backoff delay allows no retry.
func TestTooSmallTimeoutsAreRefused(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{[]string{"GCUPSERT_SHUTDOWN_TIMEOUT=1ns"}, "shutdown_timeout: 1ns is below 1s"},
		{[]string{"GCUPSERT_SHUTDOWN_TIMEOUT=999ms"}, "shutdown_timeout: 999ms is below 1s"},
		{[]string{"GCUPSERT_RETRY_MAX_ELAPSED=1ns"}, "retry.max_elapsed: 1ns is below retry.initial_interval (500ms)"},
		{[]string{"GCUPSERT_RETRY_MAX_ELAPSED=1s", "GCUPSERT_RETRY_INITIAL_INTERVAL=2s", "GCUPSERT_RETRY_MAX_INTERVAL=2s"}, "retry.max_elapsed: 1s is below retry.initial_interval (2s)"},
	} {
		if msg := loadErr(t, good, tc.env...); !strings.Contains(msg, tc.want) {
			t.Errorf("%v: error %q, want %q", tc.env, msg, tc.want)
		}
	}
	if msg := loadErr(t, good, "GCUPSERT_SHUTDOWN_TIMEOUT=1s", "GCUPSERT_RETRY_MAX_ELAPSED=500ms"); msg != "" {
		t.Errorf("the minimums refused: %s", msg)
	}
}

// genesys.auth_style is basic (the default) or basic_urlencoded.
func TestAuthStyle(t *testing.T) {
	cfg, err := Load(write(t, good), []string{"GCUPSERT_GENESYS_CLIENT_SECRET=x"})
	if err != nil || cfg.Genesys.AuthStyle != "basic" {
		t.Fatalf("default auth style %q, %v", cfg.Genesys.AuthStyle, err)
	}
	cfg, err = Load(write(t, strings.Replace(good, "client_id: demo", "client_id: demo\n  auth_style: basic_urlencoded", 1)), []string{"GCUPSERT_GENESYS_CLIENT_SECRET=x"})
	if err != nil || cfg.Genesys.AuthStyle != "basic_urlencoded" {
		t.Fatalf("auth style %q, %v", cfg.Genesys.AuthStyle, err)
	}
	if msg := loadErr(t, good, "GCUPSERT_GENESYS_AUTH_STYLE=digest"); !strings.Contains(msg, `genesys.auth_style: "digest" is not basic or basic_urlencoded`) {
		t.Errorf("error %q", msg)
	}
}

func TestPacing(t *testing.T) {
	for _, tc := range []struct{ env, want string }{
		{"GCUPSERT_GENESYS_PACING=fast", `genesys.pacing: "fast" is not burst, even or off`},
		{"GCUPSERT_GENESYS_PACING_RESERVE=1", "genesys.pacing_reserve: 1 is not within [0, 1)"},
		{"GCUPSERT_GENESYS_PACING=even", ""},
	} {
		msg := loadErr(t, good, tc.env)
		if (tc.want == "" && msg != "") || !strings.Contains(msg, tc.want) {
			t.Errorf("%s: error %q, want %q", tc.env, msg, tc.want)
		}
	}
}
