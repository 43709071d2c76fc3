package upsert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Data table defaults and documented limits.
const (
	DataTablesMaxKeyLength        = 256
	DataTablesDefaultImportMax    = 5000
	DataTablesDefaultImportBytes  = 10 << 20
	DataTablesDefaultRowsMax      = 100
	DataTablesDefaultParallelism  = 8
	DataTablesDefaultRefMaxKeys   = 100000
	dataTablesRowsMaxBytes        = 64 << 20
	dataTablesMinSchemaRefreshGap = 30 * time.Second
	dataTablesMaxPollInterval     = 15 * time.Second
)

// DataTablesConfig configures a DataTables target. Zero values take the
// defaults named on each field.
type DataTablesConfig struct {
	// Table is the data table's name or id.
	Table string
	// Conflict maps onto the rows API: ConflictUpsert (default) updates
	// the row or creates it, ConflictUpdateOnly only updates (a missing
	// row is rejected), ConflictCreateOnly only creates (an existing row
	// is rejected).
	Conflict Conflict
	// UniqueFields must not share a non-empty value between two keys,
	// within a batch or with the rows already in the table; each field on
	// its own.
	UniqueFields []string
	// References maps a field to the name or id of the table whose keys
	// it must name. Empty values are not checked.
	References map[string]string
	// SchemaRefresh is how old the schema (and the unique index) may get
	// before it is read again; default 10m.
	SchemaRefresh time.Duration
	// RowsParallelism is the number of row requests one batch has in
	// flight; default 8.
	RowsParallelism int
	// RowsMaxRecords is the batch bound when import is off; default 100.
	RowsMaxRecords int
	// ImportThreshold sends a batch of at least this many upserts as one
	// CSV import job (Append mode); 0 never imports.
	ImportThreshold int
	// ImportMaxRecords and ImportMaxBytes bound one import (rows, and
	// bytes of the CSV uploaded); defaults 5000 and 10 MiB.
	ImportMaxRecords int
	ImportMaxBytes   int
	// ImportPollInterval is the first wait between polls of an import job
	// (growing by half each poll, to at most 15s); default 1s.
	ImportPollInterval time.Duration
	// ImportTimeout bounds the wait for an import job; default 10m. A job
	// that takes longer is a transient failure of the batch.
	ImportTimeout time.Duration
	// ReferenceTTL is how long a referenced table's cached keys are used
	// before the table is read again; default 5m.
	ReferenceTTL time.Duration
	// ReferenceMaxKeys bounds the cached keys per referenced table;
	// default 100000.
	ReferenceMaxKeys int
	// PutMissingIs404 says the API answers 404 to a PUT of a missing row.
	// When false (the default, since the API does not document it), an
	// updateOnly write first checks that the row exists, because the PUT
	// might create it.
	PutMissingIs404 bool
}

func (cfg DataTablesConfig) withDefaults() (DataTablesConfig, error) {
	if strings.TrimSpace(cfg.Table) == "" {
		return cfg, errors.New("upsert: datatables needs a table name or id")
	}
	if cfg.Conflict == "" {
		cfg.Conflict = ConflictUpsert
	}
	if _, err := ParseConflict(string(cfg.Conflict)); err != nil {
		return cfg, fmt.Errorf("upsert: %w", err)
	}
	for _, d := range []*time.Duration{&cfg.SchemaRefresh, &cfg.ImportPollInterval, &cfg.ImportTimeout, &cfg.ReferenceTTL} {
		if *d < 0 {
			return cfg, errors.New("upsert: datatables durations must not be negative")
		}
	}
	for _, n := range []int{cfg.RowsParallelism, cfg.RowsMaxRecords, cfg.ImportThreshold, cfg.ImportMaxRecords, cfg.ImportMaxBytes, cfg.ReferenceMaxKeys} {
		if n < 0 {
			return cfg, errors.New("upsert: datatables counts must not be negative")
		}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	defInt := func(n *int, v int) {
		if *n == 0 {
			*n = v
		}
	}
	def(&cfg.SchemaRefresh, 10*time.Minute)
	def(&cfg.ImportPollInterval, time.Second)
	def(&cfg.ImportTimeout, 10*time.Minute)
	def(&cfg.ReferenceTTL, 5*time.Minute)
	defInt(&cfg.RowsParallelism, DataTablesDefaultParallelism)
	defInt(&cfg.RowsMaxRecords, DataTablesDefaultRowsMax)
	defInt(&cfg.ImportMaxRecords, DataTablesDefaultImportMax)
	defInt(&cfg.ImportMaxBytes, DataTablesDefaultImportBytes)
	defInt(&cfg.ReferenceMaxKeys, DataTablesDefaultRefMaxKeys)
	if cfg.ImportThreshold > cfg.ImportMaxRecords {
		return cfg, fmt.Errorf("upsert: import threshold %d exceeds import max records %d", cfg.ImportThreshold, cfg.ImportMaxRecords)
	}
	seen := map[string]bool{}
	for _, f := range cfg.UniqueFields {
		if f == "" || f == "key" || seen[f] {
			return cfg, fmt.Errorf("upsert: unique field %q is empty, the key, or repeated", f)
		}
		seen[f] = true
	}
	for f, t := range cfg.References {
		if f == "" || strings.TrimSpace(t) == "" {
			return cfg, fmt.Errorf("upsert: reference field %q -> table %q: both must be set", f, t)
		}
	}
	cfg.UniqueFields = slices.Clone(cfg.UniqueFields)
	refs := make(map[string]string, len(cfg.References))
	for f, t := range cfg.References {
		refs[f] = t
	}
	cfg.References = refs
	return cfg, nil
}

// DataTables is the "datatables" target: rows of an Architect data table,
// keyed by "key", written one request per row (PUT, POST), or a large batch
// as one CSV import job. It starts no goroutine outside Upsert and is safe
// for concurrent use.
type DataTables struct {
	c    *Client
	cfg  DataTablesConfig
	id   string
	name string
	path string // /api/v2/flows/datatables/{id}
	log  *slog.Logger

	mu        sync.RWMutex
	schema    *dtSchema
	stale     bool // the API reported a schema error
	refreshMu sync.Mutex

	refs  map[string]*refCache // by field
	index *uniqueIndex         // nil without unique fields
}

// NewDataTables resolves the table (by id, else by name), reads its schema
// and compiles it, and resolves every referenced table. A missing table is
// an error naming it.
func NewDataTables(ctx context.Context, c *Client, cfg DataTablesConfig) (*DataTables, error) {
	if c == nil {
		return nil, errors.New("upsert: datatables needs a client")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	tbl, err := c.GetTable(ctx, cfg.Table, true)
	if err != nil {
		return nil, fmt.Errorf("upsert: data table %q: %w", cfg.Table, err)
	}
	sch, err := parseTableSchema(tbl.Name, tbl.Schema, c.clock.Now())
	if err != nil {
		return nil, err
	}
	t := &DataTables{
		c:      c,
		cfg:    cfg,
		id:     tbl.ID,
		name:   tbl.Name,
		path:   tablesPath + "/" + url.PathEscape(tbl.ID),
		log:    c.log.With("target", "datatables", "table", tbl.Name),
		schema: sch,
		refs:   map[string]*refCache{},
	}
	for _, f := range cfg.UniqueFields {
		if _, ok := sch.byName[f]; !ok {
			return nil, fmt.Errorf("upsert: data table %q has no column %q (unique field)", tbl.Name, f)
		}
	}
	if len(cfg.UniqueFields) > 0 {
		t.index = newUniqueIndex(cfg.UniqueFields)
	}
	for f, ref := range cfg.References {
		if _, ok := sch.byName[f]; !ok {
			return nil, fmt.Errorf("upsert: data table %q has no column %q (reference field)", tbl.Name, f)
		}
		rt, err := c.GetTable(ctx, ref, false)
		if err != nil {
			return nil, fmt.Errorf("upsert: referenced data table %q (field %s): %w", ref, f, err)
		}
		t.refs[f] = newRefCache(c, rt.ID, rt.Name, cfg.ReferenceTTL, cfg.ReferenceMaxKeys)
	}
	return t, nil
}

// Name returns "datatables".
func (t *DataTables) Name() string { return "datatables" }

// Schema returns the table's name.
func (t *DataTables) Schema() string { return t.name }

// TableID returns the table's id.
func (t *DataTables) TableID() string { return t.id }

func (t *DataTables) importOn() bool { return t.cfg.ImportThreshold > 0 }

func (t *DataTables) currentSchema() *dtSchema {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.schema
}

// Limits describes the largest batch the target takes. With import on it
// is the import's bound, and an item's Body is its CSV line, so that
// BodySize is the exact size of the CSV uploaded (the header line is the
// overhead). With import off it is RowsMaxRecords, and the Body is the row
// JSON sent on its own.
func (t *DataTables) Limits() Limits {
	if t.importOn() {
		return Limits{MaxRecords: t.cfg.ImportMaxRecords, MaxBytes: t.cfg.ImportMaxBytes, Overhead: len(t.currentSchema().header)}
	}
	return Limits{MaxRecords: t.cfg.RowsMaxRecords, MaxBytes: dataTablesRowsMaxBytes}
}

// Prepare validates one record and encodes it. Deletes need only a key.
// An upsert's string values are coerced to the column types (class
// "validation", code "coercion.failed", naming each field), then checked
// against the table's JSON Schema ("schema.violation"). The item's Record
// carries the coerced fields. A record naming a column the schema does not
// know is deferred to Upsert, which reads the schema again first (a column
// may have been added) and rejects it then if it still does not fit.
func (t *DataTables) Prepare(rec Record) (Item, *RecordError) {
	return t.prepare(t.currentSchema(), rec, true)
}

func (t *DataTables) prepare(sch *dtSchema, rec Record, allowDefer bool) (Item, *RecordError) {
	if rec.Key == "" {
		return Item{}, &RecordError{Class: "validation", Code: "key.missing", Message: "record has no key"}
	}
	if n := len([]rune(rec.Key)); n > DataTablesMaxKeyLength {
		return Item{}, &RecordError{Class: "validation", Code: "key.too.long",
			Message: fmt.Sprintf("key has %d characters, a data table key at most %d", n, DataTablesMaxKeyLength)}
	}
	switch rec.Op {
	case OpDelete:
		return Item{Record: Record{Key: rec.Key, Op: OpDelete}}, nil
	case OpUpsert:
	default:
		return Item{}, &RecordError{Class: "validation", Code: "op.unknown", Message: fmt.Sprintf("unknown operation %q", rec.Op)}
	}
	in := rec.Data
	if v, ok := in["key"]; ok {
		if s, isStr := v.(string); !isStr || s != rec.Key {
			return Item{}, &RecordError{Class: "validation", Code: "field.reserved", Message: "field key differs from the record key",
				Fields: []FieldError{{Field: "key", Code: "reserved", Message: "differs from the record key"}}}
		}
	}
	data, fe := sch.coerce(in)
	delete(data, "key")
	if len(fe) > 0 {
		return Item{}, &RecordError{Class: "validation", Code: "coercion.failed", Message: summarize("value cannot be converted to the column type", fe), Fields: fe}
	}
	withKey := make(map[string]any, len(data)+1)
	for k, v := range data {
		withKey[k] = v
	}
	withKey["key"] = rec.Key
	fe, err := validateFields(sch.validator, withKey)
	if err != nil {
		return Item{}, &RecordError{Class: "validation", Code: "record.encoding", Message: "record cannot be checked: " + err.Error()}
	}
	if len(fe) > 0 {
		if allowDefer && onlyUnknownFields(fe) {
			return Item{Record: rec}, nil
		}
		return Item{}, &RecordError{Class: "validation", Code: "schema.violation", Message: summarize("record violates the table schema", fe), Fields: fe}
	}
	out := Item{Record: Record{Key: rec.Key, Op: OpUpsert, Data: data}}
	if t.importOn() {
		out.Body, err = sch.csvRow(rec.Key, data)
	} else {
		out.Body, err = rowJSON(rec.Key, data)
	}
	if err != nil {
		return Item{}, &RecordError{Class: "validation", Code: "record.encoding", Message: "record cannot be encoded: " + err.Error()}
	}
	if l := t.Limits(); l.BodySize(1, len(out.Body)) > l.MaxBytes {
		return Item{}, &RecordError{Class: "validation", Code: "record.too.large",
			Message: fmt.Sprintf("record needs %d bytes, the limit is %d", l.BodySize(1, len(out.Body)), l.MaxBytes)}
	}
	return out, nil
}

func onlyUnknownFields(fe []FieldError) bool {
	for _, f := range fe {
		if f.Code != "additionalProperties" {
			return false
		}
	}
	return true
}

// refreshSchema reads the schema again when it is older than
// SchemaRefresh, or when want (or an API schema error) asks for it and it
// is older than a short minimum gap. A failed read keeps the old schema,
// unless ctx ended or the credentials were refused.
func (t *DataTables) refreshSchema(ctx context.Context, want bool) error {
	due := func() bool {
		t.mu.RLock()
		defer t.mu.RUnlock()
		age := t.c.clock.Now().Sub(t.schema.loadedAt)
		gap := min(dataTablesMinSchemaRefreshGap, t.cfg.SchemaRefresh)
		return age >= t.cfg.SchemaRefresh || ((want || t.stale) && age >= gap)
	}
	if !due() {
		return nil
	}
	t.refreshMu.Lock()
	defer t.refreshMu.Unlock()
	if !due() {
		return nil
	}
	tbl, err := t.c.getTableByID(ctx, t.id, true)
	var sch *dtSchema
	if err == nil {
		sch, err = parseTableSchema(t.name, tbl.Schema, t.c.clock.Now())
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if IsAuthFailure(err) {
			return err
		}
		t.log.Warn("datatables: reading the schema failed; keeping the one in use", "error", err.Error())
		t.mu.Lock()
		t.schema.loadedAt = t.c.clock.Now() // try again after the gap, not at once
		t.mu.Unlock()
		return nil
	}
	t.mu.Lock()
	t.schema, t.stale = sch, false
	t.mu.Unlock()
	return nil
}

// dtBatch tracks the outcomes of one Upsert call; rows are written in
// parallel, so it is locked.
type dtBatch struct {
	mu       sync.Mutex
	items    []Item
	outcomes []Outcome
	done     []bool
	attempts int
	corr     []string
	seenCorr map[string]bool
}

func (b *dtBatch) reject(i int, e *RecordError) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.outcomes[i].Status = StatusRejected
	b.outcomes[i].Err = e
	b.outcomes[i].Written = nil
	b.done[i] = true
}

func (b *dtBatch) succeed(i int, s Status, written map[string]any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.outcomes[i].Status = s
	b.outcomes[i].Written = written
	b.outcomes[i].Err = nil
	b.done[i] = true
}

func (b *dtBatch) isDone(i int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.done[i]
}

// call builds an API call counted for the batch and for the items idxs.
func (b *dtBatch) call(method, path string, body []byte, idxs ...int) call {
	return call{
		method: method,
		path:   path,
		body:   body,
		onAttempt: func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.attempts++
			for _, i := range idxs {
				b.outcomes[i].Attempts++
			}
		},
		onCorrelation: func(id string) {
			b.mu.Lock()
			defer b.mu.Unlock()
			if !b.seenCorr[id] {
				b.seenCorr[id] = true
				b.corr = append(b.corr, id)
			}
		},
	}
}

func (b *dtBatch) maker(idxs ...int) func(method, path string) call {
	return func(method, path string) call { return b.call(method, path, nil, idxs...) }
}

func (b *dtBatch) failed() Result {
	b.mu.Lock()
	defer b.mu.Unlock()
	return Result{Attempts: b.attempts, CorrelationIDs: slices.Clone(b.corr)}
}

func (b *dtBatch) result() Result {
	b.mu.Lock()
	defer b.mu.Unlock()
	return Result{Outcomes: b.outcomes, Attempts: b.attempts, CorrelationIDs: b.corr}
}

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
func (t *DataTables) Upsert(ctx context.Context, items []Item) (Result, error) {
	b := &dtBatch{
		items:    slices.Clone(items),
		outcomes: make([]Outcome, len(items)),
		done:     make([]bool, len(items)),
		seenCorr: map[string]bool{},
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	deferred := false
	for _, it := range items {
		if it.Record.Op == OpUpsert && it.Body == nil {
			deferred = true
		}
	}
	if err := t.refreshSchema(ctx, deferred); err != nil {
		return b.failed(), err
	}
	sch := t.currentSchema()
	for i, it := range b.items {
		switch {
		case it.Record.Op == OpDelete && it.Record.Key == "":
			b.reject(i, &RecordError{Class: "validation", Code: "key.missing", Message: "record has no key"})
		case it.Record.Op == OpUpsert && it.Body == nil:
			p, rerr := t.prepare(sch, it.Record, false)
			if rerr != nil {
				b.reject(i, rerr)
				continue
			}
			b.items[i] = p
		case it.Record.Op != OpUpsert && it.Record.Op != OpDelete:
			b.reject(i, &RecordError{Class: "validation", Code: "op.unknown", Message: fmt.Sprintf("unknown operation %q", it.Record.Op)})
		}
	}
	if err := t.checkReferences(ctx, b); err != nil {
		return b.failed(), err
	}
	if err := t.checkUnique(ctx, b); err != nil {
		return b.failed(), err
	}

	var ups, rest []int
	keyCount := map[string]int{}
	for i, it := range b.items {
		if !b.done[i] {
			keyCount[it.Record.Key]++
		}
	}
	for i, it := range b.items {
		if b.done[i] {
			continue
		}
		if it.Record.Op == OpUpsert && keyCount[it.Record.Key] == 1 {
			ups = append(ups, i)
		} else {
			rest = append(rest, i)
		}
	}
	if t.importOn() && len(ups) >= t.cfg.ImportThreshold {
		if err := t.runImport(ctx, b, ups); err != nil {
			return b.failed(), err
		}
	} else {
		rest = mergeSorted(rest, ups)
	}
	if err := t.runRows(ctx, b, rest); err != nil {
		return b.failed(), err
	}
	t.noteWrites(b)
	return b.result(), nil
}

func mergeSorted(a, b []int) []int {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return out
}

// noteWrites keeps the unique index current with the batch's writes.
func (t *DataTables) noteWrites(b *dtBatch) {
	if t.index == nil {
		return
	}
	for i, o := range b.outcomes {
		switch o.Status {
		case StatusCreated, StatusUpdated:
			t.index.put(b.items[i].Record.Key, b.items[i].Record.Data)
		case StatusDeleted:
			t.index.remove(b.items[i].Record.Key)
		}
	}
}

// runRows writes the items idxs one request each, RowsParallelism at a
// time, the items of one key in order.
func (t *DataTables) runRows(ctx context.Context, b *dtBatch, idxs []int) error {
	if len(idxs) == 0 {
		return nil
	}
	var order []string
	groups := map[string][]int{}
	for _, i := range idxs {
		k := b.items[i].Record.Key
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	sem := make(chan struct{}, t.cfg.RowsParallelism)
loop:
	for _, k := range order {
		select {
		case sem <- struct{}{}:
		case <-cctx.Done():
			break loop
		}
		wg.Add(1)
		go func(g []int) {
			defer wg.Done()
			defer func() { <-sem }()
			for _, i := range g {
				if err := t.writeRow(cctx, b, i); err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
			}
		}(groups[k])
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return firstErr
}

func (t *DataTables) rowPath(key string) string {
	return t.path + "/rows/" + url.PathEscape(key)
}

// outcomeOf sorts a failed request's error: fatal errors (ctx, transient
// past the budget, refused credentials) are returned; a permanent status
// error is returned as se; other permanent errors reject item i.
func (t *DataTables) outcomeOf(ctx context.Context, b *dtBatch, i int, err error) (se *StatusError, fatal error) {
	if cerr := ctx.Err(); cerr != nil {
		return nil, cerr
	}
	if IsRetryable(err) || IsAuthFailure(err) {
		return nil, err
	}
	if errors.As(err, &se) {
		return se, nil
	}
	b.reject(i, requestRecordError(err))
	return nil, nil
}

func isTableMissing(se *StatusError) bool {
	return se.Status == http.StatusNotFound && se.Code == codeTableNotFound
}

func isRowMissing(se *StatusError) bool {
	return se.Status == http.StatusNotFound && se.Code != codeTableNotFound
}

// isDuplicate reports whether a POST failed because the key exists: 409,
// or 400 with a code or message saying so.
func isDuplicate(se *StatusError) bool {
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
func (t *DataTables) rejectStatus(b *dtBatch, i int, se *StatusError) {
	e := wholeRecordError(se)
	switch {
	case isTableMissing(se):
		e.Class = "api"
		t.markStale()
	case se.Status == http.StatusBadRequest && strings.Contains(se.Code, "syntax"):
		t.markStale()
	}
	b.reject(i, e)
}

func (t *DataTables) markStale() {
	t.mu.Lock()
	t.stale = true
	t.mu.Unlock()
}

func rowMissingError(se *StatusError) *RecordError {
	e := &RecordError{Class: "conflict", Code: "record.not.found", Message: "updateOnly: the row does not exist"}
	if se != nil {
		e.Status, e.CorrelationID = se.Status, se.CorrelationID
	}
	return e
}

func rowExistsError(se *StatusError) *RecordError {
	e := &RecordError{Class: "conflict", Code: "record.exists", Message: "createOnly: the row already exists"}
	if se != nil {
		e.Status, e.CorrelationID = se.Status, se.CorrelationID
		if se.Message != "" {
			e.Message += " (" + se.Message + ")"
		}
	}
	return e
}

// writeRow writes item i with the rows API. It returns only fatal errors.
func (t *DataTables) writeRow(ctx context.Context, b *dtBatch, i int) error {
	it := b.items[i]
	key := it.Record.Key
	if it.Record.Op == OpDelete {
		return t.deleteRow(ctx, b, i)
	}
	body := it.Body
	if t.importOn() || body == nil {
		var err error
		if body, err = rowJSON(key, it.Record.Data); err != nil {
			b.reject(i, &RecordError{Class: "validation", Code: "record.encoding", Message: err.Error()})
			return nil
		}
	}
	exists, known := false, false
	if t.index != nil {
		exists, known = t.index.has(key)
	}
	post := func() (ok bool, se *StatusError, err error) {
		res, err := t.c.do(ctx, b.call(http.MethodPost, t.path+"/rows", body, i))
		if err != nil {
			se, err = t.outcomeOf(ctx, b, i, err)
			return false, se, err
		}
		b.succeed(i, StatusCreated, writtenRow(res.body, key, it.Record.Data))
		return true, nil, nil
	}
	put := func(created bool) (ok bool, se *StatusError, err error) {
		res, err := t.c.do(ctx, b.call(http.MethodPut, t.rowPath(key), body, i))
		if err != nil {
			se, err = t.outcomeOf(ctx, b, i, err)
			return false, se, err
		}
		st := StatusUpdated
		if created {
			st = StatusCreated
		}
		b.succeed(i, st, writtenRow(res.body, key, it.Record.Data))
		return true, nil, nil
	}

	switch t.cfg.Conflict {
	case ConflictCreateOnly:
		ok, se, err := post()
		if ok || err != nil || se == nil {
			return err
		}
		if isDuplicate(se) {
			b.reject(i, rowExistsError(se))
			return nil
		}
		t.rejectStatus(b, i, se)
		return nil

	case ConflictUpdateOnly:
		if !t.cfg.PutMissingIs404 && !(known && exists) {
			found, err := t.rowExists(ctx, b, i)
			if err != nil || b.isDone(i) {
				return err
			}
			if !found {
				b.reject(i, rowMissingError(nil))
				return nil
			}
		}
		ok, se, err := put(false)
		if ok || err != nil || se == nil {
			return err
		}
		if isRowMissing(se) {
			b.reject(i, rowMissingError(se))
			return nil
		}
		t.rejectStatus(b, i, se)
		return nil
	}

	// Upsert: update, else create. The first request follows what the
	// index knows; without it, PUT first (most writes of a change stream
	// are updates).
	if known && !exists {
		ok, se, err := post()
		if ok || err != nil || se == nil {
			return err
		}
		if !isDuplicate(se) {
			t.rejectStatus(b, i, se)
			return nil
		}
	}
	ok, se, err := put(false)
	if ok || err != nil || se == nil {
		return err
	}
	if !isRowMissing(se) {
		t.rejectStatus(b, i, se)
		return nil
	}
	ok, se, err = post()
	if ok || err != nil || se == nil {
		return err
	}
	if !isDuplicate(se) {
		t.rejectStatus(b, i, se)
		return nil
	}
	// Created by someone else between the PUT and the POST.
	ok, se, err = put(false)
	if ok || err != nil || se == nil {
		return err
	}
	t.rejectStatus(b, i, se)
	return nil
}

// rowExists reads the row (brief). A missing table rejects item i.
func (t *DataTables) rowExists(ctx context.Context, b *dtBatch, i int) (bool, error) {
	_, err := t.c.do(ctx, b.call(http.MethodGet, t.rowPath(b.items[i].Record.Key)+"?showbrief=true", nil, i))
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

func (t *DataTables) deleteRow(ctx context.Context, b *dtBatch, i int) error {
	_, err := t.c.do(ctx, b.call(http.MethodDelete, t.rowPath(b.items[i].Record.Key), nil, i))
	if err == nil {
		b.succeed(i, StatusDeleted, nil)
		return nil
	}
	se, fatal := t.outcomeOf(ctx, b, i, err)
	if fatal != nil || se == nil {
		return fatal
	}
	if isRowMissing(se) {
		b.succeed(i, StatusDeleted, nil)
		return nil
	}
	t.rejectStatus(b, i, se)
	return nil
}

// writtenRow is the row a response returned, else the row sent.
func writtenRow(body []byte, key string, data map[string]any) map[string]any {
	if m, err := decodeRow(body); err == nil && m != nil {
		return m
	}
	m := make(map[string]any, len(data)+1)
	for k, v := range data {
		m[k] = v
	}
	m["key"] = key
	return m
}
