package worker_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/gcupsert/gcupsert/config"
	"github.com/gcupsert/gcupsert/internal/app/worker"
)

// A session timeout outside the brokers' group.min.session.timeout.ms and
// group.max.session.timeout.ms is refused at start, naming the key and the
// bounds: the broker would refuse every join with "Invalid Session
// Timeout" and the worker would try again forever.
func TestSessionTimeoutOutsideTheBrokersBoundsIsRefused(t *testing.T) {
	s := newStack(t, 1, kfake.BrokerConfigs(map[string]string{
		"group.min.session.timeout.ms": "6000", "group.max.session.timeout.ms": "1800000"}))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, tc := range []struct {
		timeout time.Duration
		want    string
	}{
		{2 * time.Second, "kafka.session_timeout: 2s is below the brokers' group.min.session.timeout.ms (6s); the brokers accept 6s to 30m"},
		{2 * time.Hour, "kafka.session_timeout: 2h is above the brokers' group.max.session.timeout.ms (30m); the brokers accept 6s to 30m"},
	} {
		cfg := s.cfg
		cfg.Kafka.SessionTimeout = config.Duration(tc.timeout)
		w, err := worker.NewContext(ctx, cfg, worker.Options{})
		if err == nil {
			w.Close()
			t.Errorf("session_timeout %s: the worker started", tc.timeout)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("session_timeout %s: error %q, want %q", tc.timeout, err, tc.want)
		}
	}
	w, err := worker.NewContext(ctx, s.cfg, worker.Options{})
	if err != nil {
		t.Fatalf("session_timeout %s within the bounds: %v", s.cfg.Kafka.SessionTimeout, err)
	}
	w.Close()
}
