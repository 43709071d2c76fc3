package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/gcupsert/gcupsert/internal/app/demo"
	"github.com/gcupsert/gcupsert/internal/inspect"
)

// childYAML is the child worker's configuration; the secret comes from
// GCUPSERT_GENESYS_CLIENT_SECRET.
const childYAML = `worker_id: bench-child
kafka:
  brokers: [%s]
  group_id: bench-child
  session_timeout: 6s
  heartbeat_interval: 1s
  max_wait: 100ms
genesys:
  base_url: %s
  client_id: %s
topics:
  audit: %s
  sync: %s
  deadletter: %s
routes:
  - topic: %s
    target: customobjects
    schema: %s
    schema_file: %s
    conflict_resolution: upsert
    unique_fields: [accountNumber]
    reference_fields: [regionId]
metrics:
  address: %s
log:
  level: warn
  format: json
`

// buildBinary builds cmd/gcupsert into dir.
func buildBinary(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "gcupsert")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/gcupsert")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("bench: building gcupsert (run from the module root or pass --bin): %w", err)
	}
	return bin, nil
}

// child runs `gcupsert run` as a child process against the embedded broker
// and emulator of this process, with a backlog of o.ChildEvents, and reads
// the child's own CPU time, peak RSS and allocations.
func child(ctx context.Context, o *Options, dir string) ([]Result, error) {
	bin := o.Bin
	if bin == "" {
		var err error
		if bin, err = buildBinary(ctx, dir); err != nil {
			return nil, err
		}
	}
	stack, err := newCostStack(o.Partitions, dir)
	if err != nil {
		return nil, err
	}
	defer stack.Close()
	brokers, api, schemaFile := stack.brokers, stack.api, stack.schemaFile
	o.logf("worker-child: producing %d events to %d partitions", o.ChildEvents, o.Partitions)
	const chunk = 100_000
	for i := 0; i < o.ChildEvents; i += chunk {
		msgs := Stream(min(chunk, o.ChildEvents-i), o.Keys, o.Partitions, fmt.Sprintf("c%d", i))
		if err := produce(ctx, brokers, msgs); err != nil {
			return nil, err
		}
	}
	runtime.GC()
	debug.FreeOSMemory()
	end, err := inspect.EndOffsets(ctx, brokers, inputTopic)
	if err != nil {
		return nil, err
	}
	n := int(sum(end))

	metricsAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "child.yaml")
	yml := fmt.Sprintf(childYAML, strings.Join(brokers, ", "), api.URL(), clientID, auditTopic, syncTopic, deadLetterTopic,
		inputTopic, demo.SchemaName, schemaFile, metricsAddr)
	if err := os.WriteFile(cfgPath, []byte(yml), 0o600); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "child.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "run", "--config", cfgPath)
	cmd.Env = append(cleanEnv(), "GCUPSERT_GENESYS_CLIENT_SECRET="+clientSecret)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	o.logf("worker-child: running %s", bin)
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	pid := cmd.Process.Pid
	// Sample the child's RSS while it runs, in case VmHWM is unreadable at the end.
	wctx, cancel := context.WithTimeout(ctx, 8*time.Minute)
	done := make(chan error, 1)
	go func() {
		_, err := inspect.WaitCommitted(wctx, brokers, "bench-child", inputTopic, end)
		done <- err
	}()
	var werr error
	select {
	case werr = <-done:
	case err := <-exited:
		cancel()
		<-done
		return nil, fmt.Errorf("worker-child exited early (%v); its log: %s", err, logPath)
	}
	cancel()
	elapsed := time.Since(began)
	cpu, cerr := procCPU(pid)
	peak, perr := peakRSS(fmt.Sprint(pid))
	mallocs, merr := scrape("http://"+metricsAddr+"/metrics", "go_memstats_mallocs_total")
	stop()
	if werr != nil {
		return nil, fmt.Errorf("worker-child: %w (log: %s)", werr, logPath)
	}
	if cerr != nil || perr != nil || merr != nil {
		return nil, fmt.Errorf("worker-child: reading its figures: %v %v %v", cerr, perr, merr)
	}
	st := api.emu.Stats()
	o.logf("worker-child: %d events in %.1fs", n, elapsed.Seconds())
	return []Result{{
		Scenario:       "worker-child",
		Note:           "regime 1, the worker as a child process (gcupsert run) against kfake + emulator in the bench process; from process start to committed == end; CPU, allocations and peak RSS (VmHWM) are the child's alone",
		Events:         n,
		Seconds:        elapsed.Seconds(),
		EventsPerSec:   float64(n) / elapsed.Seconds(),
		CPUPerMillion:  fp(cpu.Seconds() / float64(n) * 1e6),
		AllocsPerEvent: fp(mallocs / float64(n)),
		PeakRSSMB:      fp(mb(peak)),
		TooMany:        ip(st.TooManyRequests),
		Extra:          map[string]any{"partitions": o.Partitions, "apiRequests": st.ByKind},
	}}, nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// cleanEnv is this process's environment without GCUPSERT_ variables.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GCUPSERT_") {
			out = append(out, kv)
		}
	}
	return out
}
