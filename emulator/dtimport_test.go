package emulator

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// startImport creates an import job and returns it.
func (e *env) startImport(tok, id, mode string) jobJSON {
	e.t.Helper()
	w := e.api(http.MethodPost, "/api/v2/flows/datatables/"+id+"/import/csv/jobs", tok, fmt.Sprintf(`{"importMode":%q}`, mode))
	wantStatus(e.t, w, 200)
	j := decodeJSON[jobJSON](e.t, w.Body.Bytes())
	if j.Status != JobWaitingForUpload || j.UploadURI == "" || len(j.UploadHeaders) == 0 || j.ImportMode != mode {
		e.t.Fatalf("new job %s", w.Body)
	}
	return j
}

// upload PUTs csv to the job's uploadURI with the given headers.
func (e *env) upload(j jobJSON, headers map[string]string, csv string) *httptest.ResponseRecorder {
	e.t.Helper()
	u, err := url.Parse(j.UploadURI)
	if err != nil {
		e.t.Fatal(err)
	}
	h := http.Header{}
	for k, v := range headers {
		h.Set(k, v)
	}
	return e.do(http.MethodPut, u.Path, csv, h)
}

func (e *env) job(tok, id, jobID string) jobJSON {
	e.t.Helper()
	w := e.api(http.MethodGet, "/api/v2/flows/datatables/"+id+"/import/jobs/"+jobID, tok, "")
	wantStatus(e.t, w, 200)
	return decodeJSON[jobJSON](e.t, w.Body.Bytes())
}

func TestImportAppendLifecycle(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxKeyLength = 8 })
	tok := e.token()
	id := e.createTable(tok, "Orders", ordersSchema)
	wantStatus(t, e.api(http.MethodPost, rowsPath(id), tok, `{"key":"old","n":1}`), 200)
	wantStatus(t, e.api(http.MethodPost, rowsPath(id), tok, `{"key":"keep","n":2}`), 200)

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
	wantStatus(t, e.upload(j, nil, csv), 403)
	bad := map[string]string{UploadTokenHeader: "nope", "Content-Type": "text/csv"}
	wantStatus(t, e.upload(j, bad, csv), 403)
	bad = map[string]string{UploadTokenHeader: j.UploadHeaders[UploadTokenHeader], "Content-Type": "application/json"}
	wantStatus(t, e.upload(j, bad, csv), 403)

	w := e.upload(j, j.UploadHeaders, csv)
	wantStatus(t, w, 200)
	if w.Header().Get("inin-ratelimit-count") != "" {
		t.Error("the upload carries rate-limit headers")
	}
	if got := e.job(tok, id, j.ID); got.Status != JobProcessing || got.DateCompleted != "" {
		t.Errorf("after upload %+v", got)
	}
	if e.s.Rows(id)["new"] != nil {
		t.Error("rows applied before processing ended")
	}
	// A second upload is refused.
	wantStatus(t, e.upload(j, j.UploadHeaders, csv), 409)

	e.clk.Advance(DefaultImportProcessing - time.Millisecond)
	if got := e.job(tok, id, j.ID); got.Status != JobProcessing {
		t.Errorf("before the processing time %+v", got)
	}
	e.clk.Advance(time.Millisecond)
	got := e.job(tok, id, j.ID)
	if got.Status != JobSucceeded || got.CountRecordsUpdated != 3 || got.CountRecordsFailed != 4 || got.CountRecordsDeleted != 0 ||
		got.DateCompleted != "2030-01-02T03:04:07.000Z" || got.ErrorInformation != nil {
		t.Errorf("completed %+v", got)
	}
	rows := e.s.Rows(id)
	if len(rows) != 4 {
		t.Errorf("rows %v", rows)
	}
	for k, want := range map[string]map[string]any{
		"old":  {"key": "old", "n": float64(10), "price": 1.5, "vip": true, "label": "a,b"},
		"new":  {"key": "new", "n": float64(7), "price": float64(0), "vip": false, "label": ""},
		"a/b":  {"key": "a/b", "n": float64(3), "price": float64(0), "vip": false, "label": `q"x`},
		"keep": {"key": "keep", "n": float64(2), "price": float64(0), "vip": false, "label": ""},
	} {
		if !equalJSON(rows[k], want) {
			t.Errorf("row %s = %v, want %v", k, rows[k], want)
		}
	}
	st := e.s.Stats()
	if st.ByKind[KindDataTableUpload] != 5 || st.ByKind[KindDataTableImportCSV] != 1 {
		t.Errorf("stats %v", st.ByKind)
	}
}

func TestImportReplaceAllAndLimits(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxRowsPerTable = 3; c.ImportProcessingTime = 5 * time.Second })
	tok := e.token()
	id := e.createTable(tok, "Orders", ordersSchema)
	for _, k := range []string{"x", "y", "z"} {
		wantStatus(t, e.api(http.MethodPost, rowsPath(id), tok, fmt.Sprintf(`{"key":%q}`, k)), 200)
	}
	// The older endpoint creates the same kind of job.
	w := e.api(http.MethodPost, "/api/v2/flows/datatables/"+id+"/import/jobs", tok, `{"importMode":"ReplaceAll"}`)
	wantStatus(t, w, 200)
	j := decodeJSON[jobJSON](t, w.Body.Bytes())
	wantStatus(t, e.upload(j, j.UploadHeaders, "\ufeffkey,n\na,1\nb,2\nc,3\nd,4\n"), 200)
	e.clk.Advance(5 * time.Second)
	got := e.job(tok, id, j.ID)
	if got.Status != JobSucceeded || got.CountRecordsDeleted != 3 || got.CountRecordsUpdated != 3 || got.CountRecordsFailed != 1 {
		t.Errorf("ReplaceAll job %+v", got)
	}
	rows := e.s.Rows(id)
	if len(rows) != 3 || rows["a"] == nil || rows["x"] != nil || rows["d"] != nil {
		t.Errorf("rows after ReplaceAll %v", rows)
	}

	// Jobs are listed newest first, paged.
	j2 := e.startImport(tok, id, ImportAppend)
	w = e.api(http.MethodGet, "/api/v2/flows/datatables/"+id+"/import/jobs?pageSize=1", tok, "")
	wantStatus(t, w, 200)
	l := decodeJSON[struct {
		listing
		Entities []jobJSON `json:"entities"`
	}](t, w.Body.Bytes())
	if l.Total != 2 || l.PageCount != 2 || len(l.Entities) != 1 || l.Entities[0].ID != j2.ID || l.NextURI == "" {
		t.Errorf("job listing %s", w.Body)
	}
	wantStatus(t, e.api(http.MethodGet, "/api/v2/flows/datatables/"+id+"/import/jobs/nope", tok, ""), 404)
	wantStatus(t, e.api(http.MethodPost, "/api/v2/flows/datatables/"+id+"/import/csv/jobs", tok, `{"importMode":"Merge"}`), 400)
	w = e.api(http.MethodPost, "/api/v2/flows/datatables/"+id+"/import/csv/jobs", tok, "")
	wantStatus(t, w, 200)
	if j := decodeJSON[jobJSON](t, w.Body.Bytes()); j.ImportMode != ImportAppend {
		t.Errorf("default mode %q", j.ImportMode)
	}
	wantStatus(t, e.api(http.MethodPost, "/api/v2/flows/datatables/nope/import/csv/jobs", tok, `{"importMode":"Append"}`), 404)
}

func TestImportMalformedCSVFails(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.ImportProcessingTime = -1 })
	tok := e.token()
	id := e.createTable(tok, "Orders", ordersSchema)
	wantStatus(t, e.api(http.MethodPost, rowsPath(id), tok, `{"key":"x"}`), 200)
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
			wantStatus(t, e.upload(j, j.UploadHeaders, csv), 200)
			got := e.job(tok, id, j.ID) // no processing time: done at once
			if got.Status != JobFailed || got.ErrorInformation == nil || got.ErrorInformation.Code != CodeDataTablesSyntax ||
				got.ErrorInformation.Message == "" || got.ErrorInformation.ContextID == "" || got.DateCompleted == "" {
				t.Errorf("job %+v", got)
			}
			if len(e.s.Rows(id)) != 1 {
				t.Error("a failed ReplaceAll changed the rows")
			}
		})
	}
}

func TestUploadUnknownJob(t *testing.T) {
	e := newEnv(t, nil)
	w := e.do(http.MethodPut, "/uploads/datatables/nope", "key\na\n", http.Header{"Content-Type": {"text/csv"}})
	wantStatus(t, w, 404)
	errBody(t, w)
	wantStatus(t, e.do(http.MethodGet, "/uploads/datatables/nope", "", nil), 405)

	// Deleting the table drops its jobs.
	tok := e.token()
	id := e.createTable(tok, "Orders", ordersSchema)
	j := e.startImport(tok, id, ImportAppend)
	wantStatus(t, e.api(http.MethodDelete, "/api/v2/flows/datatables/"+id, tok, ""), 204)
	wantStatus(t, e.upload(j, j.UploadHeaders, "key\na\n"), 404)
}

func TestUploadIsNotRateLimitedOrFaulted(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RateLimitPerMinute = 3 })
	tok := e.token()
	id := e.createTable(tok, "Orders", ordersSchema)
	j := e.startImport(tok, id, ImportAppend)
	j2 := e.startImport(tok, id, ImportAppend)
	wantStatus(t, e.api(http.MethodGet, "/api/v2/flows/datatables", tok, ""), 429)
	wantStatus(t, e.upload(j, j.UploadHeaders, "key\na\n"), 200)
	if err := e.s.Storm429(true, time.Second); err != nil {
		t.Fatal(err)
	}
	e.s.Down(true)
	wantStatus(t, e.upload(j2, j2.UploadHeaders, "key\nb\n"), 200)
	e.clk.Advance(DefaultImportProcessing)
	if rows := e.s.Rows(id); rows["a"] == nil || rows["b"] == nil {
		t.Errorf("rows %v", rows)
	}
}

const fixturesYAML = `
clients:
  fx-client: fx-secret
tables:
  - name: Stores
    id: stores-1
    description: shops
    schema:
      $schema: "http://json-schema.org/draft-04/schema#"
      type: object
      required: [key]
      additionalProperties: false
      properties:
        key: {type: string}
        open: {type: boolean, default: true}
        staff: {type: integer}
    rows:
      - {key: paris, staff: 12}
      - {key: "lyon/2", open: false}
`

func TestFixtures(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Clients = nil
		c.Fixtures = []byte(fixturesYAML)
	})
	// The fixture client can fetch a token.
	w := e.tokenRequest(basic("fx-client", "fx-secret"), url.Values{"grant_type": {"client_credentials"}})
	wantStatus(t, w, 200)
	tok := decodeJSON[tokenResponse](t, w.Body.Bytes()).AccessToken

	id, ok := e.s.TableID("stores")
	if !ok || id != "stores-1" {
		t.Fatalf("TableID %q %v", id, ok)
	}
	want := map[string]map[string]any{
		"paris":  {"key": "paris", "open": true, "staff": float64(12)},
		"lyon/2": {"key": "lyon/2", "open": false, "staff": float64(0)},
	}
	if got := e.s.Rows(id); !equalJSON(got, want) {
		t.Errorf("rows %v", got)
	}
	w = e.api(http.MethodGet, rowsPath(id, "lyon/2")+"?showbrief=false", tok, "")
	wantStatus(t, w, 200)

	// JSON through LoadFixtures and the admin API.
	js := `{"tables":[{"name":"Cities","schema":` + ordersSchema + `,"rows":[{"key":"c1","n":5}]}]}`
	if err := e.s.LoadFixtures(strings.NewReader(js)); err != nil {
		t.Fatal(err)
	}
	if err := e.s.LoadFixtures(strings.NewReader(js)); !errors.Is(err, ErrInvalidTable) {
		t.Errorf("duplicate table: %v", err)
	}
	w = e.do(http.MethodPost, "/emulator/datatables", `{"tables":[{"name":"Towns","schema":`+ordersSchema+`}]}`, nil)
	wantStatus(t, w, 204)
	w = e.do(http.MethodGet, "/emulator/datatables/Cities/rows", "", nil)
	wantStatus(t, w, 200)
	if got := decodeJSON[map[string]map[string]any](t, w.Body.Bytes()); got["c1"]["n"] != float64(5) {
		t.Errorf("admin rows %s", w.Body)
	}
	wantStatus(t, e.do(http.MethodGet, "/emulator/datatables/nope/rows", "", nil), 404)

	for name, bad := range map[string]string{
		"bad row":     `{"tables":[{"name":"B1","schema":` + ordersSchema + `,"rows":[{"key":"a","n":"x"}]}]}`,
		"dup key":     `{"tables":[{"name":"B2","schema":` + ordersSchema + `,"rows":[{"key":"a"},{"key":"a"}]}]}`,
		"bad schema":  `{"tables":[{"name":"B3","schema":{"type":"object"}}]}`,
		"unknown":     `{"tablez":[]}`,
		"bad client":  `{"clients":{"a:b":"s"}}`,
		"second dup":  `{"tables":[{"name":"B4","schema":` + ordersSchema + `},{"name":"Stores","schema":` + ordersSchema + `}]}`,
		"not a table": `tables: 5`,
	} {
		if err := e.s.LoadFixtures(strings.NewReader(bad)); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
	if _, ok := e.s.TableID("B4"); ok {
		t.Error("a failed load left a table behind")
	}
	w = e.do(http.MethodPost, "/emulator/datatables", `{"tables":[{"name":"B1"}]}`, nil)
	wantStatus(t, w, 400)

	// Reset restores the seeded state: seeded rows back, API tables gone.
	wantStatus(t, e.api(http.MethodDelete, rowsPath(id, "paris"), tok, ""), 204)
	wantStatus(t, e.api(http.MethodPost, rowsPath(id), tok, `{"key":"nice"}`), 200)
	apiTable := e.createTable(tok, "Scratch", ordersSchema)
	e.s.Reset()
	if got := e.s.Rows(id); !equalJSON(got, want) {
		t.Errorf("rows after Reset %v", got)
	}
	if e.s.Rows(apiTable) != nil {
		t.Error("an API-created table survived Reset")
	}
	if _, ok := e.s.TableID("Towns"); !ok {
		t.Error("an admin-loaded table did not survive Reset")
	}

	if _, err := New(Config{Fixtures: []byte(`{"tables":[]}`)}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("no clients anywhere: %v", err)
	}
	if _, err := New(Config{Clients: map[string]string{"a": "b"}, Fixtures: []byte("{")}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("broken fixtures: %v", err)
	}
}
