package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/internal/app/demo"
	"github.com/gcupsert/gcupsert/internal/inspect"
	"github.com/gcupsert/gcupsert/mirror"
	"github.com/gcupsert/gcupsert/mirror/sqldb"
	"github.com/gcupsert/gcupsert/sink"
	"github.com/gcupsert/gcupsert/test/pgtest"
)

// mirrorYAML is the mirror child's configuration.
const mirrorYAML = `kafka:
  brokers: [%s]
  session_timeout: 6s
  heartbeat_interval: 1s
  max_wait: 100ms
topics:
  sync: %s
routes:
  - topic: %s
    target: customobjects
    schema: %s
    schema_file: %s
    conflict_resolution: upsert
mirror:
  database: %q
  group_id: bench-mirror
  max_events: 500
  linger: 20ms
  metrics_address: %s
log:
  level: warn
  format: json
`

// mirrorBench runs `gcupsert mirror` as a child process over a backlog of
// o.MirrorEvents sync events on the embedded broker into PostgreSQL (a
// server started by scripts/postgres/postgres.sh), and reads the child's
// CPU, allocations and peak RSS and the server's CPU. It checks the table
// holds the expected rows before it reports.
func mirrorBench(ctx context.Context, o *Options, dir string) ([]Result, error) {
	if !pgtest.Installed() {
		o.logf("mirror-postgres: skipped: %s", pgtest.SkipMessage)
		return nil, nil
	}
	bin := o.Bin
	if bin == "" {
		var err error
		if bin, err = buildBinary(ctx, dir); err != nil {
			return nil, err
		}
	}
	pgDir := filepath.Join(dir, "postgres")
	url, err := pgtest.Up(pgDir)
	if err != nil {
		_ = pgtest.Down(pgDir)
		return nil, fmt.Errorf("mirror-postgres: %w", err)
	}
	defer func() { _ = pgtest.Down(pgDir) }()
	cluster, err := kfake.NewCluster(kfake.Ports(0), kfake.SeedTopics(int32(o.Partitions), syncTopic),
		kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		return nil, fmt.Errorf("mirror-postgres: embedded broker: %w", err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	o.logf("mirror-postgres: producing %d sync events to %d partitions", o.MirrorEvents, o.Partitions)
	msgs, live := SyncStream(o.MirrorEvents, o.Keys, o.Partitions)
	if err := inspect.Produce(ctx, brokers, syncTopic, msgs); err != nil {
		return nil, fmt.Errorf("mirror-postgres: produce: %w", err)
	}
	msgs = nil
	end, err := inspect.EndOffsets(ctx, brokers, syncTopic)
	if err != nil {
		return nil, err
	}
	db, err := sqldb.Open(ctx, url, sqldb.Options{})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	f, err := runMirrorChild(ctx, o, bin, dir, brokers, url, pgDir, db, end)
	if err != nil {
		return nil, err
	}
	var rows int
	q := fmt.Sprintf(`SELECT count(*) FROM %s`, mirror.TableName("customobjects", demo.SchemaName))
	if err := db.SQL().QueryRowContext(ctx, q).Scan(&rows); err != nil {
		return nil, err
	}
	if rows != live {
		return nil, fmt.Errorf("mirror-postgres: the table holds %d rows, want %d", rows, live)
	}
	n := int(sum(end))
	o.logf("mirror-postgres: %d events in %.1fs", n, f.elapsed.Seconds())
	r := f.result("mirror-postgres", "gcupsert mirror as a child process, a backlog of sync events (1% deletes) on kfake into a local PostgreSQL (fsync off), transactions of up to 500 events; from process start until every offset is stored; CPU, allocations and peak RSS are the child's, postgresCPU the server's", n)
	r.Extra = map[string]any{"partitions": o.Partitions, "rows": rows,
		"postgresCPUSecondsPer1MEvents": f.serverCPU.Seconds() / float64(n) * 1e6}
	return []Result{r}, nil
}

// mirrorFigures is what the mirror child and the server used.
type mirrorFigures struct {
	childFigures
	serverCPU time.Duration
}

// runMirrorChild starts `gcupsert mirror`, waits (eight minutes at most)
// until db holds end as the group's offsets, reads the figures and stops
// the child.
func runMirrorChild(ctx context.Context, o *Options, bin, dir string, brokers []string, url, pgDir string, db *sqldb.DB, end map[int]int64) (mirrorFigures, error) {
	metricsAddr, err := freeAddr()
	if err != nil {
		return mirrorFigures{}, err
	}
	schema, err := writeSchema(dir)
	if err != nil {
		return mirrorFigures{}, err
	}
	cfgPath := filepath.Join(dir, "mirror.yaml")
	yml := fmt.Sprintf(mirrorYAML, strings.Join(brokers, ", "), syncTopic, inputTopic, demo.SchemaName, schema, url, metricsAddr)
	if err := os.WriteFile(cfgPath, []byte(yml), 0o600); err != nil {
		return mirrorFigures{}, err
	}
	logPath := filepath.Join(dir, "mirror.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return mirrorFigures{}, err
	}
	defer logf.Close()
	server, err := postmasterPID(pgDir)
	if err != nil {
		return mirrorFigures{}, err
	}
	serverBefore, err := treeCPU(server)
	if err != nil {
		return mirrorFigures{}, err
	}
	cmd := exec.Command(bin, "mirror", "--config", cfgPath)
	cmd.Env = cleanEnv()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	o.logf("mirror-postgres: running %s mirror", bin)
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return mirrorFigures{}, err
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
	deadline := time.Now().Add(8 * time.Minute)
	for {
		offs, err := db.Offsets(ctx, "bench-mirror", syncTopic)
		if err == nil && reached(offs, end) {
			break
		}
		select {
		case err := <-exited:
			return mirrorFigures{}, fmt.Errorf("mirror-postgres: the mirror exited early (%v); the end of its log:\n%s", err, logTail(logPath))
		case <-ctx.Done():
			stop()
			return mirrorFigures{}, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return mirrorFigures{}, fmt.Errorf("mirror-postgres: not done after 8 minutes; the end of its log:\n%s", logTail(logPath))
		}
	}
	f := mirrorFigures{childFigures: childFigures{elapsed: time.Since(began)}}
	var cerr, perr, merr, serr error
	f.cpu, cerr = procCPU(cmd.Process.Pid)
	f.peak, perr = peakRSS(fmt.Sprint(cmd.Process.Pid))
	f.mallocs, merr = scrape("http://"+metricsAddr+"/metrics", "go_memstats_mallocs_total")
	serverAfter, serr := treeCPU(server)
	f.serverCPU = serverAfter - serverBefore
	stop()
	if cerr != nil || perr != nil || merr != nil || serr != nil {
		return mirrorFigures{}, fmt.Errorf("mirror-postgres: reading its figures: %v %v %v %v", cerr, perr, merr, serr)
	}
	return f, nil
}

// logTail is the last 2 KiB of a log file.
func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return string(b[max(0, len(b)-2048):])
}

func reached(offs, end map[int]int64) bool {
	for p, e := range end {
		if e > 0 && offs[p] < e {
			return false
		}
	}
	return true
}

// SyncStream makes n sync events, as the worker writes them, over keys
// distinct keys (key i%keys), each on the partition its key hashes to;
// every hundredth is a delete. It returns them and the number of keys
// whose last event is not a delete.
func SyncStream(n, keys, partitions int) ([]inspect.Message, int) {
	if keys < 1 {
		keys = 1
	}
	next := make([]int64, partitions)
	deleted := map[string]bool{}
	out := make([]inspect.Message, n)
	at := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	for i := range out {
		k := i % keys
		key := fmt.Sprintf("acc-%07d", k)
		p := partitionOf(key, partitions)
		s := sink.Sync{BatchID: "bench", Key: key, Operation: sink.OperationUpdated, Target: "customobjects", Schema: demo.SchemaName,
			Source: change.Source{Topic: inputTopic, Partition: p, Offset: next[p]}, Time: at}
		next[p]++
		if i%100 == 99 {
			s.Operation = sink.OperationDeleted
			deleted[key] = true
		} else {
			s.Record = map[string]any{"id": key, "customerName": "Customer " + strconv.Itoa(k) + " " + strconv.Itoa(i),
				"accountNumber": fmt.Sprintf("AN-%06d", k%1_000_000), "regionId": "region-" + strconv.Itoa(k%7),
				"status": "active", "balance": float64((i*7919)%1_000_000) / 100, "employees": i % 5000}
			delete(deleted, key)
		}
		m := s.Message()
		out[i] = inspect.Message{Partition: p, Key: m.Key, Value: m.Value, Headers: m.Headers}
	}
	return out, min(n, keys) - len(deleted)
}

// postmasterPID reads the server's pid from its data directory.
func postmasterPID(pgDir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(pgDir, "data", "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strconv.Atoi(strings.TrimSpace(line))
}

// treeCPU is the CPU time of pid, of its children that have exited, and
// of its live children (PostgreSQL's backends).
func treeCPU(pid int) (time.Duration, error) {
	own, err := procCPU(pid)
	if err != nil {
		return 0, err
	}
	reaped, err := procChildCPU(pid)
	if err != nil {
		return 0, err
	}
	total := own + reaped
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil || child == pid {
			continue
		}
		if ppid, err := procPPID(child); err == nil && ppid == pid {
			if c, err := procCPU(child); err == nil {
				total += c
			}
		}
	}
	return total, nil
}
