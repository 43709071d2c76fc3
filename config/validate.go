package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// MinShutdownTimeout is the smallest shutdown_timeout: below it a stop
// abandons every in-flight batch.
const MinShutdownTimeout = time.Second

// problems collects what is wrong, each naming its key.
type problems []error

func (p *problems) add(key, format string, args ...any) {
	*p = append(*p, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return fmt.Errorf("config: %w", errors.Join(p...))
}

// Validate checks every value and returns all problems at once, each naming
// its key.
func (c *Config) Validate() error {
	var p problems
	if strings.TrimSpace(c.WorkerID) == "" {
		p.add("worker_id", "must not be empty")
	} else if i := strings.IndexFunc(c.WorkerID, unicode.IsControl); i >= 0 {
		r, _ := utf8.DecodeRuneInString(c.WorkerID[i:])
		p.add("worker_id", "%q holds the control character %U; it names the worker in logs and event headers", c.WorkerID, r)
	}
	c.Kafka.validate(&p)
	c.validateAPI(&p)
	c.Batch.validate(&p)
	outbound := c.Topics.validate(&p)
	if len(c.Routes) == 0 {
		p.add("routes", "needs at least one route (topic, target, schema)")
	}
	inputs := map[string]bool{}
	for i := range c.Routes {
		rt := &c.Routes[i]
		key := fmt.Sprintf("routes[%d]", i)
		if err := checkTopic(rt.Topic); err != nil {
			p.add(key+".topic", "%v", err)
		} else if inputs[rt.Topic] {
			p.add(key+".topic", "%q is routed twice", rt.Topic)
		} else if _, out := outbound[rt.Topic]; out {
			p.add(key+".topic", "%q is also an outbound topic", rt.Topic)
		}
		inputs[rt.Topic] = true
		rt.validate(&p, key)
	}
	c.validateRest(&p)
	return p.err()
}

func (k *Kafka) validate(p *problems) {
	if len(k.Brokers) == 0 {
		p.add("kafka.brokers", "needs at least one host:port")
	}
	for _, b := range k.Brokers {
		_, port, err := net.SplitHostPort(b)
		if err != nil || port == "" {
			p.add("kafka.brokers", "%q is not host:port", b)
			continue
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			p.add("kafka.brokers", "%q: the port %q is not a number from 1 to 65535", b, port)
		}
	}
	if k.GroupID == "" {
		p.add("kafka.group_id", "must not be empty")
	}
	if k.StartOffset != "earliest" && k.StartOffset != "latest" {
		p.add("kafka.start_offset", "%q is not earliest or latest", k.StartOffset)
	}
	if k.Balancer != "range" && k.Balancer != "roundrobin" {
		p.add("kafka.balancer", "%q is not range or roundrobin", k.Balancer)
	}
	if k.SessionTimeout.D() < 1e9 {
		p.add("kafka.session_timeout", "%s is below 1s", k.SessionTimeout)
	}
	if k.HeartbeatInterval.D() <= 0 || k.HeartbeatInterval.D() >= k.SessionTimeout.D() {
		p.add("kafka.heartbeat_interval", "%s must be above 0 and below kafka.session_timeout (%s)", k.HeartbeatInterval, k.SessionTimeout)
	}
	if k.RebalanceTimeout.D() <= 0 {
		p.add("kafka.rebalance_timeout", "must be above 0")
	}
	if k.MaxWait.D() <= 0 {
		p.add("kafka.max_wait", "must be above 0")
	}
	if k.CommitInterval.D() < 0 {
		p.add("kafka.commit_interval", "must not be negative")
	}
	k.TLS.validate(p)
	k.SASL.validate(p)
}

func (t *TLS) validate(p *problems) {
	if !t.Enabled && (t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != "" || t.InsecureSkipVerify) {
		p.add("kafka.tls.enabled", "is false, but other kafka.tls keys are set")
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		p.add("kafka.tls.cert_file", "and kafka.tls.key_file go together")
	}
	for _, kv := range [][2]string{{"kafka.tls.ca_file", t.CAFile}, {"kafka.tls.cert_file", t.CertFile}, {"kafka.tls.key_file", t.KeyFile}} {
		if kv[1] != "" {
			if _, err := os.Stat(kv[1]); err != nil {
				p.add(kv[0], "cannot read %q: %v", kv[1], errors.Unwrap(err))
			}
		}
	}
}

func (s *SASL) validate(p *problems) {
	switch s.Mechanism {
	case "":
		if s.Username != "" {
			p.add("kafka.sasl.mechanism", "is empty, but kafka.sasl.username is set")
		}
	case "plain", "scram-sha-256", "scram-sha-512":
		if s.Username == "" {
			p.add("kafka.sasl.username", "must be set with kafka.sasl.mechanism %s", s.Mechanism)
		}
		if s.Password == "" {
			p.add("kafka.sasl.password", "missing: set GCUPSERT_KAFKA_SASL_PASSWORD or kafka.sasl.password_file")
		}
	default:
		p.add("kafka.sasl.mechanism", "%q is not plain, scram-sha-256 or scram-sha-512", s.Mechanism)
	}
}

func (b *Batch) validate(p *problems) {
	if b.MaxRecords < 1 || b.MaxRecords > MaxBatchRecords {
		p.add("batch.max_records", "%d is not between 1 and %d", b.MaxRecords, MaxBatchRecords)
	}
	if b.MaxBytes < 1024 || b.MaxBytes > MaxBatchBytes {
		p.add("batch.max_bytes", "%d is not between 1024 and %d", b.MaxBytes, MaxBatchBytes)
	}
	if b.Linger.D() < 0 {
		p.add("batch.linger", "must not be negative")
	}
	if b.MaxInflight < 1 {
		p.add("batch.max_inflight", "%d is below 1", b.MaxInflight)
	}
	if b.BufferKeys < 0 {
		p.add("batch.buffer_keys", "%d is negative", b.BufferKeys)
	}
	if b.BufferBytes < 0 {
		p.add("batch.buffer_bytes", "%d is negative", b.BufferBytes)
	}
}

// validate checks the outbound topics and returns them, name -> key.
func (t *Topics) validate(p *problems) map[string]string {
	seen := map[string]string{}
	for _, kv := range [][2]string{{"topics.audit", t.Audit}, {"topics.sync", t.Sync}, {"topics.deadletter", t.DeadLetter}} {
		key, name := kv[0], kv[1]
		if err := checkTopic(name); err != nil {
			p.add(key, "%v", err)
			continue
		}
		if other, dup := seen[name]; dup {
			p.add(key, "%q is also %s", name, other)
		}
		seen[name] = key
	}
	return seen
}

func (rt *Route) validate(p *problems, key string) {
	switch rt.Target {
	case "customobjects":
		if rt.Schema == "" {
			p.add(key+".schema", "must not be empty")
		}
		if rt.SchemaFile == "" {
			p.add(key+".schema_file", "must name the JSON Schema file of the target schema")
		}
		if rt.Table != "" || len(rt.References) > 0 || rt.DataTables != (DataTables{}) {
			p.add(key, "table, references and datatables apply to the datatables target only")
		}
	case "datatables":
		rt.validateDataTables(p, key)
	case "externalcontacts":
		rt.validateExternalContacts(p, key)
	default:
		p.add(key+".target", "%q is not a known target (customobjects, datatables, externalcontacts)", rt.Target)
	}
	if rt.Target != "externalcontacts" && (rt.Entity != "" || rt.ExternalSource != "" || rt.CreateSource ||
		rt.OrganizationField != "" || rt.ExternalContacts != (ExternalContacts{})) {
		p.add(key, "entity, external_source, create_source, organization_field and externalcontacts apply to the externalcontacts target only")
	}
	switch rt.ConflictResolution {
	case "upsert", "updateOnly", "createOnly":
	default:
		p.add(key+".conflict_resolution", "%q is not upsert, updateOnly or createOnly", rt.ConflictResolution)
	}
	switch rt.Format {
	case "", "plain", "debezium":
	default:
		p.add(key+".format", "%q is not plain or debezium", rt.Format)
	}
	for j, f := range rt.UniqueFields {
		if f == "" {
			p.add(fmt.Sprintf("%s.unique_fields[%d]", key, j), "must not be empty")
		}
	}
	for j, f := range rt.ReferenceFields {
		if f == "" {
			p.add(fmt.Sprintf("%s.reference_fields[%d]", key, j), "must not be empty")
		}
	}
}

func (rt *Route) validateDataTables(p *problems, key string) {
	if rt.Table == "" {
		p.add(key+".table", "must name the data table (name or id)")
	}
	if rt.Schema != "" || rt.SchemaFile != "" {
		p.add(key, "schema and schema_file apply to customobjects; a data table's schema is read from the API")
	}
	if len(rt.ReferenceFields) > 0 {
		p.add(key+".reference_fields", "applies to customobjects; for a data table use references (field: table)")
	}
	for f, tbl := range rt.References {
		if f == "" || tbl == "" {
			p.add(key+".references", "field %q -> table %q: both must be set", f, tbl)
		}
	}
	d := rt.DataTables
	for _, kv := range []struct {
		name string
		v    int
	}{{"rows_parallelism", d.RowsParallelism}, {"rows_max_records", d.RowsMaxRecords}, {"import_threshold", d.ImportThreshold},
		{"import_max_records", d.ImportMaxRecords}, {"import_max_bytes", d.ImportMaxBytes}, {"reference_max_keys", d.ReferenceMaxKeys}} {
		if kv.v < 0 {
			p.add(key+".datatables."+kv.name, "must not be negative")
		}
	}
	if d.ImportThreshold > 0 && d.ImportMaxRecords > 0 && d.ImportThreshold > d.ImportMaxRecords {
		p.add(key+".datatables.import_threshold", "%d is above import_max_records (%d)", d.ImportThreshold, d.ImportMaxRecords)
	}
	for _, kv := range []struct {
		name string
		v    Duration
	}{{"schema_refresh", d.SchemaRefresh}, {"import_poll_interval", d.ImportPollInterval}, {"import_timeout", d.ImportTimeout}, {"reference_ttl", d.ReferenceTTL}} {
		if kv.v < 0 {
			p.add(key+".datatables."+kv.name, "must not be negative")
		}
	}
}

func (rt *Route) validateExternalContacts(p *problems, key string) {
	switch rt.Entity {
	case "contact", "organization":
	default:
		p.add(key+".entity", "%q is not contact or organization", rt.Entity)
	}
	if n := len(strings.TrimSpace(rt.ExternalSource)); n == 0 || n > 200 {
		p.add(key+".external_source", "must name the external source (at most 200 characters)")
	}
	if rt.SchemaFile != "" || rt.Table != "" || len(rt.References) > 0 || len(rt.ReferenceFields) > 0 || len(rt.UniqueFields) > 0 {
		p.add(key, "schema_file, table, references, reference_fields and unique_fields do not apply to externalcontacts "+
			"(schema names the data schema, read from the API; organization_field names the organization reference)")
	}
	if rt.OrganizationField != "" && rt.Entity != "contact" {
		p.add(key+".organization_field", "applies to contacts only")
	}
	e := rt.ExternalContacts
	switch e.FieldRule {
	case "", "PreferProvided", "AlwaysUseProvided", "PreferExisting":
	default:
		p.add(key+".externalcontacts.field_rule", "%q is not PreferProvided, AlwaysUseProvided or PreferExisting", e.FieldRule)
	}
	switch e.ArrayRule {
	case "", "Fill", "Replace", "Extend":
	default:
		p.add(key+".externalcontacts.array_rule", "%q is not Fill, Replace or Extend", e.ArrayRule)
	}
	if e.MaxEnrich < 0 || e.MaxEnrich > 10 {
		p.add(key+".externalcontacts.max_enrich", "%d is not between 1 and 10 (the API's limit)", e.MaxEnrich)
	}
	if e.MaxBulk < 0 || e.Parallelism < 0 {
		p.add(key+".externalcontacts", "max_bulk and parallelism must not be negative")
	}
	for _, kv := range []struct {
		name string
		v    Duration
	}{{"reference_wait", e.ReferenceWait}, {"reference_ttl", e.ReferenceTTL}, {"schema_refresh", e.SchemaRefresh}} {
		if kv.v < 0 {
			p.add(key+".externalcontacts."+kv.name, "must not be negative")
		}
	}
}

// validateRest checks the log, metrics and shutdown settings.
func (c *Config) validateRest(p *problems) {
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		p.add("log.level", "%q is not debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "auto", "json", "text":
	default:
		p.add("log.format", "%q is not auto, json or text", c.Log.Format)
	}
	if a := c.Metrics.Address; a != "" {
		if _, _, err := net.SplitHostPort(a); err != nil {
			p.add("metrics.address", "%q is not [host]:port", a)
		}
	}
	if c.Metrics.WedgeTimeout.D() <= 0 {
		p.add("metrics.wedge_timeout", "must be above 0")
	}
	if c.ShutdownTimeout.D() < MinShutdownTimeout {
		p.add("shutdown_timeout", "%s is below %s: in-flight batches get two thirds of it to finish", c.ShutdownTimeout, MinShutdownTimeout)
	}
}

func checkTopic(name string) error {
	if name == "" {
		return errors.New("must not be empty")
	}
	if len(name) > 249 {
		return fmt.Errorf("%q is longer than 249 characters", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("%q has %q; topic names use letters, digits, '.', '_' and '-'", name, r)
		}
	}
	return nil
}

// ValidateAPI checks only the genesys and retry sections: enough for
// commands that call the API but run no pipeline.
func (c *Config) ValidateAPI() error {
	var p problems
	c.validateAPI(&p)
	return p.err()
}

func (c *Config) validateAPI(p *problems) {
	bad := p.add
	g := c.Genesys
	if g.BaseURL == "" && g.Region == "" {
		bad("genesys.region", "must be set when genesys.base_url is not")
	}
	for _, kv := range [][2]string{{"genesys.base_url", g.BaseURL}, {"genesys.login_url", g.LoginURL}} {
		key, u := kv[0], kv[1]
		if u == "" {
			continue
		}
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			bad(key, "%q is not an http(s) URL", u)
		}
	}
	if g.ClientID == "" {
		bad("genesys.client_id", "must not be empty")
	}
	if g.AuthStyle != "basic" && g.AuthStyle != "basic_urlencoded" {
		bad("genesys.auth_style", "%q is not basic or basic_urlencoded", g.AuthStyle)
	}
	if g.ClientSecret == "" {
		bad("genesys.client_secret", "missing: set GCUPSERT_GENESYS_CLIENT_SECRET or genesys.client_secret_file")
	}
	if g.Timeout.D() <= 0 {
		bad("genesys.timeout", "must be above 0")
	}
	switch g.Pacing {
	case "burst", "even", "off":
	default:
		bad("genesys.pacing", "%q is not burst, even or off", g.Pacing)
	}
	if r := g.PacingReserve; r < 0 || r >= 1 || r != r {
		bad("genesys.pacing_reserve", "%v is not within [0, 1)", r)
	}
	if g.RequestsPerSecond < 0 {
		bad("genesys.requests_per_second", "must not be negative")
	}

	r := c.Retry
	if r.InitialInterval.D() <= 0 {
		bad("retry.initial_interval", "must be above 0")
	}
	if r.MaxInterval.D() < r.InitialInterval.D() {
		bad("retry.max_interval", "%s is below retry.initial_interval (%s)", r.MaxInterval, r.InitialInterval)
	}
	if r.MaxElapsed.D() < r.InitialInterval.D() || r.MaxElapsed.D() <= 0 {
		bad("retry.max_elapsed", "%s is below retry.initial_interval (%s): no retry would fit in it", r.MaxElapsed, r.InitialInterval)
	}
	if r.Multiplier < 1 {
		bad("retry.multiplier", "%g is below 1", r.Multiplier)
	}
	if r.Jitter < 0 || r.Jitter >= 1 {
		bad("retry.jitter", "%g is not in [0, 1)", r.Jitter)
	}
	if r.MaxRetryAfter.D() <= 0 {
		bad("retry.max_retry_after", "must be above 0")
	}
	if r.BatchPause.D() <= 0 {
		bad("retry.batch_pause", "must be above 0")
	}
}

// ValidateMirror checks what gcupsert mirror reads: the kafka, topics,
// routes, log and mirror sections (the Genesys credentials are optional:
// with them, data-table routes get typed columns from the API).
func (c *Config) ValidateMirror() error {
	var p problems
	c.Kafka.validate(&p)
	c.Topics.validate(&p)
	for i := range c.Routes {
		c.Routes[i].validate(&p, fmt.Sprintf("routes[%d]", i))
	}
	m := c.Mirror
	switch {
	case strings.HasPrefix(m.Database, "sqlite:"):
		if strings.TrimPrefix(m.Database, "sqlite:") == "" {
			p.add("mirror.database", "sqlite: needs a file path")
		}
		if m.DatabasePassword != "" {
			p.add("mirror.database_password", "applies to a PostgreSQL database only")
		}
	case strings.HasPrefix(m.Database, "postgres://"), strings.HasPrefix(m.Database, "postgresql://"):
		if u, err := url.Parse(m.Database); err != nil || u.Host == "" {
			p.add("mirror.database", "is not a PostgreSQL URL (postgres://user@host:port/db)")
		} else if _, has := u.User.Password(); has {
			p.add("mirror.database", "holds a password; set GCUPSERT_MIRROR_DATABASE_PASSWORD or mirror.database_password_file instead")
		} else if m.DatabasePassword != "" && u.User.Username() == "" {
			p.add("mirror.database", "names no user for the password to go with (postgres://user@host:port/db)")
		}
	default:
		p.add("mirror.database", "must be sqlite:PATH or postgres://user@host:port/db")
	}
	if strings.TrimSpace(m.GroupID) == "" {
		p.add("mirror.group_id", "must not be empty")
	} else if m.GroupID == c.Kafka.GroupID {
		p.add("mirror.group_id", "%q is the worker's group (kafka.group_id); the mirror needs its own", m.GroupID)
	}
	if m.Deletes != "remove" && m.Deletes != "mark" {
		p.add("mirror.deletes", "%q is not remove or mark", m.Deletes)
	}
	if m.MaxEvents < 1 {
		p.add("mirror.max_events", "%d is below 1", m.MaxEvents)
	}
	if m.Linger.D() < 0 {
		p.add("mirror.linger", "must not be negative")
	}
	if a := m.MetricsAddress; a != "" {
		if _, _, err := net.SplitHostPort(a); err != nil {
			p.add("mirror.metrics_address", "%q is not [host]:port", a)
		}
	}
	c.validateRest(&p)
	return p.err()
}

// MirrorDatabaseURL is mirror.database with the password set in, for
// connecting; never print it.
func (c *Config) MirrorDatabaseURL() string {
	if c.Mirror.DatabasePassword == "" {
		return c.Mirror.Database
	}
	u, err := url.Parse(c.Mirror.Database)
	if err != nil || u.User == nil {
		return c.Mirror.Database
	}
	u.User = url.UserPassword(u.User.Username(), string(c.Mirror.DatabasePassword))
	return u.String()
}

// RedactURL is u without its password, for logs.
func RedactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unreadable URL)"
	}
	return p.Redacted()
}
