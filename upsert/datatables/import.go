package datatables

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/internal/clock"
	"github.com/gcupsert/gcupsert/upsert"
)

// importJob is the import job document.
type importJob struct {
	ID                  string            `json:"id"`
	Status              string            `json:"status"`
	UploadURI           string            `json:"uploadURI"`
	UploadHeaders       map[string]string `json:"uploadHeaders"`
	ImportMode          string            `json:"importMode"`
	ErrorInformation    *upsert.ErrorBody `json:"errorInformation"`
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
func (t *Target) runImport(ctx context.Context, b *upsert.Tracker, idxs []int) error {
	before := map[string]bool{}
	err := t.c.EachPage(ctx, b.Maker(), t.path+"/rows", url.Values{"showbrief": {"true"}, "sortOrder": {"ascending"}}, func(raw json.RawMessage) error {
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
		t.log.Warn("listing keys before an import failed; writing row by row", "error", err.Error())
		return t.runRows(ctx, b, idxs)
	}
	var send []int
	for _, i := range idxs {
		exists := before[b.Items[i].Record.Key]
		switch {
		case t.cfg.Conflict == change.ConflictCreateOnly && exists:
			b.Reject(i, rowExistsError(nil))
		case t.cfg.Conflict == change.ConflictUpdateOnly && !exists:
			b.Reject(i, rowMissingError(nil))
		default:
			send = append(send, i)
		}
	}
	sch := t.currentSchema()
	lines := make([][]byte, len(b.Items))
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
		it := b.Items[i]
		line, err := sch.csvRow(it.Record.Key, it.Record.Data)
		if err != nil {
			b.Reject(i, &change.RecordError{Class: "validation", Code: "record.encoding", Message: "record cannot be encoded as CSV: " + err.Error()})
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
func (t *Target) fatalOrNil(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if upsert.IsRetryable(err) || upsert.IsAuthFailure(err) {
		return err
	}
	return nil
}

// importChunk runs one import job. It returns the items to write row by
// row instead: all of them when the job could not be created or uploaded,
// or failed as a whole.
func (t *Target) importChunk(ctx context.Context, b *upsert.Tracker, sch *dtSchema, idxs []int, lines [][]byte, before map[string]bool) ([]int, error) {
	res, err := t.c.Do(ctx, b.Call(http.MethodPost, t.path+"/import/csv/jobs", []byte(`{"importMode":"Append"}`)))
	if err != nil {
		if fatal := t.fatalOrNil(ctx, err); fatal != nil {
			return nil, fatal
		}
		t.log.Warn("creating an import job failed; writing row by row", "error", err.Error())
		return idxs, nil
	}
	var job importJob
	if err := json.Unmarshal(res.Body, &job); err != nil || job.ID == "" || job.UploadURI == "" {
		t.log.Warn("unusable import job; writing row by row", "body", clip(t.c.Redact(string(res.Body))))
		return idxs, nil
	}
	if u, err := url.Parse(job.UploadURI); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		t.log.Warn("import job has no absolute upload URI; writing row by row", "job", job.ID)
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
	up := b.Call(http.MethodPut, job.UploadURI, csvBody, idxs...)
	up.External, up.Header, up.ContentType = true, job.UploadHeaders, "text/csv"
	if _, err := t.c.Do(ctx, up); err != nil {
		if fatal := t.fatalOrNil(ctx, err); fatal != nil {
			return nil, fatal
		}
		t.log.Warn("uploading an import failed; writing row by row", "job", job.ID, "error", err.Error())
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
			msg = t.c.Redact(done.ErrorInformation.Code + ": " + done.ErrorInformation.Message)
		}
		t.log.Warn("import job failed; writing its rows one by one", "job", job.ID, "error", msg)
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

func (t *Target) succeedImported(b *upsert.Tracker, i int, row map[string]any, before map[string]bool) {
	it := b.Items[i]
	st := change.StatusCreated
	if before[it.Record.Key] {
		st = change.StatusUpdated
	}
	if row == nil {
		row = writtenRow(nil, it.Record.Key, it.Record.Data)
	}
	b.Succeed(i, st, row, nil)
}

// pollJob waits for the job to end, polling with a growing interval.
func (t *Target) pollJob(ctx context.Context, b *upsert.Tracker, id string) (importJob, error) {
	start := t.c.Clock().Now()
	wait := t.cfg.ImportPollInterval
	maxWait := max(maxPollInterval, t.cfg.ImportPollInterval)
	path := t.path + "/import/jobs/" + upsert.PathSegment(id)
	status := "WaitingForUpload"
	for {
		if elapsed := clock.Since(t.c.Clock(), start); elapsed+wait > t.cfg.ImportTimeout {
			if elapsed >= t.cfg.ImportTimeout {
				return importJob{}, &upsert.TransportError{Method: http.MethodGet, Path: path, Err: &ImportTimeoutError{JobID: id, Status: status, Timeout: t.cfg.ImportTimeout}}
			}
			wait = t.cfg.ImportTimeout - elapsed
		}
		if err := clock.Sleep(ctx, t.c.Clock(), wait); err != nil {
			return importJob{}, err
		}
		res, err := t.c.Do(ctx, b.Call(http.MethodGet, path, nil))
		if err != nil {
			if fatal := t.fatalOrNil(ctx, err); fatal != nil {
				return importJob{}, fatal
			}
			// A permanent failure to read the job: its outcome is unknown,
			// so the batch is sent again.
			return importJob{}, &upsert.TransportError{Method: http.MethodGet, Path: path, Err: err}
		}
		var job importJob
		if err := json.Unmarshal(res.Body, &job); err != nil {
			return importJob{}, &upsert.TransportError{Method: http.MethodGet, Path: path, Err: fmt.Errorf("unreadable import job: %w", err)}
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
func (t *Target) reconcile(ctx context.Context, b *upsert.Tracker, sch *dtSchema, idxs []int, job importJob, before map[string]bool) error {
	rows := map[string]map[string]any{}
	err := t.c.EachPage(ctx, b.Maker(), t.path+"/rows", url.Values{"showbrief": {"false"}, "sortOrder": {"ascending"}}, func(raw json.RawMessage) error {
		row, err := upsert.DecodeObject(raw)
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
		return &upsert.TransportError{Method: http.MethodGet, Path: t.path + "/rows", Err: fmt.Errorf("reading back import job %s: %w", job.ID, err)}
	}
	reason := fmt.Sprintf("the import job %s skipped this row (%d of %d rows failed)", job.ID, job.CountRecordsFailed, len(idxs))
	if job.ErrorInformation != nil && job.ErrorInformation.Message != "" {
		reason += ": " + clip(t.c.Redact(job.ErrorInformation.Message))
	}
	if len(rows) >= 5000 {
		reason += fmt.Sprintf("; the table holds %d rows, the documented limit is 5,000", len(rows))
	}
	failed := 0
	for _, i := range idxs {
		it := b.Items[i]
		row, ok := rows[it.Record.Key]
		switch {
		case !ok:
			failed++
			b.Reject(i, &change.RecordError{Class: "api", Code: "import.row.failed", Message: "row not in the table after the import: " + reason})
		case !sch.rowMatches(it.Record.Data, row, true):
			failed++
			b.Reject(i, &change.RecordError{Class: "api", Code: "import.row.failed", Message: "row differs from the one sent after the import: " + reason,
				Fields: mismatchedFields(sch, it.Record.Data, row)})
		default:
			t.succeedImported(b, i, row, before)
		}
	}
	if failed != job.CountRecordsFailed {
		t.log.Warn("rows found failed differ from the import job's count", "job", job.ID,
			"found", failed, "reported", job.CountRecordsFailed)
	}
	return nil
}

func mismatchedFields(sch *dtSchema, data, row map[string]any) []change.FieldError {
	var fe []change.FieldError
	for _, f := range sch.fields {
		want := sch.expected(f, data, true)
		got, ok := row[f.name]
		if !ok || got == nil {
			got = f.def
		}
		if !sameValue(want, got) {
			fe = append(fe, change.FieldError{Field: f.name, Code: "import.mismatch", Message: fmt.Sprintf("sent %s, table holds %s", clip(fmt.Sprint(want)), clip(fmt.Sprint(got)))})
		}
	}
	return fe
}
