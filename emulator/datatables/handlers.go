package datatables

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gcupsert/gcupsert/emulator/core"
)

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

func tableNotFound(id string) core.ErrorBody {
	return core.ErrorBody{
		Message:  fmt.Sprintf("Datatable %s was not found.", id),
		Code:     CodeTableNotFound,
		Status:   http.StatusNotFound,
		EntityID: id,
	}
}

func rowNotFound(t *dtTable, key string) core.ErrorBody {
	return core.ErrorBody{
		Message:  fmt.Sprintf("Row %s was not found in datatable %s.", key, t.name),
		Code:     CodeRowNotFound,
		Status:   http.StatusNotFound,
		EntityID: key,
	}
}

func rowLimit(max int) core.ErrorBody {
	return core.ErrorBody{
		Message: fmt.Sprintf("The datatable has reached its limit of %d rows.", max),
		Code:    CodeLimit,
		Status:  http.StatusBadRequest,
		Limit:   &core.Limit{Key: "max.rows.per.table", Namespace: limitNamespace, Value: int64(max)},
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
func parsePaging(q url.Values) (paging, *core.ErrorBody) {
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
			eb := core.BadRequest(fmt.Sprintf("%s must be a positive integer.", f.name))
			return p, &eb
		}
		*f.dst = n
	}
	if p.size > maxPageSize {
		eb := core.BadRequest(fmt.Sprintf("pageSize %d is over the maximum of %d.", p.size, maxPageSize))
		return p, &eb
	}
	switch strings.ToLower(q.Get("sortOrder")) {
	case "", "asc", "ascending":
	case "desc", "descending":
		p.descending = true
	default:
		eb := core.BadRequest("sortOrder must be ascending or descending.")
		return p, &eb
	}
	return p, nil
}

// boolParam reads a boolean query parameter with a default.
func boolParam(q url.Values, name string, def bool) (bool, *core.ErrorBody) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		eb := core.BadRequest(fmt.Sprintf("%s must be true or false.", name))
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

func (d *Family) handleTablesList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p, eb := parsePaging(q)
	if eb != nil {
		core.WriteError(w, *eb)
		return
	}
	sortBy := q.Get("sortBy")
	if sortBy != "" && sortBy != "id" && sortBy != "name" {
		core.WriteError(w, core.BadRequest("sortBy must be id or name."))
		return
	}
	withSchema := expands(q, "schema")
	name := q.Get("name")
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
	core.WriteJSON(w, http.StatusOK, newListing(tablesPath, q, p, len(all), entities))
}

// tableBody is the body of a table POST or PUT.
type tableBody struct {
	Name        *string         `json:"name"`
	Description *string         `json:"description"`
	Schema      json.RawMessage `json:"schema"`
}

// readJSONBody reads a body of at most the server's MaxBodyBytes and
// decodes it into v; it writes the error answer and returns false on
// failure.
func (d *Family) readJSONBody(w http.ResponseWriter, r *http.Request, v any) bool {
	limit := d.srv.MaxBodyBytes()
	body, ok := core.ReadBody(w, r, limit, core.BodyTooLarge(limit, limitNamespace))
	if !ok {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		core.WriteError(w, core.BadRequest("The request body is not a valid JSON object."))
		return false
	}
	if dec.More() {
		core.WriteError(w, core.BadRequest("The request body has data after the JSON object."))
		return false
	}
	return true
}

func (d *Family) handleTableCreate(w http.ResponseWriter, r *http.Request) {
	var body tableBody
	if !d.readJSONBody(w, r, &body) {
		return
	}
	if body.Name == nil || strings.TrimSpace(*body.Name) == "" {
		core.WriteError(w, *schemaError("The datatable needs a name.", core.ErrorDetail{ErrorCode: "missing.name", FieldName: "name"}))
		return
	}
	if len(body.Schema) == 0 || string(body.Schema) == "null" {
		core.WriteError(w, *schemaError("The datatable needs a schema.", core.ErrorDetail{ErrorCode: "missing.schema", FieldName: "schema"}))
		return
	}
	sc, eb := parseSchema(body.Schema, d.lim.maxFields)
	if eb != nil {
		core.WriteError(w, *eb)
		return
	}
	d.mu.Lock()
	if d.byName(*body.Name) != nil {
		d.mu.Unlock()
		core.WriteError(w, core.ErrorBody{
			Message: fmt.Sprintf("A datatable named %s already exists.", *body.Name),
			Code:    CodeNameExists, Status: http.StatusConflict, EntityName: *body.Name,
		})
		return
	}
	if len(d.tables) >= d.lim.maxTables {
		d.mu.Unlock()
		core.WriteError(w, core.ErrorBody{
			Message: fmt.Sprintf("The organization has reached its limit of %d datatables.", d.lim.maxTables),
			Code:    CodeLimit, Status: http.StatusBadRequest,
			Limit: &core.Limit{Key: "max.tables", Namespace: limitNamespace, Value: int64(d.lim.maxTables)},
		})
		return
	}
	t := &dtTable{id: core.NewID(), name: *body.Name, schema: sc, rows: map[string]map[string]any{}}
	if body.Description != nil {
		t.description = *body.Description
	}
	d.tables[t.id] = t
	view := t.view(true)
	d.mu.Unlock()
	core.WriteJSON(w, http.StatusOK, view)
}

func (d *Family) handleTableGet(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("datatableId")
	d.mu.Lock()
	t, ok := d.tables[id]
	var view tableJSON
	if ok {
		view = t.view(expands(r.URL.Query(), "schema"))
	}
	d.mu.Unlock()
	if !ok {
		core.WriteError(w, tableNotFound(id))
		return
	}
	core.WriteJSON(w, http.StatusOK, view)
}

func (d *Family) handleTableUpdate(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("datatableId")
	d.mu.Lock()
	_, ok := d.tables[id]
	d.mu.Unlock()
	if !ok {
		core.WriteError(w, tableNotFound(id))
		return
	}
	var body tableBody
	if !d.readJSONBody(w, r, &body) {
		return
	}
	var sc *dtSchema
	if len(body.Schema) > 0 && string(body.Schema) != "null" {
		var eb *core.ErrorBody
		if sc, eb = parseSchema(body.Schema, d.lim.maxFields); eb != nil {
			core.WriteError(w, *eb)
			return
		}
	}
	if body.Name != nil && strings.TrimSpace(*body.Name) == "" {
		core.WriteError(w, *schemaError("The datatable name must not be empty.", core.ErrorDetail{ErrorCode: "missing.name", FieldName: "name"}))
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	t, ok := d.tables[id]
	if !ok {
		core.WriteError(w, tableNotFound(id))
		return
	}
	if body.Name != nil {
		if o := d.byName(*body.Name); o != nil && o != t {
			core.WriteError(w, core.ErrorBody{
				Message: fmt.Sprintf("A datatable named %s already exists.", *body.Name),
				Code:    CodeNameExists, Status: http.StatusConflict, EntityName: *body.Name,
			})
			return
		}
	}
	if sc != nil {
		var details []core.ErrorDetail
		var msgs []string
		for _, name := range t.schema.order {
			old, nf := t.schema.fields[name], sc.fields[name]
			switch {
			case nf == nil:
				details = append(details, core.ErrorDetail{ErrorCode: "field.removed", FieldName: name})
				msgs = append(msgs, name+" cannot be removed")
			case nf.typ != old.typ:
				details = append(details, core.ErrorDetail{ErrorCode: "field.type.changed", FieldName: name})
				msgs = append(msgs, fmt.Sprintf("%s cannot change type from %s to %s", name, old.typ, nf.typ))
			}
		}
		if len(details) > 0 {
			core.WriteError(w, *schemaError("Fields can be added but never changed or removed: "+strings.Join(msgs, "; ")+".", details...))
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
	core.WriteJSON(w, http.StatusOK, t.view(true))
}

func (d *Family) handleTableDelete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("datatableId")
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
		core.WriteError(w, tableNotFound(id))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (d *Family) handleRowsList(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("datatableId")
	q := r.URL.Query()
	p, eb := parsePaging(q)
	if eb == nil {
		_, eb = boolParam(q, "showbrief", true)
	}
	if eb != nil {
		core.WriteError(w, *eb)
		return
	}
	brief, _ := boolParam(q, "showbrief", true)
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
	core.WriteJSON(w, http.StatusOK, newListing(tablesPath+"/"+id+"/rows", q, p, len(keys), entities))
}

// readRow reads a row body: a JSON object, numbers as json.Number.
func (d *Family) readRow(w http.ResponseWriter, r *http.Request) (map[string]any, bool) {
	var obj map[string]any
	if !d.readJSONBody(w, r, &obj) {
		return nil, false
	}
	if obj == nil {
		core.WriteError(w, core.BadRequest("The request body is not a JSON object."))
		return nil, false
	}
	return obj, true
}

// lockTable locks d, completes due import jobs and finds table id. When the
// table is missing it unlocks, answers 404 and returns false; otherwise the
// caller holds the lock and must unlock it.
func (d *Family) lockTable(w http.ResponseWriter, id string) (*dtTable, bool) {
	d.mu.Lock()
	d.settle()
	t, ok := d.tables[id]
	if !ok {
		d.mu.Unlock()
		core.WriteError(w, tableNotFound(id))
		return nil, false
	}
	return t, true
}

func (d *Family) handleRowCreate(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("datatableId")
	d.mu.Lock()
	_, ok := d.tables[id]
	d.mu.Unlock()
	if !ok {
		core.WriteError(w, tableNotFound(id))
		return
	}
	obj, ok := d.readRow(w, r)
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
		core.WriteError(w, *eb)
		return
	}
	key := row[keyField].(string)
	if _, exists := t.rows[key]; exists {
		status := http.StatusConflict
		if d.variants.PostExisting == "400" {
			status = http.StatusBadRequest
		}
		core.WriteError(w, core.ErrorBody{
			Message:  fmt.Sprintf("A row with key %s already exists in datatable %s.", key, t.name),
			Code:     CodeRowExists,
			Status:   status,
			EntityID: key,
			Details:  []core.ErrorDetail{{ErrorCode: CodeRowExists, FieldName: keyField, EntityID: key}},
		})
		return
	}
	if len(t.rows) >= d.lim.maxRows {
		core.WriteError(w, rowLimit(d.lim.maxRows))
		return
	}
	t.rows[key] = row
	core.WriteJSON(w, http.StatusOK, t.schema.full(row))
}

func (d *Family) handleRowUpdate(w http.ResponseWriter, r *http.Request) {
	id, key := r.PathValue("datatableId"), r.PathValue("rowId")
	d.mu.Lock()
	_, ok := d.tables[id]
	d.mu.Unlock()
	if !ok {
		core.WriteError(w, tableNotFound(id))
		return
	}
	obj, ok := d.readRow(w, r)
	if !ok {
		return
	}
	if bk, present := obj[keyField]; !present {
		obj[keyField] = key
	} else if bk != key {
		core.WriteError(w, *schemaError(fmt.Sprintf("The key in the body (%s) differs from the row id in the path (%s).", jsonText(bk), key),
			core.ErrorDetail{ErrorCode: "key.mismatch", FieldName: keyField, EntityID: key}))
		return
	}
	t, ok := d.lockTable(w, id)
	if !ok {
		return
	}
	defer d.mu.Unlock()
	row, eb := t.schema.checkRow(obj, d.lim.maxKey, t.name)
	if eb != nil {
		core.WriteError(w, *eb)
		return
	}
	if _, exists := t.rows[key]; !exists {
		if d.variants.PutMissing != "create" {
			core.WriteError(w, rowNotFound(t, key))
			return
		}
		if len(t.rows) >= d.lim.maxRows {
			core.WriteError(w, rowLimit(d.lim.maxRows))
			return
		}
	}
	t.rows[key] = row
	core.WriteJSON(w, http.StatusOK, t.schema.full(row))
}

func (d *Family) handleRowGet(w http.ResponseWriter, r *http.Request) {
	id, key := r.PathValue("datatableId"), r.PathValue("rowId")
	brief, eb := boolParam(r.URL.Query(), "showbrief", true)
	if eb != nil {
		core.WriteError(w, *eb)
		return
	}
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
		core.WriteError(w, eb)
		return
	case brief:
		out = map[string]any{keyField: key}
	default:
		out = t.schema.full(row)
	}
	d.mu.Unlock()
	core.WriteJSON(w, http.StatusOK, out)
}

func (d *Family) handleRowDelete(w http.ResponseWriter, r *http.Request) {
	id, key := r.PathValue("datatableId"), r.PathValue("rowId")
	d.mu.Lock()
	d.settle()
	t, ok := d.tables[id]
	var eb *core.ErrorBody
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
		core.WriteError(w, *eb)
		return
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(status)
}
