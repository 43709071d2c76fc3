package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
)

// Validate checks every value and returns all problems at once, each naming
// its key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if strings.TrimSpace(c.WorkerID) == "" {
		bad("worker_id", "must not be empty")
	}
	k := c.Kafka
	if len(k.Brokers) == 0 {
		bad("kafka.brokers", "needs at least one host:port")
	}
	for _, b := range k.Brokers {
		if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
			bad("kafka.brokers", "%q is not host:port", b)
		}
	}
	if k.GroupID == "" {
		bad("kafka.group_id", "must not be empty")
	}
	if k.StartOffset != "earliest" && k.StartOffset != "latest" {
		bad("kafka.start_offset", "%q is not earliest or latest", k.StartOffset)
	}
	if k.Balancer != "range" && k.Balancer != "roundrobin" {
		bad("kafka.balancer", "%q is not range or roundrobin", k.Balancer)
	}
	if k.SessionTimeout.D() < 1e9 {
		bad("kafka.session_timeout", "%s is below 1s", k.SessionTimeout)
	}
	if k.HeartbeatInterval.D() <= 0 || k.HeartbeatInterval.D() >= k.SessionTimeout.D() {
		bad("kafka.heartbeat_interval", "%s must be above 0 and below kafka.session_timeout (%s)", k.HeartbeatInterval, k.SessionTimeout)
	}
	if k.RebalanceTimeout.D() <= 0 {
		bad("kafka.rebalance_timeout", "must be above 0")
	}
	if k.MaxWait.D() <= 0 {
		bad("kafka.max_wait", "must be above 0")
	}
	if k.CommitInterval.D() < 0 {
		bad("kafka.commit_interval", "must not be negative")
	}
	if t := k.TLS; !t.Enabled && (t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != "" || t.InsecureSkipVerify) {
		bad("kafka.tls.enabled", "is false, but other kafka.tls keys are set")
	}
	if (k.TLS.CertFile == "") != (k.TLS.KeyFile == "") {
		bad("kafka.tls.cert_file", "and kafka.tls.key_file go together")
	}
	for _, kv := range [][2]string{{"kafka.tls.ca_file", k.TLS.CAFile}, {"kafka.tls.cert_file", k.TLS.CertFile}, {"kafka.tls.key_file", k.TLS.KeyFile}} {
		if kv[1] != "" {
			if _, err := os.Stat(kv[1]); err != nil {
				bad(kv[0], "cannot read %q: %v", kv[1], errors.Unwrap(err))
			}
		}
	}
	switch k.SASL.Mechanism {
	case "":
		if k.SASL.Username != "" {
			bad("kafka.sasl.mechanism", "is empty, but kafka.sasl.username is set")
		}
	case "plain", "scram-sha-256", "scram-sha-512":
		if k.SASL.Username == "" {
			bad("kafka.sasl.username", "must be set with kafka.sasl.mechanism %s", k.SASL.Mechanism)
		}
		if k.SASL.Password == "" {
			bad("kafka.sasl.password", "missing: set GCUPSERT_KAFKA_SASL_PASSWORD or kafka.sasl.password_file")
		}
	default:
		bad("kafka.sasl.mechanism", "%q is not plain, scram-sha-256 or scram-sha-512", k.SASL.Mechanism)
	}

	c.validateAPI(bad)

	b := c.Batch
	if b.MaxRecords < 1 || b.MaxRecords > MaxBatchRecords {
		bad("batch.max_records", "%d is not between 1 and %d", b.MaxRecords, MaxBatchRecords)
	}
	if b.MaxBytes < 1024 || b.MaxBytes > MaxBatchBytes {
		bad("batch.max_bytes", "%d is not between 1024 and %d", b.MaxBytes, MaxBatchBytes)
	}
	if b.Linger.D() < 0 {
		bad("batch.linger", "must not be negative")
	}
	if b.MaxInflight < 1 {
		bad("batch.max_inflight", "%d is below 1", b.MaxInflight)
	}

	t := c.Topics
	seen := map[string]string{}
	for _, kv := range [][2]string{{"topics.audit", t.Audit}, {"topics.sync", t.Sync}, {"topics.deadletter", t.DeadLetter}} {
		key, name := kv[0], kv[1]
		if err := checkTopic(name); err != nil {
			bad(key, "%v", err)
			continue
		}
		if other, dup := seen[name]; dup {
			bad(key, "%q is also %s", name, other)
		}
		seen[name] = key
	}

	if len(c.Routes) == 0 {
		bad("routes", "needs at least one route (topic, target, schema)")
	}
	inputs := map[string]bool{}
	for i, rt := range c.Routes {
		key := fmt.Sprintf("routes[%d]", i)
		if err := checkTopic(rt.Topic); err != nil {
			bad(key+".topic", "%v", err)
		} else if inputs[rt.Topic] {
			bad(key+".topic", "%q is routed twice", rt.Topic)
		} else if _, out := seen[rt.Topic]; out {
			bad(key+".topic", "%q is also an outbound topic", rt.Topic)
		}
		inputs[rt.Topic] = true
		switch rt.Target {
		case "customobjects":
			if rt.Schema == "" {
				bad(key+".schema", "must not be empty")
			}
			if rt.SchemaFile == "" {
				bad(key+".schema_file", "must name the JSON Schema file of the target schema")
			}
			if rt.Table != "" || len(rt.References) > 0 || rt.DataTables != (DataTables{}) {
				bad(key, "table, references and datatables apply to the datatables target only")
			}
		case "datatables":
			if rt.Table == "" {
				bad(key+".table", "must name the data table (name or id)")
			}
			if rt.Schema != "" || rt.SchemaFile != "" {
				bad(key, "schema and schema_file apply to customobjects; a data table's schema is read from the API")
			}
			if len(rt.ReferenceFields) > 0 {
				bad(key+".reference_fields", "applies to customobjects; for a data table use references (field: table)")
			}
			for f, tbl := range rt.References {
				if f == "" || tbl == "" {
					bad(key+".references", "field %q -> table %q: both must be set", f, tbl)
				}
			}
			d := rt.DataTables
			for _, kv := range []struct {
				name string
				v    int
			}{{"rows_parallelism", d.RowsParallelism}, {"rows_max_records", d.RowsMaxRecords}, {"import_threshold", d.ImportThreshold},
				{"import_max_records", d.ImportMaxRecords}, {"import_max_bytes", d.ImportMaxBytes}, {"reference_max_keys", d.ReferenceMaxKeys}} {
				if kv.v < 0 {
					bad(key+".datatables."+kv.name, "must not be negative")
				}
			}
			if d.ImportThreshold > 0 && d.ImportMaxRecords > 0 && d.ImportThreshold > d.ImportMaxRecords {
				bad(key+".datatables.import_threshold", "%d is above import_max_records (%d)", d.ImportThreshold, d.ImportMaxRecords)
			}
			for _, kv := range []struct {
				name string
				v    Duration
			}{{"schema_refresh", d.SchemaRefresh}, {"import_poll_interval", d.ImportPollInterval}, {"import_timeout", d.ImportTimeout}, {"reference_ttl", d.ReferenceTTL}} {
				if kv.v < 0 {
					bad(key+".datatables."+kv.name, "must not be negative")
				}
			}
		default:
			bad(key+".target", "%q is not a known target (customobjects, datatables)", rt.Target)
		}
		switch rt.ConflictResolution {
		case "upsert", "updateOnly", "createOnly":
		default:
			bad(key+".conflict_resolution", "%q is not upsert, updateOnly or createOnly", rt.ConflictResolution)
		}
		switch rt.Format {
		case "", "plain", "debezium":
		default:
			bad(key+".format", "%q is not plain or debezium", rt.Format)
		}
		for j, f := range rt.UniqueFields {
			if f == "" {
				bad(fmt.Sprintf("%s.unique_fields[%d]", key, j), "must not be empty")
			}
		}
		for j, f := range rt.ReferenceFields {
			if f == "" {
				bad(fmt.Sprintf("%s.reference_fields[%d]", key, j), "must not be empty")
			}
		}
	}

	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q is not debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "auto", "json", "text":
	default:
		bad("log.format", "%q is not auto, json or text", c.Log.Format)
	}
	if a := c.Metrics.Address; a != "" {
		if _, _, err := net.SplitHostPort(a); err != nil {
			bad("metrics.address", "%q is not [host]:port", a)
		}
	}
	if c.Metrics.WedgeTimeout.D() <= 0 {
		bad("metrics.wedge_timeout", "must be above 0")
	}
	if c.ShutdownTimeout.D() <= 0 {
		bad("shutdown_timeout", "must be above 0")
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("config: %w", errors.Join(errs...))
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
	var errs []error
	c.validateAPI(func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	})
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("config: %w", errors.Join(errs...))
}

func (c *Config) validateAPI(bad func(key, format string, args ...any)) {
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
	if g.ClientSecret == "" {
		bad("genesys.client_secret", "missing: set GCUPSERT_GENESYS_CLIENT_SECRET or genesys.client_secret_file")
	}
	if g.Timeout.D() <= 0 {
		bad("genesys.timeout", "must be above 0")
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
	if r.MaxElapsed.D() <= 0 {
		bad("retry.max_elapsed", "must be above 0")
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
