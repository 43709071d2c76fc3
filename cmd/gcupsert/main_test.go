package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gcupsert/gcupsert/internal/version"
)

func TestUsageAndUnknownCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "Usage") {
		t.Fatalf("no args: code %d, stderr %q", code, errb.String())
	}
	errb.Reset()
	if code := run([]string{"frobnicate"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), `unknown command "frobnicate"`) {
		t.Fatalf("unknown: code %d, stderr %q", code, errb.String())
	}
}

func TestRunRejectsBadConfigNamingTheKey(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte("batch:\n  max_records: 500\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GCUPSERT_GENESYS_CLIENT_SECRET", "top-secret-value")
	var out, errb bytes.Buffer
	code := run([]string{"run", "--config", p}, &out, &errb)
	if code != 1 {
		t.Fatalf("code %d", code)
	}
	msg := errb.String()
	for _, want := range []string{"batch.max_records: 500 is not between 1 and 100", "genesys.client_id", "routes"} {
		if !strings.Contains(msg, want) {
			t.Errorf("stderr %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "top-secret-value") {
		t.Error("the secret was printed")
	}
}

func TestEmulatorFlagsAreChecked(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"emulator", "--client", "nosecret"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "want ID:SECRET") {
		t.Fatalf("code %d, stderr %q", code, errb.String())
	}
}

func TestDemoCommandSmallRun(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"demo", "--events", "300", "--seed", "5", "--metrics-addr", ""}, &out, &errb)
	if code != 0 {
		t.Fatalf("code %d\nstdout %s\nstderr %s", code, out.String(), errb.String())
	}
	for _, want := range []string{"produced", "dead-lettered", "partition 0", "upsert latency", "mirror (SQLite)", "OK: every event has exactly one outcome"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
}

// `gcupsert version` and `gcupsert --version` print the build: module
// version, revision and time when recorded, and the Go version.
func TestVersionCommand(t *testing.T) {
	want := "gcupsert " + version.Get().String() + "\n"
	for _, arg := range []string{"version", "--version"} {
		var out, errb bytes.Buffer
		if code := run([]string{arg}, &out, &errb); code != 0 || out.String() != want || !strings.Contains(out.String(), runtime.Version()) {
			t.Errorf("%s: code %d, stdout %q, stderr %q; want %q", arg, code, out.String(), errb.String(), want)
		}
	}
}
