package datatables

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gcupsert/gcupsert/upsert"
	"github.com/gcupsert/gcupsert/upsert/upserttest"
)

const (
	custID = "11111111-1111-1111-1111-111111111111"
	acctID = "22222222-2222-2222-2222-222222222222"
)

const custSchema = `{"$schema":"http://json-schema.org/draft-04/schema#","type":"object","required":["key"],
"properties":{"key":{"title":"key","type":"string","$id":"/properties/key","displayOrder":0},
"name":{"type":"string","displayOrder":1},
"age":{"type":"integer","displayOrder":2,"default":0},
"score":{"type":"number","displayOrder":3},
"vip":{"type":"boolean","displayOrder":4,"default":false},
"email":{"type":"string","displayOrder":5},
"account":{"type":"string","displayOrder":6}},
"additionalProperties":false}`

const acctSchema = `{"type":"object","required":["key"],"properties":{"key":{"type":"string"}},"additionalProperties":false}`

// dtStub is a small in-test stand-in for the data tables API.
type dtStub struct {
	t   *testing.T
	srv *httptest.Server

	mu          sync.Mutex
	schemas     map[string]string
	names       map[string]string // id -> name
	rows        map[string]map[string]map[string]any
	putCreates  bool
	postDup400  bool
	delete200   bool
	failJob     bool
	jobs        map[string]*importJob
	uploads     map[string][]byte
	uploadHdrs  map[string]http.Header
	log         []string // "METHOD path"
	rateHeaders func(w http.ResponseWriter)
	tableGone   bool
	maxRows     int // 0: no limit
}

func newDTStub(t *testing.T) *dtStub {
	s := &dtStub{
		t:          t,
		schemas:    map[string]string{custID: custSchema, acctID: acctSchema},
		names:      map[string]string{custID: "customers", acctID: "accounts"},
		rows:       map[string]map[string]map[string]any{custID: {}, acctID: {"a1": {"key": "a1"}, "a2": {"key": "a2"}}},
		jobs:       map[string]*importJob{},
		uploads:    map[string][]byte{},
		uploadHdrs: map[string]http.Header{},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *dtStub) calls(prefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, l := range s.log {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

func (s *dtStub) seed(table, key string, row map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := map[string]any{"key": key}
	for k, v := range row {
		r[k] = v
	}
	s.rows[table][key] = r
}

func (s *dtStub) row(table, key string) (map[string]any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.rows[table][key]
	return r, ok
}

func dtErr(w http.ResponseWriter, status int, code, msg string) {
	upserttest.WriteError(w, status, upsert.ErrorBody{Status: status, Code: code, Message: msg})
}

func (s *dtStub) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.URL.Path == "/oauth/token" {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"tok","token_type":"bearer","expires_in":86400}`)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, r.Method+" "+r.URL.EscapedPath())
	if strings.HasPrefix(r.URL.Path, "/upload/") {
		job := s.jobs[strings.TrimPrefix(r.URL.Path, "/upload/")]
		if job == nil || r.Header.Get("X-Upload-Token") != "secret-"+job.ID {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		s.uploads[job.ID] = body
		s.uploadHdrs[job.ID] = r.Header.Clone()
		s.runImport(job, body)
		return
	}
	if s.rateHeaders != nil {
		s.rateHeaders(w)
	}
	w.Header().Set("ININ-Correlation-Id", fmt.Sprintf("c-%d", len(s.log)))
	parts := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/api/v2/flows/datatables"), "/")
	q := r.URL.Query()
	if len(parts) == 1 { // list
		var ents []any
		filter := strings.ToLower(q.Get("name"))
		ids := []string{custID, acctID}
		for _, id := range ids {
			if filter == "" || strings.ToLower(s.names[id]) == filter {
				ents = append(ents, map[string]any{"id": id, "name": s.names[id]})
			}
		}
		page(w, ents, q)
		return
	}
	id := parts[1]
	if _, ok := s.names[id]; !ok || s.tableGone {
		dtErr(w, 404, upsert.CodeTableNotFound, "table not found")
		return
	}
	rows := s.rows[id]
	switch {
	case len(parts) == 2 && r.Method == http.MethodGet:
		t := map[string]any{"id": id, "name": s.names[id]}
		if q.Get("expand") == "schema" {
			t["schema"] = json.RawMessage(s.schemas[id])
		}
		_ = json.NewEncoder(w).Encode(t)
	case len(parts) == 3 && parts[2] == "rows" && r.Method == http.MethodGet:
		keys := make([]string, 0, len(rows))
		for k := range rows {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var ents []any
		for _, k := range keys {
			if q.Get("showbrief") == "false" {
				ents = append(ents, rows[k])
			} else {
				ents = append(ents, map[string]any{"key": k})
			}
		}
		page(w, ents, q)
	case len(parts) == 3 && parts[2] == "rows" && r.Method == http.MethodPost:
		row, _ := upsert.DecodeObject(body)
		k, _ := row["key"].(string)
		if _, ok := rows[k]; ok {
			if s.postDup400 {
				dtErr(w, 400, "flows.datatables.row.exists", "row exists")
			} else {
				dtErr(w, 409, "flows.datatables.row.exists", "row exists")
			}
			return
		}
		if s.maxRows > 0 && len(rows) >= s.maxRows {
			dtErr(w, 400, "flows.datatables.limit.exceeded", fmt.Sprintf("the table holds the maximum of %d rows", s.maxRows))
			return
		}
		if syntaxError(w, row) {
			return
		}
		rows[k] = row
		_ = json.NewEncoder(w).Encode(row)
	case len(parts) == 4 && parts[2] == "rows":
		k, _ := url.PathUnescape(parts[3])
		switch r.Method {
		case http.MethodGet:
			if row, ok := rows[k]; ok {
				_ = json.NewEncoder(w).Encode(row)
				return
			}
			dtErr(w, 404, "flows.datatables.row.not.found", "no row")
		case http.MethodPut:
			row, _ := upsert.DecodeObject(body)
			if _, ok := rows[k]; !ok && !s.putCreates {
				dtErr(w, 404, "flows.datatables.row.not.found", "no row")
				return
			}
			if syntaxError(w, row) {
				return
			}
			rows[k] = row
			_ = json.NewEncoder(w).Encode(row)
		case http.MethodDelete:
			if _, ok := rows[k]; !ok {
				dtErr(w, 404, "flows.datatables.row.not.found", "no row")
				return
			}
			delete(rows, k)
			if s.delete200 {
				w.WriteHeader(200)
			} else {
				w.WriteHeader(204)
			}
		}
	case len(parts) == 5 && parts[2] == "import" && r.Method == http.MethodPost:
		jid := fmt.Sprintf("job-%d", len(s.jobs)+1)
		job := &importJob{ID: jid, Status: "WaitingForUpload", UploadURI: s.srv.URL + "/upload/" + jid,
			UploadHeaders: map[string]string{"X-Upload-Token": "secret-" + jid, "Content-Type": "text/csv"}}
		s.jobs[jid] = job
		_ = json.NewEncoder(w).Encode(job)
	case len(parts) == 5 && parts[2] == "import" && r.Method == http.MethodGet:
		job := s.jobs[parts[4]]
		if job == nil {
			dtErr(w, 404, "flows.datatables.import.job.not.found", "no job")
			return
		}
		_ = json.NewEncoder(w).Encode(job)
	default:
		dtErr(w, 404, "not.found", "no route")
	}
}

// syntaxError refuses a row named "SYNTAX", as the API refuses a row
// that breaks its schema.
func syntaxError(w http.ResponseWriter, row map[string]any) bool {
	if row["name"] != "SYNTAX" {
		return false
	}
	upserttest.WriteError(w, 400, upsert.ErrorBody{Status: 400, Code: "flows.datatables.syntax.error", Message: "bad row",
		Details: []upsert.ErrorDetail{{FieldName: "name", ErrorCode: "schema.maxLength"}}})
	return true
}

// runImport applies a CSV: a row whose name is "BAD" or whose age is not
// an integer is skipped and counted failed.
func (s *dtStub) runImport(job *importJob, body []byte) {
	if s.failJob {
		job.Status = "Failed"
		job.ErrorInformation = &upsert.ErrorBody{Code: "flows.datatables.syntax.error", Message: "bad header"}
		return
	}
	recs, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if err != nil || len(recs) == 0 {
		job.Status = "Failed"
		return
	}
	head := recs[0]
	for _, rec := range recs[1:] {
		row := map[string]any{}
		bad := false
		for c, name := range head {
			v := rec[c]
			if v == "" {
				continue
			}
			switch name {
			case "age":
				if _, err := strconv.Atoi(v); err != nil {
					bad = true
				}
				row[name] = json.Number(v)
			case "score":
				row[name] = json.Number(v)
			case "vip":
				row[name] = v == "true"
			default:
				row[name] = v
			}
		}
		if row["name"] == "BAD" || bad {
			job.CountRecordsFailed++
			continue
		}
		s.rows[custID][row["key"].(string)] = row
		job.CountRecordsUpdated++
	}
	job.Status = "Succeeded"
}

func page(w http.ResponseWriter, ents []any, q url.Values) {
	size, _ := strconv.Atoi(q.Get("pageSize"))
	num, _ := strconv.Atoi(q.Get("pageNumber"))
	if size <= 0 {
		size = 25
	}
	if num <= 0 {
		num = 1
	}
	count := (len(ents) + size - 1) / size
	lo, hi := min((num-1)*size, len(ents)), min(num*size, len(ents))
	out := ents[lo:hi]
	if out == nil {
		out = []any{}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"entities": out, "pageSize": size, "pageNumber": num, "total": len(ents), "pageCount": count})
}
