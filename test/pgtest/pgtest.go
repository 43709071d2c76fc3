// Package pgtest gives tests a real PostgreSQL server: one that
// scripts/postgres/postgres.sh starts in the test's temporary directory and
// stops when the test ends, or the one URLEnv names. Tests that need it are
// skipped when the PostgreSQL binaries (Debian package postgresql) are missing.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gcupsert/gcupsert/internal/script"
)

// URLEnv names the environment variable that selects a running server
// instead of starting one: a URL such as
// postgres://user@host:5432/db?sslmode=disable.
const URLEnv = "GCUPSERT_TEST_POSTGRES"

// SkipMessage is why a test is skipped when initdb cannot be found.
const SkipMessage = "PostgreSQL binaries not found: apt-get install postgresql"

const (
	startTimeout = 3 * time.Minute // the script gives up after GCUPSERT_PG_START_TIMEOUT (60 s)
	stopTimeout  = time.Minute     // fast shutdown 20 s, then immediate
	scriptRel    = "scripts/postgres/postgres.sh"
)

// Start returns the URL of a PostgreSQL database for t: the value of URLEnv
// when it is set, else a new server's, started in a directory under
// t.TempDir() and stopped when t ends. The role of that URL owns the database
// and needs no password. Start skips t when the PostgreSQL binaries are missing.
func Start(t testing.TB) (url string) {
	t.Helper()
	if u := strings.TrimSpace(os.Getenv(URLEnv)); u != "" {
		return u
	}
	return StartDir(t, filepath.Join(t.TempDir(), "postgres"))
}

// StartDir starts the server whose files live in dir, creating it when dir
// holds none, and returns its URL; a stop and a StartDir of the same dir keep
// the data and the URL. The server is stopped when t ends. StartDir ignores
// URLEnv and skips t when the PostgreSQL binaries are missing.
func StartDir(t testing.TB, dir string) (url string) {
	t.Helper()
	if !Installed() {
		t.Skip(SkipMessage)
	}
	t.Cleanup(func() {
		if _, err := run(stopTimeout, "stop", dir); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	url, err := run(startTimeout, "start", dir)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return url
}

// Up starts the server whose files live in dir, creating it when dir holds
// none, and returns its URL; for a caller without a testing.TB (a TestMain),
// which must call Down when it is done.
func Up(dir string) (url string, err error) {
	if !Installed() {
		return "", errors.New(SkipMessage)
	}
	return run(startTimeout, "start", dir)
}

// Down stops the server of dir started by Up, keeping its data.
func Down(dir string) error {
	_, err := run(stopTimeout, "stop", dir)
	return err
}

// Stop stops the server of dir (started by StartDir), keeping its data.
func Stop(t testing.TB, dir string) {
	t.Helper()
	if _, err := run(stopTimeout, "stop", dir); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
}

// Installed reports whether initdb is on PATH or in /usr/lib/postgresql/*/bin,
// where postgres.sh looks for it.
func Installed() bool {
	if _, err := exec.LookPath("initdb"); err == nil {
		return true
	}
	m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	return len(m) > 0
}

// scriptPath finds postgres.sh in the module root, above the working
// directory of the test (its package's directory).
func scriptPath() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, filepath.FromSlash(scriptRel))
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%s not found above the working directory", scriptRel)
		}
		dir = parent
	}
}

// run runs postgres.sh and returns the last line it printed on standard
// output.
func run(timeout time.Duration, args ...string) (string, error) {
	path, err := scriptPath()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return script.Run(ctx, path, args...)
}
