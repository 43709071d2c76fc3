//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/gcupsert/gcupsert/internal/app/demo"
	"github.com/gcupsert/gcupsert/internal/inspect"
	"github.com/gcupsert/gcupsert/test/integration"
)

// tuning is the part of the worker configuration a scenario varies.
type tuning struct {
	MaxRecords int           // records per batch
	Linger     time.Duration // batch linger
	// MirrorMaxEvents bounds the mirror's transactions (default 500).
	MirrorMaxEvents int
}

// scenario is one test's topics, emulator, worker configuration and data.
type scenario struct {
	t          *testing.T
	name       string
	topics     integration.Topics
	group      string
	dir        string
	schemaPath string
	cfgPath    string
	emu        *emulatorProc
	ds         dataset
	offsets    map[int][]int // partition -> offset -> index in ds.Events
	began      time.Time
	mirror     *mirrorState // the scenario's PostgreSQL mirror
}

func newScenario(t *testing.T, name string, partitions int, tune tuning) *scenario {
	t.Helper()
	cl := integration.Real(suite.brokers)
	_, topics := cl.Open(t, partitions)
	s := &scenario{t: t, name: name, topics: topics, group: cl.Unique(t, "e2e"), dir: t.TempDir(), began: time.Now()}
	s.schemaPath = filepath.Join(s.dir, schemaName+".json")
	if err := os.WriteFile(s.schemaPath, []byte(demo.Schema), 0o600); err != nil {
		t.Fatal(err)
	}
	s.emu = startEmulator(t, s.schemaPath)
	s.mirror = newMirrorState(t, s.group+"-mirror")
	s.writeConfig(tune)
	return s
}

// writeConfig writes the worker's YAML file. The brokers, the worker id and
// the secret come from the environment, as in a deployment.
func (s *scenario) writeConfig(tune tuning) {
	if tune.MaxRecords == 0 {
		tune.MaxRecords = 100
	}
	if tune.Linger == 0 {
		tune.Linger = 20 * time.Millisecond
	}
	if tune.MirrorMaxEvents == 0 {
		tune.MirrorMaxEvents = 500
	}
	cfg := fmt.Sprintf(`kafka:
  group_id: %q
  start_offset: earliest
  session_timeout: 6s
  heartbeat_interval: 500ms
  rebalance_timeout: 15s
  max_wait: 100ms
  commit_interval: 100ms
genesys:
  base_url: %q
  client_id: %q
  timeout: 10s
retry:
  initial_interval: 50ms
  max_interval: 1s
  max_elapsed: 3s
  max_retry_after: 5s
  batch_pause: 500ms
batch:
  max_records: %d
  linger: %s
  max_inflight: 8
topics:
  audit: %q
  sync: %q
  deadletter: %q
routes:
  - topic: %q
    target: customobjects
    schema: %s
    schema_file: %q
    conflict_resolution: upsert
    unique_fields: [accountNumber]
    reference_fields: [regionId]
log:
  level: info
  format: json
mirror:
  database: %q
  group_id: %q
  dead_letters: true
  event_log: true
  max_events: %d
  linger: 50ms
shutdown_timeout: 20s
`, s.group, s.emu.url, clientID, tune.MaxRecords, tune.Linger, s.topics.Audit, s.topics.Sync, s.topics.DeadLetter,
		s.topics.Input, schemaName, s.schemaPath, s.mirror.url, s.mirror.group, tune.MirrorMaxEvents)
	s.cfgPath = filepath.Join(s.dir, "gcupsert.yaml")
	if err := os.WriteFile(s.cfgPath, []byte(cfg), 0o600); err != nil {
		s.t.Fatal(err)
	}
}

// startWorker runs `gcupsert run` as a member of the scenario's group.
func (s *scenario) startWorker(id string) *proc {
	s.t.Helper()
	return startProc(s.t, "worker-"+id, []string{
		"GCUPSERT_KAFKA_BROKERS=" + strings.Join(suite.brokers, ","),
		"GCUPSERT_WORKER_ID=" + id,
		"GCUPSERT_GENESYS_CLIENT_SECRET=" + secret,
	}, "run", "--config", s.cfgPath)
}

// produce writes ds with kafka-go, each event to its partition, then maps
// offsets to events by reading the topic back.
func (s *scenario) produce(ds dataset) {
	s.t.Helper()
	msgs := make([]inspect.Message, len(ds.Events))
	for i, ev := range ds.Events {
		msgs[i] = inspect.Message{Partition: ev.Partition, Key: ev.Key, Value: ev.Value}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := inspect.Produce(ctx, suite.brokers, s.topics.Input, msgs); err != nil {
		s.t.Fatal(err)
	}
	s.mapOffsets(ds)
}

// mapOffsets reads the input topic back and checks that each partition holds
// the dataset's events of that partition, in order.
func (s *scenario) mapOffsets(ds dataset) {
	s.t.Helper()
	s.ds = ds
	s.offsets = map[int][]int{}
	want := map[int][]int{}
	for i, ev := range ds.Events {
		want[ev.Partition] = append(want[ev.Partition], i)
	}
	got := s.read(s.topics.Input)
	for _, m := range got {
		idx := want[m.Partition]
		o := int(m.Offset)
		if o != len(s.offsets[m.Partition]) || o >= len(idx) {
			s.t.Fatalf("input partition %d: unexpected offset %d", m.Partition, m.Offset)
		}
		ev := ds.Events[idx[o]]
		if !bytes.Equal(m.Key, ev.Key) || !bytes.Equal(m.Value, ev.Value) {
			s.t.Fatalf("input partition %d offset %d holds key %q, want %q", m.Partition, o, m.Key, ev.Key)
		}
		s.offsets[m.Partition] = append(s.offsets[m.Partition], idx[o])
	}
	for p, idx := range want {
		if len(s.offsets[p]) != len(idx) {
			s.t.Fatalf("input partition %d holds %d events, want %d", p, len(s.offsets[p]), len(idx))
		}
	}
}

func (s *scenario) read(topic string) []kafka.Message {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	msgs, err := inspect.ReadAll(ctx, suite.brokers, topic)
	if err != nil {
		s.t.Fatal(err)
	}
	return msgs
}

func (s *scenario) end() map[int]int64 {
	end := map[int]int64{}
	for p, idx := range s.offsets {
		end[p] = int64(len(idx))
	}
	return end
}

// committed returns the group's committed offsets, or nil when the broker
// cannot answer.
func (s *scenario) committed() map[int]int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := inspect.Committed(ctx, suite.brokers, s.group, s.topics.Input)
	if err != nil {
		return nil
	}
	return c
}

func progress(c, end map[int]int64) (done, total int64) {
	for p, n := range end {
		total += n
		if c != nil {
			done += min(max(c[p], 0), n)
		}
	}
	return done, total
}

// waitProgress waits until the group has committed at least frac of the events.
func (s *scenario) waitProgress(frac float64, within time.Duration) map[int]int64 {
	s.t.Helper()
	deadline := time.Now().Add(within)
	for {
		c := s.committed()
		done, total := progress(c, s.end())
		if float64(done) >= frac*float64(total) {
			if done >= total {
				s.t.Fatalf("the group committed everything (%d) before the fault; the scenario needs it mid-stream", total)
			}
			return c
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("committed %d of %d after %s, waiting for %.0f%%", done, total, within, frac*100)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitAdvance waits until every partition not yet drained commits past
// from, and returns how long that took: the time to full recovery.
func (s *scenario) waitAdvance(from map[int]int64, within time.Duration) time.Duration {
	s.t.Helper()
	began := time.Now()
	end := s.end()
	moved := map[int]bool{}
	for {
		c := s.committed()
		if c != nil {
			for p, n := range end {
				if c[p] > from[p] || from[p] >= n {
					moved[p] = true
				}
			}
		}
		if len(moved) == len(end) {
			return time.Since(began)
		}
		if time.Since(began) > within {
			s.t.Fatalf("partitions did not all commit past %v within %s (last %v)", from, within, c)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitDone waits until the group has committed every produced event.
func (s *scenario) waitDone(within time.Duration) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	if _, err := inspect.WaitCommitted(ctx, suite.brokers, s.group, s.topics.Input, s.end()); err != nil {
		s.t.Fatal(err)
	}
}

// stop sends SIGTERM and expects a clean exit within the shutdown timeout.
func (s *scenario) stop(p *proc) time.Duration {
	s.t.Helper()
	began := time.Now()
	p.signal(syscall.SIGTERM)
	code, ok := p.wait(30 * time.Second)
	if !ok {
		s.t.Fatalf("%s still running 30s after SIGTERM", p.name)
	}
	if code != 0 {
		s.t.Fatalf("%s exited with %d after SIGTERM:\n%s", p.name, code, tail(p.logPath, 20))
	}
	return time.Since(began)
}

// outMsg is an outbound message, however it was read.
type outMsg struct {
	Key, Value []byte
	Headers    map[string]string
}

// outbound is the content of the three outbound topics.
type outbound struct {
	Audit, Sync, Dead []outMsg
}

func fromKafka(msgs []kafka.Message) []outMsg {
	out := make([]outMsg, len(msgs))
	for i, m := range msgs {
		h := map[string]string{}
		for _, kv := range m.Headers {
			h[kv.Key] = string(kv.Value)
		}
		out[i] = outMsg{Key: m.Key, Value: m.Value, Headers: h}
	}
	return out
}

// readOutbound reads the outbound topics with kafka-go.
func (s *scenario) readOutbound() outbound {
	return outbound{
		Audit: fromKafka(s.read(s.topics.Audit)),
		Sync:  fromKafka(s.read(s.topics.Sync)),
		Dead:  fromKafka(s.read(s.topics.DeadLetter)),
	}
}

// tally is what the outbound topics say happened.
type tally struct {
	sync, dead map[string]int      // event id -> events seen
	syncBatch  map[string][]string // event id -> batch ids of its sync events
	batchBy    map[string]string   // batch id -> worker id
	covered    map[int]map[int64]bool
	problems   []string
}

func (tl *tally) problem(format string, args ...any) {
	if len(tl.problems) < 20 {
		tl.problems = append(tl.problems, fmt.Sprintf(format, args...))
	}
}

// eventID is the id the worker gives the event at offset o of partition p.
func (s *scenario) eventID(p int, o int64) string {
	return s.topics.Input + "-" + strconv.Itoa(p) + "-" + strconv.FormatInt(o, 10)
}

// parseEventID returns the partition and offset of an id from the input topic.
func (s *scenario) parseEventID(id string) (int, int64, bool) {
	rest, ok := strings.CutPrefix(id, s.topics.Input+"-")
	if !ok {
		return 0, 0, false
	}
	ps, offs, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, 0, false
	}
	p, err1 := strconv.Atoi(ps)
	o, err2 := strconv.ParseInt(offs, 10, 64)
	if err1 != nil || err2 != nil || p < 0 || o < 0 || o >= int64(len(s.offsets[p])) {
		return 0, 0, false
	}
	return p, o, true
}

// tallyOutbound checks each outbound event against the input event it names.
func (s *scenario) tallyOutbound(out outbound) *tally {
	tl := &tally{sync: map[string]int{}, dead: map[string]int{}, covered: map[int]map[int64]bool{},
		syncBatch: map[string][]string{}, batchBy: map[string]string{}}
	for _, m := range out.Sync {
		var ev struct {
			Version   int            `json:"version"`
			EventID   string         `json:"eventId"`
			BatchID   string         `json:"batchId"`
			Key       string         `json:"key"`
			Operation string         `json:"operation"`
			Record    map[string]any `json:"record"`
			Source    struct {
				Topic     string `json:"topic"`
				Partition int    `json:"partition"`
				Offset    int64  `json:"offset"`
			} `json:"source"`
		}
		if err := json.Unmarshal(m.Value, &ev); err != nil {
			tl.problem("sync event is not JSON: %v", err)
			continue
		}
		p, o, ok := s.parseEventID(ev.EventID)
		if !ok || ev.Source.Partition != p || ev.Source.Offset != o || ev.Source.Topic != s.topics.Input || ev.Version != 1 {
			tl.problem("sync event %q: bad id, version or source %+v", ev.EventID, ev.Source)
			continue
		}
		in := s.ds.Events[s.offsets[p][o]]
		switch {
		case string(m.Key) != string(in.Key) || ev.Key != string(in.Key):
			tl.problem("sync event %s: key %q, want %q", ev.EventID, ev.Key, in.Key)
		case in.Delete != (ev.Operation == "deleted"):
			tl.problem("sync event %s: operation %q for delete=%v", ev.EventID, ev.Operation, in.Delete)
		case !in.Delete && !sameData(ev.Record, in.Data):
			tl.problem("sync event %s: record %v, want %v", ev.EventID, ev.Record, in.Data)
		}
		tl.sync[ev.EventID]++
		tl.syncBatch[ev.EventID] = append(tl.syncBatch[ev.EventID], ev.BatchID)
	}
	for _, m := range out.Dead {
		id := m.Headers["gcupsert.event.id"]
		p, o, ok := s.parseEventID(id)
		if !ok {
			tl.problem("dead letter with event id %q", id)
			continue
		}
		in := s.ds.Events[s.offsets[p][o]]
		if !bytes.Equal(m.Key, in.Key) || !bytes.Equal(m.Value, in.Value) {
			tl.problem("dead letter %s: key or value changed", id)
		}
		if m.Headers["gcupsert.error.class"] == "" || m.Headers["gcupsert.error.code"] == "" || m.Headers["gcupsert.source.offset"] != strconv.FormatInt(o, 10) {
			tl.problem("dead letter %s: headers %v", id, m.Headers)
		}
		tl.dead[id]++
	}
	for _, m := range out.Audit {
		var a struct {
			Version  int    `json:"version"`
			BatchID  string `json:"batchId"`
			WorkerID string `json:"workerId"`
			Status   string `json:"status"`
			Source   struct {
				Topic       string `json:"topic"`
				Partition   int    `json:"partition"`
				FirstOffset int64  `json:"firstOffset"`
				LastOffset  int64  `json:"lastOffset"`
			} `json:"source"`
		}
		if err := json.Unmarshal(m.Value, &a); err != nil || a.Version != 1 || a.Source.Topic != s.topics.Input {
			tl.problem("audit event %s: not a version 1 event of the input topic (%v)", m.Key, err)
			continue
		}
		tl.batchBy[a.BatchID] = a.WorkerID
		if tl.covered[a.Source.Partition] == nil {
			tl.covered[a.Source.Partition] = map[int64]bool{}
		}
		for o := a.Source.FirstOffset; o <= a.Source.LastOffset; o++ {
			tl.covered[a.Source.Partition][o] = true
		}
	}
	return tl
}

// sameData compares a record as written with the data sent, field by field.
func sameData(rec, data map[string]any) bool {
	for k, v := range data {
		if !reflect.DeepEqual(rec[k], v) {
			return false
		}
	}
	return true
}

// checkOutcomes checks that every event below limit has exactly one
// outcome: a dead letter for an invalid event; for a valid one a sync event,
// or a newer event of its key below limit that superseded it in its batch;
// never both a sync event and a dead letter; and an audit event covering it.
func (s *scenario) checkOutcomes(tl *tally, limit map[int]int64) {
	for p, idx := range s.offsets {
		newer := map[string]bool{} // keys with an event later in the partition, below limit
		for o := min(limit[p], int64(len(idx))) - 1; o >= 0; o-- {
			ev := s.ds.Events[idx[o]]
			id := s.eventID(p, o)
			synced, dead := tl.sync[id] > 0, tl.dead[id] > 0
			switch {
			case ev.Invalid != "" && (!dead || synced):
				tl.problem("%s (%s): dead letter %v, sync %v; want only a dead letter", id, ev.Invalid, dead, synced)
			case ev.Invalid == "" && dead:
				tl.problem("%s: a valid event was dead-lettered", id)
			case ev.Invalid == "" && !synced && !newer[string(ev.Key)]:
				tl.problem("%s: a valid event has no sync event and no newer event of key %s", id, ev.Key)
			}
			if !tl.covered[p][o] {
				tl.problem("%s: no audit event covers it", id)
			}
			if ev.Invalid == "" {
				newer[string(ev.Key)] = true
			}
		}
	}
}

// finish checks the scenario's end state and records its row: every event
// has exactly one outcome, the emulator holds exactly the expected records
// and the committed offsets equal the end offsets.
func (s *scenario) finish(out outbound, recovery, note string) row {
	s.t.Helper()
	tl := s.tallyOutbound(out)
	end := s.end()
	s.checkOutcomes(tl, end)
	c := s.committed()
	for p, n := range end {
		if c[p] != n {
			tl.problem("partition %d: committed %d, end offset %d", p, c[p], n)
		}
	}
	recs := s.emu.records(s.t)
	missing, extra, differ := 0, 0, 0
	for k, data := range s.ds.Expected {
		r, ok := recs[k]
		switch {
		case !ok:
			missing++
		case !sameData(r, data):
			differ++
		}
	}
	for k := range recs {
		if _, ok := s.ds.Expected[k]; !ok {
			extra++
		}
	}
	if missing+extra+differ > 0 {
		tl.problem("emulator holds %d records, want %d: %d missing, %d unexpected, %d with other data than the key's last event",
			len(recs), len(s.ds.Expected), missing, extra, differ)
	}
	r := row{Scenario: s.name, Produced: len(s.ds.Events), Recovery: recovery, Elapsed: time.Since(s.began), Note: note}
	syncTotal := 0
	for _, n := range tl.sync {
		syncTotal += n
	}
	r.Upserted, r.DeadLettered = len(tl.sync), len(tl.dead)
	r.Duplicates = syncTotal - len(tl.sync)
	r.Collapsed = r.Produced - r.Upserted - r.DeadLettered
	if r.Duplicates > 0 {
		r.Note += "; " + duplicateBatches(tl)
	}
	r.Mirror = s.checkMirror(tl, recs)
	addRow(r)
	if len(tl.problems) > 0 {
		sort.Strings(tl.problems)
		s.t.Fatalf("guarantees broken:\n  %s", strings.Join(tl.problems, "\n  "))
	}
	s.t.Logf("%s: produced %d, upserted %d, dead-lettered %d, collapsed %d, duplicates %d, recovery %s, elapsed %s",
		r.Scenario, r.Produced, r.Upserted, r.DeadLettered, r.Collapsed, r.Duplicates, r.Recovery, r.Elapsed.Round(time.Millisecond))
	return r
}

// checkPrefix checks, while the worker runs, that nothing is committed past
// an event without an outcome.
func (s *scenario) checkPrefix(committed map[int]int64) {
	s.t.Helper()
	tl := s.tallyOutbound(s.readOutbound())
	limit := map[int]int64{}
	for p, off := range committed {
		limit[p] = max(off, 0)
	}
	s.checkOutcomes(tl, limit)
	if len(tl.problems) > 0 {
		s.t.Fatalf("committed %v past events without an outcome:\n  %s", committed, strings.Join(tl.problems, "\n  "))
	}
}

// duplicateBatches describes which workers wrote the duplicated sync events.
func duplicateBatches(tl *tally) string {
	pairs := map[string]int{}
	for _, batches := range tl.syncBatch {
		if len(batches) < 2 {
			continue
		}
		var ws []string
		for _, b := range batches {
			ws = append(ws, tl.batchBy[b])
		}
		pairs[strings.Join(ws, " then ")]++
	}
	return fmt.Sprintf("duplicated events by writing workers: %v", pairs)
}

func ms(d time.Duration) string { return d.Round(10 * time.Millisecond).String() }
