package upsert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Custom objects batch limits (also the hard maxima).
const (
	CustomObjectsMaxRecords = 100
	CustomObjectsMaxBytes   = 2 << 20
)

var (
	bodyPrefix = []byte(`{"records":[`)
	bodySuffix = []byte(`]}`)
)

// Limits describes the requests of a target, so that a batcher can size
// the body that is actually sent: a body of n items is Overhead bytes of
// framing, the items, and Separator bytes between consecutive items.
type Limits struct {
	MaxRecords int
	MaxBytes   int
	Overhead   int
	Separator  int
}

// BodySize is the exact size of a body with n items totalling itemBytes.
func (l Limits) BodySize(n, itemBytes int) int {
	if n <= 0 {
		return l.Overhead
	}
	return l.Overhead + itemBytes + (n-1)*l.Separator
}

// CustomObjectsConfig configures a CustomObjects target.
type CustomObjectsConfig struct {
	// Schema is the custom object schema name (path segment of the API).
	Schema string
	// SchemaJSON is the JSON Schema of the record fields, without the
	// "id" and "conflictResolution" the body adds. Empty means no schema
	// validation.
	SchemaJSON []byte
	// Conflict is sent with every record; default ConflictUpsert.
	Conflict Conflict
	// UniqueFields must not share a value between two keys of one batch;
	// each field is checked on its own.
	UniqueFields []string
	// ReferenceFields must be present and non-empty.
	ReferenceFields []string
	// MaxRecords and MaxBytes bound one request; defaults and maxima are
	// CustomObjectsMaxRecords and CustomObjectsMaxBytes.
	MaxRecords int
	MaxBytes   int
}

// CustomObjects is the "customobjects" target: batch upserts with
// POST /api/v2/customobjects/{schema}/records and per-record deletes.
// It is safe for concurrent use.
type CustomObjects struct {
	c         *Client
	schema    string
	path      string
	validator *jsonschema.Schema
	conflict  Conflict
	unique    []string
	refs      []string
	limits    Limits
}

// NewCustomObjects validates cfg and returns the target.
func NewCustomObjects(c *Client, cfg CustomObjectsConfig) (*CustomObjects, error) {
	if c == nil {
		return nil, errors.New("upsert: customobjects needs a client")
	}
	if strings.TrimSpace(cfg.Schema) == "" {
		return nil, errors.New("upsert: customobjects needs a schema name")
	}
	t := &CustomObjects{
		c:      c,
		schema: cfg.Schema,
		path:   "/api/v2/customobjects/" + url.PathEscape(cfg.Schema) + "/records",
		unique: append([]string(nil), cfg.UniqueFields...),
		refs:   append([]string(nil), cfg.ReferenceFields...),
	}
	t.conflict = cfg.Conflict
	if t.conflict == "" {
		t.conflict = ConflictUpsert
	}
	if _, err := ParseConflict(string(t.conflict)); err != nil {
		return nil, fmt.Errorf("upsert: %w", err)
	}
	for _, f := range append(t.unique, t.refs...) {
		if f == "" {
			return nil, errors.New("upsert: unique and reference field names must not be empty")
		}
	}
	t.limits = Limits{
		MaxRecords: cfg.MaxRecords,
		MaxBytes:   cfg.MaxBytes,
		Overhead:   len(bodyPrefix) + len(bodySuffix),
		Separator:  1,
	}
	switch {
	case t.limits.MaxRecords == 0:
		t.limits.MaxRecords = CustomObjectsMaxRecords
	case t.limits.MaxRecords < 0 || t.limits.MaxRecords > CustomObjectsMaxRecords:
		return nil, fmt.Errorf("upsert: max records %d must be within 1..%d", cfg.MaxRecords, CustomObjectsMaxRecords)
	}
	switch {
	case t.limits.MaxBytes == 0:
		t.limits.MaxBytes = CustomObjectsMaxBytes
	case t.limits.MaxBytes <= t.limits.Overhead || t.limits.MaxBytes > CustomObjectsMaxBytes:
		return nil, fmt.Errorf("upsert: max bytes %d must be within %d..%d", cfg.MaxBytes, t.limits.Overhead+1, CustomObjectsMaxBytes)
	}
	if len(bytes.TrimSpace(cfg.SchemaJSON)) > 0 {
		sch, err := compileSchema(cfg.Schema, cfg.SchemaJSON)
		if err != nil {
			return nil, err
		}
		t.validator = sch
	}
	return t, nil
}

// Name returns "customobjects".
func (t *CustomObjects) Name() string { return "customobjects" }

// Schema returns the schema name.
func (t *CustomObjects) Schema() string { return t.schema }

// Limits returns the request limits and body framing.
func (t *CustomObjects) Limits() Limits { return t.limits }

// Prepare validates one record and encodes it. Deletes need only a key and
// get no body. An upsert's fields are checked against the JSON Schema
// (class "validation", code "schema.violation", one FieldError per
// violation) and the reference fields (class "reference", code
// "reference.missing"); its body is the field object plus "id" and
// "conflictResolution", keys sorted. A record whose body alone would exceed
// MaxBytes is rejected with code "record.too.large".
func (t *CustomObjects) Prepare(rec Record) (Item, *RecordError) {
	if rec.Key == "" {
		return Item{}, &RecordError{Class: "validation", Code: "key.missing", Message: "record has no key"}
	}
	switch rec.Op {
	case OpDelete:
		return Item{Record: rec}, nil
	case OpUpsert:
	default:
		return Item{}, &RecordError{Class: "validation", Code: "op.unknown", Message: fmt.Sprintf("unknown operation %q", rec.Op)}
	}
	data := rec.Data
	if data == nil {
		data = map[string]any{}
	}
	if fe := t.reservedFields(rec.Key, data); fe != nil {
		return Item{}, &RecordError{Class: "validation", Code: "field.reserved", Message: summarize("record sets a field the request reserves", fe), Fields: fe}
	}
	if t.validator != nil {
		fe, err := validateFields(t.validator, data)
		if err != nil {
			return Item{}, &RecordError{Class: "validation", Code: "record.encoding", Message: "record cannot be checked: " + err.Error()}
		}
		if len(fe) > 0 {
			return Item{}, &RecordError{Class: "validation", Code: "schema.violation", Message: summarize("record violates the schema", fe), Fields: fe}
		}
	}
	if rerr := t.checkReferences(data); rerr != nil {
		return Item{}, rerr
	}
	body, err := t.encode(rec.Key, data)
	if err != nil {
		return Item{}, &RecordError{Class: "validation", Code: "record.encoding", Message: "record cannot be encoded as JSON: " + err.Error()}
	}
	if size := t.limits.BodySize(1, len(body)); size > t.limits.MaxBytes {
		return Item{}, &RecordError{Class: "validation", Code: "record.too.large",
			Message: fmt.Sprintf("record needs a %d-byte request, the limit is %d bytes", size, t.limits.MaxBytes)}
	}
	return Item{Record: rec, Body: body}, nil
}

func (t *CustomObjects) reservedFields(key string, data map[string]any) []FieldError {
	var fe []FieldError
	if v, ok := data["id"]; ok {
		if s, isStr := v.(string); !isStr || s != key {
			fe = append(fe, FieldError{Field: "id", Code: "reserved", Message: "differs from the record key"})
		}
	}
	if v, ok := data["conflictResolution"]; ok {
		if s, isStr := v.(string); !isStr || Conflict(s) != t.conflict {
			fe = append(fe, FieldError{Field: "conflictResolution", Code: "reserved", Message: "differs from the route's conflict resolution"})
		}
	}
	return fe
}

func (t *CustomObjects) checkReferences(data map[string]any) *RecordError {
	var fe []FieldError
	for _, f := range t.refs {
		v, ok := data[f]
		if !ok || v == nil {
			fe = append(fe, FieldError{Field: f, Code: "reference.missing", Message: "reference field is missing"})
			continue
		}
		if s, isStr := v.(string); isStr && strings.TrimSpace(s) == "" {
			fe = append(fe, FieldError{Field: f, Code: "reference.missing", Message: "reference field is empty"})
		}
	}
	if fe == nil {
		return nil
	}
	return &RecordError{Class: "reference", Code: "reference.missing", Message: summarize("record lacks a reference", fe), Fields: fe}
}

// encode writes the record object with sorted keys and no HTML escaping.
func (t *CustomObjects) encode(key string, data map[string]any) ([]byte, error) {
	m := make(map[string]any, len(data)+2)
	for k, v := range data {
		m[k] = v
	}
	m["id"] = key
	m["conflictResolution"] = string(t.conflict)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// body frames items: prefix, items joined by the separator, suffix.
func (t *CustomObjects) body(items []Item, idxs []int) []byte {
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

// batch tracks the outcomes of one Upsert call. Upsert runs its requests
// one after another, so batch needs no lock.
type batch struct {
	items    []Item
	outcomes []Outcome
	done     []bool
	attempts int
	corr     []string
	seenCorr map[string]bool
}

func (b *batch) reject(i int, e *RecordError) {
	b.outcomes[i].Status = StatusRejected
	b.outcomes[i].Err = e
	b.outcomes[i].Written, b.outcomes[i].WrittenJSON = nil, nil
	b.done[i] = true
}

// succeed records a success; the record as written is written, or raw (a
// JSON object as the API returned it) when written is nil.
func (b *batch) succeed(i int, s Status, written map[string]any, raw json.RawMessage) {
	b.outcomes[i].Status = s
	b.outcomes[i].Written, b.outcomes[i].WrittenJSON = written, raw
	b.outcomes[i].Err = nil
	b.done[i] = true
}

func (b *batch) call(method, path string, body []byte, idxs []int) call {
	return call{
		method: method,
		path:   path,
		body:   body,
		onAttempt: func() {
			b.attempts++
			for _, i := range idxs {
				b.outcomes[i].Attempts++
			}
		},
		onCorrelation: func(id string) {
			if !b.seenCorr[id] {
				b.seenCorr[id] = true
				b.corr = append(b.corr, id)
			}
		},
	}
}

// Upsert runs the batch checks (reference fields; unique fields, each on
// its own: of two keys sharing a value the later is rejected), then sends
// the upserts in requests of at most MaxRecords records and MaxBytes bytes
// and each delete on its own. Records the API rejects are isolated (by the
// error body's entity ids, else by bisection) and the rest resent.
//
// On success the Result holds one Outcome per item, in order. The error is
// non-nil only when ctx ended, a transient failure outlived the retry
// budget (IsRetryable(err) is true) or the credentials were refused
// (IsAuthFailure(err) is true); the Result then has no outcomes, since the
// whole batch must be sent again.
func (t *CustomObjects) Upsert(ctx context.Context, items []Item) (Result, error) {
	b := &batch{
		items:    slices.Clone(items),
		outcomes: make([]Outcome, len(items)),
		done:     make([]bool, len(items)),
		seenCorr: map[string]bool{},
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	t.checkBatch(b)

	// Each phase holds each key at most once, so its requests may go in any
	// order; a repeated key starts a new phase, keeping per-key order.
	var phase []int
	inPhase := map[string]bool{}
	for i := range items {
		if b.done[i] {
			continue
		}
		k := items[i].Record.Key
		if inPhase[k] {
			if err := t.runPhase(ctx, b, phase); err != nil {
				return b.failed(), err
			}
			phase = phase[:0]
			clear(inPhase)
		}
		inPhase[k] = true
		phase = append(phase, i)
	}
	if err := t.runPhase(ctx, b, phase); err != nil {
		return b.failed(), err
	}
	return Result{Outcomes: b.outcomes, Attempts: b.attempts, CorrelationIDs: b.corr}, nil
}

func (b *batch) failed() Result {
	return Result{Attempts: b.attempts, CorrelationIDs: b.corr}
}

// checkBatch rejects items that are not prepared, lack references or break
// a unique field.
func (t *CustomObjects) checkBatch(b *batch) {
	for i, it := range b.items {
		switch it.Record.Op {
		case OpDelete:
			if it.Record.Key == "" {
				b.reject(i, &RecordError{Class: "validation", Code: "key.missing", Message: "record has no key"})
			}
			continue
		case OpUpsert:
		default:
			b.reject(i, &RecordError{Class: "validation", Code: "op.unknown", Message: fmt.Sprintf("unknown operation %q", it.Record.Op)})
			continue
		}
		if it.Body == nil {
			prepared, rerr := t.Prepare(it.Record)
			if rerr != nil {
				b.reject(i, rerr)
				continue
			}
			b.items[i] = prepared
			it = prepared
		}
		if rerr := t.checkReferences(it.Record.Data); rerr != nil {
			b.reject(i, rerr)
		}
	}
	if len(t.unique) == 0 {
		return
	}
	owners := make([]map[string]string, len(t.unique)) // per field: value -> key
	for f := range owners {
		owners[f] = map[string]string{}
	}
	vals := make([]string, len(t.unique))
	for i, it := range b.items {
		if b.done[i] || it.Record.Op != OpUpsert {
			continue
		}
		var fe []FieldError
		for f, name := range t.unique {
			vals[f] = ""
			v, ok := it.Record.Data[name]
			if !ok || v == nil {
				continue
			}
			vals[f] = uniqueValue(v)
			if owner, taken := owners[f][vals[f]]; taken && owner != it.Record.Key {
				fe = append(fe, FieldError{Field: name, Code: "unique", Message: fmt.Sprintf("value also used by key %q in this batch", owner)})
			}
		}
		if fe != nil {
			b.reject(i, &RecordError{Class: "unique", Code: "unique.violation", Message: summarize("unique field value repeated in the batch", fe), Fields: fe})
			continue
		}
		for f := range t.unique {
			if vals[f] != "" {
				owners[f][vals[f]] = it.Record.Key
			}
		}
	}
}

func uniqueValue(v any) string {
	if s, ok := v.(string); ok {
		return "s:" + s
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("g:%v", v)
	}
	return "j:" + string(raw)
}

func (t *CustomObjects) runPhase(ctx context.Context, b *batch, idxs []int) error {
	var chunk []int
	size := 0
	for _, i := range idxs {
		if b.items[i].Record.Op != OpUpsert {
			continue
		}
		n := b.items[i].Size()
		if len(chunk) > 0 && (len(chunk)+1 > t.limits.MaxRecords || t.limits.BodySize(len(chunk)+1, size+n) > t.limits.MaxBytes) {
			if err := t.send(ctx, b, chunk); err != nil {
				return err
			}
			chunk, size = nil, 0
		}
		chunk = append(chunk, i)
		size += n
	}
	if len(chunk) > 0 {
		if err := t.send(ctx, b, chunk); err != nil {
			return err
		}
	}
	for _, i := range idxs {
		if b.items[i].Record.Op == OpDelete {
			if err := t.delete(ctx, b, i); err != nil {
				return err
			}
		}
	}
	return nil
}

// send posts one request of upserts and isolates rejected records.
func (t *CustomObjects) send(ctx context.Context, b *batch, idxs []int) error {
	res, err := t.c.do(ctx, b.call(http.MethodPost, t.path, t.body(b.items, idxs), idxs))
	if err == nil {
		t.applyResults(b, idxs, res.body)
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if IsAuthFailure(err) {
		return err
	}
	var se *StatusError
	if !errors.As(err, &se) {
		if IsRetryable(err) {
			return err
		}
		rerr := requestRecordError(err)
		for _, i := range idxs {
			b.reject(i, rerr)
		}
		return nil
	}
	if IsRetryable(se) {
		return err
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
		named := namedOffenders(se, b.items, idxs)
		if len(named) > 0 {
			rest := make([]int, 0, len(idxs)-len(named))
			for _, i := range idxs {
				if eb, ok := named[i]; ok {
					b.reject(i, entityRecordError(se, eb))
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
			b.reject(idxs[0], wholeRecordError(se))
			return nil
		}
		return bisect()
	case http.StatusRequestEntityTooLarge:
		if len(idxs) == 1 {
			rerr := wholeRecordError(se)
			rerr.Class = "api"
			rerr.Code = "request.entity.too.large"
			b.reject(idxs[0], rerr)
			return nil
		}
		return bisect()
	}
	rerr := wholeRecordError(se)
	rerr.Class = "api"
	for _, i := range idxs {
		b.reject(i, rerr)
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
func (t *CustomObjects) applyResults(b *batch, idxs []int, body []byte) {
	var parsed struct {
		Results []recordResult `json:"results"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&parsed); err != nil {
		t.c.log.Warn("customobjects: unreadable success response", "schema", t.schema, "error", err.Error())
	}
	byID := make(map[string][]int, len(parsed.Results))
	for j, r := range parsed.Results {
		byID[r.ID] = append(byID[r.ID], j)
	}
	for pos, i := range idxs {
		key := b.items[i].Record.Key
		j := -1
		if q := byID[key]; len(q) > 0 {
			j, byID[key] = q[0], q[1:]
		} else if len(parsed.Results) == len(idxs) && parsed.Results[pos].ID == "" {
			j = pos
		}
		if j < 0 {
			b.succeed(i, StatusUpdated, sentRecord(b.items[i]), nil)
			continue
		}
		r := parsed.Results[j]
		status := StatusUpdated
		if strings.EqualFold(r.Status, "created") {
			status = StatusCreated
		}
		if raw := bytes.TrimSpace(r.Record); len(raw) > 0 && raw[0] == '{' {
			b.succeed(i, status, nil, raw)
			continue
		}
		b.succeed(i, status, sentRecord(b.items[i]), nil)
	}
}

func sentRecord(it Item) map[string]any {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(it.Body))
	dec.UseNumber()
	if dec.Decode(&m) != nil {
		return nil
	}
	return m
}

func (t *CustomObjects) delete(ctx context.Context, b *batch, i int) error {
	path := t.path + "/" + url.PathEscape(b.items[i].Record.Key)
	_, err := t.c.do(ctx, b.call(http.MethodDelete, path, nil, []int{i}))
	if err == nil {
		b.succeed(i, StatusDeleted, nil, nil)
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if IsRetryable(err) || IsAuthFailure(err) {
		return err
	}
	var se *StatusError
	if !errors.As(err, &se) {
		b.reject(i, requestRecordError(err))
		return nil
	}
	if se.Status == http.StatusNotFound {
		b.succeed(i, StatusDeleted, nil, nil)
		return nil
	}
	b.reject(i, wholeRecordError(se))
	return nil
}

// namedOffenders maps the request's items to the error entries naming them
// by entityId (errors[], the body itself, or details[]).
func namedOffenders(se *StatusError, items []Item, idxs []int) map[int]*ErrorBody {
	if se.Body == nil {
		return nil
	}
	byKey := make(map[string]int, len(idxs))
	for _, i := range idxs {
		byKey[items[i].Record.Key] = i
	}
	named := map[int]*ErrorBody{}
	add := func(id string, eb *ErrorBody) {
		if i, ok := byKey[id]; ok && id != "" {
			if prev, dup := named[i]; dup && prev != eb {
				merged := *prev
				merged.Details = append(append([]ErrorDetail(nil), prev.Details...), eb.Details...)
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
			add(d.EntityID, &ErrorBody{Code: eb.Code, Message: eb.Message, Status: eb.Status, Details: []ErrorDetail{d}})
		}
	}
	if se.Body.EntityID != "" {
		add(se.Body.EntityID, se.Body)
	} else if len(se.Body.Errors) == 0 {
		for _, d := range se.Body.Details {
			add(d.EntityID, &ErrorBody{Code: se.Body.Code, Message: se.Body.Message, Status: se.Status, Details: []ErrorDetail{d}})
		}
	}
	return named
}

func statusClass(status int) string {
	switch status {
	case http.StatusConflict:
		return "conflict"
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return "validation"
	}
	return "api"
}

// entityRecordError is the rejection of a record named by eb.
func entityRecordError(se *StatusError, eb *ErrorBody) *RecordError {
	e := &RecordError{
		Class:         statusClass(se.Status),
		Code:          eb.Code,
		Status:        se.Status,
		Message:       eb.Message,
		Fields:        detailFields(nil, eb, eb.Message),
		CorrelationID: se.CorrelationID,
	}
	if e.Code == "" {
		e.Code = se.Code
	}
	if e.Message == "" {
		e.Message = se.Message
	}
	return e
}

// wholeRecordError is the rejection of every record of a failed request.
func wholeRecordError(se *StatusError) *RecordError {
	e := &RecordError{
		Class:         statusClass(se.Status),
		Code:          se.Code,
		Status:        se.Status,
		Message:       se.Message,
		CorrelationID: se.CorrelationID,
	}
	if se.Body != nil {
		e.Fields = detailFields(nil, se.Body, se.Message)
		for k := range se.Body.Errors {
			e.Fields = detailFields(e.Fields, &se.Body.Errors[k], se.Body.Errors[k].Message)
		}
	}
	return e
}

func detailFields(out []FieldError, eb *ErrorBody, msg string) []FieldError {
	for _, d := range eb.Details {
		m := msg
		if m == "" {
			m = d.ErrorCode
		}
		out = append(out, FieldError{Field: d.FieldName, Code: d.ErrorCode, Message: m})
	}
	return out
}

// requestRecordError is the rejection for a permanent failure without an
// API response, such as refused credentials.
func requestRecordError(err error) *RecordError {
	e := &RecordError{Class: "api", Code: "request.failed", Message: err.Error()}
	var ae *AuthError
	if errors.As(err, &ae) {
		e.Code = "authentication.failed"
		if ae.Code != "" {
			e.Code = ae.Code
		}
		e.Status = ae.Status
	}
	return e
}
