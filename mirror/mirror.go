package mirror

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
	"github.com/gcupsert/gcupsert/internal/retry"
)

// Config configures a Mirror. Zero fields take the defaults named.
type Config struct {
	Brokers  []string
	GroupID  string
	ClientID string // default "gcupsert-mirror"
	// Topic is the sync topic; DeadLetterTopic, when set, is mirrored into
	// the errors table too.
	Topic, DeadLetterTopic string
	// Tables are the routes' tables; an event of another target and
	// schema gets a table of its own (record JSON only) when first seen.
	Tables []Table
	// MaxEvents and Linger bound a transaction: at most MaxEvents messages
	// (default 500), no message waiting longer than Linger (default 200ms).
	MaxEvents int
	Linger    time.Duration
	// FromLatest starts a partition with no stored offset at its end
	// instead of its beginning.
	FromLatest        bool
	SessionTimeout    time.Duration // default 10s
	RebalanceTimeout  time.Duration // default 30s
	HeartbeatInterval time.Duration // default 3s
	MaxWait           time.Duration // fetch wait, default 250ms
	// Retry paces the retries of a transaction that failed (the database
	// is down): default every 2s, forever; a failure marked permanent
	// stops the mirror.
	Retry     retry.Policy
	Dialer    *kafka.Dialer
	Transport *kafka.Transport
	Clock     clock.Clock
	Logger    *slog.Logger
	Metrics   *Metrics
}

func (c *Config) setDefaults() {
	if c.ClientID == "" {
		c.ClientID = "gcupsert-mirror"
	}
	if c.MaxEvents == 0 {
		c.MaxEvents = 500
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.Linger, 200*time.Millisecond)
	def(&c.SessionTimeout, 10*time.Second)
	def(&c.RebalanceTimeout, 30*time.Second)
	def(&c.HeartbeatInterval, 3*time.Second)
	def(&c.MaxWait, 250*time.Millisecond)
	def(&c.Retry.Initial, 2*time.Second)
	def(&c.Retry.Max, c.Retry.Initial)
	c.Retry.SetDefaults()
	c.Retry.MaxElapsed = 0
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
	if c.Metrics == nil {
		c.Metrics = NewMetrics(c.Clock, 0)
	}
}

// Validate reports the first setting that cannot work.
func (c *Config) Validate() error {
	switch {
	case len(c.Brokers) == 0:
		return errors.New("mirror: no brokers")
	case c.GroupID == "":
		return errors.New("mirror: empty group id")
	case c.Topic == "":
		return errors.New("mirror: no sync topic")
	case c.Topic == c.DeadLetterTopic:
		return errors.New("mirror: the sync and dead-letter topics are one")
	case c.MaxEvents < 1:
		return fmt.Errorf("mirror: max events %d is below 1", c.MaxEvents)
	case c.Linger < 0:
		return errors.New("mirror: negative linger")
	}
	names := map[string]bool{}
	for _, t := range c.Tables {
		if t.Name == "" || names[t.Name] {
			return fmt.Errorf("mirror: table %q is empty or repeated", t.Name)
		}
		names[t.Name] = true
	}
	return c.Retry.Validate()
}

// Mirror is a consumer-group member applying the sync topic to a Store.
type Mirror struct {
	cfg    Config
	store  Store
	client *kafka.Client
	log    *slog.Logger

	mu     sync.Mutex
	tables map[string]Table // by target + "\x00" + schema
}

// New fills cfg's defaults, validates it and returns a Mirror on store.
func New(cfg Config, store Store) (*Mirror, error) {
	if store == nil {
		return nil, errors.New("mirror: nil store")
	}
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Mirror{
		cfg: cfg, store: store, log: cfg.Logger, tables: map[string]Table{},
		client: &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Timeout: 30 * time.Second, Transport: cfg.Transport},
	}
	for _, t := range cfg.Tables {
		m.tables[t.Target+"\x00"+t.Schema] = t
	}
	return m, nil
}

// Metrics returns the mirror's metrics and health.
func (m *Mirror) Metrics() *Metrics { return m.cfg.Metrics }

// Run prepares the tables, joins the group and applies events until ctx
// ends, then finishes the transaction in flight and leaves the group. It
// returns nil after a clean stop and the error of a permanent failure.
func (m *Mirror) Run(ctx context.Context) error {
	if err := m.store.Prepare(ctx, m.cfg.Tables); err != nil {
		return fmt.Errorf("mirror: preparing the database: %w", err)
	}
	m.cfg.Metrics.storeReady.Store(true)
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	topics := []string{m.cfg.Topic}
	if m.cfg.DeadLetterTopic != "" {
		topics = append(topics, m.cfg.DeadLetterTopic)
	}
	group, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID: m.cfg.GroupID, Brokers: m.cfg.Brokers, Dialer: m.cfg.Dialer, Topics: topics,
		HeartbeatInterval: m.cfg.HeartbeatInterval, SessionTimeout: m.cfg.SessionTimeout,
		RebalanceTimeout: m.cfg.RebalanceTimeout, JoinGroupBackoff: time.Second, Timeout: 10 * time.Second,
	})
	if err != nil {
		return fmt.Errorf("mirror: %w", err)
	}
	defer group.Close()
	for {
		gen, err := group.Next(ctx)
		if ctx.Err() != nil {
			return permanentCause(ctx)
		}
		if err != nil {
			if errors.Is(err, kafka.ErrGroupClosed) {
				return nil
			}
			m.log.Warn("joining the consumer group failed; retrying", "group", m.cfg.GroupID, "error", err)
			continue
		}
		m.runGeneration(ctx, stop, gen)
		if ctx.Err() != nil {
			return permanentCause(ctx)
		}
	}
}

func permanentCause(ctx context.Context) error {
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// runGeneration applies every assigned partition from the offset the
// database holds, until the generation or ctx ends.
func (m *Mirror) runGeneration(ctx context.Context, stop context.CancelCauseFunc, gen *kafka.Generation) {
	var shown []string
	for topic, as := range gen.Assignments {
		for _, a := range as {
			shown = append(shown, fmt.Sprintf("%s/%d", topic, a.ID))
		}
	}
	sort.Strings(shown)
	m.log.Info("joined generation", "group", gen.GroupID, "generation", gen.ID, "partitions", shown)
	m.cfg.Metrics.joined.Store(true)
	done := make(chan struct{})
	gen.Start(func(genCtx context.Context) {
		defer close(done)
		runCtx, cancel := context.WithCancel(genCtx)
		defer cancel()
		stopAll := context.AfterFunc(ctx, cancel)
		defer stopAll()
		var wg sync.WaitGroup
		for topic, as := range gen.Assignments {
			stored, err := m.storedOffsets(runCtx, topic)
			if err != nil {
				return
			}
			for _, a := range as {
				start, ok := stored[a.ID]
				if !ok {
					start = kafka.FirstOffset
					if m.cfg.FromLatest {
						start = kafka.LastOffset
					}
				}
				p := &partition{m: m, gen: gen, stop: stop, pos: Position{Topic: topic, Partition: a.ID, Offset: start}}
				wg.Go(func() { p.run(runCtx) })
			}
		}
		wg.Wait()
	})
	<-done
}

// storedOffsets reads the offsets of topic from the database, retrying
// until it answers or ctx ends.
func (m *Mirror) storedOffsets(ctx context.Context, topic string) (map[int]int64, error) {
	var out map[int]int64
	err := m.cfg.Retry.Do(ctx, m.cfg.Clock, func() error {
		var err error
		out, err = m.store.Offsets(ctx, m.cfg.GroupID, topic)
		return err
	}, func(err error, wait time.Duration) {
		m.log.Error("reading the stored offsets failed; retrying", "topic", topic, "wait", wait, "error", err)
	})
	return out, err
}

// table returns the table of an event's target and schema, preparing one
// (record JSON only) for a pair no route named.
func (m *Mirror) table(ctx context.Context, target, schema string) (Table, error) {
	k := target + "\x00" + schema
	m.mu.Lock()
	t, ok := m.tables[k]
	m.mu.Unlock()
	if ok {
		return t, nil
	}
	t = Table{Name: TableName(target, schema), Target: target, Schema: schema}
	if err := m.store.Prepare(ctx, []Table{t}); err != nil {
		return Table{}, err
	}
	m.log.Warn("events of a target and schema no route names: mirrored with the record as JSON only",
		"target", target, "schema", schema, "table", t.Name)
	m.mu.Lock()
	m.tables[k] = t
	m.mu.Unlock()
	return t, nil
}
