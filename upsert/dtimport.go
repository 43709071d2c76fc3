package upsert

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/gcupsert/gcupsert/internal/clock"
)

// importJob is the import job document.
type importJob struct {
	ID                  string            `json:"id"`
	Status              string            `json:"status"`
	UploadURI           string            `json:"uploadURI"`
	UploadHeaders       map[string]string `json:"uploadHeaders"`
	ImportMode          string            `json:"importMode"`
	ErrorInformation    *ErrorBody        `json:"errorInformation"`
	CountRecordsUpdated int               `json:"countRecordsUpdated"`
	CountRecordsDeleted int               `json:"countRecordsDeleted"`
	CountRecordsFailed  int               `json:"countRecordsFailed"`
}

// ImportTimeoutError is an import job that did not finish within
// ImportTimeout. It is transient: the batch is sent again (an Append
// import of the same rows is idempotent).
type ImportTimeoutError struct {
	JobID   string
	Status  string
	Timeout time.Duration
}

func (e *ImportTimeoutError) Error() string {
	return fmt.Sprintf("genesys: data table import job %s still %s after %s", e.JobID, e.Status, e.Timeout)
}

// runImport writes the upserts idxs (one per key) as CSV import jobs in
// Append mode. The keys the table holds beforehand are read first (keys
// only): they tell created from updated, and let createOnly and
// updateOnly reject their conflicts before the upload.
func (t *DataTables) runImport(ctx context.Context, b *dtBatch, idxs []int) error {
	before := map[string]bool{}
	err := t.c.eachPage(ctx, b.maker(), t.path+"/rows", url.Values{"showbrief": {"true"}, "sortOrder": {"ascending"}}, func(raw json.RawMessage) error {
		var row struct {
			Key string `json:"key"`
		}
		if json.Unmarshal(raw, &row) == nil && row.Key != "" {
			before[row.Key] = true
		}
		return nil
	})
	if err != nil {
		if fatal := t.fatalOrNil(ctx, err); fatal != nil {
			return fatal
		}
		t.log.Warn("datatables: listing keys before an import failed; writing row by row", "error", err.Error())
		return t.runRows(ctx, b, idxs)
	}
	var send []int
	for _, i := range idxs {
		exists := before[b.items[i].Record.Key]
		switch {
		case t.cfg.Conflict == ConflictCreateOnly && exists:
			b.reject(i, rowExistsError(nil))
		case t.cfg.Conflict == ConflictUpdateOnly && !exists:
			b.reject(i, rowMissingError(nil))
		default:
			send = append(send, i)
		}
	}
	sch := t.currentSchema()
	lines := make([][]byte, len(b.items))
	var chunk []int
	size := len(sch.header)
	var rowsMode []int
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		defer func() { chunk, size = nil, len(sch.header) }()
		fallback, err := t.importChunk(ctx, b, sch, chunk, lines, before)
		if err != nil {
			return err
		}
		rowsMode = append(rowsMode, fallback...)
		return nil
	}
	for _, i := range send {
		it := b.items[i]
		line, err := sch.csvRow(it.Record.Key, it.Record.Data)
		if err != nil {
			b.reject(i, &RecordError{Class: "validation", Code: "record.encoding", Message: "record cannot be encoded as CSV: " + err.Error()})
			continue
		}
		lines[i] = line
		if len(chunk) > 0 && (len(chunk)+1 > t.cfg.ImportMaxRecords || size+len(line) > t.cfg.ImportMaxBytes) {
			if err := flush(); err != nil {
				return err
			}
		}
		chunk = append(chunk, i)
		size += len(line)
	}
	if err := flush(); err != nil {
		return err
	}
	return t.runRows(ctx, b, rowsMode)
}

// fatalOrNil returns err when it must end the batch (ctx, transient past
// the budget, refused credentials), else nil.
func (t *DataTables) fatalOrNil(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if IsRetryable(err) || IsAuthFailure(err) {
		return err
	}
	return nil
}

// importChunk runs one import job. It returns the items to write row by
// row instead: all of them when the job could not be created or uploaded,
// or failed as a whole.
func (t *DataTables) importChunk(ctx context.Context, b *dtBatch, sch *dtSchema, idxs []int, lines [][]byte, before map[string]bool) ([]int, error) {
	res, err := t.c.do(ctx, b.call(http.MethodPost, t.path+"/import/csv/jobs", []byte(`{"importMode":"Append"}`)))
	if err != nil {
		if fatal := t.fatalOrNil(ctx, err); fatal != nil {
			return nil, fatal
		}
		t.log.Warn("datatables: creating an import job failed; writing row by row", "error", err.Error())
		return idxs, nil
	}
	var job importJob
	if err := json.Unmarshal(res.body, &job); err != nil || job.ID == "" || job.UploadURI == "" {
		t.log.Warn("datatables: unusable import job; writing row by row", "body", clip(string(res.body)))
		return idxs, nil
	}
	if u, err := url.Parse(job.UploadURI); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		t.log.Warn("datatables: import job has no absolute upload URI; writing row by row", "job", job.ID)
		return idxs, nil
	}
	size := len(sch.header)
	for _, i := range idxs {
		size += len(lines[i])
	}
	csvBody := make([]byte, 0, size)
	csvBody = append(csvBody, sch.header...)
	for _, i := range idxs {
		csvBody = append(csvBody, lines[i]...)
	}
	up := b.call(http.MethodPut, job.UploadURI, csvBody, idxs...)
	up.external, up.header, up.contentType = true, job.UploadHeaders, "text/csv"
	if _, err := t.c.do(ctx, up); err != nil {
		if fatal := t.fatalOrNil(ctx, err); fatal != nil {
			return nil, fatal
		}
		t.log.Warn("datatables: uploading an import failed; writing row by row", "job", job.ID, "error", err.Error())
		return idxs, nil
	}

	done, err := t.pollJob(ctx, b, job.ID)
	if err != nil {
		return nil, err
	}
	switch done.Status {
	case "Succeeded":
	default:
		msg := ""
		if done.ErrorInformation != nil {
			msg = done.ErrorInformation.Code + ": " + done.ErrorInformation.Message
		}
		t.log.Warn("datatables: import job failed; writing its rows one by one", "job", job.ID, "error", msg)
		return idxs, nil
	}
	if done.CountRecordsFailed == 0 {
		for _, i := range idxs {
			t.succeedImported(b, i, nil, before)
		}
		return nil, nil
	}
	return nil, t.reconcile(ctx, b, sch, idxs, done, before)
}

func (t *DataTables) succeedImported(b *dtBatch, i int, row map[string]any, before map[string]bool) {
	it := b.items[i]
	st := StatusCreated
	if before[it.Record.Key] {
		st = StatusUpdated
	}
	if row == nil {
		row = writtenRow(nil, it.Record.Key, it.Record.Data)
	}
	b.succeed(i, st, row)
}

// pollJob waits for the job to end, polling with a growing interval.
func (t *DataTables) pollJob(ctx context.Context, b *dtBatch, id string) (importJob, error) {
	start := t.c.clock.Now()
	wait := t.cfg.ImportPollInterval
	maxWait := max(dataTablesMaxPollInterval, t.cfg.ImportPollInterval)
	path := t.path + "/import/jobs/" + url.PathEscape(id)
	status := "WaitingForUpload"
	for {
		if elapsed := clock.Since(t.c.clock, start); elapsed+wait > t.cfg.ImportTimeout {
			if elapsed >= t.cfg.ImportTimeout {
				return importJob{}, &TransportError{Method: http.MethodGet, Path: path, Err: &ImportTimeoutError{JobID: id, Status: status, Timeout: t.cfg.ImportTimeout}}
			}
			wait = t.cfg.ImportTimeout - elapsed
		}
		if err := clock.Sleep(ctx, t.c.clock, wait); err != nil {
			return importJob{}, err
		}
		res, err := t.c.do(ctx, b.call(http.MethodGet, path, nil))
		if err != nil {
			if fatal := t.fatalOrNil(ctx, err); fatal != nil {
				return importJob{}, fatal
			}
			// A permanent failure to read the job: its outcome is unknown,
			// so the batch is sent again.
			return importJob{}, &TransportError{Method: http.MethodGet, Path: path, Err: err}
		}
		var job importJob
		if err := json.Unmarshal(res.body, &job); err != nil {
			return importJob{}, &TransportError{Method: http.MethodGet, Path: path, Err: fmt.Errorf("unreadable import job: %w", err)}
		}
		status = job.Status
		switch job.Status {
		case "Succeeded", "Failed":
			return job, nil
		}
		wait = min(wait*3/2, maxWait)
	}
}

// reconcile finds the rows an import skipped: every row of the table is
// read back and compared with what was sent. Rows missing or different
// are rejected; the others succeeded.
func (t *DataTables) reconcile(ctx context.Context, b *dtBatch, sch *dtSchema, idxs []int, job importJob, before map[string]bool) error {
	rows := map[string]map[string]any{}
	err := t.c.eachPage(ctx, b.maker(), t.path+"/rows", url.Values{"showbrief": {"false"}, "sortOrder": {"ascending"}}, func(raw json.RawMessage) error {
		row, err := decodeRow(raw)
		if err != nil {
			return err
		}
		if k, _ := row["key"].(string); k != "" {
			rows[k] = row
		}
		return nil
	})
	if err != nil {
		if fatal := t.fatalOrNil(ctx, err); fatal != nil {
			return fatal
		}
		return &TransportError{Method: http.MethodGet, Path: t.path + "/rows", Err: fmt.Errorf("reading back import job %s: %w", job.ID, err)}
	}
	reason := fmt.Sprintf("the import job %s skipped this row (%d of %d rows failed)", job.ID, job.CountRecordsFailed, len(idxs))
	if job.ErrorInformation != nil && job.ErrorInformation.Message != "" {
		reason += ": " + job.ErrorInformation.Message
	}
	if len(rows) >= 5000 {
		reason += fmt.Sprintf("; the table holds %d rows, the documented limit is 5,000", len(rows))
	}
	failed := 0
	for _, i := range idxs {
		it := b.items[i]
		row, ok := rows[it.Record.Key]
		switch {
		case !ok:
			failed++
			b.reject(i, &RecordError{Class: "api", Code: "import.row.failed", Message: "row not in the table after the import: " + reason})
		case !sch.rowMatches(it.Record.Data, row, true):
			failed++
			b.reject(i, &RecordError{Class: "api", Code: "import.row.failed", Message: "row differs from the one sent after the import: " + reason,
				Fields: mismatchedFields(sch, it.Record.Data, row)})
		default:
			t.succeedImported(b, i, row, before)
		}
	}
	if failed != job.CountRecordsFailed {
		t.log.Warn("datatables: rows found failed differ from the import job's count", "job", job.ID,
			"found", failed, "reported", job.CountRecordsFailed)
	}
	return nil
}

func mismatchedFields(sch *dtSchema, data, row map[string]any) []FieldError {
	var fe []FieldError
	for _, f := range sch.fields {
		want := sch.expected(f, data, true)
		got, ok := row[f.name]
		if !ok || got == nil {
			got = f.def
		}
		if !sameValue(want, got) {
			fe = append(fe, FieldError{Field: f.name, Code: "import.mismatch", Message: fmt.Sprintf("sent %s, table holds %s", clip(fmt.Sprint(want)), clip(fmt.Sprint(got)))})
		}
	}
	return fe
}
