package demo

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/gcupsert/gcupsert/config"
	"github.com/gcupsert/gcupsert/internal/app/mirror"
	"github.com/gcupsert/gcupsert/internal/inspect"
	"github.com/gcupsert/gcupsert/mirror/sqldb"
)

// mirrorCheck is one table of the mirror to compare with the emulator:
// the records of a target and schema by key, passed through project (nil:
// as they are) on both sides.
type mirrorCheck struct {
	target, schema string
	records        map[string]map[string]any
	project        func(map[string]any) map[string]any
}

// runMirror runs gcupsert mirror over the sync topic into an SQLite
// database in dir until it has applied every sync event, then compares
// its tables with the emulator's records, field by field.
func (st *stack) runMirror(ctx context.Context, cfg config.Config, dir string, log *slog.Logger, s *Summary, checks func() []mirrorCheck) error {
	cfg.Mirror.Database = "sqlite:" + filepath.Join(dir, "mirror.db")
	cfg.Mirror.GroupID = "gcupsert-demo-mirror"
	cfg.Mirror.Linger = config.Duration(20 * time.Millisecond)
	cfg.Mirror.EventLog = true
	if err := cfg.ValidateMirror(); err != nil {
		return err
	}
	app, err := mirror.New(ctx, cfg, mirror.Options{Logger: log})
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- app.Run(runCtx) }()
	end, err := inspect.EndOffsets(ctx, st.brokers, SyncTopic)
	if err == nil {
		err = waitApplied(ctx, app.DB(), cfg.Mirror.GroupID, end, done)
	}
	stop()
	if rerr := <-done; err == nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("mirror: %w", err)
	}
	db, err := sqldb.Open(ctx, cfg.Mirror.Database, sqldb.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	for _, c := range checks() {
		rows, diffs, err := mirror.CompareWith(ctx, db, c.target, c.schema, c.records, c.project)
		if err != nil {
			return err
		}
		s.MirrorRows += rows
		s.MirrorDiffs = append(s.MirrorDiffs, diffs...)
	}
	s.MirrorRan = true
	return nil
}

// tableChecks is the mirror check of the customobjects or datatables demo.
func (st *stack) tableChecks(target string) func() []mirrorCheck {
	return func() []mirrorCheck {
		records := st.emu.Records(SchemaName)
		if target == "datatables" {
			id, _ := st.emu.TableID(SchemaName)
			records = st.emu.Rows(id)
		}
		return []mirrorCheck{{target: target, schema: SchemaName, records: records}}
	}
}

// waitApplied waits until the mirror's stored offsets reach end.
func waitApplied(ctx context.Context, db *sqldb.DB, group string, end map[int]int64, done <-chan error) error {
	for {
		offs, err := db.Offsets(ctx, group, SyncTopic)
		if err == nil && reached(offs, end) {
			return nil
		}
		select {
		case err := <-done:
			return fmt.Errorf("stopped before it applied the sync topic: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func reached(offs, end map[int]int64) bool {
	for p, e := range end {
		if e > 0 && offs[p] < e {
			return false
		}
	}
	return true
}
