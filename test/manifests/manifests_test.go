// Package manifests checks the Kubernetes manifests under deploy/kubernetes
// and the Grafana dashboard under deploy/grafana against what the worker
// actually reads and exposes: the configuration they ship must load, the
// ports, probes, grace period and autoscaler settings must agree with it,
// and every metric the dashboard queries must exist.
package manifests

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/gcupsert/gcupsert/config"
)

const (
	k8sDir    = "../../deploy/kubernetes"
	secretVal = "test-client-secret"
	podName   = "gcupsert-5d8f7c9b6-x2x7q"
)

// doc is one YAML document of a manifest file.
type doc struct {
	file string
	node *yaml.Node // the document's mapping node
	m    map[string]any
}

func (d doc) kind() string { return str(d.m, "kind") }
func (d doc) name() string { return str(mapOf(d.m, "metadata"), "name") }

func loadManifests(t *testing.T) []doc {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(k8sDir, "*.y*ml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no manifests in %s", k8sDir)
	}
	var docs []doc
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		for i := 0; ; i++ {
			var n yaml.Node
			err := dec.Decode(&n)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s document %d: %v", filepath.Base(f), i, err)
			}
			if len(n.Content) == 0 || n.Content[0].Kind == 0 {
				continue
			}
			var m map[string]any
			if err := n.Decode(&m); err != nil {
				t.Fatalf("%s document %d: %v", filepath.Base(f), i, err)
			}
			if m == nil {
				continue
			}
			docs = append(docs, doc{file: filepath.Base(f), node: n.Content[0], m: m})
		}
	}
	return docs
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func mapOf(m map[string]any, path ...string) map[string]any {
	for _, k := range path {
		next, _ := m[k].(map[string]any)
		m = next
	}
	return m
}

func listOf(m map[string]any, k string) []map[string]any {
	raw, _ := m[k].([]any)
	out := make([]map[string]any, 0, len(raw))
	for _, v := range raw {
		if mv, ok := v.(map[string]any); ok {
			out = append(out, mv)
		}
	}
	return out
}

func intOf(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case string:
		i, err := strconv.Atoi(n)
		return i, err == nil
	}
	return 0, false
}

func find(t *testing.T, docs []doc, kind string) []doc {
	t.Helper()
	var out []doc
	for _, d := range docs {
		if d.kind() == kind {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no %s manifest", kind)
	}
	return out
}

func byName(t *testing.T, docs []doc, kind, name string) doc {
	t.Helper()
	for _, d := range find(t, docs, kind) {
		if d.name() == name {
			return d
		}
	}
	t.Fatalf("no %s named %q", kind, name)
	return doc{}
}

func TestEveryManifestNamesItself(t *testing.T) {
	docs := loadManifests(t)
	seen := map[string]string{}
	for _, d := range docs {
		if str(d.m, "apiVersion") == "" || d.kind() == "" || d.name() == "" {
			t.Errorf("%s: a document lacks apiVersion, kind or metadata.name: %v", d.file, d.m)
			continue
		}
		id := d.kind() + "/" + d.name()
		if other, dup := seen[id]; dup {
			t.Errorf("%s: %s is also defined in %s", d.file, id, other)
		}
		seen[id] = d.file
	}
	for _, kind := range []string{"Deployment", "Service", "ConfigMap", "Secret", "ScaledObject"} {
		find(t, docs, kind)
	}
}

// worker gathers the Deployment's container, volumes and the configuration
// the ConfigMap ships, loaded the way the pod loads it.
type worker struct {
	deploy    doc
	pod       map[string]any
	container map[string]any
	cm        doc
	cfg       config.Config
	env       []string
}

func loadWorker(t *testing.T, docs []doc) worker {
	t.Helper()
	deps := find(t, docs, "Deployment")
	if len(deps) != 1 {
		t.Fatalf("%d Deployments", len(deps))
	}
	w := worker{deploy: deps[0], pod: mapOf(deps[0].m, "spec", "template", "spec")}
	cs := listOf(w.pod, "containers")
	if len(cs) != 1 {
		t.Fatalf("%d containers", len(cs))
	}
	w.container = cs[0]

	// The environment the pod gets: plain values as they are, secrets and
	// field references as placeholders.
	var cfgPath string
	for _, e := range listOf(w.container, "env") {
		name := str(e, "name")
		switch {
		case e["value"] != nil:
			w.env = append(w.env, name+"="+str(e, "value"))
		case mapOf(e, "valueFrom", "secretKeyRef") != nil:
			w.env = append(w.env, name+"="+secretVal)
		case mapOf(e, "valueFrom", "fieldRef") != nil:
			w.env = append(w.env, name+"="+podName)
		default:
			t.Errorf("env %s has neither a value nor a secret or field reference", name)
		}
		if name == "GCUPSERT_CONFIG" {
			cfgPath = str(e, "value")
		}
	}
	if cfgPath == "" {
		t.Fatal("the container has no GCUPSERT_CONFIG")
	}
	cmName, key := w.mounted(t, cfgPath)
	w.cm = byName(t, docs, "ConfigMap", cmName)
	yml := str(mapOf(w.cm.m, "data"), key)
	if yml == "" {
		t.Fatalf("ConfigMap %s has no key %q (GCUPSERT_CONFIG=%s)", cmName, key, cfgPath)
	}
	f := filepath.Join(t.TempDir(), "gcupsert.yaml")
	if err := os.WriteFile(f, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(f, w.env)
	if err != nil {
		t.Fatalf("the ConfigMap's %s does not load: %v", key, err)
	}
	w.cfg = cfg
	return w
}

// mounted resolves a file path inside the container to the ConfigMap and
// key it is mounted from.
func (w worker) mounted(t *testing.T, path string) (configMap, key string) {
	t.Helper()
	for _, vm := range listOf(w.container, "volumeMounts") {
		mp := strings.TrimSuffix(str(vm, "mountPath"), "/")
		rel, ok := strings.CutPrefix(path, mp+"/")
		if !ok {
			continue
		}
		if sub := str(vm, "subPath"); sub != "" {
			if path != mp {
				continue
			}
			rel = sub
		}
		for _, v := range listOf(w.pod, "volumes") {
			if str(v, "name") != str(vm, "name") {
				continue
			}
			cm := mapOf(v, "configMap")
			if cm == nil {
				t.Fatalf("%s is mounted from volume %s, which is not a ConfigMap", path, str(v, "name"))
			}
			items := listOf(cm, "items")
			if len(items) == 0 {
				return str(cm, "name"), rel
			}
			for _, it := range items {
				if str(it, "path") == rel {
					return str(cm, "name"), str(it, "key")
				}
			}
			t.Fatalf("%s: volume %s has no item with path %q", path, str(v, "name"), rel)
		}
		t.Fatalf("%s: mount %s names no volume", path, str(vm, "name"))
	}
	t.Fatalf("%s is not under any volume mount", path)
	return "", ""
}

// containerPort resolves a probe or target port (number or name).
func (w worker) containerPort(t *testing.T, port any) int {
	t.Helper()
	if n, ok := port.(int); ok {
		return n
	}
	for _, p := range listOf(w.container, "ports") {
		if str(p, "name") == port {
			n, _ := intOf(p["containerPort"])
			return n
		}
	}
	t.Fatalf("no container port named %v", port)
	return 0
}

func (w worker) metricsPort(t *testing.T) int {
	t.Helper()
	_, p, err := netSplit(w.cfg.Metrics.Address)
	if err != nil {
		t.Fatalf("metrics.address %q: %v", w.cfg.Metrics.Address, err)
	}
	return p
}

func netSplit(addr string) (string, int, error) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return "", 0, errors.New("no port")
	}
	p, err := strconv.Atoi(addr[i+1:])
	return addr[:i], p, err
}

func TestConfigMapLoadsWithTheSecretFromTheEnvironment(t *testing.T) {
	docs := loadManifests(t)
	w := loadWorker(t, docs)
	if string(w.cfg.Genesys.ClientSecret) != secretVal {
		t.Error("the client secret does not come from the pod's environment")
	}
	if w.cfg.WorkerID != podName {
		t.Errorf("worker id %q, want the pod name", w.cfg.WorkerID)
	}
	if strings.Contains(str(mapOf(w.cm.m, "data"), "gcupsert.yaml"), "client_secret:") {
		t.Error("the ConfigMap holds a client secret")
	}
	// Without the secret the configuration is refused: it is not in the ConfigMap.
	var noSecret []string
	for _, e := range w.env {
		if !strings.HasPrefix(e, "GCUPSERT_GENESYS_CLIENT_SECRET=") {
			noSecret = append(noSecret, e)
		}
	}
	f := filepath.Join(t.TempDir(), "gcupsert.yaml")
	os.WriteFile(f, []byte(str(mapOf(w.cm.m, "data"), "gcupsert.yaml")), 0o600)
	if _, err := config.Load(f, noSecret); err == nil || !strings.Contains(err.Error(), "genesys.client_secret") {
		t.Errorf("loads without the secret: %v", err)
	}
	// Every secret reference names a key of a Secret manifest.
	for _, e := range listOf(w.container, "env") {
		ref := mapOf(e, "valueFrom", "secretKeyRef")
		if ref == nil {
			continue
		}
		sec := byName(t, docs, "Secret", str(ref, "name"))
		data := mapOf(sec.m, "stringData")
		if _, ok := data[str(ref, "key")]; !ok {
			if _, ok := mapOf(sec.m, "data")[str(ref, "key")]; !ok {
				t.Errorf("env %s: Secret %s has no key %s", str(e, "name"), str(ref, "name"), str(ref, "key"))
			}
		}
		for k, v := range data {
			if s, _ := v.(string); !strings.Contains(s, "REPLACE") {
				t.Errorf("Secret %s key %s is not a placeholder", sec.name(), k)
			}
		}
	}
	// Every route's schema file is mounted from a ConfigMap and is JSON.
	for _, r := range w.cfg.Routes {
		name, key := w.mounted(t, r.SchemaFile)
		raw := str(mapOf(byName(t, docs, "ConfigMap", name).m, "data"), key)
		var v map[string]any
		if err := json.Unmarshal([]byte(raw), &v); err != nil {
			t.Errorf("route %s: schema %s (ConfigMap %s key %s) is not JSON: %v", r.Topic, r.SchemaFile, name, key, err)
		}
	}
}

func TestDeploymentAgreesWithTheConfiguration(t *testing.T) {
	docs := loadManifests(t)
	w := loadWorker(t, docs)
	port := w.metricsPort(t)
	if port != 9464 {
		t.Errorf("metrics port %d, want 9464", port)
	}
	for probe, path := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
		get := mapOf(w.container, probe, "httpGet")
		if get == nil {
			t.Errorf("no %s", probe)
			continue
		}
		if str(get, "path") != path {
			t.Errorf("%s path %q, want %s", probe, str(get, "path"), path)
		}
		if p := w.containerPort(t, get["port"]); p != port {
			t.Errorf("%s port %d, metrics.address %s", probe, p, w.cfg.Metrics.Address)
		}
	}
	grace, ok := intOf(w.pod["terminationGracePeriodSeconds"])
	if !ok || float64(grace) <= w.cfg.ShutdownTimeout.D().Seconds() {
		t.Errorf("terminationGracePeriodSeconds %v does not exceed shutdown_timeout %s", w.pod["terminationGracePeriodSeconds"], w.cfg.ShutdownTimeout)
	}
	if sc := mapOf(w.pod, "securityContext"); sc["runAsNonRoot"] != true {
		t.Error("the pod may run as root")
	}
	sc := mapOf(w.container, "securityContext")
	if sc["readOnlyRootFilesystem"] != true || sc["allowPrivilegeEscalation"] != false {
		t.Errorf("container securityContext %v", sc)
	}
	res := mapOf(w.container, "resources")
	if mapOf(res, "requests")["memory"] == nil || mapOf(res, "limits")["memory"] == nil {
		t.Errorf("resources %v", res)
	}
	labels := mapOf(w.deploy.m, "spec", "template", "metadata", "labels")
	matches := func(sel map[string]any) bool {
		if len(sel) == 0 {
			return false
		}
		for k, v := range sel {
			if labels[k] != v {
				return false
			}
		}
		return true
	}
	if !matches(mapOf(w.deploy.m, "spec", "selector", "matchLabels")) {
		t.Error("the Deployment's selector does not match its pod labels")
	}

	svc := find(t, docs, "Service")[0]
	if !matches(mapOf(svc.m, "spec", "selector")) {
		t.Error("the Service's selector does not match the pods")
	}
	ann := mapOf(svc.m, "metadata", "annotations")
	if str(ann, "prometheus.io/scrape") != "true" || str(ann, "prometheus.io/port") != strconv.Itoa(port) || str(ann, "prometheus.io/path") != "/metrics" {
		t.Errorf("Service annotations %v", ann)
	}
	ports := listOf(mapOf(svc.m, "spec"), "ports")
	if len(ports) != 1 || w.containerPort(t, ports[0]["targetPort"]) != port {
		t.Errorf("Service ports %v", ports)
	}
	for _, pdb := range docs {
		if pdb.kind() == "PodDisruptionBudget" && !matches(mapOf(pdb.m, "spec", "selector", "matchLabels")) {
			t.Error("the PodDisruptionBudget does not select the pods")
		}
	}
}

func TestKEDAScalesOnTheWorkersGroupAndTopic(t *testing.T) {
	docs := loadManifests(t)
	w := loadWorker(t, docs)
	so := find(t, docs, "ScaledObject")[0]
	spec := mapOf(so.m, "spec")
	if str(mapOf(spec, "scaleTargetRef"), "name") != w.deploy.name() {
		t.Errorf("scaleTargetRef %v, Deployment %s", mapOf(spec, "scaleTargetRef"), w.deploy.name())
	}
	routeTopics := map[string]bool{}
	for _, r := range w.cfg.Routes {
		routeTopics[r.Topic] = true
	}
	kafkaTriggers := 0
	for _, tr := range listOf(spec, "triggers") {
		if str(tr, "type") != "kafka" {
			continue
		}
		kafkaTriggers++
		md := mapOf(tr, "metadata")
		if g := str(md, "consumerGroup"); g != w.cfg.Kafka.GroupID {
			t.Errorf("consumerGroup %q, kafka.group_id %q", g, w.cfg.Kafka.GroupID)
		}
		if tp := str(md, "topic"); !routeTopics[tp] {
			t.Errorf("topic %q is not a route topic (%v)", tp, routeTopics)
		}
		if b := str(md, "bootstrapServers"); b != strings.Join(w.cfg.Kafka.Brokers, ",") {
			t.Errorf("bootstrapServers %q, kafka.brokers %v", b, w.cfg.Kafka.Brokers)
		}
		if n, ok := intOf(md["lagThreshold"]); !ok || n < 1 {
			t.Errorf("lagThreshold %v", md["lagThreshold"])
		}
	}
	if kafkaTriggers == 0 {
		t.Error("no kafka trigger")
	}
	maxN, ok := intOf(spec["maxReplicaCount"])
	minN, _ := intOf(spec["minReplicaCount"])
	if !ok || maxN < 1 || maxN < minN {
		t.Errorf("maxReplicaCount %v, minReplicaCount %v", spec["maxReplicaCount"], spec["minReplicaCount"])
	}
	// maxReplicaCount is documented next to the value and in the README.
	specNode := valueNode(so.node, "spec")
	keyNode := keyNodeOf(specNode, "maxReplicaCount")
	if keyNode == nil || !strings.Contains(strings.ToLower(keyNode.HeadComment+keyNode.LineComment+valueNode(specNode, "maxReplicaCount").LineComment), "partition") {
		t.Error("maxReplicaCount has no comment about the partition count")
	}
	readme, err := os.ReadFile(filepath.Join(k8sDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"maxReplicaCount", "partition", "idle", "GCUPSERT_GENESYS_CLIENT_SECRET", "client_secret_file", "/healthz", "/readyz"} {
		if !bytes.Contains(readme, []byte(want)) {
			t.Errorf("README.md does not mention %s", want)
		}
	}
}

func keyNodeOf(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i]
		}
	}
	return nil
}

func valueNode(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func TestKustomizationListsExistingFiles(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(k8sDir, "kustomization.yaml"))
	if err != nil {
		t.Skip("no kustomization")
	}
	var k struct{ Resources []string }
	if err := yaml.Unmarshal(raw, &k); err != nil {
		t.Fatal(err)
	}
	sort.Strings(k.Resources)
	for _, r := range k.Resources {
		if _, err := os.Stat(filepath.Join(k8sDir, r)); err != nil {
			t.Errorf("kustomization lists %s: %v", r, err)
		}
	}
	if len(k.Resources) == 0 {
		t.Error("kustomization lists nothing")
	}
}
