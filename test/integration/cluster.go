// Package integration is the pipeline's contract suite: the worker as
// cmd/gcupsert assembles it, in process, against the Genesys emulator over
// HTTP and a Kafka cluster. The same scenarios run against the embedded kfake
// broker (the default, for `go test`) and against a real Apache Kafka broker
// when BrokersEnv names one; test/e2e runs them against the broker it starts.
//
// On a real cluster every test gets its own uniquely named topics, created
// with admin calls and deleted when the test ends, and its own group ids, so
// tests share a broker without seeing each other's data.
package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/gcupsert/gcupsert/internal/inspect"
)

// BrokersEnv names the environment variable that selects a real cluster:
// comma-separated host:port bootstrap addresses.
const BrokersEnv = "GCUPSERT_TEST_BROKERS"

// Topics names a test's input and outbound topics.
type Topics struct {
	Input, Audit, Sync, DeadLetter string
}

// Cluster gives each test brokers and empty topics of its own.
type Cluster interface {
	// Name describes the cluster in test output.
	Name() string
	// Open returns the bootstrap addresses and freshly created topics for t:
	// an input topic with the given partitions and single-partition outbound
	// topics. Whatever it creates is removed when t ends.
	Open(t testing.TB, partitions int) ([]string, Topics)
	// Unique returns a name (group id, worker id) no other test uses.
	Unique(t testing.TB, prefix string) string
}

// FromEnv returns Real(BrokersEnv) when the variable is set, else Kfake().
func FromEnv() Cluster {
	if b := SplitBrokers(os.Getenv(BrokersEnv)); len(b) > 0 {
		return Real(b)
	}
	return Kfake()
}

// SplitBrokers splits a comma-separated broker list, dropping blanks.
func SplitBrokers(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Kfake starts one embedded kfake cluster per test, on a random port.
func Kfake() Cluster { return kfakeCluster{} }

type kfakeCluster struct{}

func (kfakeCluster) Name() string { return "kfake" }

func (kfakeCluster) Unique(_ testing.TB, prefix string) string { return prefix }

func (kfakeCluster) Open(t testing.TB, partitions int) ([]string, Topics) {
	t.Helper()
	topics := Topics{Input: "crm.accounts", Audit: "gcupsert.audit", Sync: "gcupsert.sync", DeadLetter: "gcupsert.deadletter"}
	c, err := kfake.NewCluster(
		kfake.Ports(0),
		kfake.SeedTopics(int32(partitions), topics.Input),
		kfake.SeedTopics(1, topics.Audit, topics.Sync, topics.DeadLetter),
		kfake.GroupMinSessionTimeout(time.Second),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs(), topics
}

// Real uses an existing cluster: each test creates uniquely named topics
// with admin calls and deletes them when it ends.
func Real(brokers []string) Cluster { return realCluster{brokers: brokers} }

type realCluster struct{ brokers []string }

func (c realCluster) Name() string { return "kafka " + strings.Join(c.brokers, ",") }

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func (realCluster) Unique(t testing.TB, prefix string) string {
	name := unsafeName.ReplaceAllString(t.Name(), "_")
	if len(name) > 60 {
		name = name[len(name)-60:]
	}
	return prefix + "." + name + "." + randomSuffix()
}

func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (c realCluster) Open(t testing.TB, partitions int) ([]string, Topics) {
	t.Helper()
	base := c.Unique(t, "it")
	topics := Topics{Input: base + ".in", Audit: base + ".audit", Sync: base + ".sync", DeadLetter: base + ".dead"}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := inspect.CreateTopics(ctx, c.brokers, map[string]int{
		topics.Input: partitions, topics.Audit: 1, topics.Sync: 1, topics.DeadLetter: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := DeleteTopics(ctx, c.brokers, topics.Input, topics.Audit, topics.Sync, topics.DeadLetter); err != nil {
			t.Logf("deleting topics: %v", err)
		}
	})
	return c.brokers, topics
}

func adminClient(brokers []string) *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 20 * time.Second, Transport: &kafka.Transport{}}
}

// DeleteTopics deletes the named topics.
func DeleteTopics(ctx context.Context, brokers []string, names ...string) error {
	res, err := adminClient(brokers).DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: names})
	if err != nil {
		return err
	}
	var errs []error
	for name, terr := range res.Errors {
		if terr != nil && !errors.Is(terr, kafka.UnknownTopicOrPartition) {
			errs = append(errs, fmt.Errorf("%s: %w", name, terr))
		}
	}
	return errors.Join(errs...)
}
