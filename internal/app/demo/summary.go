package demo

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/consumer"
)

// Summary is what a demo run measured.
type Summary struct {
	Produced         int
	Created, Updated int
	Deleted          int
	Collapsed        int
	DeadLettered     int
	DeadByReason     map[string]int // "class/code" -> count, from the dead-letter topic headers
	InvalidByKind    map[string]int // what the generator made invalid on purpose
	AuditEvents      int
	SyncEvents       int
	Batches          int
	BatchRetries     int
	Committed, End   map[int]int64 // per partition
	// TopicCommitted and TopicEnd are the same per input topic, when the
	// run has several (the External Contacts demo).
	TopicCommitted, TopicEnd map[string]map[int]int64
	// Mismatches are the expected records the emulator holds with other
	// data or links (the External Contacts demo checks them field by field).
	Mismatches      []string
	LatencyP50      time.Duration
	LatencyP95      time.Duration
	LatencyP99      time.Duration
	EmulatorRecords int
	ExpectedKeys    int
	MissingKeys     []string // expected but not in the emulator
	UnexpectedKeys  []string // in the emulator but not expected
	APIRequests     int
	APIStatus       map[int]int
	TooManyRequests int
	APIByKind       map[string]int
	Target          string
	Elapsed         time.Duration
	// MirrorRan says gcupsert mirror applied the sync topic to SQLite;
	// MirrorRows are its live rows and MirrorDiffs how they differ from the
	// emulator's records, field by field (none when equal).
	MirrorRan   bool
	MirrorRows  int
	MirrorDiffs []string
}

// Upserted counts events whose change reached Genesys.
func (s Summary) Upserted() int { return s.Created + s.Updated + s.Deleted }

// Problems lists every way the run broke a guarantee; none means success.
func (s Summary) Problems() []string {
	var p []string
	if got := s.Upserted() + s.Collapsed + s.DeadLettered; got != s.Produced {
		p = append(p, fmt.Sprintf("outcomes %d (upserted %d + collapsed %d + dead-lettered %d) != produced %d",
			got, s.Upserted(), s.Collapsed, s.DeadLettered, s.Produced))
	}
	if s.SyncEvents != s.Upserted() {
		p = append(p, fmt.Sprintf("sync events %d != upserted %d", s.SyncEvents, s.Upserted()))
	}
	deadTopic := 0
	for _, n := range s.DeadByReason {
		deadTopic += n
	}
	if deadTopic != s.DeadLettered {
		p = append(p, fmt.Sprintf("dead-letter topic holds %d events, batches reported %d", deadTopic, s.DeadLettered))
	}
	if s.AuditEvents != s.Batches {
		p = append(p, fmt.Sprintf("audit events %d != batches %d", s.AuditEvents, s.Batches))
	}
	for part, end := range s.End {
		if end > 0 && s.Committed[part] != end {
			p = append(p, fmt.Sprintf("partition %d committed %d, end offset %d", part, s.Committed[part], end))
		}
	}
	for topic, ends := range s.TopicEnd {
		for part, end := range ends {
			if c := s.TopicCommitted[topic][part]; end > 0 && c != end {
				p = append(p, fmt.Sprintf("%s partition %d committed %d, end offset %d", topic, part, c, end))
			}
		}
	}
	if len(s.Mismatches) > 0 {
		p = append(p, fmt.Sprintf("%d records differ from their last valid event, e.g. %s", len(s.Mismatches), s.Mismatches[0]))
	}
	if len(s.MissingKeys) > 0 || len(s.UnexpectedKeys) > 0 || s.EmulatorRecords != s.ExpectedKeys {
		p = append(p, fmt.Sprintf("emulator holds %d records, expected %d (missing %d, unexpected %d)",
			s.EmulatorRecords, s.ExpectedKeys, len(s.MissingKeys), len(s.UnexpectedKeys)))
	}
	if s.MirrorRan && (len(s.MirrorDiffs) > 0 || s.MirrorRows != s.EmulatorRecords) {
		p = append(p, fmt.Sprintf("the mirror holds %d rows, the emulator %d records; %d differ", s.MirrorRows, s.EmulatorRecords, len(s.MirrorDiffs)))
	}
	return p
}

// tally is the demo's consumer hook.
type tally struct {
	mu        sync.Mutex
	s         Summary
	latencies []time.Duration
}

var (
	_ consumer.HookBatchDone  = (*tally)(nil)
	_ consumer.HookBatchRetry = (*tally)(nil)
)

func newTally() *tally { return &tally{} }

func (t *tally) OnBatchDone(b change.Batch) {
	c := b.Counts()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.s.Batches++
	t.s.Created += c.Created
	t.s.Updated += c.Updated
	t.s.Deleted += c.Deleted
	t.s.Collapsed += c.Collapsed
	t.s.DeadLettered += c.DeadLettered
	if b.Items > 0 {
		t.latencies = append(t.latencies, b.Latency)
	}
}

func (t *tally) OnBatchRetry(string, int, string, error) {
	t.mu.Lock()
	t.s.BatchRetries++
	t.mu.Unlock()
}

func (t *tally) summary() Summary {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.s
	l := append([]time.Duration(nil), t.latencies...)
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	q := func(p float64) time.Duration {
		if len(l) == 0 {
			return 0
		}
		i := int(p*float64(len(l))+0.5) - 1
		if i < 0 {
			i = 0
		}
		if i >= len(l) {
			i = len(l) - 1
		}
		return l[i]
	}
	s.LatencyP50, s.LatencyP95, s.LatencyP99 = q(0.50), q(0.95), q(0.99)
	return s
}
