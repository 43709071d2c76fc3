// Package script runs the repository's helper scripts (scripts/kafka,
// scripts/postgres) for the bench and the tests: a script prints what it
// has to say on its last line of standard output, and its standard error
// is the explanation when it fails.
package script

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Run runs path with args and returns the last non-blank line it printed
// on standard output. A server the script starts in the background must
// not keep the pipes open: Run waits at most 5 s for them after the
// script exits.
func Run(ctx context.Context, path string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, path, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if err != nil && ctx.Err() != nil {
		err = errors.Join(err, ctx.Err())
	}
	if err != nil {
		return "", fmt.Errorf("%s %s: %w\n%s", filepath.Base(path), strings.Join(args, " "), err, errOut.String())
	}
	return lastLine(out.Bytes()), nil
}

func lastLine(b []byte) string {
	var last string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			last = l
		}
	}
	return last
}
