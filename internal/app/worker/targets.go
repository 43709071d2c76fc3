package worker

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"

	"golang.org/x/time/rate"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/config"
	"github.com/gcupsert/gcupsert/consumer"
	"github.com/gcupsert/gcupsert/internal/clock"
	"github.com/gcupsert/gcupsert/internal/retry"
	"github.com/gcupsert/gcupsert/internal/version"
	"github.com/gcupsert/gcupsert/upsert"
	"github.com/gcupsert/gcupsert/upsert/customobjects"
	"github.com/gcupsert/gcupsert/upsert/datatables"
	"github.com/gcupsert/gcupsert/upsert/externalcontacts"
)

// externalcontacts writes merge into the stored entity: the consumer asks
// it whether the newer of two events of a key stands for both.
var _ consumer.Coalescer = (*externalcontacts.Target)(nil)

// NewTarget builds the target of a route; ctx bounds the calls it makes
// (a data table is resolved and its schema read).
func NewTarget(ctx context.Context, client *upsert.Client, cfg config.Config, r config.Route) (consumer.Target, error) {
	conflict, err := change.ParseConflict(r.ConflictResolution)
	if err != nil {
		return nil, fmt.Errorf("conflict_resolution: %w", err)
	}
	switch r.Target {
	case "customobjects":
		schema, err := os.ReadFile(r.SchemaFile)
		if err != nil {
			return nil, fmt.Errorf("schema_file: %w", err)
		}
		t, err := customobjects.New(client, customobjects.Config{
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
		t, err := datatables.New(ctx, client, datatables.Config{
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
	case "externalcontacts":
		e := r.ExternalContacts
		t, err := externalcontacts.New(ctx, client, externalcontacts.Config{
			Entity:            externalcontacts.Entity(r.Entity),
			Source:            r.ExternalSource,
			CreateSource:      r.CreateSource,
			DataSchema:        r.Schema,
			Conflict:          conflict,
			DefaultAction:     e.FieldRule,
			ArrayAction:       e.ArrayRule,
			OrganizationField: r.OrganizationField,
			ReferenceWait:     e.ReferenceWait.D(),
			ReferenceTTL:      e.ReferenceTTL.D(),
			SchemaRefresh:     e.SchemaRefresh.D(),
			MaxRecords:        cfg.Batch.MaxRecords,
			MaxEnrich:         e.MaxEnrich,
			MaxBulk:           e.MaxBulk,
			MaxBytes:          min(cfg.Batch.MaxBytes, externalcontacts.DefaultMaxBytes),
			Parallelism:       e.Parallelism,
		})
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", r.Entity, r.ExternalSource, err)
		}
		return t, nil
	}
	return nil, fmt.Errorf("target: %q is not a known target", r.Target)
}

// otherSecrets are the secrets beside the client secret that the Genesys
// client keeps out of its errors and logs.
func otherSecrets(cfg config.Config) []string {
	if cfg.Kafka.SASL.Password == "" {
		return nil
	}
	return []string{string(cfg.Kafka.SASL.Password)}
}

// NewClient builds the Genesys client of the genesys and retry sections of
// cfg; httpClient supplies the transport (nil: a default one).
func NewClient(cfg config.Config, clk clock.Clock, log *slog.Logger, httpClient *http.Client) (*upsert.Client, error) {
	var limiter *rate.Limiter
	if rps := cfg.Genesys.RequestsPerSecond; rps > 0 {
		limiter = rate.NewLimiter(rate.Limit(rps), max(int(rps), 1))
	}
	client, err := upsert.NewClient(upsert.ClientConfig{
		Region:       cfg.Genesys.Region,
		BaseURL:      cfg.Genesys.BaseURL,
		LoginURL:     cfg.Genesys.LoginURL,
		ClientID:     cfg.Genesys.ClientID,
		ClientSecret: string(cfg.Genesys.ClientSecret),
		Timeout:      cfg.Genesys.Timeout.D(),
		Retry: retry.Policy{
			Initial:       cfg.Retry.InitialInterval.D(),
			Max:           cfg.Retry.MaxInterval.D(),
			MaxElapsed:    cfg.Retry.MaxElapsed.D(),
			Multiplier:    cfg.Retry.Multiplier,
			Jitter:        cfg.Retry.Jitter,
			MaxRetryAfter: cfg.Retry.MaxRetryAfter.D(),
		},
		AuthStyle: upsert.AuthStyle(cfg.Genesys.AuthStyle),
		Pacing: upsert.Pacing{Disabled: cfg.Genesys.Pacing == "off", Even: cfg.Genesys.Pacing == "even",
			Reserve: cfg.Genesys.PacingReserve},
		Clock:      clk,
		Logger:     log,
		Limiter:    limiter,
		HTTPClient: httpClient,
		UserAgent:  version.Get().UserAgent(),
		Secrets:    otherSecrets(cfg),
	})
	if err != nil {
		return nil, fmt.Errorf("genesys: %w", err)
	}
	return client, nil
}
