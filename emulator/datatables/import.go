package datatables

import (
	"bytes"
	"crypto/rand"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gcupsert/gcupsert/emulator/core"
)

// Import-job statuses and modes.
const (
	JobWaitingForUpload = "WaitingForUpload"
	JobProcessing       = "Processing"
	JobSucceeded        = "Succeeded"
	JobFailed           = "Failed"

	ImportAppend     = "Append"
	ImportReplaceAll = "ReplaceAll"
)

// uploadPrefix is the path under which import uploads are accepted.
const uploadPrefix = "/uploads/datatables/"

// UploadTokenHeader is the header of uploadHeaders that carries the job's
// upload token.
const UploadTokenHeader = "X-Upload-Token"

// maxUploadBytes bounds an uploaded CSV file.
const maxUploadBytes = 32 << 20

// importJob is one import job of a table.
type importJob struct {
	id, tableID string
	seq         int
	mode        string
	status      string
	created     time.Time
	completed   time.Time
	completeAt  time.Time
	uploadURI   string
	headers     map[string]string
	csv         []byte
	updated     int
	deleted     int
	failed      int
	errInfo     *core.ErrorBody
}

// jobJSON is an import job as the API serves it.
type jobJSON struct {
	ID                  string            `json:"id"`
	Name                string            `json:"name"`
	Status              string            `json:"status"`
	DateCreated         string            `json:"dateCreated"`
	DateCompleted       string            `json:"dateCompleted,omitempty"`
	UploadURI           string            `json:"uploadURI"`
	UploadHeaders       map[string]string `json:"uploadHeaders"`
	ImportMode          string            `json:"importMode"`
	ErrorInformation    *core.ErrorBody   `json:"errorInformation,omitempty"`
	CountRecordsUpdated int               `json:"countRecordsUpdated"`
	CountRecordsDeleted int               `json:"countRecordsDeleted"`
	CountRecordsFailed  int               `json:"countRecordsFailed"`
	SelfURI             string            `json:"selfUri"`
}

const isoMillis = "2006-01-02T15:04:05.000Z"

func (j *importJob) view() jobJSON {
	v := jobJSON{
		ID: j.id, Name: "import-" + j.id, Status: j.status, DateCreated: j.created.UTC().Format(isoMillis),
		UploadURI: j.uploadURI, UploadHeaders: j.headers, ImportMode: j.mode, ErrorInformation: j.errInfo,
		CountRecordsUpdated: j.updated, CountRecordsDeleted: j.deleted, CountRecordsFailed: j.failed,
		SelfURI: tablesPath + "/" + j.tableID + "/import/jobs/" + j.id,
	}
	if !j.completed.IsZero() {
		v.DateCompleted = j.completed.UTC().Format(isoMillis)
	}
	return v
}

// settle completes every Processing job whose processing time is over,
// in the order they became due. The caller holds d.mu.
func (d *Family) settle() {
	now := d.clock.Now()
	var due []*importJob
	for _, j := range d.jobs {
		if j.status == JobProcessing && !now.Before(j.completeAt) {
			due = append(due, j)
		}
	}
	slices.SortFunc(due, func(a, b *importJob) int {
		if c := a.completeAt.Compare(b.completeAt); c != 0 {
			return c
		}
		return a.seq - b.seq
	})
	for _, j := range due {
		d.runImport(j)
	}
}

// failJob marks j Failed with a 400 syntax error.
func failJob(j *importJob, msg string) {
	eb := core.ErrorBody{Message: msg, Code: CodeSyntax, Status: http.StatusBadRequest}
	eb.Fill(core.NewID())
	j.status, j.errInfo = JobFailed, &eb
}

// runImport applies j's CSV to its table. The caller holds d.mu.
func (d *Family) runImport(j *importJob) {
	j.completed = j.completeAt
	data := j.csv
	j.csv = nil
	t, ok := d.tables[j.tableID]
	if !ok {
		eb := tableNotFound(j.tableID)
		eb.Fill(core.NewID())
		j.status, j.errInfo = JobFailed, &eb
		return
	}
	header, records, msg := readCSV(data, t)
	if msg != "" {
		failJob(j, msg)
		return
	}
	if j.mode == ImportReplaceAll {
		j.deleted = len(t.rows)
		t.rows = map[string]map[string]any{}
	}
	for _, rec := range records {
		if d.importLine(t, header, rec) {
			j.updated++
		} else {
			j.failed++
		}
	}
	j.status = JobSucceeded
}

// readCSV reads an import file for table t: its header, checked against
// t's schema, and its records; or a message saying why the file fails the
// job.
func readCSV(data []byte, t *dtTable) (header []string, records [][]string, msg string) {
	rd := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\ufeff"))))
	rd.FieldsPerRecord = -1
	header, err := rd.Read()
	switch {
	case err == io.EOF:
		return nil, nil, "The CSV file is empty; its first line must name the fields."
	case err != nil:
		return nil, nil, "The CSV header is malformed: " + err.Error()
	}
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		header[i] = h
		switch {
		case h == "":
			return nil, nil, fmt.Sprintf("Column %d of the CSV header has no name.", i+1)
		case seen[h]:
			return nil, nil, fmt.Sprintf("The CSV header names column %s twice.", h)
		case t.schema.fields[h] == nil:
			return nil, nil, fmt.Sprintf("The CSV header names column %s, which is not a field of datatable %s.", h, t.name)
		}
		seen[h] = true
	}
	if !seen[keyField] {
		return nil, nil, "The CSV header has no key column."
	}
	for {
		rec, err := rd.Read()
		if err == io.EOF {
			return header, records, ""
		}
		if err != nil {
			return nil, nil, "The CSV file is malformed: " + err.Error()
		}
		records = append(records, rec)
	}
}

// importLine inserts or replaces the row of one CSV line in t; it reports
// false when the line is skipped (wrong number of cells, invalid row, or a
// new row over the limit). The caller holds d.mu.
func (d *Family) importLine(t *dtTable, header, rec []string) bool {
	if len(rec) != len(header) {
		return false
	}
	obj := make(map[string]any, len(rec))
	for i, cell := range rec {
		if cell != "" {
			obj[header[i]] = cellValue(t.schema.fields[header[i]].typ, cell)
		}
	}
	row, eb := t.schema.checkRow(obj, d.lim.maxKey, t.name)
	if eb != nil {
		return false
	}
	key := row[keyField].(string)
	if _, exists := t.rows[key]; !exists && len(t.rows) >= d.lim.maxRows {
		return false
	}
	t.rows[key] = row
	return true
}

// cellValue turns a CSV cell into the decoded-JSON value checkRow takes:
// numbers as JSON number text, booleans true/false (any case), strings as
// they are. A cell that does not fit its type stays a string and fails
// the type check.
func cellValue(typ, cell string) any {
	switch typ {
	case typeInteger, typeNumber:
		if v, err := decodeJSONValue([]byte(strings.TrimSpace(cell))); err == nil {
			return v
		}
	case typeBoolean:
		switch strings.ToLower(strings.TrimSpace(cell)) {
		case "true":
			return true
		case "false":
			return false
		}
	}
	return cell
}

// importBody is the body of an import-job POST.
type importBody struct {
	ImportMode string `json:"importMode"`
}

func (d *Family) handleImportCreate(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("datatableId")
	if !d.tableExists(w, id) {
		return
	}
	var body importBody
	raw, ok := core.ReadBody(w, r, d.srv.MaxBodyBytes(), core.StatusError(http.StatusRequestEntityTooLarge))
	if !ok {
		return
	}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &body); err != nil {
			core.WriteError(w, core.BadRequest("The request body is not a valid import job: "+err.Error()))
			return
		}
	}
	mode := ImportAppend
	switch strings.ToLower(body.ImportMode) {
	case "", "append":
	case "replaceall":
		mode = ImportReplaceAll
	default:
		core.WriteError(w, core.BadRequest("importMode must be Append or ReplaceAll."))
		return
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	j := &importJob{
		id: core.NewID(), tableID: id, mode: mode, status: JobWaitingForUpload,
		headers: map[string]string{UploadTokenHeader: rand.Text(), "Content-Type": "text/csv"},
	}
	j.uploadURI = scheme + "://" + r.Host + uploadPrefix + j.id
	d.mu.Lock()
	d.settle()
	t, ok := d.tables[id]
	if ok {
		d.jobSeq++
		j.seq, j.created = d.jobSeq, d.clock.Now()
		t.jobs = append(t.jobs, j)
		d.jobs[j.id] = j
	}
	view := j.view()
	d.mu.Unlock()
	if !ok {
		core.WriteError(w, tableNotFound(id))
		return
	}
	core.WriteJSON(w, http.StatusOK, view)
}

func (d *Family) handleImportGet(w http.ResponseWriter, r *http.Request) {
	id, jobID := r.PathValue("datatableId"), r.PathValue("importJobId")
	d.mu.Lock()
	d.settle()
	_, tok := d.tables[id]
	j, jok := d.jobs[jobID]
	var view jobJSON
	if jok && j.tableID == id {
		view = j.view()
	}
	d.mu.Unlock()
	switch {
	case !tok:
		core.WriteError(w, tableNotFound(id))
	case !jok || j.tableID != id:
		core.WriteError(w, core.ErrorBody{
			Message: fmt.Sprintf("Import job %s was not found.", jobID), Code: CodeJobNotFound,
			Status: http.StatusNotFound, EntityID: jobID,
		})
	default:
		core.WriteJSON(w, http.StatusOK, view)
	}
}

func (d *Family) handleImportList(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("datatableId")
	q := r.URL.Query()
	p, eb := parsePaging(q)
	if eb != nil {
		core.WriteError(w, *eb)
		return
	}
	t, ok := d.lockTable(w, id)
	if !ok {
		return
	}
	jobs := slices.Clone(t.jobs)
	slices.Reverse(jobs) // newest first
	if p.descending {
		slices.Reverse(jobs)
	}
	lo, hi := p.bounds(len(jobs))
	entities := make([]jobJSON, 0, hi-lo)
	for _, j := range jobs[lo:hi] {
		entities = append(entities, j.view())
	}
	d.mu.Unlock()
	core.WriteJSON(w, http.StatusOK, newListing(tablesPath+"/"+id+"/import/jobs", q, p, len(jobs), entities))
}

// uploadHeadersMatch reports whether r carries every upload header of j.
// Content-Type is compared as a media type, parameters ignored.
func uploadHeadersMatch(r *http.Request, j *importJob) bool {
	for k, want := range j.headers {
		got := r.Header.Get(k)
		if strings.EqualFold(k, "Content-Type") {
			mt, _, err := mime.ParseMediaType(got)
			if err != nil || !strings.EqualFold(mt, want) {
				return false
			}
			continue
		}
		if got != want {
			return false
		}
	}
	return true
}

// handleUpload serves PUT {uploadURI}: the CSV of a job that waits for
// its upload. It is neither authenticated by bearer token nor rate
// limited nor faulted; the upload headers are its credentials.
func (d *Family) handleUpload(w http.ResponseWriter, r *http.Request) {
	jobID := strings.TrimPrefix(r.URL.Path, uploadPrefix)
	if r.Method != http.MethodPut {
		w.Header().Set("Allow", http.MethodPut)
		core.WriteError(w, core.StatusError(http.StatusMethodNotAllowed))
		return
	}
	check := func() (int, string) {
		j, ok := d.jobs[jobID]
		switch {
		case !ok:
			return http.StatusNotFound, fmt.Sprintf("No upload is expected at this address (job %s).", jobID)
		case !uploadHeadersMatch(r, j):
			return http.StatusForbidden, "The request does not carry the upload headers of the import job."
		case j.status != JobWaitingForUpload:
			return http.StatusConflict, fmt.Sprintf("Import job %s is %s; it takes one upload only.", jobID, j.status)
		}
		return 0, ""
	}
	reject := func(status int, msg string) {
		eb := core.StatusError(status)
		eb.Message, eb.EntityID = msg, jobID
		core.WriteError(w, eb)
	}
	d.mu.Lock()
	d.settle()
	status, msg := check()
	d.mu.Unlock()
	if status != 0 {
		reject(status, msg)
		return
	}
	body, tooLarge, err := core.ReadLimited(r, maxUploadBytes)
	switch {
	case tooLarge:
		eb := core.StatusError(http.StatusRequestEntityTooLarge)
		eb.Message = fmt.Sprintf("The upload is over the limit of %d bytes.", maxUploadBytes)
		core.WriteError(w, eb)
		return
	case err != nil:
		core.WriteError(w, core.BadRequest("The upload could not be read."))
		return
	}
	d.mu.Lock()
	if status, msg = check(); status == 0 {
		j := d.jobs[jobID]
		j.csv, j.status = body, JobProcessing
		j.completeAt = d.clock.Now().Add(d.lim.processing)
		d.settle()
	}
	d.mu.Unlock()
	if status != 0 {
		reject(status, msg)
		return
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}
