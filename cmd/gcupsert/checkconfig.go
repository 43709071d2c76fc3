package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/config"
	"github.com/gcupsert/gcupsert/internal/app/worker"
	"github.com/gcupsert/gcupsert/internal/clock"
	"github.com/gcupsert/gcupsert/upsert"
	"github.com/gcupsert/gcupsert/upsert/customobjects"
	"github.com/gcupsert/gcupsert/upsert/externalcontacts"
)

// checker prints one line per check and remembers failures.
type checker struct {
	w      io.Writer
	failed int
}

func (c *checker) ok(what, detail string, args ...any) {
	fmt.Fprintf(c.w, "ok    %-8s %s\n", what, fmt.Sprintf(detail, args...))
}

// warn reports a check that could not be made; it does not fail.
func (c *checker) warn(what, detail string, args ...any) {
	fmt.Fprintf(c.w, "warn  %-8s %s\n", what, fmt.Sprintf(detail, args...))
}

func (c *checker) fail(what, detail string, args ...any) {
	c.failed++
	fmt.Fprintf(c.w, "FAIL  %-8s %s\n", what, fmt.Sprintf(detail, args...))
}

func cmdCheckConfig(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check-config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", os.Getenv("GCUPSERT_CONFIG"), "configuration file to check")
	timeout := fs.Duration("timeout", 30*time.Second, "bound on each connection check")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c := &checker{w: stdout}
	cfg, err := config.Load(*path, os.Environ())
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "config: ")
		for _, line := range strings.Split(msg, "\n") {
			c.fail("config", "%s", line)
		}
		return fmt.Errorf("%d check(s) failed", c.failed)
	}
	c.ok("config", "%s: %d route(s), worker %q, group %q", orDefault(*path, "defaults and environment"), len(cfg.Routes), cfg.WorkerID, cfg.Kafka.GroupID)

	checkKafka(c, cfg, *timeout)
	checkGenesys(c, cfg, *timeout, stderr)
	if c.failed > 0 {
		return fmt.Errorf("%d check(s) failed", c.failed)
	}
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func checkKafka(c *checker, cfg config.Config, timeout time.Duration) {
	sec, err := cfg.Kafka.Security()
	if err != nil {
		c.fail("kafka", "%v", err)
		return
	}
	tr := sec.Transport(cfg.Kafka.ClientID)
	defer tr.CloseIdleConnections()
	kc := &kafka.Client{Addr: kafka.TCP(cfg.Kafka.Brokers...), Timeout: timeout, Transport: tr}
	var topics []string
	for _, r := range cfg.Routes {
		topics = append(topics, r.Topic)
	}
	outbound := []string{cfg.Topics.Audit, cfg.Topics.Sync, cfg.Topics.DeadLetter}
	topics = append(topics, outbound...)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	md, err := kc.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		c.fail("kafka", "brokers %s not reachable: %v", strings.Join(cfg.Kafka.Brokers, ","), err)
		return
	}
	c.ok("kafka", "%d broker(s) reachable at %s", len(md.Brokers), strings.Join(cfg.Kafka.Brokers, ","))
	checkSessionTimeout(ctx, c, kc, cfg.Kafka.SessionTimeout.D())
	found := map[string]kafka.Topic{}
	for _, t := range md.Topics {
		found[t.Name] = t
	}
	for i, r := range cfg.Routes {
		t, ok := found[r.Topic]
		if !ok || t.Error != nil {
			c.fail("kafka", "routes[%d] input topic %s: %v", i, r.Topic, topicErr(t, ok))
			continue
		}
		c.ok("kafka", "routes[%d] input topic %s: %d partition(s) (more replicas than that sit idle)", i, r.Topic, len(t.Partitions))
	}
	for _, name := range outbound {
		t, ok := found[name]
		switch {
		case ok && t.Error == nil:
			c.ok("kafka", "outbound topic %s: %d partition(s)", name, len(t.Partitions))
		case cfg.Kafka.CreateTopics:
			c.ok("kafka", "outbound topic %s: missing, created on first write (kafka.create_topics)", name)
		default:
			c.fail("kafka", "outbound topic %s: %v (create it, or set kafka.create_topics)", name, topicErr(t, ok))
		}
	}
}

// checkSessionTimeout checks kafka.session_timeout against the brokers'
// bounds, as the worker does at start.
func checkSessionTimeout(ctx context.Context, c *checker, kc *kafka.Client, d time.Duration) {
	b, err := worker.ReadSessionBounds(ctx, kc)
	if err != nil {
		c.warn("kafka", "kafka.session_timeout %s not checked: the brokers' bounds cannot be read: %v", d, err)
		return
	}
	if err := b.Check(d); err != nil {
		c.fail("kafka", "%v", err)
		return
	}
	c.ok("kafka", "kafka.session_timeout %s within the brokers' bounds (%s)", d, b)
}

func topicErr(t kafka.Topic, ok bool) error {
	if !ok {
		return errors.New("does not exist")
	}
	if errors.Is(t.Error, kafka.UnknownTopicOrPartition) {
		return errors.New("does not exist")
	}
	return t.Error
}

func checkGenesys(c *checker, cfg config.Config, timeout time.Duration, stderr io.Writer) {
	client, err := worker.NewClient(cfg, clock.Real, newLogger(stderr, "error", "auto"), nil)
	if err != nil {
		c.fail("genesys", "%v", err)
		return
	}
	host := cfg.Genesys.LoginURL
	if host == "" {
		host = cfg.Genesys.BaseURL
	}
	if host == "" {
		_, host, _ = upsert.RegionURLs(cfg.Genesys.Region)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := client.CheckToken(ctx); err != nil {
		c.fail("genesys", "no token from %s: %v", host, err)
		return
	}
	c.ok("genesys", "token obtained from %s for client %s", host, cfg.Genesys.ClientID)
	for i, r := range cfg.Routes {
		what := fmt.Sprintf("routes[%d] %s", i, r.Topic)
		var doc []byte
		switch r.Target {
		case "customobjects":
			doc = checkSchemaFile(c, client, what, r)
		case "datatables":
			doc = checkTable(c, client, what, r, timeout)
		case "externalcontacts":
			doc = checkExternalContacts(c, client, what, r, timeout)
		}
		if doc == nil {
			continue
		}
		if err := worker.CheckFields(fmt.Sprintf("routes[%d]", i), r, doc); err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				c.fail("schema", "%s", line)
			}
		}
	}
}

// checkSchemaFile checks that a customobjects route's schema file compiles
// and returns it; nil when it does not.
func checkSchemaFile(c *checker, client *upsert.Client, what string, r config.Route) []byte {
	doc, err := os.ReadFile(r.SchemaFile)
	if err == nil {
		_, err = customobjects.New(client, customobjects.Config{Schema: r.Schema, SchemaJSON: doc,
			Conflict: change.Conflict(r.ConflictResolution), UniqueFields: r.UniqueFields, ReferenceFields: r.ReferenceFields})
	}
	if err != nil {
		c.fail("schema", "%s: customobjects schema %s (%s): %v", what, r.Schema, r.SchemaFile, err)
		return nil
	}
	c.ok("schema", "%s: customobjects schema %s compiles from %s", what, r.Schema, r.SchemaFile)
	return doc
}

// checkTable checks that a datatables route's table and the tables its
// references name exist, and returns the table's schema; nil when the
// table cannot be read.
func checkTable(c *checker, client *upsert.Client, what string, r config.Route, timeout time.Duration) []byte {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t, err := client.GetTable(ctx, r.Table, true)
	cancel()
	if err != nil {
		c.fail("schema", "%s: data table %q: %v", what, r.Table, err)
		return nil
	}
	c.ok("schema", "%s: data table %q found (id %s), fields: %s", what, t.Name, t.ID, fieldNames(t.Schema))
	for _, f := range slices.Sorted(maps.Keys(r.References)) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		rt, err := client.GetTable(ctx, r.References[f], false)
		cancel()
		if err != nil {
			c.fail("schema", "%s: references.%s: data table %q: %v", what, f, r.References[f], err)
			continue
		}
		c.ok("schema", "%s: references.%s: data table %q found (id %s)", what, f, rt.Name, rt.ID)
	}
	return t.Schema
}

func fieldNames(schema []byte) string {
	var s struct {
		Properties map[string]any `json:"properties"`
	}
	if err := json.Unmarshal(schema, &s); err != nil || len(s.Properties) == 0 {
		return "(none listed)"
	}
	names := make([]string, 0, len(s.Properties))
	for n := range s.Properties {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// checkExternalContacts checks that an externalcontacts route's external
// source exists (or may be created) and that its data schema exists and
// is enabled, and returns the JSON Schema of the fields its records may
// hold; nil when the data schema cannot be read.
func checkExternalContacts(c *checker, client *upsert.Client, what string, r config.Route, timeout time.Duration) []byte {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	src, ok, err := externalcontacts.FindSource(ctx, client, r.ExternalSource)
	switch {
	case err != nil:
		c.fail("schema", "%s: external source %q: %v", what, r.ExternalSource, err)
	case !ok && r.CreateSource:
		c.ok("schema", "%s: external source %q does not exist; the worker will create it (create_source)", what, r.ExternalSource)
	case !ok:
		c.fail("schema", "%s: no external source is named %q (create it, or set create_source)", what, r.ExternalSource)
	case src.Active != nil && !*src.Active:
		c.fail("schema", "%s: external source %q (id %s) is not active", what, src.Name, src.ID)
	default:
		c.ok("schema", "%s: external source %q found (id %s)", what, src.Name, src.ID)
	}
	var custom []byte
	if r.Schema != "" {
		ds, ok, err := externalcontacts.FindDataSchema(ctx, client, externalcontacts.Entity(r.Entity), r.Schema)
		switch {
		case err != nil:
			c.fail("schema", "%s: %s data schema %q: %v", what, r.Entity, r.Schema, err)
			return nil
		case !ok:
			c.fail("schema", "%s: no %s data schema is named %q", what, r.Entity, r.Schema)
			return nil
		case ds.Enabled != nil && !*ds.Enabled:
			c.fail("schema", "%s: %s data schema %q is disabled", what, r.Entity, r.Schema)
			return nil
		}
		c.ok("schema", "%s: %s data schema %q found (id %s, version %d), custom fields: %s", what, r.Entity, ds.Name, ds.ID, ds.Version, fieldNames(ds.JSONSchema))
		custom = ds.JSONSchema
	}
	return externalcontacts.FieldsSchema(externalcontacts.Entity(r.Entity), r.OrganizationField, custom)
}
