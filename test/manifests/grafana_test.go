package manifests

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/consumer"
	"github.com/gcupsert/gcupsert/internal/metrics"
)

const dashboardFile = "../../deploy/grafana/gcupsert.json"

// exposedSeries feeds a metrics.Metrics every kind of observation, so that
// each labelled series exists, scrapes it and returns every sample name
// with the label names it carries.
func exposedSeries(t *testing.T) map[string]map[string]bool {
	t.Helper()
	m := metrics.New(nil, 0)
	m.OnAssigned(1, make([]consumer.Partition, 2))
	m.SchemasLoaded()
	m.OnBatchStarted("crm.accounts", 0)
	b := change.Batch{Topic: "crm.accounts", Target: "customobjects", Items: 6, Bytes: 2048, Latency: 40 * time.Millisecond}
	for _, st := range []change.Status{change.StatusCreated, change.StatusUpdated, change.StatusDeleted, change.StatusCollapsed} {
		b.Entries = append(b.Entries, change.Entry{Offset: int64(len(b.Entries)), Outcome: change.Outcome{Status: st}})
	}
	b.Entries = append(b.Entries, change.Entry{Offset: 4, Outcome: change.Outcome{Status: change.StatusRejected,
		Err: &change.RecordError{Class: "decode", Code: "invalid.json"}}})
	m.OnBatchDone(b)
	m.OnBatchStarted("crm.accounts", 1)
	m.OnBatchRetry("crm.accounts", 1, "upsert", errors.New("503"))
	m.OnBatchRetry("crm.accounts", 1, "publish", errors.New("broker down"))
	m.OnBatchAbandoned("crm.accounts", 1)
	m.OnFetched("crm.accounts", 0, 12)
	m.OnCommitted("crm.accounts", 0, 100, 3*time.Millisecond)
	m.OnCommitFailed(errors.New("rebalance"))

	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("inin-ratelimit-allowed", "300")
		w.Header().Set("inin-ratelimit-count", "10")
		w.Header().Set("inin-ratelimit-reset", "42")
		switch {
		case strings.HasSuffix(r.URL.Path, "/oauth/token"):
			w.WriteHeader(http.StatusOK)
		case strings.HasSuffix(r.URL.Path, "/busy"):
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			w.WriteHeader(http.StatusOK)
		}
	}))
	defer api.Close()
	c := &http.Client{Transport: m.Transport(nil)}
	for _, p := range []string{"/oauth/token", "/api/v2/customobjects/x/records", "/busy"} {
		resp, err := c.Get(api.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}

	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	series := map[string]map[string]bool{}
	labelName := regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="`)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name := line
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name = line[:i]
		}
		if series[name] == nil {
			series[name] = map[string]bool{}
		}
		if i := strings.IndexByte(line, '{'); i >= 0 {
			j := strings.LastIndexByte(line, '}')
			for _, mm := range labelName.FindAllStringSubmatch(line[i:j+1], -1) {
				series[name][mm[1]] = true
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return series
}

type dashboard struct {
	Title      string
	Templating struct {
		List []struct {
			Name, Type string
			Query      any
			Definition string
		}
	}
	Panels []panel
}

type panel struct {
	Title      string
	Type       string
	Datasource *struct{ Type, UID string }
	Targets    []struct {
		Expr         string
		LegendFormat string
		Datasource   *struct{ Type, UID string }
	}
	Panels []panel
}

func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

var (
	metricName = regexp.MustCompile(`\b[a-zA-Z_:][a-zA-Z0-9_:]*\b`)
	byClause   = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
	matcher    = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"`)
	legendVar  = regexp.MustCompile(`\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}`)
)

// Labels every scraped series has once Prometheus stores it.
var targetLabels = map[string]bool{"job": true, "instance": true}

func TestDashboardQueriesExistingMetrics(t *testing.T) {
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	series := exposedSeries(t)

	dsVar := ""
	for _, v := range d.Templating.List {
		if v.Type == "datasource" && v.Query == "prometheus" {
			dsVar = v.Name
		}
	}
	if dsVar == "" {
		t.Fatal("no Prometheus datasource variable")
	}

	used := map[string]bool{}
	check := func(where, expr, legend string) {
		t.Helper()
		labels := map[string]bool{}
		for k := range targetLabels {
			labels[k] = true
		}
		found := false
		for _, name := range metricName.FindAllString(expr, -1) {
			if !strings.HasPrefix(name, "gcupsert_") {
				continue
			}
			found = true
			ls, ok := series[name]
			if !ok {
				t.Errorf("%s: %s is not exposed by internal/metrics", where, name)
				continue
			}
			used[name] = true
			for l := range ls {
				labels[l] = true
			}
		}
		if !found {
			t.Errorf("%s: %q queries no gcupsert metric", where, expr)
			return
		}
		var names []string
		for _, m := range byClause.FindAllStringSubmatch(expr, -1) {
			for _, l := range strings.Split(m[1], ",") {
				if l = strings.TrimSpace(l); l != "" {
					names = append(names, l)
				}
			}
		}
		for _, m := range matcher.FindAllStringSubmatch(expr, -1) {
			names = append(names, m[1])
		}
		for _, m := range legendVar.FindAllStringSubmatch(legend, -1) {
			names = append(names, m[1])
		}
		for _, l := range names {
			if !labels[l] {
				t.Errorf("%s: label %q is on none of the queried series", where, l)
			}
		}
	}

	exprs := 0
	for _, p := range allPanels(d.Panels) {
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || !strings.Contains(p.Datasource.UID, dsVar) {
			t.Errorf("panel %q does not use the $%s variable", p.Title, dsVar)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs++
			check("panel "+p.Title, tg.Expr, tg.LegendFormat)
		}
	}
	for _, v := range d.Templating.List {
		if v.Type == "query" {
			check("variable "+v.Name, v.Definition, "")
		}
	}
	if exprs < 10 {
		t.Errorf("only %d queries", exprs)
	}
	for _, want := range []string{
		"gcupsert_events_total", "gcupsert_dead_letters_total", "gcupsert_consumer_lag",
		"gcupsert_upsert_duration_seconds_bucket", "gcupsert_http_responses_total", "gcupsert_rate_limit_remaining",
		"gcupsert_batches_in_flight", "gcupsert_offset_commit_duration_seconds_bucket", "gcupsert_publish_failures_total",
		"gcupsert_token_requests_total",
	} {
		if !used[want] {
			t.Errorf("the dashboard does not show %s", want)
		}
	}
}

// The check itself: a name internal/metrics does not expose is reported.
func TestExposedSeriesLackUnknownNames(t *testing.T) {
	series := exposedSeries(t)
	for _, name := range []string{"gcupsert_events_total", "gcupsert_upsert_duration_seconds_bucket", "gcupsert_token_requests_total", "gcupsert_http_retryable_failures_total"} {
		if series[name] == nil {
			t.Errorf("%s not scraped", name)
		}
	}
	for _, name := range []string{"gcupsert_events", "gcupsert_upsert_duration_seconds", "gcupsert_lag"} {
		if series[name] != nil {
			t.Errorf("%s scraped", name)
		}
	}
	if !series["gcupsert_dead_letters_total"]["class"] || series["gcupsert_dead_letters_total"]["outcome"] {
		t.Errorf("dead letter labels %v", series["gcupsert_dead_letters_total"])
	}
}
