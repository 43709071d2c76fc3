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
const childYAML = `worker_id: %s
kafka:
  brokers: [%s]
  group_id: %s
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
	end, err := produceBacklog(ctx, o, stack.brokers)
	if err != nil {
		return nil, err
	}
	n := int(sum(end))
	p, err := startChild(o, bin, dir, stack)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	f, err := p.measure(ctx, stack.brokers, end)
	if err != nil {
		return nil, err
	}
	st := stack.api.emu.Stats()
	o.logf("worker-child: %d events in %.1fs", n, f.elapsed.Seconds())
	r := f.result("worker-child", "regime 1, the worker as a child process (gcupsert run) against kfake + emulator in the bench process; from process start to committed == end; CPU, allocations and peak RSS (VmHWM) are the child's alone", n)
	r.TooMany = ip(st.TooManyRequests)
	r.Goals = []Goal{below("peak RSS (VmHWM)", *r.PeakRSSMB, goalBigPeakRSSMB, "MB", 0)}
	r.Extra = map[string]any{"partitions": o.Partitions, "apiRequests": st.ByKind}
	return []Result{r}, nil
}

// result is the row of a child process that handled n events.
func (f childFigures) result(scenario, note string, n int) Result {
	return Result{
		Scenario:       scenario,
		Note:           note,
		Events:         n,
		Seconds:        f.elapsed.Seconds(),
		EventsPerSec:   float64(n) / f.elapsed.Seconds(),
		CPUPerMillion:  fp(f.cpu.Seconds() / float64(n) * 1e6),
		AllocsPerEvent: fp(f.mallocs / float64(n)),
		PeakRSSMB:      fp(mb(f.peak)),
	}
}

// produceBacklog produces o.ChildEvents events to the input topic, 100,000
// at a time, frees the memory that took, and returns the end offsets.
func produceBacklog(ctx context.Context, o *Options, brokers []string) (map[int]int64, error) {
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
	return inspect.EndOffsets(ctx, brokers, inputTopic)
}

// childProc is a running `gcupsert run` child process.
type childProc struct {
	cmd         *exec.Cmd
	began       time.Time
	exited      chan struct{} // closed when cmd.Wait returned, with waitErr
	waitErr     error
	log         *os.File
	logPath     string
	metricsAddr string
	group       string // its consumer group
	input       string // its input topic
}

// childSpec is what a child worker runs against.
type childSpec struct {
	name       string   // log prefix; names its config and log files in dir
	bin        string   // gcupsert binary
	profile    string   // when set, run this bench binary's profiled worker writing a CPU profile here, not bin
	trace      string   // the same, writing an execution trace here
	brokers    []string // bootstrap addresses
	apiURL     string   // the emulator
	schemaFile string
	group      string
	topics     childTopics
}

// childTopics are the topics of a child worker.
type childTopics struct{ input, audit, sync, dead string }

// startChild writes the child's configuration for stack into dir and
// starts bin on it, its output to dir/child.log and its metrics on a free
// port.
func startChild(o *Options, bin, dir string, stack *costStack) (*childProc, error) {
	return startChildSpec(o, dir, childSpec{name: "worker-child", bin: bin, brokers: stack.brokers, apiURL: stack.api.URL(),
		schemaFile: stack.schemaFile, group: "bench-child",
		topics: childTopics{input: inputTopic, audit: auditTopic, sync: syncTopic, dead: deadLetterTopic}})
}

// startChildSpec writes the configuration of s into dir and starts the
// worker on it (`gcupsert run`, or the profiled worker of this binary when
// s.profile is set), its output to dir/<name>.log and its metrics on a
// free port.
func startChildSpec(o *Options, dir string, s childSpec) (*childProc, error) {
	metricsAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	file := "child"
	if s.name != "worker-child" {
		file = s.name
	}
	cfgPath := filepath.Join(dir, file+".yaml")
	yml := fmt.Sprintf(childYAML, s.group, strings.Join(s.brokers, ", "), s.group, s.apiURL, clientID,
		s.topics.audit, s.topics.sync, s.topics.dead, s.topics.input, demo.SchemaName, s.schemaFile, metricsAddr)
	if err := os.WriteFile(cfgPath, []byte(yml), 0o600); err != nil {
		return nil, err
	}
	p := &childProc{logPath: filepath.Join(dir, file+".log"), metricsAddr: metricsAddr, exited: make(chan struct{}),
		group: s.group, input: s.topics.input}
	if p.log, err = os.Create(p.logPath); err != nil {
		return nil, err
	}
	if s.profile != "" || s.trace != "" {
		self, err := os.Executable()
		if err != nil {
			p.log.Close()
			return nil, err
		}
		p.cmd = exec.Command(self, ProfiledWorkerCommand, "--cpuprofile", s.profile, "--trace", s.trace, "--config", cfgPath)
		o.logf("%s: running the profiled worker of %s (CPU profile %q, trace %q)", s.name, self, s.profile, s.trace)
	} else {
		p.cmd = exec.Command(s.bin, "run", "--config", cfgPath)
		o.logf("%s: running %s", s.name, s.bin)
	}
	p.cmd.Env = append(cleanEnv(), "GCUPSERT_GENESYS_CLIENT_SECRET="+clientSecret)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p.began = time.Now()
	if err := p.cmd.Start(); err != nil {
		p.log.Close()
		return nil, err
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// childFigures is what a child process used until its group committed the
// end of the backlog.
type childFigures struct {
	elapsed, cpu time.Duration
	peak         int64 // bytes
	mallocs      float64
}

// measure waits, eight minutes at most, until the child's group has
// committed end on the input topic, reads the child's figures, and stops
// it; a child that exits first is an error.
func (p *childProc) measure(ctx context.Context, brokers []string, end map[int]int64) (childFigures, error) {
	wctx, cancel := context.WithTimeout(ctx, 8*time.Minute)
	done := make(chan error, 1)
	go func() {
		_, err := inspect.WaitCommitted(wctx, brokers, p.group, p.input, end)
		done <- err
	}()
	var werr error
	select {
	case werr = <-done:
	case <-p.exited:
		cancel()
		<-done
		return childFigures{}, fmt.Errorf("worker-child exited early (%v); its log: %s", p.waitErr, p.logPath)
	}
	cancel()
	f := childFigures{elapsed: time.Since(p.began)}
	pid := p.cmd.Process.Pid
	var cerr, perr, merr error
	f.cpu, cerr = procCPU(pid)
	f.peak, perr = peakRSS(fmt.Sprint(pid))
	f.mallocs, merr = scrape("http://"+p.metricsAddr+"/metrics", "go_memstats_mallocs_total")
	p.stop()
	if werr != nil {
		return childFigures{}, fmt.Errorf("worker-child: %w (log: %s)", werr, p.logPath)
	}
	if cerr != nil || perr != nil || merr != nil {
		return childFigures{}, fmt.Errorf("worker-child: reading its figures: %v %v %v", cerr, perr, merr)
	}
	return f, nil
}

// stop sends the child SIGTERM and kills it if it has not exited within
// 30 s; it may be called again, and after the child exited.
func (p *childProc) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// Close closes the child's log file.
func (p *childProc) Close() error { return p.log.Close() }

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
