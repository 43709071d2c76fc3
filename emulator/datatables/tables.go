package datatables

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
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

// tablesPath is the path of the table collection.
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
	if !d.tableExists(w, id) {
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
