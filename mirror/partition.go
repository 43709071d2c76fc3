package mirror

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/gcupsert/gcupsert/internal/kafkaread"
	"github.com/gcupsert/gcupsert/internal/retry"
)

// partition applies one assigned partition.
type partition struct {
	m    *Mirror
	gen  *kafka.Generation
	stop context.CancelCauseFunc
	pos  Position // Offset: the next offset to read
}

// run reads and applies until ctx ends; the transaction in flight is
// finished first (it is one statement batch, bounded by MaxEvents).
func (p *partition) run(ctx context.Context) {
	cfg := p.m.cfg
	f := &kafkaread.Fetcher{
		Client: p.m.client, Topic: p.pos.Topic, Partition: p.pos.Partition, Offset: p.pos.Offset,
		Reset: kafka.FirstOffset, MaxWait: cfg.MaxWait, Clock: cfg.Clock,
		Log: p.m.log.With("topic", p.pos.Topic, "partition", p.pos.Partition),
	}
	if cfg.FromLatest {
		f.Reset = kafka.LastOffset
	}
	msgs := make(chan kafkaread.Message, cfg.MaxEvents)
	var fetching sync.WaitGroup
	fetching.Go(func() { f.Run(ctx, msgs) })
	defer fetching.Wait()
	for {
		batch, ok := p.collect(ctx, msgs)
		if len(batch) > 0 {
			if err := p.apply(ctx, batch); err != nil {
				return
			}
		}
		if !ok {
			return
		}
	}
}

// collect gathers up to MaxEvents messages, waiting at most Linger after
// the first; ok is false once msgs is closed.
func (p *partition) collect(ctx context.Context, msgs <-chan kafkaread.Message) (batch []kafkaread.Message, ok bool) {
	cfg := p.m.cfg
	var lingerC <-chan time.Time
	for len(batch) < cfg.MaxEvents {
		select {
		case msg, open := <-msgs:
			if !open {
				return batch, false
			}
			batch = append(batch, msg)
			if m := msg.HighWaterMark - msg.Offset - 1; m >= 0 {
				cfg.Metrics.lagOf(p.pos.Topic, p.pos.Partition, m)
			}
			if lingerC == nil {
				t := cfg.Clock.NewTimer(cfg.Linger)
				defer t.Stop()
				lingerC = t.C()
			}
		case <-lingerC:
			return batch, true
		case <-ctx.Done():
			return batch, true
		}
	}
	return batch, true
}

// apply builds the transaction of msgs and applies it, retrying a failed
// one under the mirror's policy; a permanent failure stops the mirror.
func (p *partition) apply(ctx context.Context, msgs []kafkaread.Message) error {
	cfg := p.m.cfg
	b := Batch{Group: cfg.GroupID, Position: p.pos}
	now := cfg.Clock.Now()
	for _, msg := range msgs {
		pos := Position{Topic: p.pos.Topic, Partition: p.pos.Partition, Offset: msg.Offset}
		if p.pos.Topic == cfg.DeadLetterTopic {
			b.Failures = append(b.Failures, ParseDeadLetter(kafka.Message{Topic: pos.Topic, Partition: pos.Partition,
				Offset: pos.Offset, Key: msg.Key, Value: msg.Value, Headers: msg.Headers}))
			continue
		}
		e, err := ParseSync(msg.Value)
		if err == nil {
			_, err = p.m.table(ctx, e.Target, e.Schema)
		}
		if err != nil {
			b.Failures = append(b.Failures, invalidSync(pos, msg.Key, msg.Value, err, now))
			continue
		}
		b.Events = append(b.Events, e)
	}
	b.Position.Offset = msgs[len(msgs)-1].Offset + 1
	start := cfg.Clock.Now()
	var applied Applied
	err := cfg.Retry.Do(ctx, cfg.Clock, func() error {
		var err error
		applied, err = p.m.store.Apply(context.WithoutCancel(ctx), b)
		return err
	}, func(err error, wait time.Duration) {
		p.m.log.Error("applying a batch failed; retrying it", "topic", b.Position.Topic, "partition", b.Position.Partition,
			"next_offset", b.Position.Offset, "wait", wait, "error", err)
		cfg.Metrics.failed()
	})
	if err != nil {
		if retry.IsPermanent(err) || !isDone(ctx) {
			err = fmt.Errorf("mirror: batch of %s/%d up to offset %d: %w", b.Position.Topic, b.Position.Partition, b.Position.Offset, err)
			p.m.log.Error("stopping: a batch can never be applied", "error", err)
			cfg.Metrics.stopped.Store(err.Error())
			p.stop(err)
		}
		return err
	}
	cfg.Metrics.applied(applied, cfg.Clock.Now().Sub(start))
	p.pos = b.Position
	// Kafka's committed offset is for monitoring only: the database's is
	// the one a member resumes from.
	_ = p.gen.CommitOffsets(map[string]map[int]int64{b.Position.Topic: {b.Position.Partition: b.Position.Offset}})
	return nil
}

func isDone(ctx context.Context) bool { return ctx.Err() != nil }
