// Package worker assembles the pipeline from a validated configuration:
// the consumer group, one target per route, the Genesys client and the
// outbound publisher. It owns them and closes them when Run returns.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/time/rate"

	"github.com/gcupsert/gcupsert/config"
	"github.com/gcupsert/gcupsert/consumer"
	"github.com/gcupsert/gcupsert/internal/clock"
	"github.com/gcupsert/gcupsert/internal/kafkaconn"
	"github.com/gcupsert/gcupsert/internal/metrics"
	"github.com/gcupsert/gcupsert/sink"
	"github.com/gcupsert/gcupsert/upsert"
)

// Options are the dependencies that do not come from the configuration.
type Options struct {
	Logger     *slog.Logger
	Clock      clock.Clock
	Observer   consumer.Observer
	HTTPClient *http.Client
}

// Worker is one running gcupsert instance.
type Worker struct {
	consumer *consumer.Consumer
	pub      *sink.Publisher
	log      *slog.Logger
	metrics  *metrics.Metrics
	addr     string // metrics and health listen address, "" for none
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
	client, err := NewClient(cfg, opts.Clock, opts.Logger, httpClient)
	if err != nil {
		return nil, err
	}
	routes := make(map[string]consumer.Target, len(cfg.Routes))
	decoders := make(map[string]consumer.Decoder, len(cfg.Routes))
	for i, r := range cfg.Routes {
		d, err := consumer.NewDecoder(r.Format, consumer.Mapping{
			Key: r.Mapping.Key, Rename: r.Mapping.Rename, Drop: r.Mapping.Drop, Constants: r.Mapping.Constants,
		})
		if err != nil {
			return nil, fmt.Errorf("routes[%d] (%s): %w", i, r.Topic, err)
		}
		decoders[r.Topic] = d
		t, err := newTarget(ctx, client, cfg, r)
		if err != nil {
			return nil, fmt.Errorf("routes[%d] (%s): %w", i, r.Topic, err)
		}
		routes[r.Topic] = t
	}
	m.SchemasLoaded()
	sec, err := kafkaconn.New(cfg.Kafka)
	if err != nil {
		return nil, err
	}
	pub, err := sink.New(sink.Config{
		TLS:                    sec.TLS,
		SASL:                   sec.SASL,
		Brokers:                cfg.Kafka.Brokers,
		AuditTopic:             cfg.Topics.Audit,
		SyncTopic:              cfg.Topics.Sync,
		DeadLetterTopic:        cfg.Topics.DeadLetter,
		WorkerID:               cfg.WorkerID,
		Clock:                  opts.Clock,
		Logger:                 opts.Logger,
		AllowAutoTopicCreation: cfg.Kafka.CreateTopics,
	})
	if err != nil {
		return nil, fmt.Errorf("topics: %w", err)
	}
	start := kafka.FirstOffset
	if cfg.Kafka.StartOffset == "latest" {
		start = kafka.LastOffset
	}
	c, err := consumer.New(consumer.Config{
		Brokers:           cfg.Kafka.Brokers,
		GroupID:           cfg.Kafka.GroupID,
		ClientID:          cfg.Kafka.ClientID,
		Routes:            routes,
		Decoders:          decoders,
		Dialer:            sec.Dialer(cfg.Kafka.ClientID),
		StartOffset:       start,
		SessionTimeout:    cfg.Kafka.SessionTimeout.D(),
		RebalanceTimeout:  cfg.Kafka.RebalanceTimeout.D(),
		HeartbeatInterval: cfg.Kafka.HeartbeatInterval.D(),
		Balancer:          cfg.Kafka.Balancer,
		MaxWait:           cfg.Kafka.MaxWait.D(),
		CommitInterval:    cfg.Kafka.CommitInterval.D(),
		Linger:            cfg.Batch.Linger.D(),
		MaxInflight:       cfg.Batch.MaxInflight,
		BatchPause:        cfg.Retry.BatchPause.D(),
		DrainTimeout:      cfg.ShutdownTimeout.D() * 2 / 3,
		WorkerID:          cfg.WorkerID,
		Clock:             opts.Clock,
		Logger:            opts.Logger,
		Observer:          consumer.MultiObserver(m, opts.Observer),
	}, pub)
	if err != nil {
		_ = pub.Close()
		return nil, err
	}
	return &Worker{consumer: c, pub: pub, log: opts.Logger, metrics: m, addr: cfg.Metrics.Address}, nil
}

func newTarget(ctx context.Context, client *upsert.Client, cfg config.Config, r config.Route) (consumer.Target, error) {
	conflict, err := upsert.ParseConflict(r.ConflictResolution)
	if err != nil {
		return nil, fmt.Errorf("conflict_resolution: %w", err)
	}
	switch r.Target {
	case "customobjects":
		schema, err := os.ReadFile(r.SchemaFile)
		if err != nil {
			return nil, fmt.Errorf("schema_file: %w", err)
		}
		t, err := upsert.NewCustomObjects(client, upsert.CustomObjectsConfig{
			Schema:          r.Schema,
			SchemaJSON:      schema,
			Conflict:        conflict,
			UniqueFields:    r.UniqueFields,
			ReferenceFields: r.ReferenceFields,
			MaxRecords:      cfg.Batch.MaxRecords,
			MaxBytes:        cfg.Batch.MaxBytes,
		})
		if err != nil {
			return nil, fmt.Errorf("schema_file %s: %w", r.SchemaFile, err)
		}
		return t, nil
	case "datatables":
		d := r.DataTables
		t, err := upsert.NewDataTables(ctx, client, upsert.DataTablesConfig{
			Table:              r.Table,
			Conflict:           conflict,
			UniqueFields:       r.UniqueFields,
			References:         r.References,
			SchemaRefresh:      d.SchemaRefresh.D(),
			RowsParallelism:    d.RowsParallelism,
			RowsMaxRecords:     d.RowsMaxRecords,
			ImportThreshold:    d.ImportThreshold,
			ImportMaxRecords:   d.ImportMaxRecords,
			ImportMaxBytes:     d.ImportMaxBytes,
			ImportPollInterval: d.ImportPollInterval.D(),
			ImportTimeout:      d.ImportTimeout.D(),
			ReferenceTTL:       d.ReferenceTTL.D(),
			ReferenceMaxKeys:   d.ReferenceMaxKeys,
			PutMissingIs404:    d.PutMissingIs404,
		})
		if err != nil {
			return nil, fmt.Errorf("table %q: %w", r.Table, err)
		}
		return t, nil
	}
	return nil, fmt.Errorf("target: %q is not a known target", r.Target)
}

// Metrics returns the worker's metrics and health state.
func (w *Worker) Metrics() *metrics.Metrics { return w.metrics }

// Run serves the metrics and health endpoints (when an address is set) and
// processes events until ctx is cancelled, then drains, closes the
// publisher and stops serving.
func (w *Worker) Run(ctx context.Context) error {
	var srv *http.Server
	var served sync.WaitGroup
	if w.addr != "" {
		ln, err := net.Listen("tcp", w.addr)
		if err != nil {
			_ = w.pub.Close()
			return fmt.Errorf("metrics.address: %w", err)
		}
		w.log.Info("metrics and health endpoints", "addr", ln.Addr().String(), "paths", "/metrics /healthz /readyz")
		srv = &http.Server{Handler: w.metrics.Handler(), ReadHeaderTimeout: 5 * time.Second}
		served.Go(func() { _ = srv.Serve(ln) })
	}
	err := w.consumer.Run(ctx)
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = srv.Shutdown(sctx)
		cancel()
		served.Wait()
	}
	if cerr := w.pub.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// NewClient builds the Genesys client of the genesys and retry sections of
// cfg; httpClient supplies the transport (nil: a default one).
func NewClient(cfg config.Config, clk clock.Clock, log *slog.Logger, httpClient *http.Client) (*upsert.Client, error) {
	var limiter *rate.Limiter
	if rps := cfg.Genesys.RequestsPerSecond; rps > 0 {
		burst := int(rps)
		if burst < 1 {
			burst = 1
		}
		limiter = rate.NewLimiter(rate.Limit(rps), burst)
	}
	client, err := upsert.NewClient(upsert.ClientConfig{
		Region:       cfg.Genesys.Region,
		BaseURL:      cfg.Genesys.BaseURL,
		LoginURL:     cfg.Genesys.LoginURL,
		ClientID:     cfg.Genesys.ClientID,
		ClientSecret: string(cfg.Genesys.ClientSecret),
		Timeout:      cfg.Genesys.Timeout.D(),
		Retry: upsert.RetryPolicy{
			InitialInterval:     cfg.Retry.InitialInterval.D(),
			MaxInterval:         cfg.Retry.MaxInterval.D(),
			MaxElapsedTime:      cfg.Retry.MaxElapsed.D(),
			Multiplier:          cfg.Retry.Multiplier,
			RandomizationFactor: cfg.Retry.Jitter,
			MaxRetryAfter:       cfg.Retry.MaxRetryAfter.D(),
		},
		Clock:      clk,
		Logger:     log,
		Limiter:    limiter,
		HTTPClient: httpClient,
		UserAgent:  "gcupsert",
	})
	if err != nil {
		return nil, fmt.Errorf("genesys: %w", err)
	}
	return client, nil
}
