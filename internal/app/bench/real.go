package bench

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"time"

	"github.com/gcupsert/gcupsert/emulator"
	"github.com/gcupsert/gcupsert/internal/app/demo"
	"github.com/gcupsert/gcupsert/internal/inspect"
)

// The rows measured on a real Apache Kafka broker, and their goals.
const (
	realPartitions = 3
	// realLatency is what real-50ms adds to every API request.
	realLatency = 50 * time.Millisecond

	goalCPUPer1k       = 0.03 // CPU seconds of the worker per 1,000 events (real-instant)
	goal50msSeconds    = 18.0 // real-50ms
	goalBudgetSlack    = 3.0  // seconds beyond the windows real-budget must wait for
	goalHotRequests    = 40   // real-hotkeys
	goalHotSeconds     = 15.0 // real-hotkeys
	goalBigPeakRSSMB   = 150.0
	brokersEnv         = "GCUPSERT_TEST_BROKERS" // a running broker to use instead of starting one
	realCommittedLimit = 10 * time.Minute        // longest wait for a row's group to commit the end
)

// realRows are the scenario names of the real-broker group, in run order;
// --only takes "real" for all of them or any of these names.
var realRows = []string{"real-instant", "real-50ms", "real-budget", "real-hotkeys", "real-1m"}

// wantsReal reports whether o selects any real-broker row.
func (o Options) wantsReal() bool {
	for _, r := range realRows {
		if o.wantReal(r) {
			return true
		}
	}
	return false
}

func (o Options) wantReal(row string) bool { return len(o.Only) == 0 || o.Only["real"] || o.Only[row] }

// realEnv is what the real-broker rows share: the broker, the gcupsert
// binary, the schema file and the outbound topics of this run.
type realEnv struct {
	o          *Options
	dir        string
	broker     *realBroker
	bin        string
	schemaFile string
	suffix     string // makes this run's topic and group names unique
	out        childTopics
}

// realBench runs the selected real-broker rows, each with `gcupsert run` as
// a child process against a real Apache Kafka broker (scripts/kafka/kafka.sh,
// or GCUPSERT_TEST_BROKERS) and an emulator in this process. Without Java
// the rows are skipped with one line.
func realBench(ctx context.Context, o *Options, dir string) ([]Result, error) {
	if !o.wantsReal() {
		return nil, nil
	}
	broker, skip, err := startRealBroker(ctx, o, filepath.Join(dir, "kafka"))
	if skip != "" {
		o.logf("real: skipped: %s", skip)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := broker.stop(); err != nil {
			o.logf("real: stopping the broker: %v", err)
		}
	}()
	e := &realEnv{o: o, dir: dir, broker: broker, suffix: randomSuffix()}
	if e.bin = o.Bin; e.bin == "" {
		if e.bin, err = buildBinary(ctx, dir); err != nil {
			return nil, err
		}
	}
	if e.schemaFile, err = writeSchema(dir); err != nil {
		return nil, err
	}
	e.out = childTopics{audit: e.name("audit"), sync: e.name("sync"), dead: e.name("dead")}
	if err := inspect.CreateTopics(ctx, broker.brokers, map[string]int{e.out.audit: 1, e.out.sync: 1, e.out.dead: 1}); err != nil {
		return nil, err
	}
	var out []Result
	// real-instant and real-50ms read the same 100,000 events, each with
	// its own group.
	var shared *realTopic
	for _, row := range realRows {
		if !o.wantReal(row) {
			continue
		}
		var r Result
		switch row {
		case "real-instant", "real-50ms":
			if shared == nil {
				if shared, err = e.topic(ctx, "events", o.RealEvents, o.RealEvents, false); err != nil {
					return out, err
				}
			}
			if row == "real-instant" {
				r, err = e.instant(ctx, shared)
			} else {
				r, err = e.latency(ctx, shared)
			}
		case "real-budget":
			r, err = e.budget(ctx)
		case "real-hotkeys":
			r, err = e.hotKeys(ctx)
		case "real-1m":
			r, err = e.big(ctx)
		}
		if err != nil {
			return out, fmt.Errorf("%s: %w", row, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func (e *realEnv) name(s string) string { return "bench.real." + e.suffix + "." + s }

// realTopic is an input topic of the real broker with its events.
type realTopic struct {
	name       string
	end        map[int]int64
	events     int
	keys       int
	produceSec float64
}

// topic creates an input topic of realPartitions partitions and produces n
// events over keys keys to it, 100,000 at a time, each to the partition its
// key hashes to; balanced instead deals them out in turn, so that every
// partition gets the same number (for distinct keys only: a key's events
// may land on several partitions).
func (e *realEnv) topic(ctx context.Context, name string, n, keys int, balanced bool) (*realTopic, error) {
	t := &realTopic{name: e.name(name), events: n, keys: keys}
	if err := inspect.CreateTopics(ctx, e.broker.brokers, map[string]int{t.name: realPartitions}); err != nil {
		return nil, err
	}
	e.o.logf("real: producing %d events over %d keys to %s (%d partitions)", n, keys, t.name, realPartitions)
	began := time.Now()
	const chunk = 100_000
	for i := 0; i < n; i += chunk {
		msgs := Stream(min(chunk, n-i), keys, realPartitions, fmt.Sprintf("%s%d", name, i))
		if balanced {
			for j := range msgs {
				msgs[j].Partition = (i + j) % realPartitions
			}
		}
		if err := inspect.Produce(ctx, e.broker.brokers, t.name, msgs); err != nil {
			return nil, fmt.Errorf("bench: produce: %w", err)
		}
	}
	t.produceSec = time.Since(began).Seconds()
	runtime.GC()
	debug.FreeOSMemory()
	end, err := inspect.EndOffsets(ctx, e.broker.brokers, t.name)
	if err != nil {
		return nil, err
	}
	if got := int(sum(end)); got != n {
		return nil, fmt.Errorf("topic %s holds %d events, want %d", t.name, got, n)
	}
	t.end = end
	return t, nil
}

// realAPI is the emulator setting of a row.
type realAPI struct {
	latency   time.Duration // fixed, added to every API request
	perWindow int           // requests a token may make in a window; 0: no limit
	window    time.Duration
}

func (a realAPI) String() string {
	s := "instant API"
	if a.latency > 0 {
		s = fmt.Sprintf("+%v on every API request", a.latency)
	}
	if a.perWindow == 0 {
		return s + ", no rate limit"
	}
	return s + fmt.Sprintf(", %d requests a %v window for the token", a.perWindow, a.window)
}

// rowRun is what one row measured: the child from its start, the group's
// join and the commit of the end offsets, and the emulator's view.
type rowRun struct {
	joined    time.Duration // process start to the group's join
	span      time.Duration // join to committed == end
	total     time.Duration // process start to committed == end
	cpu       time.Duration // the child's CPU from the join
	cpuTotal  time.Duration
	mallocs   float64 // from the join; whole life when the join's scrape failed
	peak      int64   // VmHWM, bytes
	brokerCPU time.Duration
	benchCPU  time.Duration // this process: the emulator, its HTTP server and the polling
	loadAvg   string        // /proc/loadavg's 1-, 5- and 15-minute load at the end
	joinedAt  time.Time
	end       map[int]int64 // the topic's end offsets
	reqs      []apiRequest
	st        emulator.Stats
}

// run measures one row: a fresh emulator with api, the child worker with
// its own group on t, until the group has committed t's end offsets.
func (e *realEnv) run(ctx context.Context, row string, t *realTopic, api realAPI) (rowRun, error) {
	a, err := rowEmulator(api)
	if err != nil {
		return rowRun{}, err
	}
	defer a.Close()
	spec := childSpec{name: row, bin: e.bin, brokers: e.broker.brokers, apiURL: a.URL(), schemaFile: e.schemaFile,
		group: e.name(row), topics: childTopics{input: t.name, audit: e.out.audit, sync: e.out.sync, dead: e.out.dead}}
	if e.o.ChildCPUProfile != "" {
		spec.profile = e.o.ChildCPUProfile + "." + row
	}
	if e.o.ChildTrace != "" {
		spec.trace = e.o.ChildTrace + "." + row
	}
	e.o.logf("%s: %d events over %d keys on %d partitions; %v", row, t.events, t.keys, realPartitions, api)
	runtime.GC()
	p, err := startChildSpec(e.o, e.dir, spec)
	if err != nil {
		return rowRun{}, err
	}
	defer p.Close()
	defer p.stop()
	ctx, cancel := context.WithTimeout(ctx, realCommittedLimit)
	defer cancel()
	pid := p.cmd.Process.Pid
	r := rowRun{end: t.end}

	// The join: the group is stable with a member that holds partitions.
	if err := untilExit(p, "joining", func() error { return waitJoined(ctx, e.broker.brokers, spec.group, t.name) }); err != nil {
		return rowRun{}, err
	}
	r.joinedAt = time.Now()
	r.joined = r.joinedAt.Sub(p.began)
	cpu0, err := procCPU(pid)
	if err != nil {
		return rowRun{}, err
	}
	mallocs0, merr := scrape("http://"+p.metricsAddr+"/metrics", "go_memstats_mallocs_total")
	if merr != nil {
		mallocs0 = 0
	}
	broker0, bench0 := e.broker.cpu(), selfUsage().cpu

	err = untilExit(p, "committing the end offsets", func() error {
		_, err := inspect.WaitCommitted(ctx, e.broker.brokers, spec.group, t.name, t.end)
		return err
	})
	if err != nil {
		return rowRun{}, err
	}
	now := time.Now()
	r.span, r.total = now.Sub(r.joinedAt), now.Sub(p.began)
	cpu1, cerr := procCPU(pid)
	peak, perr := peakRSS(strconv.Itoa(pid))
	mallocs1, merr := scrape("http://"+p.metricsAddr+"/metrics", "go_memstats_mallocs_total")
	if cerr != nil || perr != nil || merr != nil {
		return rowRun{}, fmt.Errorf("reading the worker's figures: %v %v %v", cerr, perr, merr)
	}
	r.brokerCPU, r.benchCPU = e.broker.cpu()-broker0, selfUsage().cpu-bench0
	r.loadAvg = loadAvg()
	r.cpu, r.cpuTotal, r.peak, r.mallocs = cpu1-cpu0, cpu1, peak, mallocs1-mallocs0
	p.stop()
	r.reqs, r.st = a.requests(), a.emu.Stats()
	return r, nil
}

// rowEmulator is a fresh emulator for one row, serving the demo's schema
// with api's latency and rate limit, counting the records of each write.
func rowEmulator(api realAPI) (*apiServer, error) {
	cfg := emulator.Config{Schemas: map[string][]byte{tableName: []byte(demo.Schema)},
		UniqueFields: map[string][]string{tableName: {"accountNumber"}}}
	if api.perWindow > 0 {
		cfg.RateLimitPerMinute, cfg.RateWindow = api.perWindow, api.window
	} else {
		cfg.DisableRateLimit = true
	}
	a, err := newAPI(cfg)
	if err != nil {
		return nil, err
	}
	a.countRecords = true
	if api.latency > 0 {
		if err := a.emu.SetLatency(api.latency); err != nil {
			a.Close()
			return nil, err
		}
	}
	return a, nil
}

// untilExit runs wait in a goroutine and returns its error, or an error
// naming the worker's log when the worker exits first (the goroutine then
// ends with the caller's context).
func untilExit(p *childProc, what string, wait func() error) error {
	done := make(chan error, 1)
	go func() { done <- wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("%s: %w (log: %s)", what, err, p.logPath)
		}
		return nil
	case <-p.exited:
		return fmt.Errorf("the worker exited before %s (%v); its log: %s", what, p.waitErr, p.logPath)
	}
}

// result is the row's figures common to every real row, measured from
// the join to committed == end.
func (r rowRun) result(row, note string, n int) Result {
	reqs, tooMany := apiCount(r.reqs, time.Time{}, time.Now().Add(time.Hour))
	first, last := requestSpan(r.reqs)
	extra := map[string]any{
		"partitions": realPartitions, "joinSeconds": round(r.joined.Seconds()), "secondsFromStart": round(r.total.Seconds()),
		"cpuSecondsPer1kEvents": round3(r.cpu.Seconds() / float64(n) * 1000), "cpuSecondsTotal": round(r.cpuTotal.Seconds()),
		"apiRequests": reqs, "byKind": r.st.ByKind,
		"brokerCPUSecondsPer1kEvents": round3(r.brokerCPU.Seconds() / float64(n) * 1000),
		"benchCPUSecondsPer1kEvents":  round3(r.benchCPU.Seconds() / float64(n) * 1000),
		"loadAverage":                 r.loadAvg,
	}
	if r.brokerCPU > 0 {
		// The share of the machine's CPUs the worker, the broker and the
		// bench (emulator) used together from the join to the end.
		extra["cpuShareOfMachine"] = round((r.cpu + r.brokerCPU + r.benchCPU).Seconds() / (r.span.Seconds() * float64(runtime.NumCPU())))
	}
	if !first.IsZero() {
		extra["firstRequestSecondsAfterJoin"] = round(first.Sub(r.joinedAt).Seconds())
		extra["lastResponseSecondsAfterJoin"] = round(last.Sub(r.joinedAt).Seconds())
		// How long the emulator took per request (latency included), and
		// how many requests were open on average between the first and
		// the last: one per partition when the worker always has one out.
		var busy time.Duration
		ds := make([]time.Duration, 0, len(r.reqs))
		for _, q := range r.reqs {
			busy += q.end.Sub(q.start)
			ds = append(ds, q.end.Sub(q.start))
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		extra["apiMsMean"] = round(float64(busy) / float64(len(ds)) / float64(time.Millisecond))
		extra["apiMsMedian"] = round(float64(ds[len(ds)/2]) / float64(time.Millisecond))
		extra["apiMsP99"] = round(float64(ds[len(ds)*99/100]) / float64(time.Millisecond))
		if span := last.Sub(first); span > 0 {
			extra["apiRequestsOpenMean"] = round(busy.Seconds() / span.Seconds())
		}
	}
	var writes, partial, records int
	for _, q := range r.reqs {
		if q.records > 0 {
			writes++
			records += q.records
			if q.records < 100 {
				partial++
			}
		}
	}
	if writes > 0 {
		extra["recordsPerWrite"] = round(float64(records) / float64(writes))
		extra["writesBelow100Records"] = partial
		extra["recordsWritten"] = records
	}
	parts := make(map[string]int64, len(r.end))
	for p, n := range r.end {
		parts[strconv.Itoa(p)] = n
	}
	extra["eventsPerPartition"] = parts
	return Result{
		Scenario:       row,
		Note:           note,
		Events:         n,
		Seconds:        r.span.Seconds(),
		EventsPerSec:   float64(n) / r.span.Seconds(),
		CPUPerMillion:  fp(r.cpu.Seconds() / float64(n) * 1e6),
		AllocsPerEvent: fp(r.mallocs / float64(n)),
		PeakRSSMB:      fp(mb(r.peak)),
		TooMany:        ip(tooMany),
		Extra:          extra,
	}
}

// realNote is said of every real row.
const realNote = "real Apache Kafka broker, `gcupsert run` as a child process, emulator in the bench process, customobjects; " +
	"seconds, events/s, CPU and allocations from the group's join (stable, partitions assigned) to committed == end offsets (commit_interval 1 s); " +
	"peak RSS is the child's VmHWM over its life"

// instant is real-instant: the worker's CPU per event on a real broker.
func (e *realEnv) instant(ctx context.Context, t *realTopic) (Result, error) {
	r, err := e.run(ctx, "real-instant", t, realAPI{})
	if err != nil {
		return Result{}, err
	}
	res := r.result("real-instant", fmt.Sprintf("%d events, %d keys, instant API, no rate limit; %s", t.events, t.keys, realNote), t.events)
	cpu1k := r.cpu.Seconds() / float64(t.events) * 1000
	gaps, perPart := partitionGaps(r.reqs, realPartitions)
	for k, v := range gaps {
		res.Extra[k] = v
	}
	res.Extra["busiestPartition"] = perPart
	res.Goals = []Goal{atMost("worker CPU per 1k events after the join", cpu1k, goalCPUPer1k, "s", 3)}
	e.o.logf("real-instant: %d events in %.1fs after the join, %.3f CPU s per 1k events", t.events, r.span.Seconds(), cpu1k)
	return res, nil
}

// latency is real-50ms: the same events with realLatency on every request.
func (e *realEnv) latency(ctx context.Context, t *realTopic) (Result, error) {
	r, err := e.run(ctx, "real-50ms", t, realAPI{latency: realLatency})
	if err != nil {
		return Result{}, err
	}
	// Ideal: the busiest partition's full requests, one after another.
	var most int64
	for _, n := range t.end {
		most = max(most, (n+99)/100)
	}
	ideal := time.Duration(most) * realLatency
	res := r.result("real-50ms", fmt.Sprintf("%d events, %d keys, +%v on every API request, no rate limit; ideal %.1f s (%d requests on the busiest partition, one at a time); %s",
		t.events, t.keys, realLatency, ideal.Seconds(), most, realNote), t.events)
	res.Extra["idealSeconds"] = round(ideal.Seconds())
	gaps, perPart := partitionGaps(r.reqs, realPartitions)
	for k, v := range gaps {
		res.Extra[k] = v
	}
	res.Extra["busiestPartition"] = perPart
	if ms, ok := res.Extra["apiMsMean"].(float64); ok {
		// The same with the emulator's own time per request (its
		// validation and answer, on the same CPUs) beside the latency.
		res.Extra["idealWithMeasuredRequestSeconds"] = round(float64(most) * ms / 1000)
	}
	res.Goals = []Goal{atMost("time from the join to committed == end", r.span.Seconds(), goal50msSeconds, "s", 1)}
	e.o.logf("real-50ms: %d events in %.1fs after the join (ideal %.1fs)", t.events, r.span.Seconds(), ideal.Seconds())
	return res, nil
}

// budgetAPI is the rate limit of real-budget and real-hotkeys: 300 requests
// a minute, as o.APIWindow's share.
func (e *realEnv) budgetAPI() realAPI {
	return realAPI{perWindow: int(math.Round(float64(budgetPerMin) * e.o.APIWindow.Seconds() / 60)), window: e.o.APIWindow}
}

func (a realAPI) windowNote() string {
	if a.window == 60*time.Second {
		return "the emulator's real window: 300 requests in 60 s"
	}
	return fmt.Sprintf("a %v window of %d requests (300 a minute, scaled as api-* does)", a.window, a.perWindow)
}

// budget is real-budget: 600 full requests of distinct keys under the
// token's budget, the worker pacing in its default burst mode.
func (e *realEnv) budget(ctx context.Context) (Result, error) {
	n := e.o.RealBudgetEvents
	t, err := e.topic(ctx, "budget", n, n, true)
	if err != nil {
		return Result{}, err
	}
	api := e.budgetAPI()
	r, err := e.run(ctx, "real-budget", t, api)
	if err != nil {
		return Result{}, err
	}
	full := (n + 99) / 100
	windows := (full + api.perWindow - 1) / api.perWindow
	bound := float64(windows-1)*api.window.Seconds() + goalBudgetSlack
	res := r.result("real-budget", fmt.Sprintf("%d events, all keys distinct, dealt evenly over the partitions (%d full requests), instant API, %s; pacing burst (default); %s",
		n, full, api.windowNote(), realNote), n)
	counts := windowCounts(r.reqs, api.window)
	used := len(counts)
	res.Extra["windowsUsed"] = used
	res.Extra["requestsPerWindow"] = counts
	res.Extra["maxWindowRequests"] = r.st.MaxWindowRequests
	res.Extra["rateLimited"] = r.st.RateLimited
	res.Extra["perWindow"] = api.perWindow
	res.Extra["windowSeconds"] = api.window.Seconds()
	res.Goals = []Goal{
		atMost("time from the join to committed == end", r.span.Seconds(), bound, "s", 1),
		atMost("429 responses", float64(*res.TooMany), 0, "", 0),
	}
	e.o.logf("real-budget: %d events in %.1fs after the join, %d windows, %d 429s", n, r.span.Seconds(), used, *res.TooMany)
	return res, nil
}

// hotKeys is real-hotkeys: many events over few keys under the budget;
// coalescing should make about one request per 100 keys.
func (e *realEnv) hotKeys(ctx context.Context) (Result, error) {
	n, keys := e.o.RealHotEvents, e.o.RealHotKeys
	t, err := e.topic(ctx, "hotkeys", n, keys, false)
	if err != nil {
		return Result{}, err
	}
	api := e.budgetAPI()
	api.latency = e.o.RealHotLatency
	r, err := e.run(ctx, "real-hotkeys", t, api)
	if err != nil {
		return Result{}, err
	}
	reqs, _ := apiCount(r.reqs, time.Time{}, time.Now().Add(time.Hour))
	writes := writeRequests(r.reqs)
	lat := "instant API"
	if api.latency > 0 {
		lat = fmt.Sprintf("+%v on every API request", api.latency)
	}
	res := r.result("real-hotkeys", fmt.Sprintf("%d events over %d keys, %s, %s; ideal about %d requests (100 keys a request); %s",
		n, keys, lat, api.windowNote(), (keys+99)/100, realNote), n)
	res.Extra["writeRequests"] = writes
	res.Extra["requestsPerKey"] = round3(float64(reqs) / float64(keys))
	res.Extra["requestsPerWindow"] = windowCounts(r.reqs, api.window)
	res.Extra["rateLimited"] = r.st.RateLimited
	res.Goals = []Goal{
		atMost("API requests", float64(reqs), goalHotRequests, "", 0),
		atMost("time from the join to committed == end", r.span.Seconds(), goalHotSeconds, "s", 1),
	}
	e.o.logf("real-hotkeys: %d requests (%d writes) for %d keys in %.1fs after the join", reqs, writes, keys, r.span.Seconds())
	return res, nil
}

// big is real-1m: a backlog of a million events over 50,000 keys, instant
// API; the worker's peak RSS.
func (e *realEnv) big(ctx context.Context) (Result, error) {
	n, keys := e.o.RealBigEvents, e.o.RealBigKeys
	t, err := e.topic(ctx, "1m", n, keys, false)
	if err != nil {
		return Result{}, err
	}
	r, err := e.run(ctx, "real-1m", t, realAPI{})
	if err != nil {
		return Result{}, err
	}
	reqs, _ := apiCount(r.reqs, time.Time{}, time.Now().Add(time.Hour))
	res := r.result("real-1m", fmt.Sprintf("%d events over %d keys, instant API, no rate limit; %s", n, keys, realNote), n)
	res.Extra["writeRequests"] = writeRequests(r.reqs)
	res.Extra["produceSeconds"] = round(t.produceSec)
	res.Goals = []Goal{below("peak RSS (VmHWM)", mb(r.peak), goalBigPeakRSSMB, "MB", 0)}
	e.o.logf("real-1m: %d events, %d requests in %.1fs after the join, peak RSS %.0f MB", n, reqs, r.span.Seconds(), mb(r.peak))
	return res, nil
}
