package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const good = `
worker_id: w1
kafka:
  brokers: [localhost:9092]
genesys:
  base_url: http://127.0.0.1:8080
  client_id: demo
batch:
  linger: 50ms
routes:
  - topic: crm.accounts
    target: customobjects
    schema: customerAccounts
    schema_file: accounts.json
    conflict_resolution: upsert
    unique_fields: [accountNumber]
`

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "gcupsert.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadGoodFileWithEnv(t *testing.T) {
	p := write(t, good)
	cfg, err := Load(p, []string{
		"GCUPSERT_GENESYS_CLIENT_SECRET=s3cret",
		"GCUPSERT_KAFKA_BROKERS=a:1, b:2",
		"GCUPSERT_BATCH_MAX_RECORDS=50",
		"GCUPSERT_KAFKA_CREATE_TOPICS=true",
		"OTHER=ignored",
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Kafka.Brokers, ","); got != "a:1,b:2" {
		t.Errorf("brokers = %q", got)
	}
	if cfg.Batch.MaxRecords != 50 || cfg.Batch.Linger.D() != 50*time.Millisecond || !cfg.Kafka.CreateTopics {
		t.Errorf("batch = %+v, create_topics = %v", cfg.Batch, cfg.Kafka.CreateTopics)
	}
	if cfg.Batch.MaxBytes != MaxBatchBytes || cfg.Retry.MaxElapsed.D() != 2*time.Minute {
		t.Errorf("defaults not filled: %+v %+v", cfg.Batch, cfg.Retry)
	}
	if cfg.Genesys.ClientSecret != "s3cret" {
		t.Errorf("secret not read from the environment")
	}
	if s := (Secret("s3cret")).String(); strings.Contains(s, "s3cret") {
		t.Errorf("secret printed: %s", s)
	}
}

func TestSecretFromFile(t *testing.T) {
	dir := t.TempDir()
	sf := filepath.Join(dir, "secret")
	if err := os.WriteFile(sf, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := write(t, good+"\n")
	cfg, err := Load(p, []string{"GCUPSERT_GENESYS_CLIENT_SECRET_FILE=" + sf})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Genesys.ClientSecret != "from-file" {
		t.Errorf("secret = %q", string(cfg.Genesys.ClientSecret))
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	cases := []struct {
		name, yaml string
		env        []string
		want       []string
	}{
		{"no secret", good, nil, []string{"genesys.client_secret: missing"}},
		{"bad duration env", good, []string{"GCUPSERT_GENESYS_CLIENT_SECRET=x", "GCUPSERT_BATCH_LINGER=soon"}, []string{"batch.linger (from GCUPSERT_BATCH_LINGER)", "not a duration"}},
		{"too many records", good, []string{"GCUPSERT_GENESYS_CLIENT_SECRET=x", "GCUPSERT_BATCH_MAX_RECORDS=101"}, []string{"batch.max_records: 101 is not between 1 and 100"}},
		{"bad bytes", good, []string{"GCUPSERT_GENESYS_CLIENT_SECRET=x", "GCUPSERT_BATCH_MAX_BYTES=3000000"}, []string{"batch.max_bytes"}},
		{"bad broker", good, []string{"GCUPSERT_GENESYS_CLIENT_SECRET=x", "GCUPSERT_KAFKA_BROKERS=nohostport"}, []string{`kafka.brokers: "nohostport" is not host:port`}},
		{"unknown key", good + "\nbogus: 1\n", []string{"GCUPSERT_GENESYS_CLIENT_SECRET=x"}, []string{"bogus"}},
		{"bad conflict", strings.Replace(good, "conflict_resolution: upsert", "conflict_resolution: merge", 1), []string{"GCUPSERT_GENESYS_CLIENT_SECRET=x"}, []string{`routes[0].conflict_resolution: "merge"`}},
		{"bad target", strings.Replace(good, "target: customobjects", "target: contacts", 1), []string{"GCUPSERT_GENESYS_CLIENT_SECRET=x"}, []string{`routes[0].target: "contacts" is not a known target`}},
		{"duplicate topic", good, []string{"GCUPSERT_GENESYS_CLIENT_SECRET=x", "GCUPSERT_TOPICS_SYNC=gcupsert.audit"}, []string{`topics.sync: "gcupsert.audit" is also topics.audit`}},
		{"bad topic name", good, []string{"GCUPSERT_GENESYS_CLIENT_SECRET=x", "GCUPSERT_TOPICS_AUDIT=a b"}, []string{"topics.audit"}},
		{"bad url", good, []string{"GCUPSERT_GENESYS_CLIENT_SECRET=x", "GCUPSERT_GENESYS_BASE_URL=ftp://x"}, []string{"genesys.base_url"}},
		{"bad yaml duration", strings.Replace(good, "linger: 50ms", "linger: fast", 1), []string{"GCUPSERT_GENESYS_CLIENT_SECRET=x"}, []string{"not a duration"}},
		{"no routes", "genesys: {client_id: a}\n", []string{"GCUPSERT_GENESYS_CLIENT_SECRET=x"}, []string{"routes: needs at least one route"}},
		{"heartbeat", good, []string{"GCUPSERT_GENESYS_CLIENT_SECRET=x", "GCUPSERT_KAFKA_HEARTBEAT_INTERVAL=20s"}, []string{"kafka.heartbeat_interval"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(write(t, tc.yaml), tc.env)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error leaks the secret: %v", err)
			}
		})
	}
}

func TestEnvNamesCoverKeys(t *testing.T) {
	names := EnvNames()
	for _, n := range []string{"GCUPSERT_KAFKA_BROKERS", "GCUPSERT_BATCH_LINGER", "GCUPSERT_GENESYS_CLIENT_SECRET", "GCUPSERT_TOPICS_DEADLETTER", "GCUPSERT_RETRY_MAX_RETRY_AFTER"} {
		if _, ok := names[n]; !ok {
			t.Errorf("%s missing from EnvNames", n)
		}
	}
}

func TestEmptyFileUsesDefaults(t *testing.T) {
	var cfg Config = Default()
	if err := Parse([]byte(""), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Batch.MaxRecords != 100 {
		t.Errorf("max_records = %d", cfg.Batch.MaxRecords)
	}
}
