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
	s := openScenario(t, name, partitions)
	s.schemaPath = filepath.Join(s.dir, schemaName+".json")
	if err := os.WriteFile(s.schemaPath, []byte(demo.Schema), 0o600); err != nil {
		t.Fatal(err)
	}
	s.emu = startEmulator(t, s.schemaPath)
	s.writeConfig(tune, fmt.Sprintf(`  - topic: %q
    target: customobjects
    schema: %s
    schema_file: %q
    conflict_resolution: upsert
    unique_fields: [accountNumber]
    reference_fields: [regionId]
`, s.topics.Input, schemaName, s.schemaPath))
	return s
}

// openScenario creates a scenario's topics (an input topic with partitions
// partitions and the three outbound topics), its group name and its
// mirror's database; the emulator and the configuration are the caller's.
func openScenario(t *testing.T, name string, partitions int) *scenario {
	t.Helper()
	cl := integration.Real(suite.brokers)
	_, topics := cl.Open(t, partitions)
	s := &scenario{t: t, name: name, topics: topics, group: cl.Unique(t, "e2e"), dir: t.TempDir(), began: time.Now()}
	s.mirror = newMirrorState(t, s.group+"-mirror")
	return s
}

// writeConfig writes the worker's YAML file with routes, the YAML of the
// routes list. The brokers, the worker id and the secret come from the
// environment, as in a deployment.
func (s *scenario) writeConfig(tune tuning, routes string) {
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
%slog:
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
		routes, s.mirror.url, s.mirror.group, tune.MirrorMaxEvents)
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
	s.offsets = s.readBack(s.topics.Input, len(ds.Events), func(i int) (int, []byte, []byte) {
		ev := ds.Events[i]
		return ev.Partition, ev.Key, ev.Value
	})
}

// readBack reads topic back and checks that each partition holds, in
// order, the events of that partition among the n produced (event i went
// to partition p with key and value). It returns, per partition, the
// index of the event at each offset.
func (s *scenario) readBack(topic string, n int, event func(i int) (p int, key, value []byte)) map[int][]int {
	s.t.Helper()
	offsets := map[int][]int{}
	want := map[int][]int{}
	for i := range n {
		p, _, _ := event(i)
		want[p] = append(want[p], i)
	}
	for _, m := range s.read(topic) {
		idx := want[m.Partition]
		o := int(m.Offset)
		if o != len(offsets[m.Partition]) || o >= len(idx) {
			s.t.Fatalf("%s partition %d: unexpected offset %d", topic, m.Partition, m.Offset)
		}
		_, key, value := event(idx[o])
		if !bytes.Equal(m.Key, key) || !bytes.Equal(m.Value, value) {
			s.t.Fatalf("%s partition %d offset %d holds key %q, want %q", topic, m.Partition, o, m.Key, key)
		}
		offsets[m.Partition] = append(offsets[m.Partition], idx[o])
	}
	for p, idx := range want {
		if len(offsets[p]) != len(idx) {
			s.t.Fatalf("%s partition %d holds %d events, want %d", topic, p, len(offsets[p]), len(idx))
		}
	}
	return offsets
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

// progress sums the committed offsets c, bounded by end, over the
// partitions of end (keyed by partition, or by topic and partition).
func progress[K comparable](c, end map[K]int64) (done, total int64) {
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
	return awaitProgress(s.t, s.committed, s.end(), frac, within)
}

// awaitProgress waits until committed reports at least frac of the
// offsets of end, and fails if it reports all of them: the fault that
// follows must come mid-stream.
func awaitProgress[K comparable](t *testing.T, committed func() map[K]int64, end map[K]int64, frac float64, within time.Duration) map[K]int64 {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		c := committed()
		done, total := progress(c, end)
		if float64(done) >= frac*float64(total) {
			if done >= total {
				t.Fatalf("the group committed everything (%d) before the fault; the scenario needs it mid-stream", total)
			}
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("committed %d of %d after %s, waiting for %.0f%%", done, total, within, frac*100)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitAdvance waits until every partition not yet drained commits past
// from, and returns how long that took: the time to full recovery.
func (s *scenario) waitAdvance(from map[int]int64, within time.Duration) time.Duration {
	s.t.Helper()
	return awaitAdvance(s.t, s.committed, s.end(), from, within)
}

// awaitAdvance waits until committed reports every partition of end that
// from had not drained past its offset in from, and returns how long that
// took.
func awaitAdvance[K comparable](t *testing.T, committed func() map[K]int64, end, from map[K]int64, within time.Duration) time.Duration {
	t.Helper()
	began := time.Now()
	moved := map[K]bool{}
	for {
		c := committed()
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
			t.Fatalf("partitions did not all commit past %v within %s (last %v)", from, within, c)
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
	reason     map[string]string   // event id -> a dead letter's class/code: message
	syncBatch  map[string][]string // event id -> batch ids of its sync events
	batchBy    map[string]string   // batch id -> worker id
	covered    map[topicPartition]map[int64]bool
	batches    map[topicPartition][][2]int64 // offset ranges of the audit events
	problems   []string
	dropped    int // problems beyond the first 20
}

// topicPartition is one partition of an input topic.
type topicPartition struct {
	Topic     string
	Partition int
}

func newTally() *tally {
	return &tally{sync: map[string]int{}, dead: map[string]int{}, reason: map[string]string{}, covered: map[topicPartition]map[int64]bool{},
		batches: map[topicPartition][][2]int64{}, syncBatch: map[string][]string{}, batchBy: map[string]string{}}
}

// cover records that an audit event of batch, by worker, covers the
// offsets first to last of partition p of topic.
func (tl *tally) cover(batch, worker, topic string, p int, first, last int64) {
	tl.batchBy[batch] = worker
	tp := topicPartition{topic, p}
	if tl.covered[tp] == nil {
		tl.covered[tp] = map[int64]bool{}
	}
	for o := first; o <= last; o++ {
		tl.covered[tp][o] = true
	}
	tl.batches[tp] = append(tl.batches[tp], [2]int64{first, last})
}

// sameBatch reports whether an audit event of partition tp covers the
// offsets a to b.
func (tl *tally) sameBatch(tp topicPartition, a, b int64) bool {
	for _, r := range tl.batches[tp] {
		if r[0] <= a && b <= r[1] {
			return true
		}
	}
	return false
}

func (tl *tally) problem(format string, args ...any) {
	if len(tl.problems) < 20 {
		tl.problems = append(tl.problems, fmt.Sprintf(format, args...))
	} else {
		tl.dropped++
	}
}

// eventSource is an input event as the scenario produced it.
type eventSource struct {
	topic     string
	partition int
	offset    int64
	key       []byte
	value     []byte
}

// countDead counts the dead letters by event id, checking that each
// carries its input event's key and value unchanged, an error class and
// code, and its source in headers; source finds the event of an id.
func (tl *tally) countDead(dead []outMsg, source func(id string) (eventSource, bool)) {
	for _, m := range dead {
		id := m.Headers["gcupsert.event.id"]
		in, ok := source(id)
		if !ok {
			tl.problem("dead letter with event id %q", id)
			continue
		}
		if !bytes.Equal(m.Key, in.key) || !bytes.Equal(m.Value, in.value) {
			tl.problem("dead letter %s: key or value changed", id)
		}
		if m.Headers["gcupsert.error.class"] == "" || m.Headers["gcupsert.error.code"] == "" || m.Headers["gcupsert.source.topic"] != in.topic ||
			m.Headers["gcupsert.source.partition"] != strconv.Itoa(in.partition) || m.Headers["gcupsert.source.offset"] != strconv.FormatInt(in.offset, 10) {
			tl.problem("dead letter %s: headers %v", id, m.Headers)
		}
		tl.dead[id]++
		tl.reason[id] = m.Headers["gcupsert.error.class"] + "/" + m.Headers["gcupsert.error.code"] + ": " + m.Headers["gcupsert.error.message"]
	}
}

// countAudit records the offsets each audit event covers; every audit
// event must be a version 1 event of an input topic.
func (tl *tally) countAudit(audit []outMsg, isInput func(topic string) bool) {
	for _, m := range audit {
		var a struct {
			Version  int    `json:"version"`
			BatchID  string `json:"batchId"`
			WorkerID string `json:"workerId"`
			Source   struct {
				Topic       string `json:"topic"`
				Partition   int    `json:"partition"`
				FirstOffset int64  `json:"firstOffset"`
				LastOffset  int64  `json:"lastOffset"`
			} `json:"source"`
		}
		if err := json.Unmarshal(m.Value, &a); err != nil || a.Version != 1 || !isInput(a.Source.Topic) {
			tl.problem("audit event %s: not a version 1 event of an input topic (%v)", m.Key, err)
			continue
		}
		tl.cover(a.BatchID, a.WorkerID, a.Source.Topic, a.Source.Partition, a.Source.FirstOffset, a.Source.LastOffset)
	}
}

// eventID is the id the worker gives the event at offset o of partition p
// of topic.
func eventID(topic string, p int, o int64) string {
	return topic + "-" + strconv.Itoa(p) + "-" + strconv.FormatInt(o, 10)
}

// splitEventID splits an event id into its topic, partition and offset.
func splitEventID(id string) (topic string, p int, o int64, ok bool) {
	rest, offs, ok1 := cutLast(id, "-")
	topic, ps, ok2 := cutLast(rest, "-")
	p, err1 := strconv.Atoi(ps)
	o, err2 := strconv.ParseInt(offs, 10, 64)
	if !ok1 || !ok2 || err1 != nil || err2 != nil || p < 0 || o < 0 {
		return "", 0, 0, false
	}
	return topic, p, o, true
}

func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// eventID is the id the worker gives the event at offset o of partition p.
func (s *scenario) eventID(p int, o int64) string { return eventID(s.topics.Input, p, o) }

// parseEventID returns the partition and offset of an id from the input topic.
func (s *scenario) parseEventID(id string) (int, int64, bool) {
	topic, p, o, ok := splitEventID(id)
	if !ok || topic != s.topics.Input || o >= int64(len(s.offsets[p])) {
		return 0, 0, false
	}
	return p, o, true
}

// tallyOutbound checks each outbound event against the input event it names.
func (s *scenario) tallyOutbound(out outbound) *tally {
	tl := newTally()
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
	tl.countDead(out.Dead, func(id string) (eventSource, bool) {
		p, o, ok := s.parseEventID(id)
		if !ok {
			return eventSource{}, false
		}
		in := s.ds.Events[s.offsets[p][o]]
		return eventSource{topic: s.topics.Input, partition: p, offset: o, key: in.Key, value: in.Value}, true
	})
	tl.countAudit(out.Audit, func(topic string) bool { return topic == s.topics.Input })
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
		evs := make([]outcomeInput, len(idx))
		for o, i := range idx {
			evs[o] = outcomeInput{Key: s.ds.Events[i].Key, Invalid: s.ds.Events[i].Invalid}
		}
		checkPartition(tl, s.topics.Input, p, evs, limit[p])
	}
}

// outcomeInput is an input event as checkPartition sees it.
type outcomeInput struct {
	Key     []byte
	Invalid string // "" for a valid event
	// Late marks an invalid event that only the target refuses (a dangling
	// reference): a newer event of its key in its batch supersedes it
	// before it is sent, as it would a valid one.
	Late bool
}

// checkPartition checks the outcomes of the events of partition p of topic
// below limit, evs in offset order: an invalid event has a dead letter and
// no sync event (or, if Late, neither when a newer valid event of its key
// superseded it); a valid one no dead letter, and a sync event unless it
// was superseded: an audit event covers it and the next valid event of its
// key, below limit (the batch that collapsed it); and an audit event
// covers each of them.
func checkPartition(tl *tally, topic string, p int, evs []outcomeInput, limit int64) {
	tp := topicPartition{topic, p}
	next := map[string]int64{} // key -> offset of its next valid event, below limit
	for o := min(limit, int64(len(evs))) - 1; o >= 0; o-- {
		ev := evs[o]
		id := eventID(topic, p, o)
		synced, dead := tl.sync[id] > 0, tl.dead[id] > 0
		n, hasNext := next[string(ev.Key)]
		superseded := hasNext && tl.sameBatch(tp, o, n)
		switch {
		case ev.Invalid != "" && ev.Late && !dead && !synced && superseded:
			// superseded before the target saw it
		case ev.Invalid != "" && (!dead || synced):
			tl.problem("%s (%s): dead letter %v, sync %v; want only a dead letter", id, ev.Invalid, dead, synced)
		case ev.Invalid == "" && dead:
			tl.problem("%s: a valid event was dead-lettered (%.200s)", id, tl.reason[id])
		case ev.Invalid == "" && !synced && !superseded:
			tl.problem("%s: a valid event has no sync event, and no batch holds it and a newer event of key %s", id, ev.Key)
		}
		if !tl.covered[tp][o] {
			tl.problem("%s: no audit event covers it", id)
		}
		if ev.Invalid == "" {
			next[string(ev.Key)] = o
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
	r := s.countRow(tl, len(s.ds.Events), recovery, note)
	r.Mirror = s.checkMirror(tl, recs)
	s.record(r, tl)
	return r
}

// countRow is the row of a scenario of produced events whose outcomes tl
// holds, the mirror column left to fill.
func (s *scenario) countRow(tl *tally, produced int, recovery, note string) row {
	r := row{Scenario: s.name, Produced: produced, Recovery: recovery, Elapsed: time.Since(s.began), Note: note}
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
	return r
}

// record adds the row to the table, then fails the test if tl found any
// problem.
func (s *scenario) record(r row, tl *tally) {
	s.t.Helper()
	addRow(r)
	if len(tl.problems) > 0 {
		sort.Strings(tl.problems)
		more := ""
		if tl.dropped > 0 {
			more = fmt.Sprintf("\n  (%d more problems)", tl.dropped)
		}
		s.t.Fatalf("guarantees broken:\n  %s%s", strings.Join(tl.problems, "\n  "), more)
	}
	s.t.Logf("%s: produced %d, upserted %d, dead-lettered %d, collapsed %d, duplicates %d, recovery %s, elapsed %s",
		r.Scenario, r.Produced, r.Upserted, r.DeadLettered, r.Collapsed, r.Duplicates, r.Recovery, r.Elapsed.Round(time.Millisecond))
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
