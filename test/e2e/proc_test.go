//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// children holds every process the tests started and have not reaped.
var children struct {
	mu  sync.Mutex
	set map[*proc]bool
}

// killChildren sends SIGKILL to every running child and waits for it.
func killChildren() {
	children.mu.Lock()
	var ps []*proc
	for p := range children.set {
		ps = append(ps, p)
	}
	children.mu.Unlock()
	for _, p := range ps {
		p.kill()
	}
}

// proc is a child process owned by a test; it is killed when the test ends.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error // Wait's result, set before done closes
	began   time.Time
}

// startProc starts bin with args and extra environment; its standard error
// and output go to a log file that is shown when the test fails.
func startProc(t *testing.T, name string, env []string, args ...string) *proc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(suite.bin, args...)
	cmd.Env = append(baseEnv(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	// The kernel kills the child if the test binary dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{}), began: time.Now()}
	children.mu.Lock()
	if children.set == nil {
		children.set = map[*proc]bool{}
	}
	children.set[p] = true
	children.mu.Unlock()
	go func() {
		p.err = cmd.Wait()
		f.Close()
		children.mu.Lock()
		delete(children.set, p)
		children.mu.Unlock()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("---- last lines of %s ----\n%s", name, tail(logPath, 30))
		}
	})
	return p
}

// baseEnv is the test process's environment without any GCUPSERT_ variable,
// so a developer's settings do not leak into the children.
func baseEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GCUPSERT_") {
			out = append(out, kv)
		}
	}
	return out
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// signal sends sig if the process still runs.
func (p *proc) signal(sig syscall.Signal) {
	if p.running() {
		_ = p.cmd.Process.Signal(sig)
	}
}

// kill sends SIGKILL and waits for the process to be reaped.
func (p *proc) kill() {
	p.signal(syscall.SIGKILL)
	<-p.done
}

// wait waits up to within for the process to exit and returns its exit
// code; ok is false if it is still running.
func (p *proc) wait(within time.Duration) (code int, ok bool) {
	select {
	case <-p.done:
	case <-time.After(within):
		return 0, false
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		if ws, isWS := ee.Sys().(syscall.WaitStatus); isWS && ws.Signaled() {
			return 128 + int(ws.Signal()), true
		}
		return ee.ExitCode(), true
	}
	if p.err != nil {
		return -1, true
	}
	return 0, true
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// freeAddr returns a loopback address with a port free at the time of the call.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// emulatorProc is a `gcupsert emulator` child and its admin API.
type emulatorProc struct {
	*proc
	url string
}

const (
	clientID   = "e2e-client"
	secret     = "e2e-secret-value"
	schemaName = "customerAccounts"
)

// startEmulator runs the emulator with the customobjects schema of
// schemaFile and accountNumber unique.
func startEmulator(t *testing.T, schemaFile string) *emulatorProc {
	t.Helper()
	return startEmulatorEnv(t,
		"GCUPSERT_EMULATOR_SCHEMAS="+schemaName+"="+schemaFile,
		"GCUPSERT_EMULATOR_UNIQUE="+schemaName+"=accountNumber",
	)
}

// startEmulatorEnv runs the emulator configured through its environment
// variables, env added to its address and OAuth client, with a rate limit
// no scenario reaches (the worker paces itself by the limit the emulator
// advertises).
func startEmulatorEnv(t *testing.T, env ...string) *emulatorProc {
	t.Helper()
	addr := freeAddr(t)
	p := startProc(t, "emulator", append([]string{
		"GCUPSERT_EMULATOR_ADDR=" + addr,
		"GCUPSERT_EMULATOR_CLIENTS=" + clientID + ":" + secret,
	}, env...), "emulator", "--rate-limit", "1000000", "--log-level", "warn")
	e := &emulatorProc{proc: p, url: "http://" + addr}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(e.url + "/emulator/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return e
			}
		}
		if !p.running() || time.Now().After(deadline) {
			t.Fatalf("emulator not ready at %s: %v", e.url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *emulatorProc) admin(method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	cl := &http.Client{Timeout: 60 * time.Second}
	resp, err := cl.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// faults applies a patch to the emulator's fault switches.
func (e *emulatorProc) faults(t *testing.T, patch map[string]any) {
	t.Helper()
	if err := e.admin(http.MethodPost, "/emulator/faults", patch, nil); err != nil {
		t.Fatal(err)
	}
}

// emuStats is the part of the emulator's stats the tests read.
type emuStats struct {
	Requests int         `json:"requests"`
	ByStatus map[int]int `json:"byStatus"`
}

func (e *emulatorProc) stats(t *testing.T) emuStats {
	t.Helper()
	var s emuStats
	if err := e.admin(http.MethodGet, "/emulator/stats", nil, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func (e *emulatorProc) records(t *testing.T) map[string]map[string]any {
	t.Helper()
	var recs map[string]map[string]any
	if err := e.admin(http.MethodGet, "/emulator/records/"+schemaName, nil, &recs); err != nil {
		t.Fatal(err)
	}
	return recs
}
