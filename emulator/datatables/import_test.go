package datatables

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gcupsert/gcupsert/emulator/core"
	"github.com/gcupsert/gcupsert/emulator/internal/emutest"
)

// startImport creates an import job and returns it.
func (e *env) startImport(tok, id, mode string) jobJSON {
	e.T.Helper()
	w := e.API(http.MethodPost, "/api/v2/flows/datatables/"+id+"/import/csv/jobs", tok, fmt.Sprintf(`{"importMode":%q}`, mode))
	emutest.WantStatus(e.T, w, 200)
	j := emutest.DecodeJSON[jobJSON](e.T, w.Body.Bytes())
	if j.Status != JobWaitingForUpload || j.UploadURI == "" || len(j.UploadHeaders) == 0 || j.ImportMode != mode {
		e.T.Fatalf("new job %s", w.Body)
	}
	return j
}

// upload PUTs csv to the job's uploadURI with the given headers.
func (e *env) upload(j jobJSON, headers map[string]string, csv string) *httptest.ResponseRecorder {
	e.T.Helper()
	u, err := url.Parse(j.UploadURI)
	if err != nil {
		e.T.Fatal(err)
	}
	h := http.Header{}
	for k, v := range headers {
		h.Set(k, v)
	}
	return e.Do(http.MethodPut, u.Path, csv, h)
}

func (e *env) job(tok, id, jobID string) jobJSON {
	e.T.Helper()
	w := e.API(http.MethodGet, "/api/v2/flows/datatables/"+id+"/import/jobs/"+jobID, tok, "")
	emutest.WantStatus(e.T, w, 200)
	return emutest.DecodeJSON[jobJSON](e.T, w.Body.Bytes())
}

func TestImportAppendLifecycle(t *testing.T) {
	e := newEnv(t, func(_ *core.Config, c *Config) { c.MaxKeyLength = 8 })
	tok := e.Token()
	id := e.createTable(tok, "Orders", ordersSchema)
	emutest.WantStatus(t, e.API(http.MethodPost, rowsPath(id), tok, `{"key":"old","n":1}`), 200)
	emutest.WantStatus(t, e.API(http.MethodPost, rowsPath(id), tok, `{"key":"keep","n":2}`), 200)

	j := e.startImport(tok, id, ImportAppend)
	if !strings.HasPrefix(j.UploadURI, "http://example.com/uploads/datatables/") || j.UploadHeaders[UploadTokenHeader] == "" ||
		j.SelfURI != "/api/v2/flows/datatables/"+id+"/import/jobs/"+j.ID || j.DateCreated != "2030-01-02T03:04:05.000Z" {
		t.Errorf("job %+v", j)
	}

	csv := "key,n,price,vip,label\r\n" +
		"old,10,1.5,true,\"a,b\"\r\n" + // update; quoted comma
		"new,,,,\r\n" + // insert; every property at its default
		"bad,notanumber,,,\r\n" + // type: failed
		"\"a/b\",3,,FALSE,\"q\"\"x\"\r\n" + // quoted quote
		"toolongkey,1,,,\r\n" + // key too long: failed
		",1,,,\r\n" + // no key: failed
		"short,1\r\n" // wrong field count: failed
	// Headers are checked: none, a wrong token, a wrong content type.
	emutest.WantStatus(t, e.upload(j, nil, csv), 403)
	bad := map[string]string{UploadTokenHeader: "nope", "Content-Type": "text/csv"}
	emutest.WantStatus(t, e.upload(j, bad, csv), 403)
	bad = map[string]string{UploadTokenHeader: j.UploadHeaders[UploadTokenHeader], "Content-Type": "application/json"}
	emutest.WantStatus(t, e.upload(j, bad, csv), 403)

	w := e.upload(j, j.UploadHeaders, csv)
	emutest.WantStatus(t, w, 200)
	if w.Header().Get("inin-ratelimit-count") != "" {
		t.Error("the upload carries rate-limit headers")
	}
	if got := e.job(tok, id, j.ID); got.Status != JobProcessing || got.DateCompleted != "" {
		t.Errorf("after upload %+v", got)
	}
	if e.f.Rows(id)["new"] != nil {
		t.Error("rows applied before processing ended")
	}
	// A second upload is refused.
	emutest.WantStatus(t, e.upload(j, j.UploadHeaders, csv), 409)

	e.Clk.Advance(DefaultImportProcessing - time.Millisecond)
	if got := e.job(tok, id, j.ID); got.Status != JobProcessing {
		t.Errorf("before the processing time %+v", got)
	}
	e.Clk.Advance(time.Millisecond)
	got := e.job(tok, id, j.ID)
	if got.Status != JobSucceeded || got.CountRecordsUpdated != 3 || got.CountRecordsFailed != 4 || got.CountRecordsDeleted != 0 ||
		got.DateCompleted != "2030-01-02T03:04:07.000Z" || got.ErrorInformation != nil {
		t.Errorf("completed %+v", got)
	}
	rows := e.f.Rows(id)
	if len(rows) != 4 {
		t.Errorf("rows %v", rows)
	}
	for k, want := range map[string]map[string]any{
		"old":  {"key": "old", "n": float64(10), "price": 1.5, "vip": true, "label": "a,b"},
		"new":  {"key": "new", "n": float64(7), "price": float64(0), "vip": false, "label": ""},
		"a/b":  {"key": "a/b", "n": float64(3), "price": float64(0), "vip": false, "label": `q"x`},
		"keep": {"key": "keep", "n": float64(2), "price": float64(0), "vip": false, "label": ""},
	} {
		if !emutest.EqualJSON(rows[k], want) {
			t.Errorf("row %s = %v, want %v", k, rows[k], want)
		}
	}
	st := e.Srv.Stats()
	if st.ByKind[KindUpload] != 5 || st.ByKind[KindImportCSV] != 1 {
		t.Errorf("stats %v", st.ByKind)
	}
}

func TestImportReplaceAllAndLimits(t *testing.T) {
	e := newEnv(t, func(_ *core.Config, c *Config) { c.MaxRowsPerTable = 3; c.ImportProcessingTime = 5 * time.Second })
	tok := e.Token()
	id := e.createTable(tok, "Orders", ordersSchema)
	for _, k := range []string{"x", "y", "z"} {
		emutest.WantStatus(t, e.API(http.MethodPost, rowsPath(id), tok, fmt.Sprintf(`{"key":%q}`, k)), 200)
	}
	// The older endpoint creates the same kind of job.
	w := e.API(http.MethodPost, "/api/v2/flows/datatables/"+id+"/import/jobs", tok, `{"importMode":"ReplaceAll"}`)
	emutest.WantStatus(t, w, 200)
	j := emutest.DecodeJSON[jobJSON](t, w.Body.Bytes())
	emutest.WantStatus(t, e.upload(j, j.UploadHeaders, "\ufeffkey,n\na,1\nb,2\nc,3\nd,4\n"), 200)
	e.Clk.Advance(5 * time.Second)
	got := e.job(tok, id, j.ID)
	if got.Status != JobSucceeded || got.CountRecordsDeleted != 3 || got.CountRecordsUpdated != 3 || got.CountRecordsFailed != 1 {
		t.Errorf("ReplaceAll job %+v", got)
	}
	rows := e.f.Rows(id)
	if len(rows) != 3 || rows["a"] == nil || rows["x"] != nil || rows["d"] != nil {
		t.Errorf("rows after ReplaceAll %v", rows)
	}

	// Jobs are listed newest first, paged.
	j2 := e.startImport(tok, id, ImportAppend)
	w = e.API(http.MethodGet, "/api/v2/flows/datatables/"+id+"/import/jobs?pageSize=1", tok, "")
	emutest.WantStatus(t, w, 200)
	l := emutest.DecodeJSON[struct {
		listing
		Entities []jobJSON `json:"entities"`
	}](t, w.Body.Bytes())
	if l.Total != 2 || l.PageCount != 2 || len(l.Entities) != 1 || l.Entities[0].ID != j2.ID || l.NextURI == "" {
		t.Errorf("job listing %s", w.Body)
	}
	emutest.WantStatus(t, e.API(http.MethodGet, "/api/v2/flows/datatables/"+id+"/import/jobs/nope", tok, ""), 404)
	emutest.WantStatus(t, e.API(http.MethodPost, "/api/v2/flows/datatables/"+id+"/import/csv/jobs", tok, `{"importMode":"Merge"}`), 400)
	w = e.API(http.MethodPost, "/api/v2/flows/datatables/"+id+"/import/csv/jobs", tok, "")
	emutest.WantStatus(t, w, 200)
	if j := emutest.DecodeJSON[jobJSON](t, w.Body.Bytes()); j.ImportMode != ImportAppend {
		t.Errorf("default mode %q", j.ImportMode)
	}
	emutest.WantStatus(t, e.API(http.MethodPost, "/api/v2/flows/datatables/nope/import/csv/jobs", tok, `{"importMode":"Append"}`), 404)
}

func TestImportMalformedCSVFails(t *testing.T) {
	e := newEnv(t, func(_ *core.Config, c *Config) { c.ImportProcessingTime = -1 })
	tok := e.Token()
	id := e.createTable(tok, "Orders", ordersSchema)
	emutest.WantStatus(t, e.API(http.MethodPost, rowsPath(id), tok, `{"key":"x"}`), 200)
	for name, csv := range map[string]string{
		"empty":          "",
		"unknown column": "key,colour\na,red\n",
		"no key column":  "n,price\n1,2\n",
		"duplicate":      "key,n,n\na,1,2\n",
		"empty name":     "key,,n\na,1,2\n",
		"bare quote":     "key,n\na\"b,1\n",
	} {
		t.Run(name, func(t *testing.T) {
			j := e.startImport(tok, id, ImportReplaceAll)
			emutest.WantStatus(t, e.upload(j, j.UploadHeaders, csv), 200)
			got := e.job(tok, id, j.ID) // no processing time: done at once
			if got.Status != JobFailed || got.ErrorInformation == nil || got.ErrorInformation.Code != CodeSyntax ||
				got.ErrorInformation.Message == "" || got.ErrorInformation.ContextID == "" || got.DateCompleted == "" {
				t.Errorf("job %+v", got)
			}
			if len(e.f.Rows(id)) != 1 {
				t.Error("a failed ReplaceAll changed the rows")
			}
		})
	}
}

func TestUploadUnknownJob(t *testing.T) {
	e := newEnv(t, nil)
	w := e.Do(http.MethodPut, "/uploads/datatables/nope", "key\na\n", http.Header{"Content-Type": {"text/csv"}})
	emutest.WantStatus(t, w, 404)
	emutest.ErrBody(t, w)
	emutest.WantStatus(t, e.Do(http.MethodGet, "/uploads/datatables/nope", "", nil), 405)

	// Deleting the table drops its jobs.
	tok := e.Token()
	id := e.createTable(tok, "Orders", ordersSchema)
	j := e.startImport(tok, id, ImportAppend)
	emutest.WantStatus(t, e.API(http.MethodDelete, "/api/v2/flows/datatables/"+id, tok, ""), 204)
	emutest.WantStatus(t, e.upload(j, j.UploadHeaders, "key\na\n"), 404)
}

func TestUploadIsNotRateLimitedOrFaulted(t *testing.T) {
	e := newEnv(t, func(c *core.Config, _ *Config) { c.RateLimitPerMinute = 3 })
	tok := e.Token()
	id := e.createTable(tok, "Orders", ordersSchema)
	j := e.startImport(tok, id, ImportAppend)
	j2 := e.startImport(tok, id, ImportAppend)
	emutest.WantStatus(t, e.API(http.MethodGet, "/api/v2/flows/datatables", tok, ""), 429)
	emutest.WantStatus(t, e.upload(j, j.UploadHeaders, "key\na\n"), 200)
	if err := e.Srv.Storm429(true, time.Second); err != nil {
		t.Fatal(err)
	}
	e.Srv.Down(true)
	emutest.WantStatus(t, e.upload(j2, j2.UploadHeaders, "key\nb\n"), 200)
	e.Clk.Advance(DefaultImportProcessing)
	if rows := e.f.Rows(id); rows["a"] == nil || rows["b"] == nil {
		t.Errorf("rows %v", rows)
	}
}
