// Package worker assembles the pipeline from a validated configuration:
// the consumer group, one decoder and one target per route, the Genesys
// client, the outbound publisher and the metrics server. It owns them:
// Run serves until its context ends, Close releases what Run did not.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/gcupsert/gcupsert/config"
	"github.com/gcupsert/gcupsert/consumer"
	"github.com/gcupsert/gcupsert/decode"
	"github.com/gcupsert/gcupsert/internal/clock"
	"github.com/gcupsert/gcupsert/internal/kafkaconn"
	"github.com/gcupsert/gcupsert/internal/metrics"
	"github.com/gcupsert/gcupsert/internal/retry"
	"github.com/gcupsert/gcupsert/sink"
	"github.com/gcupsert/gcupsert/upsert"
)

// Options are the dependencies that do not come from the configuration.
type Options struct {
	Logger     *slog.Logger
	Clock      clock.Clock
	Hooks      []consumer.Hook // told of the consumer's events, beside the metrics
	HTTPClient *http.Client
}

// Worker is one running gcupsert instance.
type Worker struct {
	consumer *consumer.Consumer
	pub      *sink.Publisher
	log      *slog.Logger
	metrics  *metrics.Metrics
	addr     string // metrics and health listen address, "" for none

	closeOnce sync.Once
	closeErr  error
}

// New builds the pipeline with a context that bounds the calls made at
// start (data tables: resolving the table and reading its schema).
func New(cfg config.Config, opts Options) (*Worker, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return NewContext(ctx, cfg, opts)
}

// NewContext builds the pipeline; ctx bounds the API calls made at start.
// Errors name the configuration key at fault.
func NewContext(ctx context.Context, cfg config.Config, opts Options) (*Worker, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real
	}
	m := metrics.New(opts.Clock, cfg.Metrics.WedgeTimeout.D())
	var base http.RoundTripper
	if opts.HTTPClient != nil {
		base = opts.HTTPClient.Transport
	}
	httpClient := &http.Client{Transport: m.Transport(base)}
	client, err := NewClient(cfg, opts.Clock, opts.Logger.With("component", "genesys"), httpClient)
	if err != nil {
		return nil, err
	}
	// The token is fetched now, not at the first batch: refused
	// credentials stop the start, and a worker on a quiet topic is ready.
	if err := client.CheckToken(ctx); err != nil {
		return nil, fmt.Errorf("genesys: %w", err)
	}
	routes, err := newRoutes(ctx, client, cfg)
	if err != nil {
		return nil, err
	}
	m.SchemasLoaded()
	sec, err := cfg.Kafka.Security()
	if err != nil {
		return nil, err
	}
	admin := &kafka.Client{Addr: kafka.TCP(cfg.Kafka.Brokers...), Timeout: 10 * time.Second, Transport: sec.Transport(cfg.Kafka.ClientID)}
	defer admin.Transport.(*kafka.Transport).CloseIdleConnections()
	if err := checkSession(ctx, admin, cfg.Kafka.SessionTimeout.D(), opts.Logger); err != nil {
		return nil, err
	}
	pub, err := newPublisher(ctx, admin, cfg, sec, opts)
	if err != nil {
		return nil, err
	}
	start := consumer.StartFirst
	if cfg.Kafka.StartOffset == "latest" {
		start = consumer.StartLast
	}
	c, err := consumer.New(consumer.Config{
		Brokers:           cfg.Kafka.Brokers,
		GroupID:           cfg.Kafka.GroupID,
		ClientID:          cfg.Kafka.ClientID,
		Routes:            routes,
		Dialer:            sec.Dialer(cfg.Kafka.ClientID),
		Transport:         sec.Transport(cfg.Kafka.ClientID),
		StartOffset:       start,
		SessionTimeout:    cfg.Kafka.SessionTimeout.D(),
		RebalanceTimeout:  cfg.Kafka.RebalanceTimeout.D(),
		HeartbeatInterval: cfg.Kafka.HeartbeatInterval.D(),
		Balancer:          consumer.Balancer(cfg.Kafka.Balancer),
		MaxWait:           cfg.Kafka.MaxWait.D(),
		CommitInterval:    cfg.Kafka.CommitInterval.D(),
		Linger:            cfg.Batch.Linger.D(),
		MaxInflight:       cfg.Batch.MaxInflight,
		BufferKeys:        cfg.Batch.BufferKeys,
		BufferBytes:       cfg.Batch.BufferBytes,
		Retry:             retry.Policy{Initial: cfg.Retry.BatchPause.D()},
		DrainTimeout:      cfg.ShutdownTimeout.D() * 2 / 3,
		WorkerID:          cfg.WorkerID,
		Clock:             opts.Clock,
		Logger:            opts.Logger.With("component", "consumer"),
		Hooks:             append([]consumer.Hook{m}, opts.Hooks...),
	}, pub)
	if err != nil {
		_ = pub.Close()
		return nil, err
	}
	return &Worker{consumer: c, pub: pub, log: opts.Logger, metrics: m, addr: cfg.Metrics.Address}, nil
}

// newPublisher builds the publisher of the outbound events; admin reads
// the topics' limits (and creates them with kafka.create_topics).
func newPublisher(ctx context.Context, admin *kafka.Client, cfg config.Config, sec kafkaconn.Security, opts Options) (*sink.Publisher, error) {
	sinkCfg := sink.Config{
		TLS:             sec.TLS,
		SASL:            sec.SASL,
		Brokers:         cfg.Kafka.Brokers,
		ClientID:        cfg.Kafka.ClientID,
		AuditTopic:      cfg.Topics.Audit,
		SyncTopic:       cfg.Topics.Sync,
		DeadLetterTopic: cfg.Topics.DeadLetter,
		WorkerID:        cfg.WorkerID,
		Clock:           opts.Clock,
		Logger:          opts.Logger.With("component", "sink"),
	}
	var err error
	if sinkCfg.Limits, err = sink.ReadLimits(ctx, admin, sinkCfg, cfg.Kafka.CreateTopics); err != nil {
		return nil, fmt.Errorf("topics: %w", err)
	}
	pub, err := sink.New(sinkCfg)
	if err != nil {
		return nil, fmt.Errorf("topics: %w", err)
	}
	return pub, nil
}

// newRoutes builds each route's decoder and target.
func newRoutes(ctx context.Context, client *upsert.Client, cfg config.Config) (map[string]consumer.Route, error) {
	routes := make(map[string]consumer.Route, len(cfg.Routes))
	for i, r := range cfg.Routes {
		d, err := decode.New(decode.Format(r.Format), decode.Mapping{
			Key: r.Mapping.Key, Rename: r.Mapping.Rename, Drop: r.Mapping.Drop, Constants: r.Mapping.Constants,
		})
		if err != nil {
			return nil, fmt.Errorf("routes[%d] (%s): %w", i, r.Topic, err)
		}
		key := fmt.Sprintf("routes[%d]", i)
		t, err := NewTarget(ctx, client, cfg, r)
		if ferr := checkTargetFields(key, r, t, err); ferr != nil {
			return nil, ferr
		}
		if err != nil {
			return nil, fmt.Errorf("%s (%s): %w", key, r.Topic, err)
		}
		routes[r.Topic] = consumer.Route{Decoder: d, Target: t}
	}
	return routes, nil
}

// Metrics returns the worker's metrics and health state.
func (w *Worker) Metrics() *metrics.Metrics { return w.metrics }

// Run serves the metrics and health endpoints (when an address is set) and
// processes events until ctx is cancelled, then drains, closes the
// publisher and stops serving. It returns nil after a clean stop and the
// consumer's error when a permanent failure stopped it.
func (w *Worker) Run(ctx context.Context) error {
	defer w.Close()
	if w.addr != "" {
		stop, err := metrics.Serve(w.addr, w.metrics.Handler(), w.log.With("component", "metrics"))
		if err != nil {
			return fmt.Errorf("metrics.address: %w", err)
		}
		defer stop()
	}
	err := w.consumer.Run(ctx)
	if cerr := w.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// Close releases the publisher; a worker that was never run is closed by
// it. Safe to call more than once.
func (w *Worker) Close() error {
	w.closeOnce.Do(func() { w.closeErr = w.pub.Close() })
	return w.closeErr
}
