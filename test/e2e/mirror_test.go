//go:build e2e

package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appmirror "github.com/gcupsert/gcupsert/internal/app/mirror"
	"github.com/gcupsert/gcupsert/internal/inspect"
	"github.com/gcupsert/gcupsert/mirror/sqldb"
)

// The mirror's own tables, as mirror/sqldb documents them.
const (
	eventLogTable = "gcupsert_mirror_events"
	errorsTable   = "gcupsert_mirror_errors"
)

var databases atomic.Int64

// mirrorState is a scenario's gcupsert mirror: its database on the suite's
// PostgreSQL server, its group and the process that runs now.
type mirrorState struct {
	url, group string
	db         *sqldb.DB
	cur        *proc
	started    time.Time
	restarts   int
}

// newMirrorState creates a database of its own for a scenario's mirror.
func newMirrorState(t *testing.T, group string) *mirrorState {
	t.Helper()
	name := fmt.Sprintf("e2e_mirror_%d", databases.Add(1))
	admin, err := sql.Open("pgx", suite.postgres)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("creating the mirror's database: %v", err)
	}
	u, err := url.Parse(suite.postgres)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sqldb.Open(ctx, u.String(), sqldb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &mirrorState{url: u.String(), group: group, db: db}
}

// startMirror runs `gcupsert mirror` with the scenario's configuration.
func (s *scenario) startMirror(id string) *proc {
	s.t.Helper()
	m := s.mirror
	if m.cur == nil {
		m.started = time.Now()
	} else {
		m.restarts++
	}
	m.cur = startProc(s.t, "mirror-"+id, []string{
		"GCUPSERT_KAFKA_BROKERS=" + strings.Join(suite.brokers, ","),
	}, "mirror", "--config", s.cfgPath)
	return m.cur
}

// mirrorApplied is the number of sync events the mirror has stored offsets
// past, by its database; -1 when the database cannot answer.
func (s *scenario) mirrorApplied() int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	offs, err := s.mirror.db.Offsets(ctx, s.mirror.group, s.topics.Sync)
	if err != nil {
		return -1
	}
	var n int64
	for _, o := range offs {
		n += o
	}
	return n
}

// waitMirrorApplied waits until the mirror has applied n sync events and
// returns how long that took.
func (s *scenario) waitMirrorApplied(n int64, within time.Duration) time.Duration {
	s.t.Helper()
	began := time.Now()
	for time.Since(began) < within {
		if s.mirrorApplied() >= n {
			return time.Since(began)
		}
		if !s.mirror.cur.running() {
			s.t.Fatalf("the mirror exited:\n%s", tail(s.mirror.cur.logPath, 20))
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("the mirror applied %d sync events in %s, want %d", s.mirrorApplied(), within, n)
	return 0
}

// checkMirror waits for the mirror to reach the end of the sync and
// dead-letter topics, stops it and checks its database: the table equals
// the emulator's records field by field, every logged event id is a sync
// event's and was applied once (the log's primary key; a second apply
// stops the mirror with an error), and the errors table holds each dead
// letter once. It returns the row's mirror column.
func (s *scenario) checkMirror(tl *tally, recs map[string]map[string]any) string {
	return s.checkMirrorWith(tl, func(ctx context.Context, db *sqldb.DB) (int, []string, error) {
		return appmirror.Compare(ctx, db, "customobjects", schemaName, recs)
	})
}

// checkMirrorWith is checkMirror with compare comparing the mirror's
// tables with the target: it returns their live rows and the differences.
func (s *scenario) checkMirrorWith(tl *tally, compare func(context.Context, *sqldb.DB) (int, []string, error)) string {
	m := s.mirror
	if m.cur == nil {
		tl.problem("the scenario ran no mirror")
		return "-"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	caughtUp, err := s.waitMirrorEnd(ctx)
	if err != nil {
		tl.problem("mirror: %v", err)
		return "behind"
	}
	s.stop(m.cur)

	rows, diffs, err := compare(ctx, m.db)
	if err != nil {
		tl.problem("mirror: comparing: %v", err)
		return "unreadable"
	}
	for i, d := range diffs {
		if i == 5 {
			tl.problem("mirror: %d more differences", len(diffs)-5)
			break
		}
		tl.problem("mirror differs from the emulator: %.300s", d)
	}
	logged, err := s.mirrorIDs(ctx, eventLogTable)
	if err != nil {
		tl.problem("mirror: event log: %v", err)
	}
	for _, id := range logged {
		if tl.sync[id] == 0 {
			tl.problem("mirror: applied event %q is no sync event", id)
			break
		}
	}
	if len(logged) > len(tl.sync) || len(logged) < rows {
		tl.problem("mirror: %d events applied for %d distinct sync events and %d rows", len(logged), len(tl.sync), rows)
	}
	failed, err := s.mirrorIDs(ctx, errorsTable)
	if err != nil {
		tl.problem("mirror: errors table: %v", err)
	}
	if len(failed) != len(tl.dead) {
		tl.problem("mirror: errors table holds %d dead letters, the topic %d distinct", len(failed), len(tl.dead))
	}
	for _, id := range failed {
		if tl.dead[id] == 0 {
			tl.problem("mirror: error %q is no dead letter", id)
			break
		}
	}
	out := fmt.Sprintf("%d rows equal, %d applied", rows, len(logged))
	if len(diffs) > 0 {
		out = fmt.Sprintf("%d rows, %d differ", rows, len(diffs))
	}
	if m.restarts > 0 {
		out += fmt.Sprintf(", %d restarts", m.restarts)
	}
	s.t.Logf("mirror: %s; caught up %s after the scenario ended", out, ms(caughtUp))
	return out
}

// waitMirrorEnd waits until the mirror's stored offsets reach the end of
// the sync and dead-letter topics.
func (s *scenario) waitMirrorEnd(ctx context.Context) (time.Duration, error) {
	began := time.Now()
	want := map[string]map[int]int64{}
	for _, topic := range []string{s.topics.Sync, s.topics.DeadLetter} {
		end, err := inspect.EndOffsets(ctx, suite.brokers, topic)
		if err != nil {
			return 0, err
		}
		want[topic] = end
	}
	for {
		behind := ""
		for topic, end := range want {
			offs, err := s.mirror.db.Offsets(ctx, s.mirror.group, topic)
			if err != nil {
				return 0, err
			}
			for p, e := range end {
				if e > 0 && offs[p] < e {
					behind = fmt.Sprintf("%s[%d] at %d of %d", topic, p, offs[p], e)
				}
			}
		}
		if behind == "" {
			return time.Since(began), nil
		}
		if !s.mirror.cur.running() {
			return 0, fmt.Errorf("exited with %s behind:\n%s", behind, tail(s.mirror.cur.logPath, 20))
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("still behind (%s): %w", behind, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// mirrorIDs reads the event ids of one of the mirror's tables, sorted.
func (s *scenario) mirrorIDs(ctx context.Context, table string) ([]string, error) {
	rows, err := s.mirror.db.SQL().QueryContext(ctx, "SELECT event_id FROM "+table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids, rows.Err()
}

// 8. gcupsert mirror is killed with SIGKILL three times while the worker
// runs; at the end its database equals the emulator's records and no sync
// event was applied twice.
func TestKilledMirrorRestarts(t *testing.T) {
	s := newScenario(t, "8 mirror SIGKILL x3", 3, tuning{MaxRecords: 20, MirrorMaxEvents: 20})
	s.emu.faults(t, map[string]any{"latency": "5ms"})
	s.produce(newDataset(mixed(20_000, "mirror", 8)))
	w := s.startWorker("mirror")
	m := s.startMirror("0")
	var recoveries []string
	for i, frac := range []float64{0.15, 0.40, 0.65} {
		s.waitMirrorApplied(int64(frac*float64(len(s.ds.Events))), 2*time.Minute)
		m.kill()
		applied := s.mirrorApplied()
		m = s.startMirror(fmt.Sprint(i + 1))
		recoveries = append(recoveries, ms(s.waitMirrorApplied(applied+1, time.Minute)))
	}
	s.waitDone(3 * time.Minute)
	s.stop(w)
	s.finish(s.readOutbound(), strings.Join(recoveries, " "), "recovery: each mirror restart until it applies again")
}
