// Package consumer reads record-change events from Kafka with a consumer
// group and drives them through a target into Genesys Cloud.
//
// Contract:
//   - Group membership uses kafka-go's ConsumerGroup/Generation API: one
//     partition worker per assignment, each reading from the committed offset
//     with its own partition Reader. Offsets are committed only within the
//     generation that owns the partition.
//   - Per partition, events are decoded, validated and encoded by the route's
//     Target, and batched by records, request-body bytes and linger time. Two
//     events for one key inside a batch collapse to the newest.
//   - A partition has at most one batch in flight; the next one fills
//     meanwhile. At most MaxInflight partitions send at once.
//   - A batch's offsets are committed only after the target returned an
//     outcome for every record and the Publisher acknowledged the batch's
//     audit, sync and dead-letter events. A transient failure that outlives
//     the target's retry budget is retried after BatchPause, never
//     dead-lettered, and nothing past it is committed.
//   - Run returns when its context is cancelled: it stops fetching, lets each
//     in-flight batch finish (abandoning it after DrainTimeout, uncommitted),
//     commits what is done and leaves the group.
package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/gcupsert/gcupsert/internal/clock"
	"github.com/gcupsert/gcupsert/sink"
	"github.com/gcupsert/gcupsert/upsert"
)

// Target is what the consumer needs from an upsert target. Implementations
// must be safe for concurrent use by several partition workers.
type Target interface {
	Name() string
	Schema() string
	// Prepare validates one record and encodes it as it will be sent.
	Prepare(upsert.Record) (upsert.Item, *upsert.RecordError)
	// Limits bounds a request and describes the body framing.
	Limits() upsert.Limits
	// Upsert returns one outcome per item; an error means no outcome (a
	// cancelled context, or a failure that outlived the retry budget).
	Upsert(ctx context.Context, items []upsert.Item) (upsert.Result, error)
}

// Publisher writes a batch's outbound events and returns nil only once all
// are acknowledged. It must be safe for concurrent use.
type Publisher interface {
	Publish(ctx context.Context, b sink.Batch) error
}

// Observer is told what the consumer does, for metrics, health and reports.
// Implementations must be safe for concurrent use and must not block. Embed
// NopObserver to implement only some methods.
type Observer interface {
	// Assigned reports the partitions this member owns in a new
	// generation; Revoked that the generation ended.
	Assigned(generation int32, partitions int)
	Revoked(generation int32)
	// Fetched reports a message read and how many messages follow it in the
	// partition (the consumer lag at fetch time).
	Fetched(topic string, partition int, lag int64)
	// BatchStarted and BatchDone bracket one batch in flight.
	BatchStarted(topic string, partition int)
	BatchDone(BatchReport)
	// BatchRetry reports a batch kept for another attempt: stage "upsert"
	// (no outcome yet) or "publish" (outbound events not acknowledged).
	BatchRetry(topic string, partition int, stage string, err error)
	// BatchAbandoned reports a batch given up uncommitted (generation ended
	// or drain timeout); it will be redelivered.
	BatchAbandoned(topic string, partition int)
	Committed(topic string, partition int, next int64, took time.Duration)
	CommitFailed(err error)
}

// NopObserver ignores everything; embed it to implement part of Observer.
type NopObserver struct{}

func (NopObserver) Assigned(int32, int)                         {}
func (NopObserver) Revoked(int32)                               {}
func (NopObserver) Fetched(string, int, int64)                  {}
func (NopObserver) BatchStarted(string, int)                    {}
func (NopObserver) BatchDone(BatchReport)                       {}
func (NopObserver) BatchRetry(string, int, string, error)       {}
func (NopObserver) BatchAbandoned(string, int)                  {}
func (NopObserver) Committed(string, int, int64, time.Duration) {}
func (NopObserver) CommitFailed(error)                          {}

// Config configures a Consumer.
type Config struct {
	Brokers  []string
	GroupID  string
	ClientID string
	// Routes maps each input topic to its target.
	Routes map[string]Target
	// Decoders maps input topics to their decoders; a topic without one
	// reads the plain envelope (Decode).
	Decoders map[string]Decoder
	// StartOffset applies to partitions with no committed offset:
	// kafka.FirstOffset (default) or kafka.LastOffset.
	StartOffset       int64
	SessionTimeout    time.Duration // default 10s
	RebalanceTimeout  time.Duration // default 30s
	HeartbeatInterval time.Duration // default 3s
	// Balancer is "range" (default) or "roundrobin".
	Balancer       string
	MaxWait        time.Duration // partition reader fetch wait, default 250ms
	CommitInterval time.Duration // default 1s; 0 commits after every batch
	MaxRecords     int           // per batch, default and maximum: the target's limit
	MaxBytes       int           // request body bytes, default and maximum: the target's limit
	Linger         time.Duration // default 200ms
	MaxInflight    int           // partitions sending at once, default 8
	BatchPause     time.Duration // wait before retrying a batch whose retries ran out, default 5s
	DrainTimeout   time.Duration // how long in-flight batches may finish after Run's ctx ends, default 20s
	WorkerID       string
	Dialer         *kafka.Dialer // optional; TLS and SASL go here
	Clock          clock.Clock
	Logger         *slog.Logger
	Observer       Observer
}

// Consumer is a consumer-group member that runs the pipeline.
type Consumer struct {
	cfg Config
	pub Publisher
	sem chan struct{}
	log *slog.Logger
}

// New validates cfg, fills its defaults and returns a Consumer.
func New(cfg Config, pub Publisher) (*Consumer, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("consumer: no brokers")
	}
	if cfg.GroupID == "" {
		return nil, errors.New("consumer: empty group id")
	}
	if len(cfg.Routes) == 0 {
		return nil, errors.New("consumer: no routes")
	}
	if pub == nil {
		return nil, errors.New("consumer: nil publisher")
	}
	for topic, t := range cfg.Routes {
		if t == nil {
			return nil, fmt.Errorf("consumer: route %q has no target", topic)
		}
		l := t.Limits()
		if l.MaxRecords < 1 || l.MaxBytes < 1 {
			return nil, fmt.Errorf("consumer: route %q: target reports no limits", topic)
		}
	}
	if cfg.StartOffset == 0 {
		cfg.StartOffset = kafka.FirstOffset
	}
	if cfg.StartOffset != kafka.FirstOffset && cfg.StartOffset != kafka.LastOffset {
		return nil, fmt.Errorf("consumer: start offset %d is neither first nor last", cfg.StartOffset)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.SessionTimeout, 10*time.Second)
	def(&cfg.RebalanceTimeout, 30*time.Second)
	def(&cfg.HeartbeatInterval, 3*time.Second)
	def(&cfg.MaxWait, 250*time.Millisecond)
	def(&cfg.BatchPause, 5*time.Second)
	def(&cfg.DrainTimeout, 20*time.Second)
	if cfg.Linger < 0 || cfg.CommitInterval < 0 {
		return nil, errors.New("consumer: negative linger or commit interval")
	}
	if cfg.MaxRecords < 0 || cfg.MaxBytes < 0 || cfg.MaxInflight < 0 {
		return nil, errors.New("consumer: negative batch bound")
	}
	if cfg.MaxInflight == 0 {
		cfg.MaxInflight = 8
	}
	switch cfg.Balancer {
	case "", "range", "roundrobin":
	default:
		return nil, fmt.Errorf("consumer: unknown balancer %q", cfg.Balancer)
	}
	if cfg.ClientID == "" {
		cfg.ClientID = "gcupsert"
	}
	if cfg.Dialer == nil {
		cfg.Dialer = &kafka.Dialer{ClientID: cfg.ClientID, Timeout: 10 * time.Second, DualStack: true}
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Observer == nil {
		cfg.Observer = NopObserver{}
	}
	return &Consumer{cfg: cfg, pub: pub, sem: make(chan struct{}, cfg.MaxInflight), log: cfg.Logger}, nil
}

func (c *Consumer) decoder(topic string) Decoder {
	if d, ok := c.cfg.Decoders[topic]; ok && d != nil {
		return d
	}
	return plainDecoder{}
}

func (c *Consumer) topics() []string {
	ts := make([]string, 0, len(c.cfg.Routes))
	for t := range c.cfg.Routes {
		ts = append(ts, t)
	}
	sort.Strings(ts)
	return ts
}

// Run joins the group and processes events until ctx is cancelled, then
// drains, commits and leaves the group. It returns nil after a clean stop.
func (c *Consumer) Run(ctx context.Context) error {
	var balancers []kafka.GroupBalancer
	if c.cfg.Balancer == "roundrobin" {
		balancers = []kafka.GroupBalancer{kafka.RoundRobinGroupBalancer{}}
	} else {
		balancers = []kafka.GroupBalancer{kafka.RangeGroupBalancer{}}
	}
	group, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                c.cfg.GroupID,
		Brokers:           c.cfg.Brokers,
		Dialer:            c.cfg.Dialer,
		Topics:            c.topics(),
		GroupBalancers:    balancers,
		HeartbeatInterval: c.cfg.HeartbeatInterval,
		SessionTimeout:    c.cfg.SessionTimeout,
		RebalanceTimeout:  c.cfg.RebalanceTimeout,
		JoinGroupBackoff:  time.Second,
		StartOffset:       c.cfg.StartOffset,
		Timeout:           10 * time.Second,
	})
	if err != nil {
		return fmt.Errorf("consumer: %w", err)
	}
	defer group.Close() // leaves the group
	for {
		gen, err := group.Next(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if errors.Is(err, kafka.ErrGroupClosed) {
				return nil
			}
			c.log.Warn("joining the consumer group failed; retrying", "group", c.cfg.GroupID, "err", err)
			continue
		}
		c.runGeneration(ctx, gen)
		if ctx.Err() != nil {
			return nil
		}
	}
}

// runGeneration runs one partition worker per assignment and returns once
// they stopped and their offsets are committed: after the generation ended
// (rebalance) or, when ctx was cancelled, after the drain.
func (c *Consumer) runGeneration(ctx context.Context, gen *kafka.Generation) {
	var parts []string
	for topic, as := range gen.Assignments {
		for _, a := range as {
			parts = append(parts, fmt.Sprintf("%s/%d@%d", topic, a.ID, a.Offset))
		}
	}
	sort.Strings(parts)
	c.log.Info("joined generation", "group", gen.GroupID, "generation", gen.ID, "member", gen.MemberID, "partitions", parts)

	n := 0
	for _, as := range gen.Assignments {
		n += len(as)
	}
	c.cfg.Observer.Assigned(gen.ID, n)
	defer c.cfg.Observer.Revoked(gen.ID)
	drained := make(chan struct{})
	gen.Start(func(genCtx context.Context) {
		// Fetching stops when either the generation or Run ends.
		fetchCtx, stopFetch := context.WithCancel(genCtx)
		defer stopFetch()
		// Sending may go on after fetching stops: in-flight batches finish
		// and are committed, within DrainTimeout when Run ends and within
		// half the rebalance timeout when the generation ends (no other
		// member gets the partitions before this one rejoins). Past that
		// they are abandoned uncommitted.
		workCtx, stopWork := context.WithCancel(context.Background())
		defer stopWork()

		var wg sync.WaitGroup
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

		com := newCommitter(gen, c.cfg.CommitInterval, c.cfg.Clock, c.log, c.cfg.Observer)
		comCtx, stopCom := context.WithCancel(context.Background())
		var comWG sync.WaitGroup
		comWG.Go(func() { com.run(comCtx) })

		var workers sync.WaitGroup
		for topic, as := range gen.Assignments {
			for _, a := range as {
				w := &partitionWorker{c: c, topic: topic, partition: a.ID, start: a.Offset, target: c.cfg.Routes[topic], decoder: c.decoder(topic), commit: com.mark}
				workers.Go(func() { w.run(fetchCtx, workCtx) })
			}
		}
		workers.Wait()
		stopCom()
		comWG.Wait()
		if err := com.flush(); err != nil {
			c.log.Warn("final offset commit failed; the next owner resumes from the last committed offset", "err", err)
		}
		stopFetch()
		stopWork()
		wg.Wait()
		close(drained)
		if ctx.Err() != nil {
			// Hold the generation until the group is closed, so that the
			// member leaves instead of rejoining.
			<-genCtx.Done()
		}
	})
	<-drained
}
