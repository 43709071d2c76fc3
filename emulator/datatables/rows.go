package datatables

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/gcupsert/gcupsert/emulator/core"
)

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

// readRow reads the row body of a request on table id: a JSON object,
// numbers as json.Number. It answers 404 first when the table is missing.
func (d *Family) readRow(w http.ResponseWriter, r *http.Request, id string) (map[string]any, bool) {
	if !d.tableExists(w, id) {
		return nil, false
	}
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

// tableExists reports whether table id exists; when it does not, it
// answers 404.
func (d *Family) tableExists(w http.ResponseWriter, id string) bool {
	d.mu.Lock()
	_, ok := d.tables[id]
	d.mu.Unlock()
	if !ok {
		core.WriteError(w, tableNotFound(id))
	}
	return ok
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
	obj, ok := d.readRow(w, r, id)
	if !ok {
		return
	}
	d.writeRow(w, id, obj, func(t *dtTable, row map[string]any) {
		d.createRow(w, t, row)
	})
}

// createRow stores a new row, or answers that its key exists (see
// Variants.PostExisting). The caller holds d.mu.
func (d *Family) createRow(w http.ResponseWriter, t *dtTable, row map[string]any) {
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
	d.putRow(w, t, key, row)
}

func (d *Family) handleRowUpdate(w http.ResponseWriter, r *http.Request) {
	id, key := r.PathValue("datatableId"), r.PathValue("rowId")
	obj, ok := d.readRow(w, r, id)
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
	d.writeRow(w, id, obj, func(t *dtTable, row map[string]any) {
		if _, exists := t.rows[key]; !exists && d.variants.PutMissing != "create" {
			core.WriteError(w, rowNotFound(t, key))
			return
		}
		d.putRow(w, t, key, row)
	})
}

// writeRow locks d and checks obj against the schema of table id; when it
// fits, store gets the table and the row to store, under the lock. Every
// failure is answered.
func (d *Family) writeRow(w http.ResponseWriter, id string, obj map[string]any, store func(t *dtTable, row map[string]any)) {
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
	store(t, row)
}

// putRow stores row under key in t and answers the full row; a new key
// over the row limit is refused. The caller holds d.mu.
func (d *Family) putRow(w http.ResponseWriter, t *dtTable, key string, row map[string]any) {
	if _, exists := t.rows[key]; !exists && len(t.rows) >= d.lim.maxRows {
		core.WriteError(w, rowLimit(d.lim.maxRows))
		return
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
