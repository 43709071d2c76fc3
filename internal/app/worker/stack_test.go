package worker_test

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/gcupsert/gcupsert/config"
	"github.com/gcupsert/gcupsert/emulator"
	"github.com/gcupsert/gcupsert/internal/app/demo"
)

// stack is a kfake cluster with an input topic "in" of the given partitions
// and outbound topics "a", "s", "d", the emulator, and a configuration for
// the worker over them.
type stack struct {
	cluster *kfake.Cluster
	emu     *emulator.Server
	cfg     config.Config
}

func newStack(t *testing.T, partitions int32, opts ...kfake.Opt) *stack {
	t.Helper()
	opts = append(opts, kfake.Ports(0), kfake.SeedTopics(partitions, "in"), kfake.SeedTopics(1, "a", "s", "d"),
		kfake.GroupMinSessionTimeout(time.Second))
	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	emu, err := emulator.New(emulator.Config{Clients: map[string]string{"id": "secret"},
		Schemas: map[string][]byte{demo.SchemaName: []byte(demo.Schema)}, DisableRateLimit: true})
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(emu.Handler())
	t.Cleanup(api.Close)
	schema := filepath.Join(t.TempDir(), "s.json")
	if err := os.WriteFile(schema, []byte(demo.Schema), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Kafka.Brokers = cluster.ListenAddrs()
	cfg.Kafka.GroupID = "g"
	cfg.Kafka.SessionTimeout = config.Duration(6 * time.Second)
	cfg.Kafka.HeartbeatInterval = config.Duration(500 * time.Millisecond)
	cfg.Kafka.CommitInterval = config.Duration(50 * time.Millisecond)
	cfg.Kafka.MaxWait = config.Duration(100 * time.Millisecond)
	cfg.Batch.Linger = config.Duration(10 * time.Millisecond)
	cfg.Genesys.BaseURL, cfg.Genesys.ClientID, cfg.Genesys.ClientSecret = api.URL, "id", "secret"
	cfg.Retry.InitialInterval = config.Duration(20 * time.Millisecond)
	cfg.Retry.MaxInterval = config.Duration(100 * time.Millisecond)
	cfg.Retry.MaxElapsed = config.Duration(300 * time.Millisecond)
	cfg.Retry.BatchPause = config.Duration(100 * time.Millisecond)
	cfg.Topics = config.Topics{Audit: "a", Sync: "s", DeadLetter: "d"}
	cfg.Routes = []config.Route{{Topic: "in", Target: "customobjects", Schema: demo.SchemaName, SchemaFile: schema, ConflictResolution: "upsert"}}
	return &stack{cluster: cluster, emu: emu, cfg: cfg}
}
