//go:build e2e

package e2e

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/gcupsert/gcupsert/internal/script"
	"github.com/gcupsert/gcupsert/test/integration"
	"github.com/gcupsert/gcupsert/test/pgtest"
)

// suite is what TestMain sets up once for every test.
var suite struct {
	root     string   // repository root
	bin      string   // the gcupsert binary built for this run
	brokers  []string // bootstrap addresses
	kafkaDir string   // kafka.sh directory of a broker the tests may restart; "" if none
	started  bool     // the broker was started by this run
	postgres string   // URL of the PostgreSQL server the mirrors write to
	pgDir    string   // its postgres.sh directory when this run started it
	tmp      string

	mu   sync.Mutex
	rows []row
}

// row is one scenario's line of the summary table.
type row struct {
	Scenario     string
	Produced     int
	Upserted     int // distinct records written (sync events by event id)
	DeadLettered int // distinct dead letters
	Collapsed    int // superseded inside a batch by a newer event of their key
	Duplicates   int // sync events beyond the first per event id
	Recovery     string
	Mirror       string // the PostgreSQL mirror's end state
	Elapsed      time.Duration
	Note         string
}

func addRow(r row) {
	suite.mu.Lock()
	defer suite.mu.Unlock()
	suite.rows = append(suite.rows, r)
}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) (code int) {
	began := time.Now()
	var err error
	if suite.root, err = filepath.Abs(filepath.Join("..", "..")); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	if suite.tmp, err = os.MkdirTemp("", "gcupsert-e2e-"); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(suite.tmp)

	suite.bin = filepath.Join(suite.tmp, "gcupsert")
	goTool := os.Getenv("GO")
	if goTool == "" {
		goTool = "go"
	}
	build := exec.Command(goTool, "build", "-o", suite.bin, "./cmd/gcupsert")
	build.Dir = suite.root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building gcupsert:", err)
		return 1
	}

	if b := integration.SplitBrokers(os.Getenv(integration.BrokersEnv)); len(b) > 0 {
		suite.brokers = b
		suite.kafkaDir = os.Getenv("GCUPSERT_KAFKA_DIR")
		fmt.Printf("e2e: using the broker %s from %s\n", strings.Join(b, ","), integration.BrokersEnv)
	} else {
		suite.kafkaDir = filepath.Join(suite.tmp, "kafka")
		t0 := time.Now()
		addr, err := kafkaScript("start", suite.kafkaDir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e: starting Apache Kafka:", err)
			_, _ = kafkaScript("stop", suite.kafkaDir)
			return 1
		}
		suite.started = true
		suite.brokers = []string{addr}
		fmt.Printf("e2e: Apache Kafka started at %s in %s\n", addr, time.Since(t0).Round(time.Millisecond))
	}

	if u := strings.TrimSpace(os.Getenv(pgtest.URLEnv)); u != "" {
		suite.postgres = u
		fmt.Printf("e2e: using the PostgreSQL server from %s\n", pgtest.URLEnv)
	} else {
		t0 := time.Now()
		suite.pgDir = filepath.Join(suite.tmp, "postgres")
		if suite.postgres, err = pgtest.Up(suite.pgDir); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: starting PostgreSQL:", err)
			_ = pgtest.Down(suite.pgDir)
			stopKafka()
			return 1
		}
		fmt.Printf("e2e: PostgreSQL started in %s\n", time.Since(t0).Round(time.Millisecond))
	}

	// Children must not outlive the run: stop them on a signal and shortly
	// before the test binary's own timeout would abort it.
	stopWatch := watchForAbort()
	defer stopWatch()
	defer func() {
		killChildren()
		if suite.pgDir != "" {
			if err := pgtest.Down(suite.pgDir); err != nil {
				fmt.Fprintln(os.Stderr, "e2e: stopping PostgreSQL:", err)
				code = 1
			}
		}
		if !stopKafka() {
			code = 1
		}
	}()

	code = m.Run()
	printTable(os.Stdout, time.Since(began))
	return code
}

// stopKafka stops the broker this run started; false when that failed.
func stopKafka() bool {
	if !suite.started {
		return true
	}
	if _, err := kafkaScript("stop", suite.kafkaDir); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: stopping Apache Kafka:", err)
		return false
	}
	return true
}

// kafkaScript runs scripts/kafka/kafka.sh and returns the last line it
// printed on standard output.
func kafkaScript(args ...string) (string, error) {
	return script.Run(context.Background(), filepath.Join(suite.root, "scripts", "kafka", "kafka.sh"), args...)
}

func watchForAbort() func() {
	ctx, cancel := context.WithCancel(context.Background())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	var deadline <-chan time.Time
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	if f := flag.Lookup("test.timeout"); f != nil {
		if d, err := time.ParseDuration(f.Value.String()); err == nil && d > time.Minute {
			timer.Reset(d - 30*time.Second)
			deadline = timer.C
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-ctx.Done():
			return
		case s := <-sig:
			fmt.Fprintf(os.Stderr, "e2e: %v: stopping child processes and the broker\n", s)
		case <-deadline:
			fmt.Fprintln(os.Stderr, "e2e: the test timeout is near: stopping child processes and the broker")
		}
		killChildren()
		if suite.started {
			_, _ = kafkaScript("stop", suite.kafkaDir)
		}
		os.Exit(2)
	}()
	return func() {
		signal.Stop(sig)
		timer.Stop()
		cancel()
		<-done
	}
}

func printTable(w io.Writer, total time.Duration) {
	suite.mu.Lock()
	defer suite.mu.Unlock()
	if len(suite.rows) == 0 {
		return
	}
	sort.SliceStable(suite.rows, func(i, j int) bool { return suite.rows[i].Scenario < suite.rows[j].Scenario })
	fmt.Fprintf(w, "\nEnd-to-end scenarios against Apache Kafka at %s (total %s)\n\n", strings.Join(suite.brokers, ","), total.Round(time.Second))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tproduced\tupserted\tdead-lettered\tcollapsed\tduplicates\trecovery\tmirror\telapsed\t")
	for _, r := range suite.rows {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t\n", r.Scenario, r.Produced, r.Upserted, r.DeadLettered, r.Collapsed, r.Duplicates, r.Recovery, r.Mirror, r.Elapsed.Round(100*time.Millisecond))
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, r := range suite.rows {
		if r.Note != "" {
			fmt.Fprintf(w, "  %s: %s\n", r.Scenario, r.Note)
		}
	}
	fmt.Fprintln(w)
}
