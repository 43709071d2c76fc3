// Package consumer reads record-change events from Kafka with a consumer
// group and drives them, partition by partition, through a route's decoder
// and target, hands each finished batch to the publisher of outbound events,
// and commits offsets.
//
// Contract:
//   - Group membership uses kafka-go's ConsumerGroup/Generation API: one
//     partition worker per assignment, each reading from the committed offset
//     with its own partition Reader. Offsets are committed only within the
//     generation that owns the partition.
//   - Per partition, events are decoded by the route's Decoder, validated and
//     encoded by its Target, and batched by records, request-body bytes and
//     linger time. Two events for one key inside a batch collapse to the
//     newest.
//   - A partition has at most one batch in flight; the next one fills
//     meanwhile. At most MaxInflight partitions send at once.
//   - A batch's offsets are committed only after the target returned an
//     outcome for every record and the Publisher acknowledged the batch's
//     outbound events. A failure of either is retried under Config.Retry,
//     never dead-lettered, and nothing past the batch is committed; a
//     failure marked permanent (retry.IsPermanent) stops the consumer: Run
//     returns it and HookStopped is told.
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
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/semaphore"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/internal/clock"
	"github.com/gcupsert/gcupsert/internal/retry"
)

// Decoder turns a Kafka message into a record change, or says why it
// cannot. It must be safe for concurrent use.
type Decoder interface {
	Decode(key, value []byte) (change.Record, *change.RecordError)
}

// Target is what the consumer needs from an upsert target. Implementations
// must be safe for concurrent use by several partition workers.
type Target interface {
	Name() string
	Schema() string
	// Prepare validates one record and encodes it as it will be sent.
	Prepare(change.Record) (change.Item, *change.RecordError)
	// Limits bounds a request and describes the body framing.
	Limits() change.Limits
	// Upsert returns one outcome per item; an error means no outcome (a
	// cancelled context, or a failure that outlived the retry budget).
	Upsert(ctx context.Context, items []change.Item) (change.Result, error)
}

// Coalescer is implemented by a target whose writes merge into what is
// stored instead of replacing it: then the newer of two events of one key
// in a batch does not always stand for both. Supersedes reports whether
// writing newer alone amounts to writing older and then newer; when it
// does not, both are sent, in order. Without it, the newer event always
// stands for the older (it collapses).
type Coalescer interface {
	Supersedes(older, newer change.Record) bool
}

// Publisher writes the outbound events of a finished batch and returns nil
// only once all are acknowledged. An error for which retry.IsPermanent
// holds can never succeed. It must be safe for concurrent use.
type Publisher interface {
	PublishOutcomes(ctx context.Context, b change.Batch) error
}

// Route is what the consumer does with the events of one input topic.
type Route struct {
	Decoder Decoder
	Target  Target
}

// Defaults of the coalescing buffer (Config.BufferKeys, BufferBytes).
const (
	DefaultBufferKeys  = 1000
	DefaultBufferBytes = 32 << 20
)

// Balancer names a partition assignment strategy.
type Balancer string

const (
	BalancerRange      Balancer = "range"
	BalancerRoundRobin Balancer = "roundrobin"
)

// StartOffset is where a partition with no committed offset starts.
type StartOffset int64

const (
	StartFirst StartOffset = StartOffset(kafka.FirstOffset)
	StartLast  StartOffset = StartOffset(kafka.LastOffset)
)

// Config configures a Consumer. Zero fields take the defaults named.
type Config struct {
	Brokers  []string
	GroupID  string
	ClientID string // default "gcupsert"
	// Routes maps each input topic to its decoder and target.
	Routes            map[string]Route
	StartOffset       StartOffset   // default StartFirst
	SessionTimeout    time.Duration // default 10s
	RebalanceTimeout  time.Duration // default 30s
	HeartbeatInterval time.Duration // default 3s
	Balancer          Balancer      // default BalancerRange
	MaxWait           time.Duration // partition reader fetch wait, default 250ms
	CommitInterval    time.Duration // default 1s; 0 commits after every batch
	MaxRecords        int           // per batch, default and maximum: the target's limit
	MaxBytes          int           // request body bytes, default and maximum: the target's limit
	Linger            time.Duration // how long a batch waits to fill; 0 sends at once
	MaxInflight       int           // partitions sending at once, default 8
	// BufferKeys bounds the records of the batch a partition gathers while
	// its previous one is being sent: the latest event of each key is kept
	// (older ones collapse into it), so that a backlog converges into few
	// requests; never less than one request's worth. BufferBytes is the
	// memory all partitions together may hold in such batches beyond a
	// request's worth each (input and prepared records, estimated as Go
	// holds them). Defaults 1000 keys and 32 MiB.
	BufferKeys  int
	BufferBytes int
	// Retry paces the retries of a batch with no outcome yet or with
	// unacknowledged events; default: every 5s (Max defaults to Initial),
	// with jitter, forever (MaxElapsed is ignored: a batch is never given
	// up while the consumer runs, so that it goes as soon as the API or
	// the broker is back).
	Retry        retry.Policy
	DrainTimeout time.Duration // how long in-flight batches may finish after Run's ctx ends, default 20s
	WorkerID     string
	// Dialer (group membership) and Transport (fetching) carry the client
	// id, TLS and SASL; defaults: plaintext with ClientID.
	Dialer    *kafka.Dialer
	Transport *kafka.Transport
	Clock     clock.Clock
	Logger    *slog.Logger
	Hooks     []Hook
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.SessionTimeout, 10*time.Second)
	def(&c.RebalanceTimeout, 30*time.Second)
	def(&c.HeartbeatInterval, 3*time.Second)
	def(&c.MaxWait, 250*time.Millisecond)
	def(&c.DrainTimeout, 20*time.Second)
	def(&c.Retry.Initial, 5*time.Second)
	def(&c.Retry.Max, c.Retry.Initial)
	c.Retry.SetDefaults()
	c.Retry.MaxElapsed = 0
	if c.StartOffset == 0 {
		c.StartOffset = StartFirst
	}
	if c.MaxInflight == 0 {
		c.MaxInflight = 8
	}
	if c.BufferKeys == 0 {
		c.BufferKeys = DefaultBufferKeys
	}
	if c.BufferBytes == 0 {
		c.BufferBytes = DefaultBufferBytes
	}
	if c.Balancer == "" {
		c.Balancer = BalancerRange
	}
	if c.ClientID == "" {
		c.ClientID = "gcupsert"
	}
	if c.Dialer == nil {
		c.Dialer = &kafka.Dialer{ClientID: c.ClientID, Timeout: 10 * time.Second, DualStack: true}
	}
	if c.Transport == nil {
		c.Transport = &kafka.Transport{ClientID: c.ClientID, DialTimeout: 10 * time.Second}
	}
	if c.Clock == nil {
		c.Clock = clock.Real
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports the first setting that cannot work.
func (c *Config) Validate() error {
	if len(c.Brokers) == 0 {
		return errors.New("consumer: no brokers")
	}
	if c.GroupID == "" {
		return errors.New("consumer: empty group id")
	}
	if len(c.Routes) == 0 {
		return errors.New("consumer: no routes")
	}
	for topic, r := range c.Routes {
		if r.Target == nil || r.Decoder == nil {
			return fmt.Errorf("consumer: route %q needs a decoder and a target", topic)
		}
		l := r.Target.Limits()
		if l.MaxRecords < 1 || l.MaxBytes < 1 {
			return fmt.Errorf("consumer: route %q: target reports no limits", topic)
		}
	}
	if c.StartOffset != StartFirst && c.StartOffset != StartLast {
		return fmt.Errorf("consumer: start offset %d is neither first nor last", c.StartOffset)
	}
	if c.Linger < 0 || c.CommitInterval < 0 || c.DrainTimeout < 0 {
		return errors.New("consumer: negative linger, commit interval or drain timeout")
	}
	if c.MaxRecords < 0 || c.MaxBytes < 0 || c.MaxInflight < 0 || c.BufferKeys < 0 || c.BufferBytes < 0 {
		return errors.New("consumer: negative batch bound")
	}
	switch c.Balancer {
	case BalancerRange, BalancerRoundRobin:
	default:
		return fmt.Errorf("consumer: unknown balancer %q", c.Balancer)
	}
	if err := c.Retry.Validate(); err != nil {
		return fmt.Errorf("consumer: %w", err)
	}
	return nil
}

// Consumer is a consumer-group member that runs the pipeline.
type Consumer struct {
	cfg    Config
	client *kafka.Client // fetches, on cfg.Transport
	pub    Publisher
	sem    chan struct{}
	buffer *semaphore.Weighted // bytes of coalescing beyond a request's worth, all partitions
	log    *slog.Logger
	hooks  hookSet
	// stop ends Run with a cause; set while Run runs.
	stop context.CancelCauseFunc
}

// New fills cfg's defaults, validates it and returns a Consumer.
func New(cfg Config, pub Publisher) (*Consumer, error) {
	if pub == nil {
		return nil, errors.New("consumer: nil publisher")
	}
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Consumer{
		cfg: cfg, pub: pub, sem: make(chan struct{}, cfg.MaxInflight), buffer: semaphore.NewWeighted(int64(cfg.BufferBytes)),
		client: &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Timeout: 30 * time.Second, Transport: cfg.Transport},
		log:    cfg.Logger, hooks: newHookSet(cfg.Hooks), stop: func(error) {},
	}, nil
}

func (c *Consumer) topics() []string {
	ts := make([]string, 0, len(c.cfg.Routes))
	for t := range c.cfg.Routes {
		ts = append(ts, t)
	}
	sort.Strings(ts)
	return ts
}

// StoppedError is what Run returns when a permanent failure stopped it.
type StoppedError struct {
	Topic     string
	Partition int
	Stage     string // "upsert" or "publish"
	Err       error
}

func (e *StoppedError) Error() string {
	return fmt.Sprintf("consumer stopped: %s of a batch of %s/%d can never succeed: %v", e.Stage, e.Topic, e.Partition, e.Err)
}

func (e *StoppedError) Unwrap() error { return e.Err }

// Run joins the group and processes events until ctx is cancelled, then
// drains, commits and leaves the group. It returns nil after a clean stop,
// and a *StoppedError when a permanent failure stopped it (after the same
// drain).
func (c *Consumer) Run(ctx context.Context) error {
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	c.stop = stop
	balancer := kafka.GroupBalancer(kafka.RangeGroupBalancer{})
	if c.cfg.Balancer == BalancerRoundRobin {
		balancer = kafka.RoundRobinGroupBalancer{}
	}
	group, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                c.cfg.GroupID,
		Brokers:           c.cfg.Brokers,
		Dialer:            c.cfg.Dialer,
		Topics:            c.topics(),
		GroupBalancers:    []kafka.GroupBalancer{balancer},
		HeartbeatInterval: c.cfg.HeartbeatInterval,
		SessionTimeout:    c.cfg.SessionTimeout,
		RebalanceTimeout:  c.cfg.RebalanceTimeout,
		JoinGroupBackoff:  time.Second,
		StartOffset:       int64(c.cfg.StartOffset),
		Timeout:           10 * time.Second,
	})
	if err != nil {
		return fmt.Errorf("consumer: %w", err)
	}
	defer group.Close() // leaves the group
	for {
		gen, err := group.Next(ctx)
		if ctx.Err() != nil {
			return c.cause(ctx)
		}
		if err != nil {
			if errors.Is(err, kafka.ErrGroupClosed) {
				return nil
			}
			c.log.Warn("joining the consumer group failed; retrying", "group", c.cfg.GroupID, "error", err)
			continue
		}
		c.runGeneration(ctx, gen)
		if ctx.Err() != nil {
			return c.cause(ctx)
		}
	}
}

// cause is nil after a cancellation by the caller and the StoppedError
// after a permanent failure.
func (c *Consumer) cause(ctx context.Context) error {
	var se *StoppedError
	if errors.As(context.Cause(ctx), &se) {
		return se
	}
	return nil
}

// fail stops the consumer for a permanent failure: the one place that
// decides what such a failure becomes. It is logged, hooks are told, and
// Run drains and returns it.
func (c *Consumer) fail(err *StoppedError) {
	c.log.Error("stopping: a batch can never succeed; its offsets stay uncommitted",
		"topic", err.Topic, "partition", err.Partition, "stage", err.Stage, "error", err.Err)
	for _, h := range c.hooks.stopped {
		h.OnStopped(err)
	}
	c.stop(err)
}
