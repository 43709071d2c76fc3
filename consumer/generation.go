package consumer

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/segmentio/kafka-go"

	"github.com/gcupsert/gcupsert/internal/clock"
)

// runGeneration runs one partition worker per assignment and returns once
// they stopped and their offsets are committed: after the generation ended
// (rebalance) or, when ctx was cancelled, after the drain.
func (c *Consumer) runGeneration(ctx context.Context, gen *kafka.Generation) {
	var parts []Partition
	var shown []string
	for topic, as := range gen.Assignments {
		for _, a := range as {
			parts = append(parts, Partition{Topic: topic, ID: a.ID})
			shown = append(shown, fmt.Sprintf("%s/%d@%d", topic, a.ID, a.Offset))
		}
	}
	sort.Strings(shown)
	c.log.Info("joined generation", "group", gen.GroupID, "generation", gen.ID, "member", gen.MemberID, "partitions", shown)
	for _, h := range c.hooks.assigned {
		h.OnAssigned(gen.ID, parts)
	}
	defer func() {
		for _, h := range c.hooks.revoked {
			h.OnRevoked(gen.ID, parts)
		}
	}()
	drained := make(chan struct{})
	gen.Start(func(genCtx context.Context) {
		c.runAssignments(ctx, genCtx, gen)
		close(drained)
		if ctx.Err() != nil {
			// Hold the generation until the group is closed, so that the
			// member leaves instead of rejoining.
			<-genCtx.Done()
		}
	})
	<-drained
}

// runAssignments runs the partition workers of a generation, then commits
// what they finished.
func (c *Consumer) runAssignments(ctx, genCtx context.Context, gen *kafka.Generation) {
	// Fetching stops when either the generation or Run ends.
	fetchCtx, stopFetch := context.WithCancel(genCtx)
	defer stopFetch()
	// Sending may go on after fetching stops: in-flight batches finish and
	// are committed, within DrainTimeout when Run ends and within half the
	// rebalance timeout when the generation ends (no other member gets the
	// partitions before this one rejoins). Past that they are abandoned
	// uncommitted.
	workCtx, stopWork := context.WithCancel(context.Background())
	defer stopWork()

	var wg sync.WaitGroup
	defer wg.Wait()
	defer stopWork()
	wg.Go(func() {
		select {
		case <-ctx.Done():
		case <-genCtx.Done():
		case <-workCtx.Done():
			return
		}
		stopFetch()
		limit, why := c.cfg.DrainTimeout, "shutdown"
		if ctx.Err() == nil {
			limit, why = min(c.cfg.DrainTimeout, c.cfg.RebalanceTimeout/2), "rebalance"
		}
		if clock.Sleep(workCtx, c.cfg.Clock, limit) == nil {
			c.log.Warn("in-flight batches did not finish in time; abandoning them uncommitted", "during", why, "timeout", limit)
			stopWork()
		}
	})

	com := newCommitter(gen, c.cfg.CommitInterval, c.cfg.Clock, c.log, c.hooks)
	comCtx, stopCom := context.WithCancel(context.Background())
	var comWG sync.WaitGroup
	comWG.Go(func() { com.run(comCtx) })

	var workers sync.WaitGroup
	for topic, as := range gen.Assignments {
		for _, a := range as {
			w := c.newPartitionWorker(topic, a.ID, a.Offset, com.mark)
			workers.Go(func() { w.run(fetchCtx, workCtx) })
		}
	}
	workers.Wait()
	stopCom()
	comWG.Wait()
	if err := com.flush(); err != nil {
		c.log.Warn("final offset commit failed; the next owner resumes from the last committed offset", "error", err)
	}
}
