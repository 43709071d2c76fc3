package worker

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gcupsert/gcupsert/config"
)

// A client that may not read the brokers' configuration (no
// DescribeConfigs right on the cluster) starts with a warning: the bounds
// stay unchecked rather than refusing a worker that may be right.
func TestSessionBoundsUnreadableOnlyWarn(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.Ports(0), kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.User("SCRAM-SHA-256", "limited", "pw", kfake.ACL{Resource: kmsg.ACLResourceTypeTopic, Name: "*",
			Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: kmsg.ACLOperationDescribe, Allow: true}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	k := config.Kafka{SASL: config.SASL{Mechanism: "scram-sha-256", Username: "limited", Password: "pw"}}
	sec, err := k.Security()
	if err != nil {
		t.Fatal(err)
	}
	admin := &kafka.Client{Addr: kafka.TCP(cluster.ListenAddrs()...), Timeout: 10 * time.Second, Transport: sec.Transport("t")}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := ReadSessionBounds(ctx, admin); !errors.Is(err, kafka.ClusterAuthorizationFailed) {
		t.Fatalf("ReadSessionBounds = %v, want the authorization failure", err)
	}
	var logs bytes.Buffer
	if err := checkSession(ctx, admin, time.Second, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
		t.Fatalf("checkSession = %v, want a warning only", err)
	}
	if !strings.Contains(logs.String(), "cannot read the brokers' session timeout bounds") {
		t.Errorf("no warning: %s", logs.String())
	}
}
