//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gcupsert/gcupsert/test/integration"
)

// The package-level contract suite, against the real broker.
func TestContract(t *testing.T) {
	integration.Run(t, integration.Real(suite.brokers))
}

// mixed is the default shape of a scenario's stream: mostly new keys, some
// updates, a few deletes and a few invalid events.
func mixed(n int, prefix string, seed uint64) datasetOptions {
	return datasetOptions{Events: n, Partitions: 3, Prefix: prefix, Updates: 0.10, Deletes: 0.005, Invalid: 0.003, Seed: seed}
}

// 1. Steady load: 100,000 events on 3 partitions, one worker, no faults.
func TestSteadyLoad(t *testing.T) {
	s := newScenario(t, "1 steady load", 3, tuning{})
	s.produce(newDataset(mixed(100_000, "steady", 1)))
	began := time.Now()
	w := s.startWorker("steady")
	s.waitDone(5 * time.Minute)
	took := time.Since(began)
	s.stop(w)
	rate := float64(len(s.ds.Events)) / took.Seconds()
	// The mirror starts once the worker is done, so that the two figures
	// are each alone on the machine.
	out := s.readOutbound()
	synced := int64(len(out.Sync))
	s.startMirror("0")
	applied := s.waitMirrorApplied(synced, 5*time.Minute)
	s.finish(out, "-", fmt.Sprintf("drained in %s (%.0f events/s); the mirror applied the %d sync events to PostgreSQL in %s (%.0f events/s)",
		ms(took), rate, synced, ms(applied), float64(synced)/applied.Seconds()))
}

// 2. The worker is killed with SIGKILL three times mid-stream and restarted:
// nothing is lost; the re-upserts are counted as duplicates.
func TestKilledWorkerRestarts(t *testing.T) {
	s := newScenario(t, "2 SIGKILL x3", 3, tuning{MaxRecords: 20})
	s.emu.faults(t, map[string]any{"latency": "15ms"})
	s.produce(newDataset(mixed(20_000, "kill", 2)))
	w := s.startWorker("kill-0")
	s.startMirror("0")
	var recoveries []string
	for i, frac := range []float64{0.15, 0.40, 0.65} {
		s.waitProgress(frac, 2*time.Minute)
		w.kill()
		at := s.committed()
		w = s.startWorker(fmt.Sprintf("kill-%d", i+1))
		recoveries = append(recoveries, ms(s.waitAdvance(at, time.Minute)))
	}
	s.waitDone(3 * time.Minute)
	s.stop(w)
	s.finish(s.readOutbound(), strings.Join(recoveries, " "), "recovery: each restart until every partition commits again")
}

// 3. SIGTERM mid-stream: the worker drains and exits in bounded time, and
// its successor writes no duplicate.
func TestGracefulStop(t *testing.T) {
	s := newScenario(t, "3 SIGTERM", 3, tuning{MaxRecords: 20})
	s.emu.faults(t, map[string]any{"latency": "15ms"})
	s.produce(newDataset(mixed(10_000, "term", 3)))
	w := s.startWorker("term-0")
	s.startMirror("0")
	s.waitProgress(0.3, 2*time.Minute)
	stopped := s.stop(w)
	if stopped > 10*time.Second {
		t.Errorf("the worker took %s to drain and exit; want under 10s", stopped)
	}
	at := s.committed()
	if done, total := progress(at, s.end()); done >= total {
		t.Fatalf("the worker finished everything before SIGTERM")
	}
	w = s.startWorker("term-1")
	rec := s.waitAdvance(at, time.Minute)
	s.waitDone(2 * time.Minute)
	s.stop(w)
	r := s.finish(s.readOutbound(), ms(rec), fmt.Sprintf("exited %s after SIGTERM", ms(stopped)))
	if r.Duplicates != 0 {
		t.Errorf("%d duplicate sync events after a graceful stop; want none", r.Duplicates)
	}
}

// 4. Two workers share the group; a third joins and one of the first two
// leaves, mid-stream: nothing is lost.
func TestMembersJoinAndLeave(t *testing.T) {
	s := newScenario(t, "4 join and leave", 3, tuning{MaxRecords: 20})
	s.emu.faults(t, map[string]any{"latency": "15ms"})
	s.produce(newDataset(mixed(20_000, "group", 4)))
	a := s.startWorker("member-a")
	b := s.startWorker("member-b")
	s.startMirror("0")
	s.waitProgress(0.2, 2*time.Minute)
	c := s.startWorker("member-c")
	s.waitProgress(0.5, 2*time.Minute)
	s.stop(a)
	at := s.committed()
	rec := s.waitAdvance(at, time.Minute)
	s.waitDone(3 * time.Minute)
	s.stop(b)
	s.stop(c)
	out := s.readOutbound()
	s.finish(out, ms(rec), "recovery: member-a's exit until every partition commits again; batches by worker "+batchesByWorker(out))
}

// 5. The broker is stopped for 20 s mid-stream and started again on the
// same data and port: the worker recovers by itself.
func TestBrokerRestart(t *testing.T) {
	if suite.kafkaDir == "" {
		t.Skip("the broker is external: set GCUPSERT_KAFKA_DIR to its kafka.sh directory to restart it")
	}
	s := newScenario(t, "5 broker down 20s", 3, tuning{MaxRecords: 20})
	s.emu.faults(t, map[string]any{"latency": "15ms"})
	s.produce(newDataset(mixed(20_000, "broker", 5)))
	w := s.startWorker("broker")
	s.startMirror("0")
	s.waitProgress(0.3, 2*time.Minute)
	if _, err := kafkaScript("stop", suite.kafkaDir); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Second)
	if _, err := kafkaScript("start", suite.kafkaDir); err != nil {
		t.Fatal(err)
	}
	if !w.running() {
		t.Fatalf("the worker exited while the broker was down:\n%s", tail(w.logPath, 20))
	}
	at := s.committed()
	rec := s.waitAdvance(at, 2*time.Minute)
	s.waitDone(3 * time.Minute)
	s.stop(w)
	s.finish(s.readOutbound(), ms(rec), "recovery: broker ready until every partition commits again")
}

// 6. The API answers 503 for 30 s, then 429 for 10 s: nothing is committed
// past records without an outcome, nothing is lost or dead-lettered for it,
// and the worker catches up afterwards.
func TestAPIOutageAndRateLimitStorm(t *testing.T) {
	s := newScenario(t, "6 API 5xx 30s + 429", 3, tuning{MaxRecords: 50})
	s.emu.faults(t, map[string]any{"latency": "10ms"})
	s.produce(newDataset(mixed(20_000, "api", 6)))
	w := s.startWorker("api")
	s.startMirror("0")
	s.waitProgress(0.25, 2*time.Minute)
	s.emu.faults(t, map[string]any{"down": true})
	downAt := time.Now()
	before := s.emu.stats(t)
	var during []map[int]int64
	for _, at := range []time.Duration{3 * time.Second, 15 * time.Second, 29 * time.Second} {
		time.Sleep(time.Until(downAt.Add(at)))
		c := s.committed()
		s.checkPrefix(c)
		during = append(during, c)
	}
	first, _ := progress(during[0], s.end())
	last, _ := progress(during[len(during)-1], s.end())
	time.Sleep(time.Until(downAt.Add(30 * time.Second)))
	s.emu.faults(t, map[string]any{"down": false, "storm429": true, "retryAfter": "1s"})
	stormAt := time.Now()
	time.Sleep(5 * time.Second)
	s.checkPrefix(s.committed())
	time.Sleep(time.Until(stormAt.Add(10 * time.Second)))
	s.emu.faults(t, map[string]any{"storm429": false})
	at := s.committed()
	if done, total := progress(at, s.end()); done >= total {
		t.Fatalf("the worker finished during the outage")
	}
	rec := s.waitAdvance(at, time.Minute)
	s.waitDone(3 * time.Minute)
	s.stop(w)
	after := s.emu.stats(t)
	s.finish(s.readOutbound(), ms(rec), fmt.Sprintf("API answered %d x 503 and %d x 429; commits between 3 s and 29 s of the outage: %d events; "+
		"no commit past an event without an outcome at 4 checks; recovery: faults cleared until every partition commits again",
		after.ByStatus[503]-before.ByStatus[503], after.ByStatus[429]-before.ByStatus[429], last-first))
}

func batchesByWorker(out outbound) string {
	n := map[string]int{}
	for _, m := range out.Audit {
		var a struct {
			WorkerID string `json:"workerId"`
		}
		_ = json.Unmarshal(m.Value, &a)
		n[a.WorkerID]++
	}
	return fmt.Sprint(n)
}
