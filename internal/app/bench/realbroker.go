package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/gcupsert/gcupsert/internal/script"
)

// realBroker is the Apache Kafka broker of the real rows: one started by
// scripts/kafka/kafka.sh into dir, or one named by GCUPSERT_TEST_BROKERS.
type realBroker struct {
	script  string // "" when the broker was not started here
	dir     string
	brokers []string
	pid     int
}

// startRealBroker starts the broker, or says in skip why the real rows
// cannot run here (no Java, or no Maven to fetch the broker's jars).
func startRealBroker(ctx context.Context, o *Options, dir string) (b *realBroker, skip string, err error) {
	if s := strings.TrimSpace(os.Getenv(brokersEnv)); s != "" {
		var bs []string
		for _, a := range strings.Split(s, ",") {
			if a = strings.TrimSpace(a); a != "" {
				bs = append(bs, a)
			}
		}
		o.logf("real: using the broker %s from %s", strings.Join(bs, ","), brokersEnv)
		return &realBroker{brokers: bs}, "", nil
	}
	if !haveJava() {
		return nil, "no Java: the real Apache Kafka broker (scripts/kafka/kafka.sh) needs Java 17+ (and Maven once); or set " + brokersEnv, nil
	}
	script, err := kafkaScript(o.KafkaScript)
	if err != nil {
		return nil, "", err
	}
	b = &realBroker{script: script, dir: dir}
	if _, err := b.sh(ctx, "install"); err != nil {
		if _, lerr := exec.LookPath("mvn"); lerr != nil {
			return nil, "no Maven to fetch the Apache Kafka broker's jars (scripts/kafka/kafka.sh install); or set " + brokersEnv, nil
		}
		return nil, "", err
	}
	began := time.Now()
	addr, err := b.sh(ctx, "start", dir)
	if err != nil {
		_, _ = b.sh(context.Background(), "stop", dir)
		return nil, "", err
	}
	b.brokers = []string{addr}
	if raw, err := os.ReadFile(filepath.Join(dir, "kafka.pid")); err == nil {
		b.pid, _ = strconv.Atoi(strings.TrimSpace(string(raw)))
	}
	o.logf("real: Apache Kafka started at %s in %.1fs", addr, time.Since(began).Seconds())
	return b, "", nil
}

func haveJava() bool {
	if h := os.Getenv("JAVA_HOME"); h != "" {
		if fi, err := os.Stat(filepath.Join(h, "bin", "java")); err == nil && !fi.IsDir() {
			return true
		}
	}
	_, err := exec.LookPath("java")
	return err == nil
}

// kafkaScript is path, or scripts/kafka/kafka.sh of the module the current
// directory is in.
func kafkaScript(path string) (string, error) {
	if path != "" {
		return path, nil
	}
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(d, "scripts", "kafka", "kafka.sh")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		up := filepath.Dir(d)
		if up == d {
			return "", errors.New("bench: scripts/kafka/kafka.sh not found above the current directory (run from the module root or pass --kafka-script)")
		}
		d = up
	}
}

// sh runs kafka.sh and returns the last line it printed.
func (b *realBroker) sh(ctx context.Context, args ...string) (string, error) {
	return script.Run(ctx, b.script, args...)
}

// stop stops a broker started here.
func (b *realBroker) stop() error {
	if b.script == "" {
		return nil
	}
	_, err := b.sh(context.Background(), "stop", b.dir)
	return err
}

// cpu is the broker JVM's CPU time so far; 0 when it is not known.
func (b *realBroker) cpu() time.Duration {
	if b.pid == 0 {
		return 0
	}
	d, _ := procCPU(b.pid)
	return d
}

func randomSuffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// waitJoined polls, every 10 ms, until group is stable with a member that
// holds partitions of topic.
func waitJoined(ctx context.Context, brokers []string, group, topic string) error {
	cl := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 5 * time.Second, Transport: &kafka.Transport{}}
	for {
		res, err := cl.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{group}})
		if err == nil {
			for _, g := range res.Groups {
				if g.Error != nil || g.GroupState != "Stable" {
					continue
				}
				for _, m := range g.Members {
					for _, t := range m.MemberAssignments.Topics {
						if t.Topic == topic && len(t.Partitions) > 0 {
							return nil
						}
					}
				}
			}
		}
		if err := sleep(ctx, 10*time.Millisecond); err != nil {
			return err
		}
	}
}
