package customobjects

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/upsert"
)

// Upsert runs the batch checks (reference fields; unique fields, each on
// its own: of two keys sharing a value the later is rejected), then sends
// the upserts in requests of at most MaxRecords records and MaxBytes bytes
// and each delete on its own, Parallelism requests at a time. Records the API rejects are isolated (by the
// error body's entity ids, else by bisection) and the rest resent.
//
// On success the Result holds one Outcome per item, in order. The error is
// non-nil only when ctx ended, a transient failure outlived the retry
// budget (upsert.IsRetryable) or the credentials were refused
// (upsert.IsAuthFailure); the Result then has no outcomes, since the whole
// batch must be sent again.
func (t *Target) Upsert(ctx context.Context, items []change.Item) (change.Result, error) {
	b := upsert.NewTracker(items)
	if err := ctx.Err(); err != nil {
		return change.Result{}, err
	}
	t.checkBatch(b)

	// Each phase holds each key at most once, so its requests may go in any
	// order; a repeated key starts a new phase, keeping per-key order.
	var phase []int
	inPhase := map[string]bool{}
	for i := range b.Items {
		if b.Done(i) {
			continue
		}
		k := b.Items[i].Record.Key
		if inPhase[k] {
			if err := t.runPhase(ctx, b, phase); err != nil {
				return b.Failed(), err
			}
			phase = phase[:0]
			clear(inPhase)
		}
		inPhase[k] = true
		phase = append(phase, i)
	}
	if err := t.runPhase(ctx, b, phase); err != nil {
		return b.Failed(), err
	}
	return b.Result(), nil
}

// checkBatch rejects items that are not prepared, lack references or break
// a unique field.
func (t *Target) checkBatch(b *upsert.Tracker) {
	for i, it := range b.Items {
		if rerr := it.Record.Check(); rerr != nil {
			b.Reject(i, rerr)
			continue
		}
		if it.Record.Op != change.OpUpsert {
			continue
		}
		if it.Body == nil {
			prepared, rerr := t.Prepare(it.Record)
			if rerr != nil {
				b.Reject(i, rerr)
				continue
			}
			b.Items[i] = prepared
			it = prepared
		}
		if rerr := t.checkReferences(it.Record.Data); rerr != nil {
			b.Reject(i, rerr)
		}
	}
	if len(t.cfg.UniqueFields) == 0 {
		return
	}
	owners := upsert.NewUniqueSet(t.cfg.UniqueFields)
	for i, it := range b.Items {
		if b.Done(i) || it.Record.Op != change.OpUpsert {
			continue
		}
		vals := owners.Values(it.Record.Data)
		var fe []change.FieldError
		for f, v := range vals {
			if owner, taken := owners.Owner(f, v); v != "" && taken && owner != it.Record.Key {
				fe = append(fe, change.FieldError{Field: owners.Fields[f], Code: "unique", Message: fmt.Sprintf("value also used by key %q in this batch", owner)})
			}
		}
		if fe != nil {
			b.Reject(i, &change.RecordError{Class: change.ClassUnique, Code: "unique.violation", Message: upsert.Summarize("unique field value repeated in the batch", fe), Fields: fe})
			continue
		}
		owners.Claim(it.Record.Key, vals)
	}
}

func (t *Target) runPhase(ctx context.Context, b *upsert.Tracker, idxs []int) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(t.cfg.Parallelism)
	var chunk []int
	size := 0
	for _, i := range idxs {
		if b.Items[i].Record.Op != change.OpUpsert {
			continue
		}
		n := b.Items[i].Size()
		if len(chunk) > 0 && (len(chunk)+1 > t.limits.MaxRecords || t.limits.BodySize(len(chunk)+1, size+n) > t.limits.MaxBytes) {
			c := chunk
			g.Go(func() error { return t.send(gctx, b, c) })
			chunk, size = nil, 0
		}
		chunk = append(chunk, i)
		size += n
	}
	if len(chunk) > 0 {
		g.Go(func() error { return t.send(gctx, b, chunk) })
	}
	for _, i := range idxs {
		if b.Items[i].Record.Op == change.OpDelete {
			g.Go(func() error { return t.delete(gctx, b, i) })
		}
	}
	err := g.Wait()
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return err
}

// body frames items: prefix, items joined by the separator, suffix.
func (t *Target) body(items []change.Item, idxs []int) []byte {
	n := 0
	for _, i := range idxs {
		n += items[i].Size()
	}
	b := make([]byte, 0, t.limits.BodySize(len(idxs), n))
	b = append(b, bodyPrefix...)
	for j, i := range idxs {
		if j > 0 {
			b = append(b, ',')
		}
		b = append(b, items[i].Body...)
	}
	return append(b, bodySuffix...)
}

// send posts one request of upserts and isolates rejected records.
func (t *Target) send(ctx context.Context, b *upsert.Tracker, idxs []int) error {
	res, err := t.c.Do(ctx, b.Call(http.MethodPost, t.path, t.body(b.Items, idxs), idxs...))
	if err == nil {
		t.applyResults(b, idxs, res.Body)
		return nil
	}
	se, rej, fatal := upsert.Sort(ctx, err)
	if fatal != nil {
		return fatal
	}
	if rej != nil {
		for _, i := range idxs {
			b.Reject(i, rej)
		}
		return nil
	}
	bisect := func() error {
		h := len(idxs) / 2
		if err := t.send(ctx, b, idxs[:h:h]); err != nil {
			return err
		}
		return t.send(ctx, b, idxs[h:])
	}
	switch se.Status {
	case http.StatusBadRequest, http.StatusConflict, http.StatusUnprocessableEntity:
		named := namedOffenders(se, b.Items, idxs)
		if len(named) > 0 {
			rest := make([]int, 0, len(idxs)-len(named))
			for _, i := range idxs {
				if eb, ok := named[i]; ok {
					b.Reject(i, upsert.EntityRejection(se, eb))
				} else {
					rest = append(rest, i)
				}
			}
			if len(rest) == 0 {
				return nil
			}
			return t.send(ctx, b, rest)
		}
		if len(idxs) == 1 {
			b.Reject(idxs[0], upsert.Rejection(se))
			return nil
		}
		return bisect()
	case http.StatusRequestEntityTooLarge:
		if len(idxs) == 1 {
			rerr := upsert.Rejection(se)
			rerr.Class, rerr.Code = change.ClassAPI, "request.entity.too.large"
			b.Reject(idxs[0], rerr)
			return nil
		}
		return bisect()
	}
	rerr := upsert.Rejection(se)
	rerr.Class = change.ClassAPI
	for _, i := range idxs {
		b.Reject(i, rerr)
	}
	return nil
}

type recordResult struct {
	ID     string          `json:"id"`
	Status string          `json:"status"`
	Record json.RawMessage `json:"record"`
}

// applyResults turns a 200 into outcomes. Results are matched by id, else
// by position; a record without a result counts as updated and its sent
// form as written.
func (t *Target) applyResults(b *upsert.Tracker, idxs []int, body []byte) {
	var parsed struct {
		Results []recordResult `json:"results"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&parsed); err != nil {
		t.c.Logger().Warn("unreadable success response", "target", "customobjects", "schema", t.cfg.Schema, "error", err.Error())
	}
	byID := make(map[string][]int, len(parsed.Results))
	for j, r := range parsed.Results {
		byID[r.ID] = append(byID[r.ID], j)
	}
	for pos, i := range idxs {
		key := b.Items[i].Record.Key
		j := -1
		if q := byID[key]; len(q) > 0 {
			j, byID[key] = q[0], q[1:]
		} else if len(parsed.Results) == len(idxs) && parsed.Results[pos].ID == "" {
			j = pos
		}
		if j < 0 {
			b.Succeed(i, change.StatusUpdated, sentRecord(b.Items[i]), nil)
			continue
		}
		r := parsed.Results[j]
		status := change.StatusUpdated
		if strings.EqualFold(r.Status, "created") {
			status = change.StatusCreated
		}
		if raw := bytes.TrimSpace(r.Record); len(raw) > 0 && raw[0] == '{' {
			b.Succeed(i, status, nil, raw)
			continue
		}
		b.Succeed(i, status, sentRecord(b.Items[i]), nil)
	}
}

func sentRecord(it change.Item) map[string]any {
	m, err := upsert.DecodeObject(it.Body)
	if err != nil {
		return nil
	}
	return m
}

func (t *Target) delete(ctx context.Context, b *upsert.Tracker, i int) error {
	path := t.path + "/" + upsert.PathSegment(b.Items[i].Record.Key)
	_, err := t.c.Do(ctx, b.Call(http.MethodDelete, path, nil, i))
	if err == nil {
		b.Succeed(i, change.StatusDeleted, nil, nil)
		return nil
	}
	se, rej, fatal := upsert.Sort(ctx, err)
	switch {
	case fatal != nil:
		return fatal
	case rej != nil:
		b.Reject(i, rej)
	case se.Status == http.StatusNotFound:
		b.Succeed(i, change.StatusDeleted, nil, nil)
	default:
		b.Reject(i, upsert.Rejection(se))
	}
	return nil
}

// namedOffenders maps the request's items to the error entries naming them
// by entityId (errors[], the body itself, or details[]).
func namedOffenders(se *upsert.StatusError, items []change.Item, idxs []int) map[int]*upsert.ErrorBody {
	if se.Body == nil {
		return nil
	}
	byKey := make(map[string]int, len(idxs))
	for _, i := range idxs {
		byKey[items[i].Record.Key] = i
	}
	named := map[int]*upsert.ErrorBody{}
	add := func(id string, eb *upsert.ErrorBody) {
		if i, ok := byKey[id]; ok && id != "" {
			if prev, dup := named[i]; dup && prev != eb {
				merged := *prev
				merged.Details = append(append([]upsert.ErrorDetail(nil), prev.Details...), eb.Details...)
				named[i] = &merged
				return
			}
			named[i] = eb
		}
	}
	for k := range se.Body.Errors {
		eb := &se.Body.Errors[k]
		if eb.EntityID != "" {
			add(eb.EntityID, eb)
			continue
		}
		for _, d := range eb.Details {
			add(d.EntityID, &upsert.ErrorBody{Code: eb.Code, Message: eb.Message, Status: eb.Status, Details: []upsert.ErrorDetail{d}})
		}
	}
	if se.Body.EntityID != "" {
		add(se.Body.EntityID, se.Body)
	} else if len(se.Body.Errors) == 0 {
		for _, d := range se.Body.Details {
			add(d.EntityID, &upsert.ErrorBody{Code: se.Body.Code, Message: se.Body.Message, Status: se.Status, Details: []upsert.ErrorDetail{d}})
		}
	}
	return named
}
