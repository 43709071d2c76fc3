package bench

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/config"
	"github.com/gcupsert/gcupsert/emulator"
	"github.com/gcupsert/gcupsert/internal/app/demo"
	"github.com/gcupsert/gcupsert/internal/inspect"
)

// Realistic API latency: log-normal with this median and 99th percentile.
const (
	latencyMedian = 100 * time.Millisecond
	latencyP99    = time.Second
	budgetPerMin  = 300
)

// apiStack is the regime-2 setting: an emulator with realistic latency,
// and an embedded broker.
type apiStack struct {
	api     *apiServer
	cluster *kfake.Cluster
	brokers []string
}

// newAPIStack starts an emulator with cfg and realistic latency, and a
// broker whose input topic has partitions partitions.
func newAPIStack(cfg emulator.Config, partitions int) (*apiStack, error) {
	api, err := newAPI(cfg)
	if err != nil {
		return nil, err
	}
	if err := api.realisticLatency(); err != nil {
		api.Close()
		return nil, err
	}
	cluster, err := newCluster(partitions)
	if err != nil {
		api.Close()
		return nil, err
	}
	return &apiStack{api: api, cluster: cluster, brokers: cluster.ListenAddrs()}, nil
}

func (s *apiStack) Close() {
	s.cluster.Close()
	s.api.Close()
}

// realisticLatency gives the emulator's responses a log-normal latency
// with the median latencyMedian and the 99th percentile latencyP99.
func (a *apiServer) realisticLatency() error {
	return a.emu.SetLatencyDistribution(latencyMedian, latencyP99)
}

// apiBound runs gcupsert and then the sequential baseline against the
// customobjects target of an emulator with realistic latency and the token
// budget, each for o.APIRun from its first API request, over a backlog
// larger than either can write in that time.
func apiBound(ctx context.Context, o *Options, dir string) ([]Result, error) {
	const partitions = 6
	perWindow := int(float64(budgetPerMin) * o.APIWindow.Seconds() / 60)
	s, err := newAPIStack(emulator.Config{Schemas: map[string][]byte{tableName: []byte(demo.Schema)},
		UniqueFields:       map[string][]string{tableName: {"accountNumber"}},
		RateLimitPerMinute: perWindow, RateWindow: o.APIWindow}, partitions)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	// More than the budget lets anyone write in the run: 100 records a request.
	n := int(float64(budgetPerMin*100)*o.APIRun.Minutes()*1.3) + 1000
	o.logf("api-bound: producing %d events; window %v with %d requests (300 a minute), latency median %v p99 %v, %v a run",
		n, o.APIWindow, perWindow, latencyMedian, latencyP99, o.APIRun)
	if err := produce(ctx, s.brokers, Stream(n, n, partitions, "api")); err != nil {
		return nil, err
	}
	schemaFile, err := writeSchema(dir)
	if err != nil {
		return nil, err
	}
	run := apiRun{o: o, s: s, budget: float64(budgetPerMin) * o.APIRun.Minutes()}
	g, err := run.gcupsert(ctx, schemaFile, perWindow)
	if err != nil {
		return nil, err
	}
	g.Extra["partitions"] = partitions
	b, err := run.baseline(ctx, n)
	if err != nil {
		return []Result{g}, err
	}
	if b.EventsPerSec > 0 {
		g.RatioToBaseline = fp(g.EventsPerSec / b.EventsPerSec)
	}
	return []Result{g, b}, nil
}

// apiRun measures a writer of the API-bound scenario over o.APIRun from its
// first API request.
type apiRun struct {
	o      *Options
	s      *apiStack
	budget float64 // API requests the token budget allows in o.APIRun
}

// gcupsert measures the worker, in process (the API is the bound, not the
// CPU).
func (r apiRun) gcupsert(ctx context.Context, schemaFile string, perWindow int) (Result, error) {
	var mu sync.Mutex
	var done []timedCount
	t := &tally{onDone: func(b change.Batch) {
		c := b.Counts()
		mu.Lock()
		done = append(done, timedCount{at: time.Now(), n: c.Created + c.Updated + c.Deleted})
		mu.Unlock()
	}}
	cfg := workerConfig(r.s.brokers, r.s.api.URL(), "bench-api", "customobjects", schemaFile)
	w, err := startWorker(ctx, cfg, t)
	if err != nil {
		return Result{}, err
	}
	t0, t1, err := r.window(ctx)
	if err != nil {
		_ = w.stop()
		return Result{}, err
	}
	if err := w.stop(); err != nil {
		return Result{}, fmt.Errorf("api-gcupsert: %w", err)
	}
	mu.Lock()
	written := countWithin(done, t0, t1)
	mu.Unlock()
	res := r.result("api-gcupsert", fmt.Sprintf("regime 2, customobjects, %v from the first API request; emulator latency median %v p99 %v; budget 300/min as %d per %v window",
		r.o.APIRun, latencyMedian, latencyP99, perWindow, r.o.APIWindow), written, t0, t1)
	res.Goals = []Goal{atLeast("share of the budget used", *res.BudgetUsed*100, 95, "%", 1), atMost("429 responses", float64(*res.TooMany), 0, "", 0)}
	return res, nil
}

// baseline measures the sequential baseline over up to n events, on the
// same emulator reset, with its own group.
func (r apiRun) baseline(ctx context.Context, n int) (Result, error) {
	r.s.api.reset()
	if err := r.s.api.realisticLatency(); err != nil {
		return Result{}, err
	}
	bl := newBaseline(r.s.brokers, r.s.api.URL(), "bench-api-baseline")
	bctx, cancel := context.WithCancel(ctx)
	var berr error
	var wg sync.WaitGroup
	wg.Go(func() { berr = bl.run(bctx, n) })
	t0, t1, err := r.window(ctx)
	cancel()
	wg.Wait()
	if err != nil {
		return Result{}, err
	}
	if berr != nil {
		return Result{}, fmt.Errorf("api-baseline: %w", berr)
	}
	return r.result("api-baseline", "regime 2 sequential baseline on the same emulator (429: waits 1 s, 2 s, 4 s... without Retry-After)",
		countWithin(bl.batches, t0, t1), t0, t1), nil
}

// window waits for the first API request and then o.APIRun, and returns
// that span.
func (r apiRun) window(ctx context.Context) (t0, t1 time.Time, err error) {
	t0, err = firstRequest(ctx, r.s.api, 30*time.Second)
	if err == nil {
		err = sleep(ctx, time.Until(t0.Add(r.o.APIRun)))
	}
	return t0, t0.Add(r.o.APIRun), err
}

// result is the figures of a writer that wrote written records in [t0, t1],
// with the API requests that started in it; it logs them.
func (r apiRun) result(scenario, note string, written int, t0, t1 time.Time) Result {
	reqs, tooMany := apiCount(r.s.api.requests(), t0, t1)
	r.o.logf("%s: %d records, %d requests, %d 429s", scenario, written, reqs, tooMany)
	return Result{
		Scenario:     scenario,
		Note:         note,
		Events:       written,
		Seconds:      r.o.APIRun.Seconds(),
		EventsPerSec: float64(written) / r.o.APIRun.Seconds(),
		TooMany:      ip(tooMany),
		BudgetUsed:   fp(float64(reqs) / r.budget),
		Extra:        map[string]any{"recordsPerMinute": round(float64(written) / r.o.APIRun.Minutes()), "apiRequests": reqs},
	}
}

// firstRequest waits for the emulator's first API request and returns its
// start.
func firstRequest(ctx context.Context, api *apiServer, within time.Duration) (time.Time, error) {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if rs := api.requests(); len(rs) > 0 {
			first := rs[0].start
			for _, r := range rs {
				if r.start.Before(first) {
					first = r.start
				}
			}
			return first, nil
		}
		if err := sleep(ctx, 10*time.Millisecond); err != nil {
			return time.Time{}, err
		}
	}
	return time.Time{}, fmt.Errorf("bench: no API request within %v", within)
}

func countWithin(tc []timedCount, from, to time.Time) int {
	n := 0
	for _, c := range tc {
		if !c.at.Before(from) && !c.at.After(to) {
			n += c.n
		}
	}
	return n
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// dtImport loads 5,000 rows into an empty data table by import jobs, under
// the real budget (300 requests in a 60 s window), realistic latency and a
// job processing time, timed from worker start to committed == end.
func dtImport(ctx context.Context, o *Options, dir string) ([]Result, error) {
	const rows, partitions, processing = 5000, 3, 3 * time.Second
	s, err := newAPIStack(emulator.Config{Fixtures: tableFixtures(), ImportProcessingTime: processing}, partitions)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	api, brokers := s.api, s.brokers
	if err := produce(ctx, brokers, Stream(rows, rows, partitions, "import")); err != nil {
		return nil, err
	}
	end, err := inspect.EndOffsets(ctx, brokers, inputTopic)
	if err != nil {
		return nil, err
	}
	cfg := workerConfig(brokers, api.URL(), "bench-import", "datatables", "")
	cfg.Routes[0].DataTables = config.DataTables{ImportThreshold: 500}
	o.logf("dt-import: %d rows into an empty table, import threshold 500, job processing %v, 300 requests a 60 s window", rows, processing)
	t := &tally{}
	began := time.Now()
	w, err := startWorker(ctx, cfg, t)
	if err != nil {
		return nil, err
	}
	werr := waitCommitted(ctx, cfg, end)
	elapsed := time.Since(began)
	serr := w.stop()
	if werr != nil {
		return nil, fmt.Errorf("dt-import: %w", werr)
	}
	if serr != nil {
		return nil, fmt.Errorf("dt-import: %w", serr)
	}
	id, _ := api.emu.TableID(tableName)
	have := len(api.emu.Rows(id))
	st := api.emu.Stats()
	reqs := len(api.requests())
	r := Result{
		Scenario:     "dt-import-5000",
		Note:         fmt.Sprintf("regime 2, data table from empty by CSV import jobs: worker start to committed == end; real 300/min budget, latency median %v p99 %v, job processing %v; goal < 60 s", latencyMedian, latencyP99, processing),
		Events:       rows,
		Seconds:      elapsed.Seconds(),
		EventsPerSec: float64(rows) / elapsed.Seconds(),
		TooMany:      ip(st.TooManyRequests),
		Extra: map[string]any{"rowsInTable": have, "apiRequests": reqs, "byKind": st.ByKind,
			"rowsModeMinutes": round(float64(rows) / budgetPerMin)},
	}
	if have != rows {
		return []Result{r}, fmt.Errorf("dt-import: the table holds %d rows, want %d", have, rows)
	}
	// Rows mode needs one request a row at 300 a minute.
	r.RatioToBaseline = fp(float64(rows) / budgetPerMin * 60 / elapsed.Seconds())
	r.Goals = []Goal{below("time from worker start to committed == end", elapsed.Seconds(), 60, "s", 1)}
	r.Note += "; vs baseline = rows mode's time at 300 rows a minute over this time"
	o.logf("dt-import: %d rows in %.1fs, %d requests", have, elapsed.Seconds(), reqs)
	return []Result{r}, nil
}

// rowVisibility runs the datatables target in rows mode, idle apart from
// probes: each probe changes one row and measures the time until the
// emulator serves the change, against the linger plus the latency of the
// request that wrote it.
func rowVisibility(ctx context.Context, o *Options, dir string) ([]Result, error) {
	const probes = 10
	s, err := newAPIStack(emulator.Config{Fixtures: tableFixtures()}, 1)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	cfg := workerConfig(s.brokers, s.api.URL(), "bench-rows", "datatables", "")
	linger := cfg.Batch.Linger.D()
	t := &tally{}
	w, err := startWorker(ctx, cfg, t)
	if err != nil {
		return nil, err
	}
	defer func() { _ = w.stop() }()
	for t.assignN.Load() == 0 {
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return nil, err
		}
	}
	id, _ := s.api.emu.TableID(tableName)
	var vis, over []time.Duration
	for i := 0; i < probes; i++ {
		seen, req, err := probeRow(ctx, s, id, i)
		if err != nil {
			return nil, err
		}
		vis = append(vis, seen)
		over = append(over, seen-linger-req)
		if err := sleep(ctx, 300*time.Millisecond); err != nil {
			return nil, err
		}
	}
	sort.Slice(vis, func(i, j int) bool { return vis[i] < vis[j] })
	sort.Slice(over, func(i, j int) bool { return over[i] < over[j] })
	ms := func(d time.Duration) float64 { return round(float64(d) / float64(time.Millisecond)) }
	st := s.api.emu.Stats()
	r := Result{
		Scenario:     "dt-row-visibility",
		Note:         fmt.Sprintf("regime 2, rows mode, %d single-row changes: produce to the emulator serving it, vs linger (%v) + the writing request's latency; real budget, latency median %v p99 %v", probes, linger, latencyMedian, latencyP99),
		Events:       probes,
		Seconds:      sumDur(vis).Seconds(),
		EventsPerSec: float64(probes) / sumDur(vis).Seconds(),
		TooMany:      ip(st.TooManyRequests),
		Extra: map[string]any{"visibleMsMedian": ms(vis[len(vis)/2]), "visibleMsMax": ms(vis[len(vis)-1]),
			"beyondLingerPlusRequestMsMedian": ms(over[len(over)/2]), "beyondLingerPlusRequestMsMax": ms(over[len(over)-1]),
			"lingerMs": ms(linger)},
	}
	o.logf("dt-row-visibility: median %v, max %v; beyond linger + request: median %v", vis[len(vis)/2], vis[len(vis)-1], over[len(over)/2])
	return []Result{r}, nil
}

// probeRow changes the probe row of table tableID to revision i and waits,
// 30 s at most, until the emulator serves the change. It returns the time
// from producing the change to seeing it, and the latency of the request
// that wrote it: the last successful write of the row.
func probeRow(ctx context.Context, s *apiStack, tableID string, i int) (seen, req time.Duration, err error) {
	const key = "acc-probe"
	rev := fmt.Sprintf("probe-%d", i)
	m := Stream(1, 1, 1, rev)[0]
	m.Key = []byte(key)
	m.Value = []byte(strings.Replace(string(m.Value), `"key":"acc-0000000"`, `"key":"`+key+`"`, 1))
	want := "Customer 0 " + rev
	sent := time.Now()
	if err := produce(ctx, s.brokers, []inspect.Message{m}); err != nil {
		return 0, 0, err
	}
	deadline := sent.Add(30 * time.Second)
	for {
		if row, ok := s.api.emu.Rows(tableID)[key]; ok && row["customerName"] == want {
			break
		}
		if time.Now().After(deadline) {
			return 0, 0, fmt.Errorf("row-visibility: probe %d not visible within 30 s", i)
		}
		if err := sleep(ctx, 2*time.Millisecond); err != nil {
			return 0, 0, err
		}
	}
	seen = time.Since(sent)
	for _, r := range s.api.requests() {
		if r.start.After(sent) && r.status < 300 && r.method != http.MethodGet {
			req = r.end.Sub(r.start)
		}
	}
	return seen, req, nil
}

func sumDur(ds []time.Duration) time.Duration {
	var s time.Duration
	for _, d := range ds {
		s += d
	}
	return s
}
