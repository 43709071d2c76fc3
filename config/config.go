// Package config loads and validates gcupsert's configuration: a YAML file,
// then environment overrides named GCUPSERT_<SECTION>_<KEY> (for example
// GCUPSERT_KAFKA_BROKERS=host1:9092,host2:9092 or GCUPSERT_BATCH_LINGER=500ms).
//
// Every value is checked by Load; an error names the key and what is wrong.
// The OAuth client secret comes from GCUPSERT_GENESYS_CLIENT_SECRET or from
// the file named by genesys.client_secret_file; it is never part of the YAML
// file, of String output or of any error.
package config

import (
	"fmt"
	"os"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/gcupsert/gcupsert/internal/kafkaconn"
)

// Duration is a time.Duration read from strings such as "200ms" or "2m".
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML reads "200ms", "2m" and the like.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (use a form such as 200ms, 30s or 2m)", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration in Go's notation.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// Config is the whole configuration.
type Config struct {
	// WorkerID names this worker in audit events; default the host name.
	WorkerID string  `yaml:"worker_id"`
	Kafka    Kafka   `yaml:"kafka"`
	Genesys  Genesys `yaml:"genesys"`
	Retry    Retry   `yaml:"retry"`
	Batch    Batch   `yaml:"batch"`
	Topics   Topics  `yaml:"topics"`
	Routes   []Route `yaml:"routes"`
	Log      Log     `yaml:"log"`
	Metrics  Metrics `yaml:"metrics"`
	// Mirror configures gcupsert mirror, the reference consumer of the
	// sync topic; the worker does not read it.
	Mirror Mirror `yaml:"mirror"`
	// ShutdownTimeout bounds the drain on SIGINT/SIGTERM.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
}

// Kafka is the consumer group and broker connection.
type Kafka struct {
	Brokers           []string `yaml:"brokers"`
	GroupID           string   `yaml:"group_id"`
	ClientID          string   `yaml:"client_id"`
	StartOffset       string   `yaml:"start_offset"` // earliest | latest, for partitions with no committed offset
	SessionTimeout    Duration `yaml:"session_timeout"`
	RebalanceTimeout  Duration `yaml:"rebalance_timeout"`
	HeartbeatInterval Duration `yaml:"heartbeat_interval"`
	Balancer          string   `yaml:"balancer"` // range | roundrobin
	MaxWait           Duration `yaml:"max_wait"`
	CommitInterval    Duration `yaml:"commit_interval"`
	// CreateTopics lets the outbound writers create missing topics (demo, development).
	CreateTopics bool `yaml:"create_topics"`
	TLS          TLS  `yaml:"tls"`
	SASL         SASL `yaml:"sasl"`
}

// TLS secures the Kafka connections (consumer and outbound writers).
type TLS struct {
	Enabled bool `yaml:"enabled"`
	// CAFile is a PEM bundle of the CAs to trust; empty: the system's.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are the client certificate and key (PEM), for
	// brokers that require client authentication.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName overrides the name checked in the broker's certificate.
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// SASL authenticates to Kafka.
type SASL struct {
	// Mechanism is empty (none), plain, scram-sha-256 or scram-sha-512.
	Mechanism string `yaml:"mechanism"`
	Username  string `yaml:"username"`
	// Password comes from GCUPSERT_KAFKA_SASL_PASSWORD or PasswordFile.
	Password     Secret `yaml:"-"`
	PasswordFile string `yaml:"password_file"`
}

// Genesys is the API connection.
type Genesys struct {
	Region           string `yaml:"region"`
	BaseURL          string `yaml:"base_url"`
	LoginURL         string `yaml:"login_url"`
	ClientID         string `yaml:"client_id"`
	ClientSecret     Secret `yaml:"-"`
	ClientSecretFile string `yaml:"client_secret_file"`
	// AuthStyle is how the credentials reach the token endpoint: basic
	// (raw in the Basic header, as the Genesys SDKs send them) or
	// basic_urlencoded (URL-encoded first, as RFC 6749 says).
	AuthStyle string   `yaml:"auth_style"`
	Timeout   Duration `yaml:"timeout"`
	// RequestsPerSecond paces requests on the client side; 0 means no pacing.
	RequestsPerSecond float64 `yaml:"requests_per_second"`
	// Pacing is how the token's rate budget, read from the
	// inin-ratelimit-* headers, is spent: burst (the default: at once, as
	// the window's reset is known) or even (spread over the window); off
	// turns the header-driven pacer off. PacingReserve is the share of
	// each window's budget used one request at a time (burst) or held
	// back (even).
	Pacing        string  `yaml:"pacing"`
	PacingReserve float64 `yaml:"pacing_reserve"`
}

// Secret is a string that never prints.
type Secret string

func (Secret) String() string   { return "[redacted]" }
func (Secret) GoString() string { return "[redacted]" }

// MarshalYAML never writes the secret.
func (Secret) MarshalYAML() (any, error) { return "[redacted]", nil }

// Retry is the retry policy for API calls.
type Retry struct {
	InitialInterval Duration `yaml:"initial_interval"`
	MaxInterval     Duration `yaml:"max_interval"`
	MaxElapsed      Duration `yaml:"max_elapsed"`
	Multiplier      float64  `yaml:"multiplier"`
	Jitter          float64  `yaml:"jitter"`
	MaxRetryAfter   Duration `yaml:"max_retry_after"`
	// BatchPause is the wait before a batch whose retries ran out is tried again.
	BatchPause Duration `yaml:"batch_pause"`
}

// Batch bounds batches and parallelism.
type Batch struct {
	MaxRecords  int      `yaml:"max_records"`
	MaxBytes    int      `yaml:"max_bytes"`
	Linger      Duration `yaml:"linger"`
	MaxInflight int      `yaml:"max_inflight"`
	// BufferKeys bounds the records of the batch a partition gathers while
	// its previous one is being sent (the latest event per key);
	// BufferBytes the memory all partitions' such batches hold together.
	BufferKeys  int `yaml:"buffer_keys"`
	BufferBytes int `yaml:"buffer_bytes"`
}

// Topics names the outbound topics.
type Topics struct {
	Audit      string `yaml:"audit"`
	Sync       string `yaml:"sync"`
	DeadLetter string `yaml:"deadletter"`
}

// Route sends one input topic to one target.
type Route struct {
	Topic  string `yaml:"topic"`
	Target string `yaml:"target"` // customobjects | datatables | externalcontacts
	// Schema and SchemaFile name the customobjects schema and its JSON
	// Schema file; for externalcontacts, Schema names the data schema of
	// the custom fields (optional).
	Schema     string `yaml:"schema"`
	SchemaFile string `yaml:"schema_file"`
	// Table is the data table's name or id (datatables).
	Table              string   `yaml:"table"`
	ConflictResolution string   `yaml:"conflict_resolution"`
	UniqueFields       []string `yaml:"unique_fields"`
	// ReferenceFields must be present and non-empty (customobjects).
	ReferenceFields []string `yaml:"reference_fields"`
	// References maps a field to the data table whose keys it must name
	// (datatables).
	References map[string]string `yaml:"references"`
	// DataTables tunes the datatables target.
	DataTables DataTables `yaml:"datatables"`
	// Entity (contact or organization), ExternalSource (the name of the
	// external source whose external ids carry the keys; CreateSource
	// creates it when missing) and OrganizationField (contacts: the field
	// holding the organization's external id) configure an
	// externalcontacts route; ExternalContacts tunes it.
	Entity            string           `yaml:"entity"`
	ExternalSource    string           `yaml:"external_source"`
	CreateSource      bool             `yaml:"create_source"`
	OrganizationField string           `yaml:"organization_field"`
	ExternalContacts  ExternalContacts `yaml:"externalcontacts"`
	// Format of the input events: plain (the gcupsert envelope) or
	// debezium (with or without the schema/payload wrapper).
	Format  string  `yaml:"format"`
	Mapping Mapping `yaml:"mapping"`
}

// DataTables tunes a datatables route.
type DataTables struct {
	// SchemaRefresh is how old the table's schema may get before it is
	// read again (it is also read again on a schema error).
	SchemaRefresh Duration `yaml:"schema_refresh"`
	// RowsParallelism is the number of row requests a batch has in flight.
	RowsParallelism int `yaml:"rows_parallelism"`
	// RowsMaxRecords bounds a batch when import is off.
	RowsMaxRecords int `yaml:"rows_max_records"`
	// ImportThreshold sends a batch of at least this many upserts as one
	// CSV import job; 0 never imports.
	ImportThreshold    int      `yaml:"import_threshold"`
	ImportMaxRecords   int      `yaml:"import_max_records"`
	ImportMaxBytes     int      `yaml:"import_max_bytes"`
	ImportPollInterval Duration `yaml:"import_poll_interval"`
	ImportTimeout      Duration `yaml:"import_timeout"`
	ReferenceTTL       Duration `yaml:"reference_ttl"`
	ReferenceMaxKeys   int      `yaml:"reference_max_keys"`
	// PutMissingIs404 says the API answers 404 to a PUT of a missing row,
	// which saves updateOnly a read before each write.
	PutMissingIs404 bool `yaml:"put_missing_is_404"`
}

// ExternalContacts tunes an externalcontacts route.
type ExternalContacts struct {
	// FieldRule is the enrich field rule: PreferProvided (default: a
	// provided value wins, an omitted field stays), AlwaysUseProvided or
	// PreferExisting; ArrayRule is Fill (default), Replace or Extend.
	FieldRule string `yaml:"field_rule"`
	ArrayRule string `yaml:"array_rule"`
	// ReferenceWait is how long a contact whose organization does not
	// exist yet is looked up again before it is dead-lettered; default 1m.
	ReferenceWait Duration `yaml:"reference_wait"`
	// ReferenceTTL is how long a resolved organization is cached; 10m.
	ReferenceTTL Duration `yaml:"reference_ttl"`
	// SchemaRefresh is how old the data schema may get before it is read
	// again; 10m.
	SchemaRefresh Duration `yaml:"schema_refresh"`
	// MaxEnrich (at most 10), MaxBulk and Parallelism bound the requests.
	MaxEnrich   int `yaml:"max_enrich"`
	MaxBulk     int `yaml:"max_bulk"`
	Parallelism int `yaml:"parallelism"`
}

// Mapping reshapes input fields before validation.
type Mapping struct {
	// Key names the field that holds the record key; empty: the Kafka key.
	Key       string            `yaml:"key"`
	Rename    map[string]string `yaml:"rename"`
	Drop      []string          `yaml:"drop"`
	Constants map[string]any    `yaml:"constants"`
}

// Metrics sets the metrics and health endpoints.
type Metrics struct {
	// Address serves /metrics, /healthz and /readyz, e.g. ":9464"; empty
	// (the default) serves nothing.
	Address string `yaml:"address"`
	// WedgeTimeout is how long a batch may be in flight without progress
	// before /healthz fails.
	WedgeTimeout Duration `yaml:"wedge_timeout"`
}

// Mirror configures gcupsert mirror: the database it keeps in step with
// the sync topic, one table per route.
type Mirror struct {
	// Database is sqlite:PATH (the default, sqlite:gcupsert-mirror.db) or a
	// PostgreSQL URL, postgres://user@host:port/db?sslmode=...
	Database string `yaml:"database"`
	// DatabasePassword is set into a PostgreSQL URL; it comes from
	// GCUPSERT_MIRROR_DATABASE_PASSWORD or DatabasePasswordFile.
	DatabasePassword     Secret `yaml:"-"`
	DatabasePasswordFile string `yaml:"database_password_file"`
	// GroupID is the mirror's consumer group.
	GroupID string `yaml:"group_id"`
	// DeadLetters also mirrors the dead-letter topic into the errors table.
	DeadLetters bool `yaml:"dead_letters"`
	// Deletes is remove (the row goes, its version stays in a tombstone)
	// or mark (the row stays, marked _deleted).
	Deletes string `yaml:"deletes"`
	// MaxEvents and Linger bound one transaction.
	MaxEvents int      `yaml:"max_events"`
	Linger    Duration `yaml:"linger"`
	// EventLog keeps the id of every applied event (a table whose primary
	// key proves each was applied once).
	EventLog bool `yaml:"event_log"`
	// MetricsAddress serves the mirror's /metrics, /healthz and /readyz.
	MetricsAddress string `yaml:"metrics_address"`
}

// Log sets logging.
type Log struct {
	Level  string `yaml:"level"`  // debug | info | warn | error
	Format string `yaml:"format"` // auto | json | text
}

// Limits the customobjects contract allows.
const (
	MaxBatchRecords = 100
	MaxBatchBytes   = 2 << 20
)

// Default returns the configuration with every default filled in and no routes.
func Default() Config {
	host, _ := os.Hostname()
	if host == "" {
		host = "gcupsert"
	}
	return Config{
		WorkerID: host,
		Kafka: Kafka{
			Brokers:           []string{"localhost:9092"},
			GroupID:           "gcupsert",
			ClientID:          "gcupsert",
			StartOffset:       "earliest",
			SessionTimeout:    Duration(10 * time.Second),
			RebalanceTimeout:  Duration(30 * time.Second),
			HeartbeatInterval: Duration(3 * time.Second),
			Balancer:          "range",
			MaxWait:           Duration(250 * time.Millisecond),
			CommitInterval:    Duration(time.Second),
		},
		Genesys: Genesys{Region: "us_east_1", AuthStyle: "basic", Timeout: Duration(30 * time.Second),
			Pacing: "burst", PacingReserve: 0.02},
		Retry: Retry{
			InitialInterval: Duration(500 * time.Millisecond),
			MaxInterval:     Duration(30 * time.Second),
			MaxElapsed:      Duration(2 * time.Minute),
			Multiplier:      2,
			Jitter:          0.5,
			MaxRetryAfter:   Duration(3 * time.Minute),
			BatchPause:      Duration(5 * time.Second),
		},
		Batch: Batch{
			MaxRecords:  MaxBatchRecords,
			MaxBytes:    MaxBatchBytes,
			Linger:      Duration(200 * time.Millisecond),
			MaxInflight: 8,
			BufferKeys:  1000,
			BufferBytes: 32 << 20,
		},
		Topics:  Topics{Audit: "gcupsert.audit", Sync: "gcupsert.sync", DeadLetter: "gcupsert.deadletter"},
		Log:     Log{Level: "info", Format: "auto"},
		Metrics: Metrics{WedgeTimeout: Duration(10 * time.Minute)},
		Mirror: Mirror{Database: "sqlite:gcupsert-mirror.db", GroupID: "gcupsert-mirror", Deletes: "remove",
			MaxEvents: 500, Linger: Duration(200 * time.Millisecond)},

		ShutdownTimeout: Duration(30 * time.Second),
	}
}

// Load reads the YAML file at path (none when path is ""), applies the
// environment from environ (KEY=VALUE pairs, as os.Environ returns), reads the
// secret and validates the result.
func Load(path string, environ []string) (Config, error) {
	cfg, err := LoadUnchecked(path, environ)
	if err != nil {
		return Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// LoadUnchecked is Load without Validate, for commands that need only part
// of the configuration and check that part themselves.
func LoadUnchecked(path string, environ []string) (Config, error) {
	cfg := Default()
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		if err := Parse(raw, &cfg); err != nil {
			return Config{}, fmt.Errorf("config %s: %w", path, err)
		}
	}
	env := envMap(environ)
	if err := checkEnvNames(env); err != nil {
		return Config{}, err
	}
	if err := applyEnv(&cfg, env); err != nil {
		return Config{}, err
	}
	if err := cfg.loadSecret(env); err != nil {
		return Config{}, err
	}
	if cfg.WorkerID == "" {
		cfg.WorkerID = Default().WorkerID
	}
	return cfg, nil
}

// Security builds the TLS and SASL settings every Kafka client of the
// worker shares; errors name the key at fault.
func (k Kafka) Security() (kafkaconn.Security, error) {
	sec, err := kafkaconn.New(kafkaconn.Settings{
		TLS: kafkaconn.TLS{
			Enabled: k.TLS.Enabled, CAFile: k.TLS.CAFile, CertFile: k.TLS.CertFile, KeyFile: k.TLS.KeyFile,
			ServerName: k.TLS.ServerName, InsecureSkipVerify: k.TLS.InsecureSkipVerify,
		},
		SASL: kafkaconn.SASL{Mechanism: kafkaconn.Mechanism(k.SASL.Mechanism), Username: k.SASL.Username, Password: string(k.SASL.Password)},
	})
	if err != nil {
		return sec, fmt.Errorf("kafka.%w", err)
	}
	return sec, nil
}
