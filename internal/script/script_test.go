package script

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunReturnsTheLastLine(t *testing.T) {
	p := write(t, "echo starting\necho \"127.0.0.1:$1\"\necho '  '\n")
	got, err := Run(context.Background(), p, "9092")
	if err != nil || got != "127.0.0.1:9092" {
		t.Fatalf("%q %v", got, err)
	}
}

func TestRunFailureCarriesStandardError(t *testing.T) {
	p := write(t, "echo out\necho 'no java here' >&2\nexit 3\n")
	_, err := Run(context.Background(), p, "start")
	if err == nil || !strings.Contains(err.Error(), "s.sh start") || !strings.Contains(err.Error(), "no java here") {
		t.Fatalf("%v", err)
	}
}

func TestRunTimesOut(t *testing.T) {
	p := write(t, "exec sleep 30\n")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := Run(ctx, p)
	if err == nil || !strings.Contains(err.Error(), "deadline exceeded") {
		t.Fatalf("%v", err)
	}
}
