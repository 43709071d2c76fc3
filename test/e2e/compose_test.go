package e2e

import (
	"bufio"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/gcupsert/gcupsert/config"
)

// composeFile is the part of docker-compose.yml the check reads.
type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Build       any               `yaml:"build"`
		Command     []string          `yaml:"command"`
		Ports       []string          `yaml:"ports"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		DependsOn   map[string]any    `yaml:"depends_on"`
	} `yaml:"services"`
}

// commandEnv lists the GCUPSERT_ variables a file of cmd/gcupsert reads
// itself (os.Getenv, or the emulator's table of variables, emulatorEnv),
// outside the configuration package.
var commandEnvRead = regexp.MustCompile(`(?:Getenv\(|env: )"(GCUPSERT_[A-Z0-9_]+)"`)

func commandEnv(t testing.TB, root, file string) []string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(root, "cmd", "gcupsert", file))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range commandEnvRead.FindAllSubmatch(src, -1) {
		out = append(out, string(m[1]))
	}
	if len(out) == 0 {
		t.Fatalf("cmd/gcupsert/%s reads no GCUPSERT_ variable", file)
	}
	return out
}

// imageLayout maps paths inside the image built by the Dockerfile to the
// repository paths its COPY instructions take them from (build-stage copies
// excluded).
func imageLayout(t testing.TB, dockerfile string) map[string]string {
	t.Helper()
	f, err := os.Open(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	layout := map[string]string{}
	final := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		switch strings.ToUpper(fields[0]) {
		case "FROM":
			// Only the last stage is the image; earlier COPYs feed the build.
			layout = map[string]string{}
			final = true
		case "COPY":
			if !final || len(fields) != 3 || strings.HasPrefix(fields[1], "--") {
				continue
			}
			layout[path.Clean(fields[2])] = path.Clean(fields[1])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return layout
}

// inImage returns the repository path that provides p inside the image, or
// "" when the image does not hold p.
func inImage(layout map[string]string, root, p string) string {
	p = path.Clean(p)
	for dst, src := range layout {
		rel, ok := strings.CutPrefix(p, dst)
		if !ok || (rel != "" && !strings.HasPrefix(rel, "/")) {
			continue
		}
		local := filepath.Join(root, filepath.FromSlash(src+rel))
		if _, err := os.Stat(local); err == nil {
			return local
		}
	}
	return ""
}

func containerPort(mapping string) string {
	parts := strings.Split(mapping, ":")
	return strings.Split(parts[len(parts)-1], "/")[0]
}

// docker-compose.yml must run the worker and the emulator with settings the
// binary reads: known variable names, matching ports and hosts, credentials
// the emulator accepts, a configuration file that loads and schema files
// that exist in the image.
func TestComposeMatchesConfiguration(t *testing.T) {
	root := filepath.Join("..", "..")
	raw, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	checkCompose(t, root, raw)
}

// The check finds each kind of mismatch in an altered copy of the file.
func TestComposeCheckFindsMismatches(t *testing.T) {
	root := filepath.Join("..", "..")
	raw, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, old, new string }{
		{"unknown worker variable", "GCUPSERT_KAFKA_BROKERS:", "GCUPSERT_KAFKA_BROKER:"},
		{"unknown emulator variable", "GCUPSERT_EMULATOR_ADDR:", "GCUPSERT_EMULATOR_LISTEN:"},
		{"emulator port not published", `"8080:8080"`, `"8080:8081"`},
		{"schema not in the image", "=/etc/gcupsert/schemas/", "=/etc/gcupsert/schema/"},
		{"secret the emulator refuses", `GCUPSERT_GENESYS_CLIENT_SECRET: "local-secret"`, `GCUPSERT_GENESYS_CLIENT_SECRET: "other"`},
		{"broker not a listener", `GCUPSERT_KAFKA_BROKERS: "kafka:19092"`, `GCUPSERT_KAFKA_BROKERS: "kafka:29092"`},
		{"API on the wrong port", `"http://emulator:8080"`, `"http://emulator:9090"`},
		{"configuration not mounted", "/etc/gcupsert/gcupsert.yaml:ro", "/etc/gcupsert/other.yaml:ro"},
		{"invalid configuration value", `GCUPSERT_LOG_FORMAT: "json"`, `GCUPSERT_LOG_FORMAT: "xml"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(string(raw), tc.old) {
				t.Skipf("docker-compose.yml no longer contains %q", tc.old)
			}
			altered := strings.Replace(string(raw), tc.old, tc.new, 1)
			rec := &recorder{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				checkCompose(rec, root, []byte(altered))
			}()
			<-done
			if len(rec.errs) == 0 {
				t.Errorf("replacing %q by %q went unnoticed", tc.old, tc.new)
			}
		})
	}
}

// recorder collects a check's failures instead of failing the test.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) Error(args ...any) { r.errs = append(r.errs, fmt.Sprint(args...)) }

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Fatal(args ...any) {
	r.Error(args...)
	runtime.Goexit()
}

func checkCompose(t testing.TB, root string, raw []byte) {
	t.Helper()
	var cf composeFile
	if err := yaml.Unmarshal(raw, &cf); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	layout := imageLayout(t, filepath.Join(root, "Dockerfile"))
	if len(layout) == 0 {
		t.Fatal("the Dockerfile's final stage copies nothing into the image")
	}
	kafkaSvc, okK := cf.Services["kafka"]
	emu, okE := cf.Services["emulator"]
	worker, okW := cf.Services["worker"]
	if !okK || !okE || !okW {
		t.Fatalf("services %v; want kafka, emulator and worker", slices.Sorted(maps.Keys(cf.Services)))
	}
	known := config.EnvNames()
	emulatorEnv := commandEnv(t, root, "emulator.go")
	runEnv := commandEnv(t, root, "main.go")

	// The emulator service.
	if !slices.Equal(emu.Command, []string{"emulator"}) {
		t.Errorf("emulator command %v, want [emulator]", emu.Command)
	}
	for k := range emu.Environment {
		if strings.HasPrefix(k, "GCUPSERT_") && !slices.Contains(emulatorEnv, k) {
			t.Errorf("emulator: %s is not a variable `gcupsert emulator` reads (%v)", k, emulatorEnv)
		}
	}
	_, emuPort, err := net.SplitHostPort(emu.Environment["GCUPSERT_EMULATOR_ADDR"])
	if err != nil {
		t.Fatalf("emulator: GCUPSERT_EMULATOR_ADDR: %v", err)
	}
	if !slices.ContainsFunc(emu.Ports, func(m string) bool { return containerPort(m) == emuPort }) {
		t.Errorf("emulator listens on %s but publishes %v", emuPort, emu.Ports)
	}
	clients := map[string]string{}
	for _, c := range strings.Split(emu.Environment["GCUPSERT_EMULATOR_CLIENTS"], ",") {
		id, sec, ok := strings.Cut(strings.TrimSpace(c), ":")
		if !ok {
			t.Errorf("emulator: client %q is not ID:SECRET", c)
		}
		clients[id] = sec
	}
	emuSchemas := map[string]bool{}
	for _, s := range strings.Split(emu.Environment["GCUPSERT_EMULATOR_SCHEMAS"], ",") {
		name, file, ok := strings.Cut(strings.TrimSpace(s), "=")
		if !ok {
			t.Errorf("emulator: schema %q is not NAME=FILE", s)
			continue
		}
		emuSchemas[name] = true
		if inImage(layout, root, file) == "" {
			t.Errorf("emulator: schema file %s is not in the image (Dockerfile copies %v)", file, layout)
		}
	}

	// Unique fields the emulator enforces must be unique fields of the
	// worker's route, so the worker checks them within a batch too.
	var emuUnique []string
	if v := emu.Environment["GCUPSERT_EMULATOR_UNIQUE"]; v != "" {
		emuUnique = strings.Split(v, ",")
	}

	// The worker service.
	if !slices.Equal(worker.Command, []string{"run"}) {
		t.Errorf("worker command %v, want [run]", worker.Command)
	}
	for _, dep := range []string{"kafka", "emulator"} {
		if _, ok := worker.DependsOn[dep]; !ok {
			t.Errorf("worker does not depend on %s", dep)
		}
	}
	var environ []string
	for k, v := range worker.Environment {
		if strings.HasPrefix(k, "GCUPSERT_") {
			if _, ok := known[k]; !ok && !slices.Contains(runEnv, k) {
				t.Errorf("worker: %s is not a variable the worker reads", k)
			}
		}
		environ = append(environ, k+"="+v)
	}
	// The configuration file is mounted where GCUPSERT_CONFIG points.
	cfgInContainer := worker.Environment["GCUPSERT_CONFIG"]
	var cfgLocal string
	for _, v := range worker.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && path.Clean(parts[1]) == path.Clean(cfgInContainer) {
			cfgLocal = filepath.Join(root, filepath.FromSlash(parts[0]))
		}
	}
	if cfgLocal == "" {
		t.Fatalf("worker: GCUPSERT_CONFIG=%q is not a mounted volume (%v)", cfgInContainer, worker.Volumes)
	}
	cfg, err := config.Load(cfgLocal, environ)
	if err != nil {
		t.Fatalf("worker: the mounted configuration does not load with the service's environment: %v", err)
	}
	if string(cfg.Genesys.ClientSecret) != clients[cfg.Genesys.ClientID] || cfg.Genesys.ClientID == "" {
		t.Errorf("worker: client %q and its secret are not a client the emulator accepts", cfg.Genesys.ClientID)
	}
	u, err := url.Parse(cfg.Genesys.BaseURL)
	if err != nil || u.Hostname() != "emulator" || u.Port() != emuPort {
		t.Errorf("worker: genesys.base_url %q does not reach the emulator service on port %s", cfg.Genesys.BaseURL, emuPort)
	}
	if len(cfg.Routes) == 0 {
		t.Error("worker: the configuration has no route")
	}
	for _, r := range cfg.Routes {
		if inImage(layout, root, r.SchemaFile) == "" {
			t.Errorf("worker: route %s: schema_file %s is not in the image (Dockerfile copies %v)", r.Topic, r.SchemaFile, layout)
		}
		if !emuSchemas[r.Schema] {
			t.Errorf("worker: route %s: schema %s is not served by the emulator", r.Topic, r.Schema)
		}
	}
	for _, u := range emuUnique {
		schema, field, ok := strings.Cut(strings.TrimSpace(u), "=")
		if !ok || !emuSchemas[schema] {
			t.Errorf("emulator: unique field %q is not SCHEMA=FIELD of a served schema", u)
			continue
		}
		if !slices.ContainsFunc(cfg.Routes, func(r config.Route) bool {
			return r.Schema == schema && slices.Contains(r.UniqueFields, field)
		}) {
			t.Errorf("emulator: unique field %s of %s is not among the worker route's unique_fields", field, schema)
		}
	}

	// The brokers are a listener the kafka service advertises on the
	// compose network.
	listeners := strings.Split(kafkaSvc.Environment["KAFKA_LISTENERS"], ",")
	advertised := strings.Split(kafkaSvc.Environment["KAFKA_ADVERTISED_LISTENERS"], ",")
	for _, b := range cfg.Kafka.Brokers {
		host, port, err := net.SplitHostPort(b)
		if err != nil || host != "kafka" {
			t.Errorf("worker: broker %q is not the kafka service", b)
			continue
		}
		if !slices.ContainsFunc(advertised, func(l string) bool { return strings.HasSuffix(l, "://"+b) }) {
			t.Errorf("worker: broker %s is not among the advertised listeners %v", b, advertised)
		}
		if !slices.ContainsFunc(listeners, func(l string) bool { return strings.HasSuffix(l, ":"+port) }) {
			t.Errorf("worker: port %s is not among kafka's listeners %v", port, listeners)
		}
	}
	// Each published kafka port is a listener, advertised as localhost.
	for _, m := range kafkaSvc.Ports {
		p := containerPort(m)
		if !slices.ContainsFunc(listeners, func(l string) bool { return strings.HasSuffix(l, ":"+p) }) {
			t.Errorf("kafka publishes %s but listens on %v", m, listeners)
		}
		if !slices.ContainsFunc(advertised, func(l string) bool { return strings.HasSuffix(l, "://localhost:"+p) }) {
			t.Errorf("kafka publishes %s but does not advertise localhost:%s (%v)", m, p, advertised)
		}
	}
	if !strings.HasPrefix(kafkaSvc.Image, "apache/kafka:4.") {
		t.Errorf("kafka image %q, want apache/kafka 4.x", kafkaSvc.Image)
	}
}
