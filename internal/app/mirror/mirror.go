// Package mirror assembles gcupsert mirror from the configuration: the
// tables of the routes (typed columns from each route's JSON Schema: a
// customobjects schema file, a data table's schema read from the API, an
// External Contacts entity's standard fields), the
// database, and the consumer of the sync topic, with its metrics server.
package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"

	"github.com/gcupsert/gcupsert/config"
	"github.com/gcupsert/gcupsert/internal/app/worker"
	"github.com/gcupsert/gcupsert/internal/clock"
	"github.com/gcupsert/gcupsert/internal/metrics"
	core "github.com/gcupsert/gcupsert/mirror"
	"github.com/gcupsert/gcupsert/mirror/sqldb"
	"github.com/gcupsert/gcupsert/upsert/externalcontacts"
)

// Options are the dependencies that do not come from the configuration.
type Options struct {
	Logger *slog.Logger
	Clock  clock.Clock
}

// Tables are the mirror's tables of cfg's routes. A data-table route gets
// typed columns when the Genesys credentials are configured (its schema is
// read from the API); otherwise its records are kept as JSON only.
func Tables(ctx context.Context, cfg config.Config, log *slog.Logger) ([]core.Table, error) {
	var out []core.Table
	byName := map[string]int{}
	for i, r := range cfg.Routes {
		t, err := routeTable(ctx, cfg, r, log)
		if err != nil {
			return nil, fmt.Errorf("routes[%d] (%s): %w", i, r.Topic, err)
		}
		if j, ok := byName[t.Name]; ok {
			if o := out[j]; o.Target != t.Target || o.Schema != t.Schema {
				return nil, fmt.Errorf("routes[%d] (%s %s) would share the mirror's table %s with %s %s; rename one",
					i, t.Target, t.Schema, t.Name, o.Target, o.Schema)
			}
			continue // two topics into one schema share its table
		}
		byName[t.Name] = len(out)
		out = append(out, t)
	}
	return out, nil
}

func routeTable(ctx context.Context, cfg config.Config, r config.Route, log *slog.Logger) (core.Table, error) {
	switch r.Target {
	case "datatables":
		if cfg.Genesys.ClientID == "" || cfg.Genesys.ClientSecret == "" {
			log.Warn("no Genesys credentials: the data table's records are mirrored as JSON only", "table", r.Table)
			return core.Table{Name: core.TableName(r.Target, r.Table), Target: r.Target, Schema: r.Table}, nil
		}
		client, err := worker.NewClient(cfg, clock.Real, log, nil)
		if err != nil {
			return core.Table{}, err
		}
		tbl, err := client.GetTable(ctx, r.Table, true)
		if err != nil {
			return core.Table{}, fmt.Errorf("table %q: %w", r.Table, err)
		}
		cols, err := core.ColumnsOf(tbl.Schema)
		if err != nil {
			return core.Table{}, fmt.Errorf("table %q: %w", r.Table, err)
		}
		return core.Table{Name: core.TableName(r.Target, tbl.Name), Target: r.Target, Schema: tbl.Name, Columns: cols}, nil
	case "externalcontacts":
		// The sync events name the schema as the target does: the entity,
		// and the data schema when there is one.
		schema := r.Entity
		if r.Schema != "" {
			schema += "/" + r.Schema
		}
		cols, err := core.ColumnsOf(externalcontacts.EntitySchema(externalcontacts.Entity(r.Entity)))
		if err != nil {
			return core.Table{}, err
		}
		return core.Table{Name: core.TableName(r.Target, schema), Target: r.Target, Schema: schema, Columns: cols}, nil
	default:
		doc, err := os.ReadFile(r.SchemaFile)
		if err != nil {
			return core.Table{}, fmt.Errorf("schema_file: %w", err)
		}
		cols, err := core.ColumnsOf(doc)
		if err != nil {
			return core.Table{}, fmt.Errorf("schema_file %s: %w", r.SchemaFile, err)
		}
		return core.Table{Name: core.TableName(r.Target, r.Schema), Target: r.Target, Schema: r.Schema, Columns: cols}, nil
	}
}

// Init writes the DDL of cfg's tables (and of the mirror's own tables) to
// w; with apply it also creates them in the database, or adds the columns
// a table lacks.
func Init(ctx context.Context, cfg config.Config, w io.Writer, apply bool, opts Options) error {
	opts = opts.withDefaults()
	tables, err := Tables(ctx, cfg, opts.Logger)
	if err != nil {
		return err
	}
	db, err := sqldb.Open(ctx, cfg.MirrorDatabaseURL(), sqldb.Options{Logger: opts.Logger})
	if err != nil && apply {
		return err
	}
	dialect := "sqlite"
	if err == nil {
		defer db.Close()
		dialect = db.Dialect()
	} else if !isSQLite(cfg.Mirror.Database) {
		dialect = "postgres"
	}
	ddl, err := sqldb.DDL(dialect, tables)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, ddl); err != nil {
		return err
	}
	if apply {
		return db.Prepare(ctx, tables)
	}
	return nil
}

func isSQLite(url string) bool { return len(url) >= 7 && url[:7] == "sqlite:" }

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = clock.Real
	}
	return o
}

// App is one running gcupsert mirror.
type App struct {
	m    *core.Mirror
	db   *sqldb.DB
	log  *slog.Logger
	addr string

	closeOnce sync.Once
}

// New builds the mirror of cfg; ctx bounds the calls made at start (a data
// table's schema, the database connection).
func New(ctx context.Context, cfg config.Config, opts Options) (*App, error) {
	opts = opts.withDefaults()
	tables, err := Tables(ctx, cfg, opts.Logger)
	if err != nil {
		return nil, err
	}
	db, err := sqldb.Open(ctx, cfg.MirrorDatabaseURL(), sqldb.Options{
		Deletes: core.DeleteMode(cfg.Mirror.Deletes), EventLog: cfg.Mirror.EventLog, Logger: opts.Logger.With("component", "database"),
	})
	if err != nil {
		return nil, fmt.Errorf("mirror.database: %w", err)
	}
	sec, err := cfg.Kafka.Security()
	if err != nil {
		db.Close()
		return nil, err
	}
	dead := ""
	if cfg.Mirror.DeadLetters {
		dead = cfg.Topics.DeadLetter
	}
	m, err := core.New(core.Config{
		Brokers: cfg.Kafka.Brokers, GroupID: cfg.Mirror.GroupID, ClientID: cfg.Kafka.ClientID + "-mirror",
		Topic: cfg.Topics.Sync, DeadLetterTopic: dead, Tables: tables,
		MaxEvents: cfg.Mirror.MaxEvents, Linger: cfg.Mirror.Linger.D(), FromLatest: cfg.Kafka.StartOffset == "latest",
		SessionTimeout: cfg.Kafka.SessionTimeout.D(), RebalanceTimeout: cfg.Kafka.RebalanceTimeout.D(),
		HeartbeatInterval: cfg.Kafka.HeartbeatInterval.D(), MaxWait: cfg.Kafka.MaxWait.D(),
		Dialer: sec.Dialer(cfg.Kafka.ClientID + "-mirror"), Transport: sec.Transport(cfg.Kafka.ClientID + "-mirror"),
		Clock: opts.Clock, Logger: opts.Logger.With("component", "mirror"),
		Metrics: core.NewMetrics(opts.Clock, cfg.Metrics.WedgeTimeout.D()),
	}, db)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &App{m: m, db: db, log: opts.Logger, addr: cfg.Mirror.MetricsAddress}, nil
}

// Metrics returns the mirror's metrics and health.
func (a *App) Metrics() *core.Metrics { return a.m.Metrics() }

// DB is the mirror's database.
func (a *App) DB() *sqldb.DB { return a.db }

// Run serves the metrics (when an address is set) and mirrors until ctx
// ends; it returns nil after a clean stop and the error of a failure no
// retry mends.
func (a *App) Run(ctx context.Context) error {
	defer a.Close()
	if a.addr != "" {
		stop, err := metrics.Serve(a.addr, a.m.Metrics().Handler(), a.log.With("component", "mirror"))
		if err != nil {
			return fmt.Errorf("mirror.metrics_address: %w", err)
		}
		defer stop()
	}
	err := a.m.Run(ctx)
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// Close releases the database. Safe to call more than once.
func (a *App) Close() {
	a.closeOnce.Do(func() { a.db.Close() })
}
