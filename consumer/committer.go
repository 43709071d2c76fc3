package consumer

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/gcupsert/gcupsert/internal/clock"
)

// offsetCommitter is the part of a kafka-go Generation the committer needs.
type offsetCommitter interface {
	CommitOffsets(offsets map[string]map[int]int64) error
}

// committer collects, per partition, the next offset whose predecessors all
// have an outcome, and commits it within the generation. Partition workers
// call mark in offset order; run coalesces commits within the interval;
// flush commits whatever is pending. Safe for concurrent use.
type committer struct {
	gen      offsetCommitter
	interval time.Duration
	clock    clock.Clock
	log      *slog.Logger
	hooks    hookSet

	mu        sync.Mutex
	pending   map[string]map[int]int64
	committed map[string]map[int]int64
	kick      chan struct{}
}

func newCommitter(gen offsetCommitter, interval time.Duration, c clock.Clock, log *slog.Logger, hooks hookSet) *committer {
	return &committer{
		gen: gen, interval: interval, clock: c, log: log, hooks: hooks,
		pending:   map[string]map[int]int64{},
		committed: map[string]map[int]int64{},
		kick:      make(chan struct{}, 1),
	}
}

// mark records that every offset below next on the partition has an outcome.
func (c *committer) mark(topic string, partition int, next int64) {
	c.mu.Lock()
	if c.pending[topic] == nil {
		c.pending[topic] = map[int]int64{}
	}
	if next > c.pending[topic][partition] {
		c.pending[topic][partition] = next
	}
	c.mu.Unlock()
	if c.interval <= 0 {
		select {
		case c.kick <- struct{}{}:
		default:
		}
	}
}

// run commits pending offsets every interval (at once when the interval is
// zero) until ctx is done. The caller flushes after run returns.
func (c *committer) run(ctx context.Context) {
	for {
		if c.interval <= 0 {
			select {
			case <-ctx.Done():
				return
			case <-c.kick:
			}
		} else if err := clock.Sleep(ctx, c.clock, c.interval); err != nil {
			return
		}
		if err := c.flush(); err != nil {
			c.log.Warn("offset commit failed; will retry", "error", err)
		}
	}
}

// flush commits every pending offset not yet committed.
func (c *committer) flush() error {
	c.mu.Lock()
	todo := map[string]map[int]int64{}
	for topic, parts := range c.pending {
		for p, off := range parts {
			if c.committed[topic][p] == off {
				continue
			}
			if todo[topic] == nil {
				todo[topic] = map[int]int64{}
			}
			todo[topic][p] = off
		}
	}
	c.mu.Unlock()
	if len(todo) == 0 {
		return nil
	}
	start := c.clock.Now()
	if err := c.gen.CommitOffsets(todo); err != nil {
		for _, h := range c.hooks.failed {
			h.OnCommitFailed(err)
		}
		return err
	}
	took := c.clock.Now().Sub(start)
	c.mu.Lock()
	for topic, parts := range todo {
		if c.committed[topic] == nil {
			c.committed[topic] = map[int]int64{}
		}
		for p, off := range parts {
			if off > c.committed[topic][p] {
				c.committed[topic][p] = off
			}
		}
	}
	c.mu.Unlock()
	for topic, parts := range todo {
		for p, off := range parts {
			for _, h := range c.hooks.committed {
				h.OnCommitted(topic, p, off, took)
			}
		}
	}
	return nil
}
