package config

import (
	"strings"
	"testing"
)

// A value of the wrong type names its key as well as its line.
func TestYAMLTypeErrorsNameTheKey(t *testing.T) {
	body := strings.Replace(good, "  linger: 50ms\n", "  linger: 50ms\n  max_records: abc\n", 1)
	_, err := Load(write(t, body), []string{"GCUPSERT_GENESYS_CLIENT_SECRET=x"})
	if err == nil || !strings.Contains(err.Error(), `batch.max_records: line 10: "abc" is not an integer`) {
		t.Fatalf("Load = %v, want the key, the line and the value", err)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"batch:\n  linger: fast\n", `batch.linger: line 2: "fast" is not a duration`},
		{"kafka:\n  create_topics: maybe\n", `kafka.create_topics: line 2: "maybe" is not true or false`},
		{"retry:\n  jitter: lots\n", `retry.jitter: line 2: "lots" is not a number`},
		{"batch:\n  max_records: \"12\"\n", `batch.max_records: line 2: "12" is not an integer (it is quoted`},
		{"kafka:\n  brokers: a:1\n", "kafka.brokers: line 2: is not a list"},
		{"kafka: 3\n", "kafka: line 1: is a section"},
		{"kafka:\n  bogus: 1\n", "kafka.bogus: line 2: is not a configuration key"},
		{"genesys:\n  client_secret: x\n", "genesys.client_secret: line 2: a secret is never read from the file: set GCUPSERT_GENESYS_CLIENT_SECRET or genesys.client_secret_file"},
		{"log:\n  level: info\n  level: debug\n", "log.level: line 3: is set twice (first on line 2)"},
		{"routes:\n  - topic: a\n    unique_fields: [a, {b: 1}]\n", "routes[0].unique_fields[1]: line 3: is not text"},
		{"routes:\n  - topic: a\n    datatables: {rows_parallelism: many}\n", `routes[0].datatables.rows_parallelism: line 3: "many" is not an integer`},
		{"routes:\n  - topic: a\n    mapping: {rename: {a: [b]}}\n", "routes[0].mapping.rename.a: line 3: is not text"},
		{"batch: &b\n  linger: 1s\nretry:\n  <<: *b\n", "retry.linger: line 2: is not a configuration key"},
	} {
		cfg := Default()
		err := Parse([]byte(tc.yaml), &cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: Parse = %v, want %q", tc.yaml, err, tc.want)
		}
	}
}

// The file holds one YAML document: a second one (a config pasted twice,
// or two files concatenated) is refused rather than silently ignored.
func TestSecondYAMLDocumentIsRefused(t *testing.T) {
	_, err := Load(write(t, good+"---\nbatch:\n  max_records: 10\n"), []string{"GCUPSERT_GENESYS_CLIENT_SECRET=x"})
	if err == nil || !strings.Contains(err.Error(), "line 18: a second YAML document; the file must hold exactly one") {
		t.Fatalf("Load = %v, want the second document refused with its line", err)
	}
	for _, ok := range []string{"---\n" + good, good + "---\n", good + "---\n...\n"} {
		cfg := Default()
		if err := Parse([]byte(ok), &cfg); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
}
