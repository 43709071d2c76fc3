package datatables

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/upsert"
)

// Upsert refreshes the schema when due, runs the batch checks (reference
// fields, then unique fields within the batch and against the table),
// then writes: a batch of at least ImportThreshold upserts as CSV import
// jobs, otherwise one request per row with RowsParallelism in flight (the
// writes of one key in order). Deletes remove the row; a missing row counts
// as deleted.
//
// The Result holds one Outcome per item, in order. The error is non-nil
// only when ctx ended, a transient failure outlived the retry budget
// (IsRetryable) or the credentials were refused (IsAuthFailure); the Result
// then has no outcomes and the batch must be sent again.
func (t *Target) Upsert(ctx context.Context, items []change.Item) (change.Result, error) {
	b := upsert.NewTracker(items)
	if err := ctx.Err(); err != nil {
		return change.Result{}, err
	}
	deferred := false
	for _, it := range items {
		if it.Record.Op == change.OpUpsert && it.Body == nil {
			deferred = true
		}
	}
	if err := t.refreshSchema(ctx, deferred); err != nil {
		return b.Failed(), err
	}
	sch := t.currentSchema()
	for i, it := range b.Items {
		if rerr := it.Record.Check(); rerr != nil {
			b.Reject(i, rerr)
			continue
		}
		if it.Record.Op == change.OpUpsert && it.Body == nil {
			p, rerr := t.prepare(sch, it.Record, false)
			if rerr != nil {
				b.Reject(i, rerr)
				continue
			}
			b.Items[i] = p
		}
	}
	if err := t.checkReferences(ctx, b); err != nil {
		return b.Failed(), err
	}
	if err := t.checkUnique(ctx, b); err != nil {
		return b.Failed(), err
	}

	var ups, rest []int
	keyCount := map[string]int{}
	for i, it := range b.Items {
		if !b.Done(i) {
			keyCount[it.Record.Key]++
		}
	}
	for i, it := range b.Items {
		if b.Done(i) {
			continue
		}
		if it.Record.Op == change.OpUpsert && keyCount[it.Record.Key] == 1 {
			ups = append(ups, i)
		} else {
			rest = append(rest, i)
		}
	}
	if t.importOn() && len(ups) >= t.cfg.ImportThreshold {
		if err := t.runImport(ctx, b, ups); err != nil {
			return b.Failed(), err
		}
	} else {
		rest = mergeSorted(rest, ups)
	}
	if err := t.runRows(ctx, b, rest); err != nil {
		return b.Failed(), err
	}
	t.noteWrites(b)
	return b.Result(), nil
}

func mergeSorted(a, b []int) []int {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return out
}

// noteWrites keeps the unique index current with the batch's writes.
func (t *Target) noteWrites(b *upsert.Tracker) {
	if t.index == nil {
		return
	}
	for i := range b.Items {
		switch b.Status(i) {
		case change.StatusCreated, change.StatusUpdated:
			t.index.put(b.Items[i].Record.Key, b.Items[i].Record.Data)
		case change.StatusDeleted:
			t.index.remove(b.Items[i].Record.Key)
		}
	}
}

// runRows writes the items idxs one request each, RowsParallelism at a
// time, the items of one key in order. The first fatal error cancels the
// rest and is returned.
func (t *Target) runRows(ctx context.Context, b *upsert.Tracker, idxs []int) error {
	var order []string
	groups := map[string][]int{}
	for _, i := range idxs {
		k := b.Items[i].Record.Key
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(t.cfg.RowsParallelism)
	for _, k := range order {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			for _, i := range groups[k] {
				if err := t.writeRow(gctx, b, i); err != nil {
					return err
				}
			}
			return nil
		})
	}
	err := g.Wait()
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return err
}

func (t *Target) rowPath(key string) string {
	return t.path + "/rows/" + upsert.PathSegment(key)
}

// outcomeOf sorts a failed request's error (upsert.Sort): fatal errors are
// returned; a permanent status error is returned as se; other permanent
// errors reject item i.
func (t *Target) outcomeOf(ctx context.Context, b *upsert.Tracker, i int, err error) (se *upsert.StatusError, fatal error) {
	se, rej, fatal := upsert.Sort(ctx, err)
	if rej != nil {
		b.Reject(i, rej)
	}
	return se, fatal
}

func isTableMissing(se *upsert.StatusError) bool {
	return se.Status == http.StatusNotFound && se.Code == upsert.CodeTableNotFound
}

func isRowMissing(se *upsert.StatusError) bool {
	return se.Status == http.StatusNotFound && se.Code != upsert.CodeTableNotFound
}

// isDuplicate reports whether a POST failed because the key exists: 409,
// or 400 with a code or message saying so.
func isDuplicate(se *upsert.StatusError) bool {
	if se.Status == http.StatusConflict {
		return true
	}
	if se.Status != http.StatusBadRequest {
		return false
	}
	s := strings.ToLower(se.Code + " " + se.Message)
	for _, w := range []string{"duplicate", "already exist", "already.exist", "exists"} {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// rejectStatus rejects item i for a permanent API error.
func (t *Target) rejectStatus(b *upsert.Tracker, i int, se *upsert.StatusError) {
	e := upsert.Rejection(se)
	switch {
	case isTableMissing(se):
		e.Class = "api"
		t.markStale()
	case se.Status == http.StatusBadRequest && strings.Contains(se.Code, "syntax"):
		t.markStale()
	}
	b.Reject(i, e)
}

func (t *Target) markStale() {
	t.mu.Lock()
	t.stale = true
	t.mu.Unlock()
}

func rowMissingError(se *upsert.StatusError) *change.RecordError {
	e := &change.RecordError{Class: "conflict", Code: "record.not.found", Message: "updateOnly: the row does not exist"}
	if se != nil {
		e.Status, e.CorrelationID = se.Status, se.CorrelationID
	}
	return e
}

func rowExistsError(se *upsert.StatusError) *change.RecordError {
	e := &change.RecordError{Class: "conflict", Code: "record.exists", Message: "createOnly: the row already exists"}
	if se != nil {
		e.Status, e.CorrelationID = se.Status, se.CorrelationID
		if se.Message != "" {
			e.Message += " (" + se.Message + ")"
		}
	}
	return e
}

// rowWrite is one item being written with the rows API.
type rowWrite struct {
	t    *Target
	b    *upsert.Tracker
	i    int
	key  string
	data map[string]any
	body []byte
}

// send makes one request; on success the item is done with status st.
// It returns done, or the permanent API answer, or a fatal error.
func (w *rowWrite) send(ctx context.Context, method, path string, st change.Status) (done bool, se *upsert.StatusError, err error) {
	res, err := w.t.c.Do(ctx, w.b.Call(method, path, w.body, w.i))
	if err != nil {
		se, err = w.t.outcomeOf(ctx, w.b, w.i, err)
		return false, se, err
	}
	w.b.Succeed(w.i, st, writtenRow(res.Body, w.key, w.data), nil)
	return true, nil, nil
}

func (w *rowWrite) post(ctx context.Context) (bool, *upsert.StatusError, error) {
	return w.send(ctx, http.MethodPost, w.t.path+"/rows", change.StatusCreated)
}

func (w *rowWrite) put(ctx context.Context) (bool, *upsert.StatusError, error) {
	return w.send(ctx, http.MethodPut, w.t.rowPath(w.key), change.StatusUpdated)
}

// writeRow writes item i with the rows API. It returns only fatal errors.
func (t *Target) writeRow(ctx context.Context, b *upsert.Tracker, i int) error {
	it := b.Items[i]
	if it.Record.Op == change.OpDelete {
		return t.deleteRow(ctx, b, i)
	}
	w := &rowWrite{t: t, b: b, i: i, key: it.Record.Key, data: it.Record.Data, body: it.Body}
	if t.importOn() || w.body == nil {
		var err error
		if w.body, err = rowJSON(w.key, w.data); err != nil {
			b.Reject(i, &change.RecordError{Class: change.ClassValidation, Code: "record.encoding", Message: err.Error()})
			return nil
		}
	}
	switch t.cfg.Conflict {
	case change.ConflictCreateOnly:
		return t.createOnly(ctx, w)
	case change.ConflictUpdateOnly:
		return t.updateOnly(ctx, w)
	}
	return t.upsertRow(ctx, w)
}

// createOnly POSTs; an existing row is rejected.
func (t *Target) createOnly(ctx context.Context, w *rowWrite) error {
	ok, se, err := w.post(ctx)
	if ok || err != nil || se == nil {
		return err
	}
	if isDuplicate(se) {
		w.b.Reject(w.i, rowExistsError(se))
		return nil
	}
	t.rejectStatus(w.b, w.i, se)
	return nil
}

// updateOnly PUTs a row known to exist; a missing row is rejected.
func (t *Target) updateOnly(ctx context.Context, w *rowWrite) error {
	exists, known := t.indexHas(w.key)
	if !t.cfg.PutMissingIs404 && !(known && exists) {
		found, err := t.rowExists(ctx, w.b, w.i)
		if err != nil || w.b.Done(w.i) {
			return err
		}
		if !found {
			w.b.Reject(w.i, rowMissingError(nil))
			return nil
		}
	}
	ok, se, err := w.put(ctx)
	if ok || err != nil || se == nil {
		return err
	}
	if isRowMissing(se) {
		w.b.Reject(w.i, rowMissingError(se))
		return nil
	}
	t.rejectStatus(w.b, w.i, se)
	return nil
}

// upsertRow updates the row, else creates it. The first request follows
// what the index knows; without it, PUT first (most writes of a change
// stream are updates).
func (t *Target) upsertRow(ctx context.Context, w *rowWrite) error {
	if exists, known := t.indexHas(w.key); known && !exists {
		ok, se, err := w.post(ctx)
		if ok || err != nil || se == nil {
			return err
		}
		if !isDuplicate(se) {
			t.rejectStatus(w.b, w.i, se)
			return nil
		}
	}
	ok, se, err := w.put(ctx)
	if ok || err != nil || se == nil {
		return err
	}
	if !isRowMissing(se) {
		t.rejectStatus(w.b, w.i, se)
		return nil
	}
	ok, se, err = w.post(ctx)
	if ok || err != nil || se == nil {
		return err
	}
	if !isDuplicate(se) {
		t.rejectStatus(w.b, w.i, se)
		return nil
	}
	// Created by someone else between the PUT and the POST.
	ok, se, err = w.put(ctx)
	if ok || err != nil || se == nil {
		return err
	}
	t.rejectStatus(w.b, w.i, se)
	return nil
}

// indexHas is what the unique index knows of key (known false without one).
func (t *Target) indexHas(key string) (exists, known bool) {
	if t.index == nil {
		return false, false
	}
	return t.index.has(key)
}

// rowExists reads the row (brief). A missing table rejects item i.
func (t *Target) rowExists(ctx context.Context, b *upsert.Tracker, i int) (bool, error) {
	_, err := t.c.Do(ctx, b.Call(http.MethodGet, t.rowPath(b.Items[i].Record.Key)+"?showbrief=true", nil, i))
	if err == nil {
		return true, nil
	}
	se, fatal := t.outcomeOf(ctx, b, i, err)
	if fatal != nil || se == nil {
		return false, fatal
	}
	if isRowMissing(se) {
		return false, nil
	}
	t.rejectStatus(b, i, se)
	return false, nil
}

func (t *Target) deleteRow(ctx context.Context, b *upsert.Tracker, i int) error {
	_, err := t.c.Do(ctx, b.Call(http.MethodDelete, t.rowPath(b.Items[i].Record.Key), nil, i))
	if err == nil {
		b.Succeed(i, change.StatusDeleted, nil, nil)
		return nil
	}
	se, fatal := t.outcomeOf(ctx, b, i, err)
	if fatal != nil || se == nil {
		return fatal
	}
	if isRowMissing(se) {
		b.Succeed(i, change.StatusDeleted, nil, nil)
		return nil
	}
	t.rejectStatus(b, i, se)
	return nil
}

// writtenRow is the row a response returned, else the row sent.
func writtenRow(body []byte, key string, data map[string]any) map[string]any {
	if m, err := upsert.DecodeObject(body); err == nil && m != nil {
		return m
	}
	m := make(map[string]any, len(data)+1)
	for k, v := range data {
		m[k] = v
	}
	m["key"] = key
	return m
}
