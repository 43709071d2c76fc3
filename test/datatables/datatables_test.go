// Package datatables runs the upsert package's datatables target against
// the emulator's Data Tables API over HTTP: conflict resolution under every
// open behaviour variant, coercion, references, the row limit, import jobs
// with failed rows, and pacing under the token's rate budget.
package datatables

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/emulator"
	"github.com/gcupsert/gcupsert/internal/retry"
	"github.com/gcupsert/gcupsert/upsert"
	"github.com/gcupsert/gcupsert/upsert/datatables"
)

const schema = `{"$schema":"http://json-schema.org/draft-04/schema#","type":"object","required":["key"],
"properties":{"key":{"type":"string"},"name":{"type":"string"},"age":{"type":"integer","default":0},
"vip":{"type":"boolean","default":false},"account":{"type":"string"}},"additionalProperties":false}`

const acctSchema = `{"type":"object","required":["key"],"properties":{"key":{"type":"string"}},"additionalProperties":false}`

type env struct {
	em     *emulator.Server
	client *upsert.Client
}

func fixtures(rows []map[string]any) []byte {
	doc := map[string]any{
		"clients": map[string]string{"c": "s"},
		"tables": []any{
			map[string]any{"name": "customers", "schema": json.RawMessage(schema), "rows": rows},
			map[string]any{"name": "accounts", "schema": json.RawMessage(acctSchema), "rows": []any{map[string]any{"key": "a1"}}},
		},
	}
	b, _ := json.Marshal(doc)
	return b
}

func newEnv(t *testing.T, cfg emulator.Config, rows []map[string]any) *env {
	t.Helper()
	cfg.Fixtures = fixtures(rows)
	if cfg.ImportProcessingTime == 0 {
		cfg.ImportProcessingTime = 50 * time.Millisecond
	}
	em, err := emulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(em.Handler())
	t.Cleanup(srv.Close)
	c, err := upsert.NewClient(upsert.ClientConfig{BaseURL: srv.URL, ClientID: "c", ClientSecret: "s",
		Retry: retry.Policy{Initial: 50 * time.Millisecond, Max: time.Second, MaxElapsed: 30 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	return &env{em: em, client: c}
}

func (e *env) target(t *testing.T, mod func(*datatables.Config)) *datatables.Target {
	t.Helper()
	cfg := datatables.Config{Table: "customers", ImportPollInterval: 20 * time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	dt, err := datatables.New(context.Background(), e.client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return dt
}

func (e *env) rows(t *testing.T) map[string]map[string]any {
	id, ok := e.em.TableID("customers")
	if !ok {
		t.Fatal("no table")
	}
	return e.em.Rows(id)
}

func rec(key string, kv ...any) change.Record {
	d := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		d[kv[i].(string)] = kv[i+1]
	}
	return change.Record{Key: key, Op: change.OpUpsert, Data: d}
}

// send prepares the records and upserts the ones Prepare accepts; the
// outcome of a record Prepare rejects is that rejection.
func send(t *testing.T, dt *datatables.Target, recs ...change.Record) []change.Outcome {
	t.Helper()
	out := make([]change.Outcome, len(recs))
	var items []change.Item
	var pos []int
	for i, r := range recs {
		it, rerr := dt.Prepare(r)
		if rerr != nil {
			out[i] = change.Outcome{Status: change.StatusRejected, Err: rerr}
			continue
		}
		items = append(items, it)
		pos = append(pos, i)
	}
	res, err := dt.Upsert(context.Background(), items)
	if err != nil {
		t.Fatalf("Upsert: %v", err)
	}
	for j, o := range res.Outcomes {
		out[pos[j]] = o
	}
	return out
}

func TestRows(t *testing.T) {
	e := newEnv(t, emulator.Config{}, []map[string]any{{"key": "old", "name": "before", "age": 1}})
	dt := e.target(t, func(c *datatables.Config) { c.References = map[string]string{"account": "accounts"} })
	out := send(t, dt,
		rec("old", "name", "after", "age", "42", "vip", "true"), // update, coerced
		rec("new", "name", "fresh", "account", "a1"),            // create, valid reference
		rec("bad", "age", "forty"),                              // coercion failure
		rec("dangle", "account", "a9"),                          // dangling reference
	)
	rows := e.rows(t)
	if out[0].Status != change.StatusUpdated || rows["old"]["name"] != "after" || rows["old"]["age"] != float64(42) || rows["old"]["vip"] != true {
		t.Errorf("update: %+v %v", out[0], rows["old"])
	}
	if out[1].Status != change.StatusCreated || rows["new"]["name"] != "fresh" {
		t.Errorf("create: %+v %v", out[1], rows["new"])
	}
	if e := out[2].Err; e == nil || e.Code != "coercion.failed" || e.Fields[0].Field != "age" || !strings.Contains(e.Message, "forty") {
		t.Errorf("coercion: %+v", out[2])
	}
	if e := out[3].Err; e == nil || e.Code != "reference.dangling" || e.Class != "reference" || e.Fields[0].Field != "account" {
		t.Errorf("dangling: %+v", out[3])
	}
	if _, ok := rows["dangle"]; ok {
		t.Error("dangling row written")
	}
}

func TestVariants(t *testing.T) {
	for _, post := range []string{"409", "400"} {
		for _, put := range []string{"404", "create"} {
			for _, del := range []int{204, 200} {
				v := emulator.Variants{PostExisting: post, PutMissing: put, DeleteStatus: del}
				t.Run(fmt.Sprintf("post%s-put%s-delete%d", post, put, del), func(t *testing.T) {
					t.Parallel()
					e := newEnv(t, emulator.Config{Variants: v}, []map[string]any{{"key": "old", "name": "x"}, {"key": "gone"}})
					create := e.target(t, func(c *datatables.Config) { c.Conflict = change.ConflictCreateOnly })
					update := e.target(t, func(c *datatables.Config) { c.Conflict = change.ConflictUpdateOnly })
					both := e.target(t, nil)
					o := send(t, create, rec("old", "name", "y"), rec("c1", "name", "c"))
					if o[0].Err == nil || o[0].Err.Code != "record.exists" || o[1].Status != change.StatusCreated {
						t.Errorf("createOnly: %+v", o)
					}
					o = send(t, update, rec("missing", "name", "m"), rec("old", "name", "z"))
					if o[0].Err == nil || o[0].Err.Code != "record.not.found" || o[1].Status != change.StatusUpdated {
						t.Errorf("updateOnly: %+v", o)
					}
					o = send(t, both, rec("u1", "name", "u"), rec("old", "name", "w"),
						change.Record{Key: "gone", Op: change.OpDelete}, change.Record{Key: "never", Op: change.OpDelete})
					if o[0].Status == change.StatusRejected || o[1].Status != change.StatusUpdated ||
						o[2].Status != change.StatusDeleted || o[3].Status != change.StatusDeleted {
						t.Errorf("upsert/delete: %+v", o)
					}
					rows := e.rows(t)
					if _, ok := rows["missing"]; ok {
						t.Error("updateOnly created a row")
					}
					if rows["old"]["name"] != "w" || rows["u1"]["name"] != "u" || rows["c1"]["name"] != "c" {
						t.Errorf("rows %v", rows)
					}
					if _, ok := rows["gone"]; ok {
						t.Error("row not deleted")
					}
				})
			}
		}
	}
}

func TestRowLimit(t *testing.T) {
	seed := make([]map[string]any, 5000)
	for i := range seed {
		seed[i] = map[string]any{"key": fmt.Sprintf("r%04d", i)}
	}
	e := newEnv(t, emulator.Config{}, seed)
	dt := e.target(t, nil)
	o := send(t, dt, rec("r0001", "name", "still fine"), rec("one-too-many", "name", "x"))
	if o[0].Status != change.StatusUpdated {
		t.Errorf("update at the limit: %+v", o[0])
	}
	if o[1].Status != change.StatusRejected || !strings.Contains(o[1].Err.Message, "5000") && !strings.Contains(o[1].Err.Message, "5,000") {
		t.Errorf("over the limit: %+v", o[1].Err)
	}
	t.Logf("over the limit: %v", o[1].Err)
}

func TestImportWithFailedRows(t *testing.T) {
	var seed []map[string]any
	for i := 0; i < 8; i++ {
		seed = append(seed, map[string]any{"key": fmt.Sprintf("s%d", i), "name": "seed"})
	}
	e := newEnv(t, emulator.Config{MaxRowsPerTable: 10}, seed)
	dt := e.target(t, func(c *datatables.Config) { c.ImportThreshold = 3 })
	recs := []change.Record{rec("s0", "name", "updated, with comma"), rec("s1", "age", "7", "vip", "true")}
	for i := 0; i < 5; i++ {
		recs = append(recs, rec(fmt.Sprintf("n%d", i), "name", fmt.Sprintf("new %d", i)))
	}
	o := send(t, dt, recs...)
	rows := e.rows(t)
	failed := 0
	for i, r := range recs {
		_, stored := rows[r.Key]
		switch {
		case o[i].Status == change.StatusRejected:
			failed++
			if stored || o[i].Err.Code != "import.row.failed" {
				t.Errorf("%s rejected (%v) but stored=%v", r.Key, o[i].Err, stored)
			}
		case !stored:
			t.Errorf("%s reported %v but not stored", r.Key, o[i].Status)
		}
	}
	if failed != 3 {
		t.Errorf("%d rows dead-lettered, want the 3 over the limit", failed)
	}
	if o[0].Status != change.StatusUpdated || rows["s0"]["name"] != "updated, with comma" || rows["s1"]["age"] != float64(7) || o[2].Status != change.StatusCreated {
		t.Errorf("outcomes %+v rows s0 %v s1 %v", o[:3], rows["s0"], rows["s1"])
	}
	st := e.em.Stats()
	for k, n := range st.ByKind {
		if strings.Contains(k, "rows/{") && n > 0 {
			t.Errorf("row API used during an import: %s %d", k, n)
		}
	}
	t.Logf("rejected: %v", o[len(o)-1].Err)
}

func TestPacedUnderBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about 20 s")
	}
	const window = 6 * time.Second
	const n, parts = 1000, 4
	// The rows exist: each upsert is one PUT.
	var seed []map[string]any
	for p := 0; p < parts; p++ {
		for b := 0; b < n/parts/50; b++ {
			for i := 0; i < 50; i++ {
				seed = append(seed, map[string]any{"key": fmt.Sprintf("p%d-%d-%d", p, b, i)})
			}
		}
	}
	e := newEnv(t, emulator.Config{RateLimitPerMinute: 300, RateWindow: window}, seed)
	dt := e.target(t, nil)
	st0 := e.em.Stats()
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for p := 0; p < parts; p++ {
		wg.Go(func() {
			for b := 0; b < n/parts/50; b++ {
				var recs []change.Record
				for i := 0; i < 50; i++ {
					recs = append(recs, rec(fmt.Sprintf("p%d-%d-%d", p, b, i), "name", "x"))
				}
				o := send(t, dt, recs...)
				mu.Lock()
				for _, x := range o {
					if x.Status != change.StatusRejected {
						done++
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	st := e.em.Stats()
	reqs := (st.Requests - st.TokensIssued) - (st0.Requests - st0.TokensIssued)
	budget := 300 * elapsed.Seconds() / window.Seconds()
	used := float64(reqs) / budget
	fmt.Printf("paced: %d upserts (%d API requests) in %s under 300 per %s: %.1f%% of the budget, %d responses 429, at most %d requests in a window\n",
		done, reqs, elapsed.Round(time.Millisecond), window, 100*used, st.TooManyRequests, st.MaxWindowRequests)
	if reqs != n {
		t.Errorf("%d requests for %d upserts of existing rows", reqs, n)
	}
	if done != n {
		t.Errorf("%d of %d upserted", done, n)
	}
	if st.TooManyRequests != 0 {
		t.Errorf("%d responses 429", st.TooManyRequests)
	}
	if used < 0.90 {
		t.Errorf("used %.1f%% of the budget, want >= 90%%", 100*used)
	}
}
