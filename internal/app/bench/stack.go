package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/gcupsert/gcupsert/emulator"
	"github.com/gcupsert/gcupsert/internal/app/demo"
)

// Topic names used by every scenario.
const (
	inputTopic      = "bench.accounts"
	auditTopic      = "bench.audit"
	syncTopic       = "bench.sync"
	deadLetterTopic = "bench.deadletter"
	clientID        = "gcupsert-bench"
	clientSecret    = "bench-secret"
	tableName       = demo.SchemaName
)

// newCluster starts an in-process Kafka-protocol broker with the input
// topic (partitions) and the outbound topics.
func newCluster(partitions int) (*kfake.Cluster, error) {
	c, err := kfake.NewCluster(
		kfake.Ports(0),
		kfake.SeedTopics(int32(partitions), inputTopic),
		kfake.SeedTopics(1, auditTopic, syncTopic, deadLetterTopic),
		kfake.GroupMinSessionTimeout(time.Second),
	)
	if err != nil {
		return nil, fmt.Errorf("bench: embedded broker: %w", err)
	}
	return c, nil
}

// apiServer is an emulator behind an HTTP server that records every API
// request's time and status.
type apiServer struct {
	emu *emulator.Server
	srv *httptest.Server

	// countRecords makes the server count the records of each
	// customobjects write (apiRequest.records); set before the first request.
	countRecords bool

	mu   sync.Mutex
	reqs []apiRequest
}

type apiRequest struct {
	start, end time.Time
	method     string
	path       string
	status     int
	records    int    // records in the body of a customobjects write, when counted
	firstID    string // the id of its first record
}

// newAPI starts an emulator with cfg (clients filled in).
func newAPI(cfg emulator.Config) (*apiServer, error) {
	cfg.Clients = map[string]string{clientID: clientSecret}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	emu, err := emulator.New(cfg)
	if err != nil {
		return nil, err
	}
	a := &apiServer{emu: emu}
	h := emu.Handler()
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/") {
			h.ServeHTTP(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		start := time.Now()
		records, firstID := 0, ""
		if a.countRecords && r.Method == http.MethodPost {
			records, firstID = countRecords(r)
		}
		h.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		a.mu.Lock()
		a.reqs = append(a.reqs, apiRequest{start: start, end: time.Now(), method: r.Method, path: r.URL.Path, status: sw.status, records: records, firstID: firstID})
		a.mu.Unlock()
	}))
	return a, nil
}

// countRecords reads r's body, a customobjects write ({"records":[...]}),
// and puts it back for the emulator; it returns the number of records and
// the id of the first; 0 for any other body.
func countRecords(r *http.Request) (n int, firstID string) {
	body, err := io.ReadAll(r.Body)
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return 0, ""
	}
	var doc struct {
		Records []json.RawMessage `json:"records"`
	}
	if json.Unmarshal(body, &doc) != nil || len(doc.Records) == 0 {
		return 0, ""
	}
	var first struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(doc.Records[0], &first)
	return len(doc.Records), first.ID
}

func (a *apiServer) URL() string { return a.srv.URL }

func (a *apiServer) Close() { a.srv.Close() }

// reset drops the records, the stats and the recorded requests.
func (a *apiServer) reset() {
	a.emu.Reset()
	a.mu.Lock()
	a.reqs = nil
	a.mu.Unlock()
}

// requests returns a copy of the recorded API requests.
func (a *apiServer) requests() []apiRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]apiRequest(nil), a.reqs...)
}

// apiCount counts API requests that started within [from, to) and those of
// them answered 429.
func apiCount(reqs []apiRequest, from, to time.Time) (n, tooMany int) {
	for _, r := range reqs {
		if r.start.Before(from) || !r.start.Before(to) {
			continue
		}
		n++
		if r.status == http.StatusTooManyRequests {
			tooMany++
		}
	}
	return n, tooMany
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
	w.ResponseWriter.WriteHeader(s)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// tableFixtures is the demo's data table, empty.
func tableFixtures() []byte {
	doc := map[string]any{"tables": []map[string]any{
		{"name": tableName, "schema": json.RawMessage(demo.TableSchema)},
	}}
	b, _ := json.Marshal(doc)
	return b
}

// costStack is the regime-1 setting: an embedded broker and an emulator with
// no latency and no rate limit, and the schema file the worker reads.
type costStack struct {
	cluster    *kfake.Cluster
	brokers    []string
	api        *apiServer
	schemaFile string
}

func newCostStack(partitions int, dir string) (*costStack, error) {
	cluster, err := newCluster(partitions)
	if err != nil {
		return nil, err
	}
	api, err := newAPI(emulator.Config{Schemas: map[string][]byte{tableName: []byte(demo.Schema)},
		UniqueFields: map[string][]string{tableName: {"accountNumber"}}, DisableRateLimit: true})
	if err != nil {
		cluster.Close()
		return nil, err
	}
	schemaFile, err := writeSchema(dir)
	if err != nil {
		api.Close()
		cluster.Close()
		return nil, err
	}
	return &costStack{cluster: cluster, brokers: cluster.ListenAddrs(), api: api, schemaFile: schemaFile}, nil
}

func (s *costStack) Close() {
	s.api.Close()
	s.cluster.Close()
}
