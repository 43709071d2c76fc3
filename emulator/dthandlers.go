package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

func (s *Server) registerDataTables(mux *http.ServeMux) {
	mux.HandleFunc(KindDataTablesList, s.handleTablesList)
	mux.HandleFunc(KindDataTableCreate, s.handleTableCreate)
	mux.HandleFunc(KindDataTableGet, s.handleTableGet)
	mux.HandleFunc(KindDataTableUpdate, s.handleTableUpdate)
	mux.HandleFunc(KindDataTableDelete, s.handleTableDelete)
	mux.HandleFunc(KindDataTableRows, s.handleRowsList)
	mux.HandleFunc(KindDataTableRowCreate, s.handleRowCreate)
	mux.HandleFunc(KindDataTableRowGet, s.handleRowGet)
	mux.HandleFunc(KindDataTableRowUpdate, s.handleRowUpdate)
	mux.HandleFunc(KindDataTableRowDelete, s.handleRowDelete)
	mux.HandleFunc(KindDataTableImportCSV, s.handleImportCreate)
	mux.HandleFunc(KindDataTableImportCreate, s.handleImportCreate)
	mux.HandleFunc(KindDataTableImportJobs, s.handleImportList)
	mux.HandleFunc(KindDataTableImportJob, s.handleImportGet)
}

// tableJSON is a table as the API serves it.
type tableJSON struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Division    map[string]string `json:"division"`
	Description string            `json:"description,omitempty"`
	Schema      map[string]any    `json:"schema,omitempty"`
	SelfURI     string            `json:"selfUri"`
}

const tablesPath = "/api/v2/flows/datatables"

func (t *dtTable) view(withSchema bool) tableJSON {
	v := tableJSON{ID: t.id, Name: t.name, Division: homeDivision, Description: t.description, SelfURI: tablesPath + "/" + t.id}
	if withSchema {
		v.Schema = t.schema.doc()
	}
	return v
}

func tableNotFound(id string) ErrorBody {
	return ErrorBody{
		Message:  fmt.Sprintf("Datatable %s was not found.", id),
		Code:     CodeDataTablesNotFound,
		Status:   http.StatusNotFound,
		EntityID: id,
	}
}

func rowNotFound(t *dtTable, key string) ErrorBody {
	return ErrorBody{
		Message:  fmt.Sprintf("Row %s was not found in datatable %s.", key, t.name),
		Code:     CodeDataTablesRowNotFound,
		Status:   http.StatusNotFound,
		EntityID: key,
	}
}

func rowLimit(max int) ErrorBody {
	return ErrorBody{
		Message: fmt.Sprintf("The datatable has reached its limit of %d rows.", max),
		Code:    CodeDataTablesLimit,
		Status:  http.StatusBadRequest,
		Limit:   &Limit{Key: "max.rows.per.table", Namespace: limitNamespace, Value: int64(max)},
	}
}

// expands reports whether the expand query parameter names what.
func expands(q url.Values, what string) bool {
	for _, v := range q["expand"] {
		for _, p := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(p), what) {
				return true
			}
		}
	}
	return false
}

// paging is the page a list request asked for.
type paging struct {
	number, size int
	descending   bool
}

// parsePaging reads pageNumber, pageSize and sortOrder.
func parsePaging(q url.Values) (paging, *ErrorBody) {
	p := paging{number: 1, size: defaultPageSize}
	for _, f := range []struct {
		name string
		dst  *int
	}{{"pageNumber", &p.number}, {"pageSize", &p.size}} {
		v := q.Get(f.name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			eb := badRequest(fmt.Sprintf("%s must be a positive integer.", f.name))
			return p, &eb
		}
		*f.dst = n
	}
	if p.size > maxPageSize {
		eb := badRequest(fmt.Sprintf("pageSize %d is over the maximum of %d.", p.size, maxPageSize))
		return p, &eb
	}
	switch strings.ToLower(q.Get("sortOrder")) {
	case "", "asc", "ascending":
	case "desc", "descending":
		p.descending = true
	default:
		eb := badRequest("sortOrder must be ascending or descending.")
		return p, &eb
	}
	return p, nil
}

// boolParam reads a boolean query parameter with a default.
func boolParam(q url.Values, name string, def bool) (bool, *ErrorBody) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		eb := badRequest(fmt.Sprintf("%s must be true or false.", name))
		return def, &eb
	}
	return b, nil
}

// listing is a Genesys paged entity listing.
type listing struct {
	Entities    any    `json:"entities"`
	PageSize    int    `json:"pageSize"`
	PageNumber  int    `json:"pageNumber"`
	Total       int    `json:"total"`
	PageCount   int    `json:"pageCount"`
	FirstURI    string `json:"firstUri"`
	SelfURI     string `json:"selfUri"`
	NextURI     string `json:"nextUri,omitempty"`
	PreviousURI string `json:"previousUri,omitempty"`
	LastURI     string `json:"lastUri"`
}

// bounds returns the slice bounds of page p over total items.
func (p paging) bounds(total int) (lo, hi int) {
	lo = min((p.number-1)*p.size, total)
	return lo, min(lo+p.size, total)
}

// newListing fills the paging fields of a listing of total items; the
// URIs repeat the request's query with pageNumber and pageSize set.
func newListing(path string, q url.Values, p paging, total int, entities any) listing {
	pageCount := (total + p.size - 1) / p.size
	uri := func(n int) string {
		q2 := url.Values{}
		for k, v := range q {
			q2[k] = slices.Clone(v)
		}
		q2.Set("pageSize", strconv.Itoa(p.size))
		q2.Set("pageNumber", strconv.Itoa(n))
		return path + "?" + q2.Encode()
	}
	l := listing{
		Entities: entities, PageSize: p.size, PageNumber: p.number, Total: total, PageCount: pageCount,
		FirstURI: uri(1), SelfURI: uri(p.number), LastURI: uri(max(pageCount, 1)),
	}
	if p.number < pageCount {
		l.NextURI = uri(p.number + 1)
	}
	if p.number > 1 {
		l.PreviousURI = uri(min(p.number-1, max(pageCount, 1)))
	}
	return l
}

// globMatch matches name against pattern, case-insensitively; '*' matches
// any run of characters.
func globMatch(pattern, name string) bool {
	pattern, name = strings.ToLower(pattern), strings.ToLower(name)
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == name
	}
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	name = name[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(name, mid)
		if i < 0 {
			return false
		}
		name = name[i+len(mid):]
	}
	return strings.HasSuffix(name, last)
}

func (s *Server) handleTablesList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p, eb := parsePaging(q)
	if eb != nil {
		writeError(w, *eb)
		return
	}
	sortBy := q.Get("sortBy")
	if sortBy != "" && sortBy != "id" && sortBy != "name" {
		writeError(w, badRequest("sortBy must be id or name."))
		return
	}
	withSchema := expands(q, "schema")
	name := q.Get("name")
	d := s.tables
	d.mu.Lock()
	var all []*dtTable
	for _, t := range d.tables {
		if name == "" || globMatch(name, t.name) {
			all = append(all, t)
		}
	}
	slices.SortFunc(all, func(a, b *dtTable) int {
		c := strings.Compare(a.id, b.id)
		if sortBy == "name" {
			c = strings.Compare(strings.ToLower(a.name), strings.ToLower(b.name))
		}
		if p.descending {
			c = -c
		}
		return c
	})
	lo, hi := p.bounds(len(all))
	entities := make([]tableJSON, 0, hi-lo)
	for _, t := range all[lo:hi] {
		entities = append(entities, t.view(withSchema))
	}
	d.mu.Unlock()
	writeJSON(w, http.StatusOK, newListing(tablesPath, q, p, len(all), entities))
}

// tableBody is the body of a table POST or PUT.
type tableBody struct {
	Name        *string         `json:"name"`
	Description *string         `json:"description"`
	Schema      json.RawMessage `json:"schema"`
}

// readJSONBody reads a body of at most s.maxBodyBytes and decodes it into
// v; it writes the error answer and returns false on failure.
func (s *Server) readJSONBody(w http.ResponseWriter, r *http.Request, v any) bool {
	body, tooLarge, err := readBody(r, s.maxBodyBytes)
	switch {
	case tooLarge:
		eb := statusError(http.StatusRequestEntityTooLarge)
		eb.Message = fmt.Sprintf("The request body is over the limit of %d bytes.", s.maxBodyBytes)
		eb.Limit = &Limit{Key: "max.body.bytes", Namespace: limitNamespace, Value: int64(s.maxBodyBytes)}
		writeError(w, eb)
		return false
	case err != nil:
		writeError(w, badRequest("The request body could not be read."))
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		writeError(w, badRequest("The request body is not a valid JSON object."))
		return false
	}
	if dec.More() {
		writeError(w, badRequest("The request body has data after the JSON object."))
		return false
	}
	return true
}

func (s *Server) handleTableCreate(w http.ResponseWriter, r *http.Request) {
	var body tableBody
	if !s.readJSONBody(w, r, &body) {
		return
	}
	if body.Name == nil || strings.TrimSpace(*body.Name) == "" {
		writeError(w, *schemaError("The datatable needs a name.", ErrorDetail{ErrorCode: "missing.name", FieldName: "name"}))
		return
	}
	if len(body.Schema) == 0 || string(body.Schema) == "null" {
		writeError(w, *schemaError("The datatable needs a schema.", ErrorDetail{ErrorCode: "missing.schema", FieldName: "schema"}))
		return
	}
	d := s.tables
	sc, eb := parseSchema(body.Schema, d.lim.maxFields)
	if eb != nil {
		writeError(w, *eb)
		return
	}
	d.mu.Lock()
	if d.byName(*body.Name) != nil {
		d.mu.Unlock()
		writeError(w, ErrorBody{
			Message: fmt.Sprintf("A datatable named %s already exists.", *body.Name),
			Code:    CodeDataTablesNameExists, Status: http.StatusConflict, EntityName: *body.Name,
		})
		return
	}
	if len(d.tables) >= d.lim.maxTables {
		d.mu.Unlock()
		writeError(w, ErrorBody{
			Message: fmt.Sprintf("The organization has reached its limit of %d datatables.", d.lim.maxTables),
			Code:    CodeDataTablesLimit, Status: http.StatusBadRequest,
			Limit: &Limit{Key: "max.tables", Namespace: limitNamespace, Value: int64(d.lim.maxTables)},
		})
		return
	}
	t := &dtTable{id: newCorrelationID(), name: *body.Name, schema: sc, rows: map[string]map[string]any{}}
	if body.Description != nil {
		t.description = *body.Description
	}
	d.tables[t.id] = t
	view := t.view(true)
	d.mu.Unlock()
	writeJSON(w, http.StatusOK, view)
}

func (s *Server) handleTableGet(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("datatableId")
	d := s.tables
	d.mu.Lock()
	t, ok := d.tables[id]
	var view tableJSON
	if ok {
		view = t.view(expands(r.URL.Query(), "schema"))
	}
	d.mu.Unlock()
	if !ok {
		writeError(w, tableNotFound(id))
		return
	}
	writeJSON(w, http.StatusOK, view)
}

func (s *Server) handleTableUpdate(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("datatableId")
	d := s.tables
	d.mu.Lock()
	_, ok := d.tables[id]
	d.mu.Unlock()
	if !ok {
		writeError(w, tableNotFound(id))
		return
	}
	var body tableBody
	if !s.readJSONBody(w, r, &body) {
		return
	}
	var sc *dtSchema
	if len(body.Schema) > 0 && string(body.Schema) != "null" {
		var eb *ErrorBody
		if sc, eb = parseSchema(body.Schema, d.lim.maxFields); eb != nil {
			writeError(w, *eb)
			return
		}
	}
	if body.Name != nil && strings.TrimSpace(*body.Name) == "" {
		writeError(w, *schemaError("The datatable name must not be empty.", ErrorDetail{ErrorCode: "missing.name", FieldName: "name"}))
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	t, ok := d.tables[id]
	if !ok {
		writeError(w, tableNotFound(id))
		return
	}
	if body.Name != nil {
		if o := d.byName(*body.Name); o != nil && o != t {
			writeError(w, ErrorBody{
				Message: fmt.Sprintf("A datatable named %s already exists.", *body.Name),
				Code:    CodeDataTablesNameExists, Status: http.StatusConflict, EntityName: *body.Name,
			})
			return
		}
	}
	if sc != nil {
		var details []ErrorDetail
		var msgs []string
		for _, name := range t.schema.order {
			old, nf := t.schema.fields[name], sc.fields[name]
			switch {
			case nf == nil:
				details = append(details, ErrorDetail{ErrorCode: "field.removed", FieldName: name})
				msgs = append(msgs, name+" cannot be removed")
			case nf.typ != old.typ:
				details = append(details, ErrorDetail{ErrorCode: "field.type.changed", FieldName: name})
				msgs = append(msgs, fmt.Sprintf("%s cannot change type from %s to %s", name, old.typ, nf.typ))
			}
		}
		if len(details) > 0 {
			writeError(w, *schemaError("Fields can be added but never changed or removed: "+strings.Join(msgs, "; ")+".", details...))
			return
		}
		t.schema = sc
	}
	if body.Name != nil {
		t.name = *body.Name
	}
	if body.Description != nil {
		t.description = *body.Description
	}
	writeJSON(w, http.StatusOK, t.view(true))
}

func (s *Server) handleTableDelete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("datatableId")
	d := s.tables
	d.mu.Lock()
	t, ok := d.tables[id]
	if ok {
		for _, j := range t.jobs {
			delete(d.jobs, j.id)
		}
		delete(d.tables, id)
	}
	d.mu.Unlock()
	if !ok {
		writeError(w, tableNotFound(id))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleRowsList(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("datatableId")
	q := r.URL.Query()
	p, eb := parsePaging(q)
	if eb == nil {
		_, eb = boolParam(q, "showbrief", true)
	}
	if eb != nil {
		writeError(w, *eb)
		return
	}
	brief, _ := boolParam(q, "showbrief", true)
	d := s.tables
	t, ok := d.lockTable(w, id)
	if !ok {
		return
	}
	keys := make([]string, 0, len(t.rows))
	for k := range t.rows {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if p.descending {
		slices.Reverse(keys)
	}
	lo, hi := p.bounds(len(keys))
	entities := make([]map[string]any, 0, hi-lo)
	for _, k := range keys[lo:hi] {
		if brief {
			entities = append(entities, map[string]any{keyField: k})
		} else {
			entities = append(entities, t.schema.full(t.rows[k]))
		}
	}
	d.mu.Unlock()
	writeJSON(w, http.StatusOK, newListing(tablesPath+"/"+id+"/rows", q, p, len(keys), entities))
}

// readRow reads a row body: a JSON object, numbers as json.Number.
func (s *Server) readRow(w http.ResponseWriter, r *http.Request) (map[string]any, bool) {
	var obj map[string]any
	if !s.readJSONBody(w, r, &obj) {
		return nil, false
	}
	if obj == nil {
		writeError(w, badRequest("The request body is not a JSON object."))
		return nil, false
	}
	return obj, true
}

// lockTable locks d, completes due import jobs and finds table id. When the
// table is missing it unlocks, answers 404 and returns false; otherwise the
// caller holds the lock and must unlock it.
func (d *dataTables) lockTable(w http.ResponseWriter, id string) (*dtTable, bool) {
	d.mu.Lock()
	d.settle()
	t, ok := d.tables[id]
	if !ok {
		d.mu.Unlock()
		writeError(w, tableNotFound(id))
		return nil, false
	}
	return t, true
}

func (s *Server) handleRowCreate(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("datatableId")
	d := s.tables
	d.mu.Lock()
	_, ok := d.tables[id]
	d.mu.Unlock()
	if !ok {
		writeError(w, tableNotFound(id))
		return
	}
	obj, ok := s.readRow(w, r)
	if !ok {
		return
	}
	t, ok := d.lockTable(w, id)
	if !ok {
		return
	}
	defer d.mu.Unlock()
	row, eb := t.schema.checkRow(obj, d.lim.maxKey, t.name)
	if eb != nil {
		writeError(w, *eb)
		return
	}
	key := row[keyField].(string)
	if _, exists := t.rows[key]; exists {
		status := http.StatusConflict
		if d.variants.PostExisting == "400" {
			status = http.StatusBadRequest
		}
		writeError(w, ErrorBody{
			Message:  fmt.Sprintf("A row with key %s already exists in datatable %s.", key, t.name),
			Code:     CodeDataTablesRowExists,
			Status:   status,
			EntityID: key,
			Details:  []ErrorDetail{{ErrorCode: CodeDataTablesRowExists, FieldName: keyField, EntityID: key}},
		})
		return
	}
	if len(t.rows) >= d.lim.maxRows {
		writeError(w, rowLimit(d.lim.maxRows))
		return
	}
	t.rows[key] = row
	writeJSON(w, http.StatusOK, t.schema.full(row))
}

func (s *Server) handleRowUpdate(w http.ResponseWriter, r *http.Request) {
	id, key := r.PathValue("datatableId"), r.PathValue("rowId")
	d := s.tables
	d.mu.Lock()
	_, ok := d.tables[id]
	d.mu.Unlock()
	if !ok {
		writeError(w, tableNotFound(id))
		return
	}
	obj, ok := s.readRow(w, r)
	if !ok {
		return
	}
	if bk, present := obj[keyField]; !present {
		obj[keyField] = key
	} else if bk != key {
		writeError(w, *schemaError(fmt.Sprintf("The key in the body (%s) differs from the row id in the path (%s).", jsonText(bk), key),
			ErrorDetail{ErrorCode: "key.mismatch", FieldName: keyField, EntityID: key}))
		return
	}
	t, ok := d.lockTable(w, id)
	if !ok {
		return
	}
	defer d.mu.Unlock()
	row, eb := t.schema.checkRow(obj, d.lim.maxKey, t.name)
	if eb != nil {
		writeError(w, *eb)
		return
	}
	if _, exists := t.rows[key]; !exists {
		if d.variants.PutMissing != "create" {
			writeError(w, rowNotFound(t, key))
			return
		}
		if len(t.rows) >= d.lim.maxRows {
			writeError(w, rowLimit(d.lim.maxRows))
			return
		}
	}
	t.rows[key] = row
	writeJSON(w, http.StatusOK, t.schema.full(row))
}

func (s *Server) handleRowGet(w http.ResponseWriter, r *http.Request) {
	id, key := r.PathValue("datatableId"), r.PathValue("rowId")
	brief, eb := boolParam(r.URL.Query(), "showbrief", true)
	if eb != nil {
		writeError(w, *eb)
		return
	}
	d := s.tables
	t, ok := d.lockTable(w, id)
	if !ok {
		return
	}
	row, found := t.rows[key]
	var out map[string]any
	switch {
	case !found:
		eb := rowNotFound(t, key)
		d.mu.Unlock()
		writeError(w, eb)
		return
	case brief:
		out = map[string]any{keyField: key}
	default:
		out = t.schema.full(row)
	}
	d.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleRowDelete(w http.ResponseWriter, r *http.Request) {
	id, key := r.PathValue("datatableId"), r.PathValue("rowId")
	d := s.tables
	d.mu.Lock()
	d.settle()
	t, ok := d.tables[id]
	var eb *ErrorBody
	switch {
	case !ok:
		e := tableNotFound(id)
		eb = &e
	default:
		if _, found := t.rows[key]; !found {
			e := rowNotFound(t, key)
			eb = &e
		}
		delete(t.rows, key)
	}
	status := d.variants.DeleteStatus
	d.mu.Unlock()
	if eb != nil {
		writeError(w, *eb)
		return
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(status)
}
