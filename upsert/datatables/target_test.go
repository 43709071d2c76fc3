package datatables

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/internal/clock"
	"github.com/gcupsert/gcupsert/internal/retry"
	"github.com/gcupsert/gcupsert/upsert"
	"github.com/gcupsert/gcupsert/upsert/upserttest"
)

func newDT(t *testing.T, s *dtStub, mod func(*Config)) (*Target, *clock.Fake) {
	t.Helper()
	fc := clock.NewFake(upserttest.Start)
	c, err := upsert.NewClient(upsert.ClientConfig{BaseURL: s.srv.URL, ClientID: "id", ClientSecret: "secret", Clock: fc,
		Retry: retry.Policy{Initial: time.Second, Max: 2 * time.Second, MaxElapsed: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	upserttest.AutoAdvance(t, fc)
	cfg := Config{Table: "customers"}
	if mod != nil {
		mod(&cfg)
	}
	dt, err := New(context.Background(), c, cfg)
	if err != nil {
		t.Fatalf("NewDataTables: %v", err)
	}
	return dt, fc
}

func prep(t *testing.T, dt *Target, recs ...change.Record) []change.Item {
	t.Helper()
	var items []change.Item
	for _, r := range recs {
		it, rerr := dt.Prepare(r)
		if rerr != nil {
			t.Fatalf("Prepare(%s): %v", r.Key, rerr)
		}
		items = append(items, it)
	}
	return items
}

func up(key string, kv ...any) change.Record {
	d := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		d[kv[i].(string)] = kv[i+1]
	}
	return change.Record{Key: key, Op: change.OpUpsert, Data: d}
}

func run(t *testing.T, dt *Target, items []change.Item) change.Result {
	t.Helper()
	res, err := dt.Upsert(context.Background(), items)
	if err != nil {
		t.Fatalf("Upsert: %v", err)
	}
	if len(res.Outcomes) != len(items) {
		t.Fatalf("%d outcomes for %d items", len(res.Outcomes), len(items))
	}
	return res
}

func TestCoercion(t *testing.T) {
	s := newDTStub(t)
	dt, _ := newDT(t, s, nil)
	tests := []struct {
		in       map[string]any
		want     map[string]any // nil: rejected
		badField string
	}{
		{map[string]any{"age": "42"}, map[string]any{"age": int64(42)}, ""},
		{map[string]any{"age": " 7 "}, map[string]any{"age": int64(7)}, ""},
		{map[string]any{"age": "1e3"}, map[string]any{"age": int64(1000)}, ""},
		{map[string]any{"age": "4.5"}, nil, "age"},
		{map[string]any{"age": "abc"}, nil, "age"},
		{map[string]any{"age": ""}, map[string]any{}, ""},
		{map[string]any{"age": nil, "name": nil}, map[string]any{}, ""},
		{map[string]any{"score": "2.50"}, map[string]any{"score": json.Number("2.50")}, ""},
		{map[string]any{"score": "+1.5"}, map[string]any{"score": 1.5}, ""},
		{map[string]any{"score": "NaN"}, nil, "score"},
		{map[string]any{"score": "0x10"}, nil, "score"},
		{map[string]any{"vip": "TRUE"}, map[string]any{"vip": true}, ""},
		{map[string]any{"vip": "0"}, map[string]any{"vip": false}, ""},
		{map[string]any{"vip": float64(1)}, map[string]any{"vip": true}, ""},
		{map[string]any{"vip": "maybe"}, nil, "vip"},
		{map[string]any{"name": "42"}, map[string]any{"name": "42"}, ""},
		{map[string]any{"age": 3.0}, map[string]any{"age": 3.0}, ""},
	}
	for _, tt := range tests {
		it, rerr := dt.Prepare(change.Record{Key: "k", Op: change.OpUpsert, Data: tt.in})
		if tt.want == nil {
			if rerr == nil || rerr.Code != "coercion.failed" || len(rerr.Fields) != 1 || rerr.Fields[0].Field != tt.badField {
				t.Errorf("%v: got %v, want coercion.failed on %s", tt.in, rerr, tt.badField)
			} else if !strings.Contains(rerr.Message, tt.badField) {
				t.Errorf("message %q does not name the field", rerr.Message)
			}
			continue
		}
		if rerr != nil {
			t.Errorf("%v: rejected: %v", tt.in, rerr)
			continue
		}
		if fmt.Sprint(it.Record.Data) != fmt.Sprint(tt.want) {
			t.Errorf("%v: coerced to %v (%T), want %v", tt.in, it.Record.Data, it.Record.Data["age"], tt.want)
		}
	}
	// A type error that is no coercion is a schema violation.
	if _, rerr := dt.Prepare(up("k", "vip", "x", "name", 5)); rerr == nil || rerr.Code != "coercion.failed" {
		t.Errorf("got %v", rerr)
	}
	if _, rerr := dt.Prepare(up("k", "name", 5)); rerr == nil || rerr.Code != "schema.violation" || rerr.Fields[0].Field != "name" {
		t.Errorf("got %v", rerr)
	}
	if _, rerr := dt.Prepare(up("k", "key", "other")); rerr == nil || rerr.Code != "field.reserved" {
		t.Errorf("got %v", rerr)
	}
	if _, rerr := dt.Prepare(change.Record{Key: strings.Repeat("x", 257), Op: change.OpUpsert}); rerr == nil || rerr.Code != "key.too.long" {
		t.Errorf("got %v", rerr)
	}
	// Rows mode: the body is the row JSON.
	it, _ := dt.Prepare(up("k/1", "age", "5", "name", "A&B"))
	if string(it.Body) != `{"age":5,"key":"k/1","name":"A&B"}` {
		t.Errorf("body %s", it.Body)
	}
}

func TestRowsConflicts(t *testing.T) {
	type variant struct{ putCreates, postDup400 bool }
	variants := []variant{{}, {putCreates: true}, {postDup400: true}, {true, true}}
	for _, v := range variants {
		for _, conflict := range []change.Conflict{change.ConflictUpsert, change.ConflictUpdateOnly, change.ConflictCreateOnly} {
			t.Run(fmt.Sprintf("%s/putCreates=%v/dup400=%v", conflict, v.putCreates, v.postDup400), func(t *testing.T) {
				s := newDTStub(t)
				s.putCreates, s.postDup400 = v.putCreates, v.postDup400
				s.seed(custID, "old", map[string]any{"name": "before"})
				dt, _ := newDT(t, s, func(c *Config) { c.Conflict = conflict })
				res := run(t, dt, prep(t, dt, up("old", "name", "after"), up("new", "name", "fresh", "age", "3")))
				o, n := res.Outcomes[0], res.Outcomes[1]
				oldRow, _ := s.row(custID, "old")
				newRow, newExists := s.row(custID, "new")
				switch conflict {
				case change.ConflictUpsert:
					if o.Status != change.StatusUpdated || oldRow["name"] != "after" {
						t.Errorf("existing: %v %v", o.Status, oldRow)
					}
					if !newExists || newRow["name"] != "fresh" || fmt.Sprint(newRow["age"]) != "3" {
						t.Errorf("new row %v", newRow)
					}
					if n.Status == change.StatusRejected {
						t.Errorf("new: %v", n.Err)
					}
					if !v.putCreates && n.Status != change.StatusCreated {
						t.Errorf("new: %v, want created", n.Status)
					}
				case change.ConflictUpdateOnly:
					if o.Status != change.StatusUpdated || oldRow["name"] != "after" {
						t.Errorf("existing: %v %v", o.Status, oldRow)
					}
					if n.Status != change.StatusRejected || n.Err.Code != "record.not.found" || n.Err.Class != "conflict" || newExists {
						t.Errorf("missing: %+v exists=%v", n, newExists)
					}
				case change.ConflictCreateOnly:
					if o.Status != change.StatusRejected || o.Err.Code != "record.exists" || oldRow["name"] != "before" {
						t.Errorf("existing: %+v %v", o, oldRow)
					}
					if n.Status != change.StatusCreated || !newExists {
						t.Errorf("new: %+v", n)
					}
				}
				if res.Attempts < 2 || len(res.CorrelationIDs) < 2 {
					t.Errorf("attempts %d corr %v", res.Attempts, res.CorrelationIDs)
				}
			})
		}
	}
}

func TestUpdateOnlyTrustingPut404SkipsTheCheck(t *testing.T) {
	s := newDTStub(t)
	s.seed(custID, "old", nil)
	dt, _ := newDT(t, s, func(c *Config) { c.Conflict = change.ConflictUpdateOnly; c.PutMissingIs404 = true })
	res := run(t, dt, prep(t, dt, up("old", "name", "x"), up("new", "name", "y")))
	if res.Outcomes[0].Status != change.StatusUpdated || res.Outcomes[1].Err == nil || res.Outcomes[1].Err.Code != "record.not.found" {
		t.Errorf("outcomes %+v", res.Outcomes)
	}
	if n := s.calls("GET /api/v2/flows/datatables/" + custID + "/rows/"); n != 0 {
		t.Errorf("%d existence checks", n)
	}
}

func TestRowDeletes(t *testing.T) {
	for _, d200 := range []bool{false, true} {
		s := newDTStub(t)
		s.delete200 = d200
		s.seed(custID, "a/b", nil)
		dt, _ := newDT(t, s, nil)
		res := run(t, dt, prep(t, dt, change.Record{Key: "a/b", Op: change.OpDelete}, change.Record{Key: "gone", Op: change.OpDelete}))
		for i, o := range res.Outcomes {
			if o.Status != change.StatusDeleted {
				t.Errorf("delete200=%v item %d: %+v", d200, i, o)
			}
		}
		if _, ok := s.row(custID, "a/b"); ok {
			t.Error("row not deleted")
		}
		if s.calls("DELETE /api/v2/flows/datatables/"+custID+"/rows/a%2Fb") != 1 {
			t.Errorf("key not path-escaped: %v", s.log)
		}
	}
	// A missing table is no deleted row.
	s := newDTStub(t)
	dt, _ := newDT(t, s, nil)
	s.mu.Lock()
	s.tableGone = true
	s.mu.Unlock()
	res := run(t, dt, prep(t, dt, change.Record{Key: "x", Op: change.OpDelete}))
	if o := res.Outcomes[0]; o.Status != change.StatusRejected || o.Err.Code != upsert.CodeTableNotFound {
		t.Errorf("outcome %+v", o)
	}
}

func TestRowErrors(t *testing.T) {
	s := newDTStub(t)
	s.seed(custID, "k", nil)
	for i := 0; i < 4; i++ {
		s.seed(custID, fmt.Sprintf("f%d", i), nil)
	}
	dt, _ := newDT(t, s, nil)
	s.maxRows = 5
	res := run(t, dt, prep(t, dt, up("k", "name", "SYNTAX"), up("over", "name", "x")))
	if o := res.Outcomes[0]; o.Status != change.StatusRejected || o.Err.Code != "flows.datatables.syntax.error" || o.Err.Fields[0].Field != "name" {
		t.Errorf("syntax error: %+v", o.Err)
	}
	if o := res.Outcomes[1]; o.Status != change.StatusRejected || o.Err.Code != "flows.datatables.limit.exceeded" || !strings.Contains(o.Err.Message, "maximum") {
		t.Errorf("row limit: %+v", o.Err)
	}
}

func TestReferences(t *testing.T) {
	s := newDTStub(t)
	dt, fc := newDT(t, s, func(c *Config) {
		c.References = map[string]string{"account": "accounts"}
		c.ReferenceTTL = time.Minute
	})
	rc := dt.refs["account"]
	res := run(t, dt, prep(t, dt, up("c1", "account", "a1"), up("c2", "account", "a2"), up("c3", "account", "zzz"), up("c4")))
	if res.Outcomes[0].Status != change.StatusCreated || res.Outcomes[1].Status != change.StatusCreated || res.Outcomes[3].Status != change.StatusCreated {
		t.Errorf("outcomes %+v", res.Outcomes)
	}
	o := res.Outcomes[2]
	if o.Status != change.StatusRejected || o.Err.Class != "reference" || o.Err.Code != "reference.dangling" || o.Err.Fields[0].Field != "account" ||
		!strings.Contains(o.Err.Message, "zzz") {
		t.Errorf("dangling: %+v", o.Err)
	}
	if _, ok := s.row(custID, "c3"); ok {
		t.Error("dangling row written")
	}
	if rc.loads != 1 {
		t.Errorf("loads %d", rc.loads)
	}
	// A key created after the load: a miss, found by a point lookup.
	s.seed(acctID, "a3", nil)
	res = run(t, dt, prep(t, dt, up("c5", "account", "a3"), up("c6", "account", "a1")))
	if res.Outcomes[0].Status == change.StatusRejected || res.Outcomes[1].Status == change.StatusRejected || rc.loads != 1 {
		t.Errorf("miss: %+v loads %d", res.Outcomes, rc.loads)
	}
	if n := s.calls("GET /api/v2/flows/datatables/" + acctID + "/rows/a3"); n != 1 {
		t.Errorf("point lookups %d", n)
	}
	// Hit from the cache: no lookup.
	before := s.calls("GET /api/v2/flows/datatables/" + acctID)
	run(t, dt, prep(t, dt, up("c7", "account", "a3")))
	if s.calls("GET /api/v2/flows/datatables/"+acctID) != before {
		t.Error("cache hit made a request")
	}
	// After the TTL the table is read again; a deleted key dangles.
	s.mu.Lock()
	delete(s.rows[acctID], "a1")
	s.mu.Unlock()
	fc.Advance(2 * time.Minute)
	res = run(t, dt, prep(t, dt, up("c8", "account", "a1")))
	if rc.loads != 2 || res.Outcomes[0].Status != change.StatusRejected {
		t.Errorf("refresh: loads %d outcome %+v", rc.loads, res.Outcomes[0])
	}
}

func TestUniqueAgainstTable(t *testing.T) {
	s := newDTStub(t)
	s.seed(custID, "x1", map[string]any{"email": "a@x"})
	s.seed(custID, "x2", map[string]any{"email": "b@x"})
	dt, _ := newDT(t, s, func(c *Config) { c.UniqueFields = []string{"email"} })
	res := run(t, dt, prep(t, dt,
		up("n1", "email", "a@x"), // taken by x1 in the table
		up("x2", "email", "b@x"), // its own value
		up("n2", "email", "c@x"),
		up("n3", "email", "c@x"), // later loses within the batch
		up("n4", "email", ""),
		up("n5", "email", ""),
	))
	want := []change.Status{change.StatusRejected, change.StatusUpdated, change.StatusCreated, change.StatusRejected, change.StatusCreated, change.StatusCreated}
	for i, o := range res.Outcomes {
		if o.Status != want[i] {
			t.Errorf("item %d: %v (%v), want %v", i, o.Status, o.Err, want[i])
		}
	}
	if e := res.Outcomes[0].Err; e == nil || e.Class != "unique" || !strings.Contains(e.Message, "x1") {
		t.Errorf("table conflict %+v", e)
	}
	// The index follows the worker's writes: x1 moves away from a@x, so
	// n1 may take it in a later batch; n2's new value is taken.
	run(t, dt, prep(t, dt, up("x1", "email", "z@x")))
	res = run(t, dt, prep(t, dt, up("n1", "email", "a@x"), up("n9", "email", "c@x")))
	if res.Outcomes[0].Status != change.StatusCreated || res.Outcomes[1].Status != change.StatusRejected {
		t.Errorf("after writes: %+v", res.Outcomes)
	}
	if dt.index.loads != 1 {
		t.Errorf("index loads %d", dt.index.loads)
	}
	// A swap inside one batch: x1 leaves z@x before n7 takes it.
	res = run(t, dt, prep(t, dt, up("x1", "email", "q@x"), up("n7", "email", "z@x")))
	if res.Outcomes[1].Status == change.StatusRejected {
		t.Errorf("swap: %+v", res.Outcomes[1].Err)
	}
}

func TestSchemaRefreshForNewColumn(t *testing.T) {
	s := newDTStub(t)
	dt, fc := newDT(t, s, nil)
	it, rerr := dt.Prepare(up("k", "tier", "gold"))
	if rerr != nil || it.Body != nil {
		t.Fatalf("unknown column not deferred: %v", rerr)
	}
	s.mu.Lock()
	s.schemas[custID] = strings.Replace(custSchema, `"account":{`, `"tier":{"type":"string"},"account":{`, 1)
	s.mu.Unlock()
	fc.Advance(time.Minute)
	res := run(t, dt, []change.Item{it})
	if res.Outcomes[0].Status != change.StatusCreated {
		t.Errorf("after refresh: %+v", res.Outcomes[0])
	}
	if it, rerr := dt.Prepare(up("k", "nope", 1)); rerr != nil || it.Body != nil {
		t.Fatalf("deferred: %v", rerr)
	} else {
		res := run(t, dt, []change.Item{it})
		if o := res.Outcomes[0]; o.Status != change.StatusRejected || o.Err.Code != "schema.violation" {
			t.Errorf("still unknown: %+v", o)
		}
	}
}

func TestImport(t *testing.T) {
	s := newDTStub(t)
	s.seed(custID, "k0", map[string]any{"name": "old"})
	dt, _ := newDT(t, s, func(c *Config) { c.ImportThreshold = 3 })
	recs := []change.Record{up("k0", "name", "new, \"quoted\""), up("k1", "age", "5", "vip", "true"), up("k2", "name", "BAD"), up("k3", "score", 2.5)}
	items := prep(t, dt, recs...)
	l := dt.Limits()
	if l.MaxRecords != DefaultImportMax || l.MaxBytes != DefaultImportBytes {
		t.Errorf("limits %+v", l)
	}
	sum := 0
	for _, it := range items {
		sum += it.Size()
	}
	res := run(t, dt, items)
	s.mu.Lock()
	upload := s.uploads["job-1"]
	hdr := s.uploadHdrs["job-1"]
	s.mu.Unlock()
	if len(upload) != l.BodySize(len(items), sum) {
		t.Errorf("uploaded %d bytes, sized %d:\n%s", len(upload), l.BodySize(len(items), sum), upload)
	}
	if !strings.HasPrefix(string(upload), "key,name,age,score,vip,email,account\n") || hdr.Get("Authorization") != "" || hdr.Get("Content-Type") != "text/csv" {
		t.Errorf("upload %q headers %v", upload, hdr)
	}
	want := []change.Status{change.StatusUpdated, change.StatusCreated, change.StatusRejected, change.StatusCreated}
	for i, o := range res.Outcomes {
		if o.Status != want[i] {
			t.Errorf("item %d: %v %v, want %v", i, o.Status, o.Err, want[i])
		}
	}
	if e := res.Outcomes[2].Err; e == nil || e.Code != "import.row.failed" || !strings.Contains(e.Message, "job-1") {
		t.Errorf("failed row: %+v", e)
	}
	if r, _ := s.row(custID, "k0"); r["name"] != `new, "quoted"` {
		t.Errorf("k0 %v", r)
	}
	if s.calls("PUT /api/v2") != 0 || s.calls("POST /api/v2/flows/datatables/"+custID+"/rows") != 0 {
		t.Errorf("rows API used: %v", s.log)
	}
	// Below the threshold: rows mode.
	run(t, dt, prep(t, dt, up("k8"), up("k9")))
	if s.calls("POST /api/v2/flows/datatables/"+custID+"/import") != 1 {
		t.Error("small batch imported")
	}
}

func TestImportFailedJobFallsBackToRows(t *testing.T) {
	s := newDTStub(t)
	s.failJob = true
	dt, _ := newDT(t, s, func(c *Config) { c.ImportThreshold = 2 })
	res := run(t, dt, prep(t, dt, up("k1"), up("k2"), up("k3", "name", "SYNTAX")))
	if o := res.Outcomes[2]; o.Err == nil || o.Err.Code != "flows.datatables.syntax.error" {
		t.Errorf("k3 %+v", o)
	}
	if res.Outcomes[0].Status != change.StatusCreated || res.Outcomes[1].Status != change.StatusCreated {
		t.Errorf("outcomes %+v", res.Outcomes)
	}
	if s.calls("POST /api/v2/flows/datatables/"+custID+"/rows") != 3 {
		t.Errorf("rows not written one by one: %v", s.log)
	}
}

func TestImportConflictFilter(t *testing.T) {
	s := newDTStub(t)
	s.seed(custID, "k0", nil)
	dt, _ := newDT(t, s, func(c *Config) { c.ImportThreshold = 2; c.Conflict = change.ConflictCreateOnly })
	res := run(t, dt, prep(t, dt, up("k0"), up("k1"), up("k2")))
	if o := res.Outcomes[0]; o.Err == nil || o.Err.Code != "record.exists" {
		t.Errorf("k0 %+v", o)
	}
	if res.Outcomes[1].Status != change.StatusCreated || res.Outcomes[2].Status != change.StatusCreated {
		t.Errorf("outcomes %+v", res.Outcomes)
	}
}

func TestListAndGetTable(t *testing.T) {
	s := newDTStub(t)
	dt, _ := newDT(t, s, nil)
	c := dt.c
	ctx := context.Background()
	all, err := c.ListTables(ctx, "")
	if err != nil || len(all) != 2 {
		t.Fatalf("ListTables: %v %v", all, err)
	}
	tbl, err := c.GetTable(ctx, "Customers", true)
	if err != nil || tbl.ID != custID || len(tbl.Schema) == 0 {
		t.Errorf("by name: %+v %v", tbl, err)
	}
	tbl, err = c.GetTable(ctx, acctID, false)
	if err != nil || tbl.Name != "accounts" || len(tbl.Schema) != 0 {
		t.Errorf("by id: %+v %v", tbl, err)
	}
	if _, err := c.GetTable(ctx, "nope", false); !errors.Is(err, upsert.ErrTableNotFound) {
		t.Errorf("missing: %v", err)
	}
	if _, err := New(ctx, c, Config{Table: "nope"}); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("constructor: %v", err)
	}
	if _, err := New(ctx, c, Config{Table: "customers", UniqueFields: []string{"nofield"}}); err == nil {
		t.Error("unknown unique field accepted")
	}
	if _, err := New(ctx, c, Config{Table: "customers", ImportThreshold: 6000}); err == nil {
		t.Error("threshold above the import max accepted")
	}
	// Paging: 250 rows are read in three pages.
	for i := 0; i < 250; i++ {
		s.seed(acctID, fmt.Sprintf("r%03d", i), nil)
	}
	n := 0
	if err := c.EachPage(ctx, nil, upsert.TablesPath+"/"+acctID+"/rows", nil, func(json.RawMessage) error { n++; return nil }); err != nil || n != 252 {
		t.Errorf("paged %d rows: %v", n, err)
	}
}

func TestAuthFailureIsReturned(t *testing.T) {
	s := newDTStub(t)
	dt, _ := newDT(t, s, nil)
	s.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth/token" {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"access_token":"t2","token_type":"bearer","expires_in":3600}`)
			return
		}
		dtErr(w, 401, "authentication.required", "no")
	})
	_, err := dt.Upsert(context.Background(), prep(t, dt, up("k")))
	if !upsert.IsAuthFailure(err) {
		t.Errorf("err %v", err)
	}
}
