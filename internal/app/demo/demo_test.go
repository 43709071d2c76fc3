package demo

import (
	"context"
	"testing"
	"time"
)

func TestGenerateIsDeterministicAndMixesInvalidKinds(t *testing.T) {
	a := Generate(5000, 3, 0.05, 42)
	b := Generate(5000, 3, 0.05, 42)
	if len(a.Events) != 5000 || len(a.Expected) != len(b.Expected) {
		t.Fatalf("events %d, expected %d vs %d", len(a.Events), len(a.Expected), len(b.Expected))
	}
	for i := range a.Events {
		if string(a.Events[i].Value) != string(b.Events[i].Value) {
			t.Fatalf("event %d differs between runs", i)
		}
	}
	for _, k := range []string{BadJSON, MissingKey, WrongType, UnknownOp, DuplicateUID, BadEnum, MissingRef} {
		if a.InvalidByKind[k] == 0 {
			t.Errorf("no %q events", k)
		}
	}
}

// A small demo run: every event has exactly one outcome, the offsets are
// committed to the end, and the emulator holds exactly the expected keys.
func TestDemoRunKeepsEveryGuarantee(t *testing.T) {
	s, err := Run(context.Background(), Options{Events: 1500, Partitions: 3, InvalidRatio: 0.05, FaultRatio: 0.05, Seed: 3, Timeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if p := s.Problems(); len(p) > 0 {
		t.Fatalf("problems: %v", p)
	}
	if s.DeadLettered == 0 || s.Upserted() == 0 || s.Collapsed == 0 || !s.MirrorRan {
		t.Fatalf("summary %+v", s)
	}
	if s.APIStatus[503] == 0 {
		t.Logf("no injected 5xx was drawn in this run")
	}
}

func TestProblemsCatchBrokenGuarantees(t *testing.T) {
	ok := Summary{Produced: 10, Created: 6, Collapsed: 1, DeadLettered: 3, SyncEvents: 6,
		DeadByReason: map[string]int{"decode/invalid.json": 3}, AuditEvents: 2, Batches: 2,
		Committed: map[int]int64{0: 10}, End: map[int]int64{0: 10, 1: 0}, EmulatorRecords: 6, ExpectedKeys: 6,
		MirrorRan: true, MirrorRows: 6}
	if p := ok.Problems(); len(p) != 0 {
		t.Fatalf("a good summary has problems: %v", p)
	}
	broken := []func(*Summary){
		func(s *Summary) { s.Produced = 11 },
		func(s *Summary) { s.SyncEvents = 5 },
		func(s *Summary) { s.DeadByReason = map[string]int{} },
		func(s *Summary) { s.AuditEvents = 1 },
		func(s *Summary) { s.Committed = map[int]int64{0: 9} },
		func(s *Summary) { s.EmulatorRecords = 7 },
		func(s *Summary) { s.MissingKeys = []string{"k"} },
		func(s *Summary) { s.MirrorRows = 5 },
		func(s *Summary) { s.Mismatches = []string{"contact c1: firstName is A, want B"} },
		func(s *Summary) {
			s.TopicEnd, s.TopicCommitted = map[string]map[int]int64{"t": {0: 5}}, map[string]map[int]int64{"t": {0: 4}}
		},
		func(s *Summary) { s.MirrorDiffs = []string{"k: mirror {}, target {}"} },
	}
	for i, mut := range broken {
		s := ok
		mut(&s)
		if len(s.Problems()) == 0 {
			t.Errorf("case %d: broken summary reported no problem", i)
		}
	}
}

// The same guarantees hold on the Data Tables target, under the real
// per-token rate limit: every event has one outcome and the table holds
// exactly the expected rows.
func TestDemoRunOnDataTables(t *testing.T) {
	s, err := Run(context.Background(), Options{Target: "datatables", Events: 1500, Partitions: 3, InvalidRatio: 0.05, FaultRatio: -1, Seed: 4, Timeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if p := s.Problems(); len(p) > 0 {
		t.Fatalf("problems: %v", p)
	}
	if s.TooManyRequests != 0 {
		t.Errorf("%d responses 429", s.TooManyRequests)
	}
	for _, reason := range []string{"reference/reference.dangling", "validation/coercion.failed", "decode/invalid.json"} {
		if s.DeadByReason[reason] == 0 {
			t.Errorf("no %s dead letters: %v", reason, s.DeadByReason)
		}
	}
}

// The External Contacts demo: two Debezium topics, organizations and
// contacts with custom fields and links, every event one outcome, the
// emulator holding exactly the expected entities with the fields and links
// of their last valid events, and the mirror equal to it.
func TestDemoRunOnExternalContacts(t *testing.T) {
	s, err := Run(context.Background(), Options{Target: "externalcontacts", Events: 1500, Partitions: 2, InvalidRatio: 0.04, FaultRatio: 0.03, Seed: 6, Timeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if p := s.Problems(); len(p) > 0 {
		t.Fatalf("problems: %v", p)
	}
	if !s.MirrorRan || s.MirrorRows != s.EmulatorRecords || s.EmulatorRecords == 0 || len(s.TopicEnd) != 2 {
		t.Fatalf("summary %+v", s)
	}
	for _, reason := range []string{"validation/schema.violation", "decode/invalid.json"} {
		if s.DeadByReason[reason] == 0 {
			t.Errorf("no %s dead letters: %v", reason, s.DeadByReason)
		}
	}
}
