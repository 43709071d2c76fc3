package externalcontacts

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/gcupsert/gcupsert/emulator/core"
)

// bulkDetail is a Bulkerrordetail.
type bulkDetail struct {
	FieldName string `json:"fieldName,omitempty"`
	Value     string `json:"value,omitempty"`
	Message   string `json:"message,omitempty"`
}

// bulkError is a Bulkentityerror*: Entity is the operation or entity of
// the request that failed.
type bulkError struct {
	Code      string       `json:"code"`
	Message   string       `json:"message"`
	Status    int          `json:"status"`
	Retryable bool         `json:"retryable"`
	Details   []bulkDetail `json:"details"`
	Entity    any          `json:"entity,omitempty"`
}

// bulkResult is a Bulkresponseresult*: Entity on success, Error on
// failure.
type bulkResult struct {
	ID      string     `json:"id,omitempty"`
	Success bool       `json:"success"`
	Entity  any        `json:"entity,omitempty"`
	Error   *bulkError `json:"error,omitempty"`
	Status  int        `json:"status"`
}

// bulkResponse is the response of every bulk route.
type bulkResponse struct {
	Results      []bulkResult `json:"results"`
	ErrorCount   int          `json:"errorCount"`
	ErrorIndexes []int        `json:"errorIndexes"`
}

// failed turns r into the result of a failed operation; echo (a typed
// pointer, or nil) is the operation as the request sent it.
func (r bulkResult) failed(fl *failure, echo any) bulkResult {
	be := &bulkError{Code: fl.code, Message: fl.message, Status: fl.status, Retryable: fl.retryable, Details: []bulkDetail{}}
	for _, p := range fl.problems {
		be.Details = append(be.Details, bulkDetail{FieldName: p.field, Value: p.value, Message: p.message})
	}
	if echo != nil {
		be.Entity = echo
	}
	r.Success, r.Status, r.Error, r.Entity = false, fl.status, be, nil
	return r
}

// finish shuffles results (ordering is not guaranteed) and counts the
// failures. The caller holds f.mu (the random source).
func (f *Family) finish(results []bulkResult) bulkResponse {
	f.rng.Shuffle(len(results), func(i, j int) { results[i], results[j] = results[j], results[i] })
	out := bulkResponse{Results: results, ErrorIndexes: []int{}}
	for i, r := range results {
		if !r.Success {
			out.ErrorCount++
			out.ErrorIndexes = append(out.ErrorIndexes, i)
		}
	}
	return out
}

// splitBulk returns the entities of a bulk body {"entities":[...]}, at
// least one and at most max (a limit named key).
func splitBulk(body []byte, max int, key string) ([]json.RawMessage, *failure) {
	var top struct {
		Entities *[]json.RawMessage `json:"entities"`
	}
	if err := decodeStrict(body, &top); err != nil {
		return nil, badRequest(fmt.Sprintf("The bulk request could not be read: %s.", err))
	}
	switch {
	case top.Entities == nil:
		return nil, badRequest("The bulk request has no entities array.")
	case len(*top.Entities) == 0:
		return nil, badRequest("The bulk request has no entities.")
	case len(*top.Entities) > max:
		fl := badRequest(fmt.Sprintf("The bulk request has %d entities; the limit is %d.", len(*top.Entities), max))
		fl.limit = &core.Limit{Key: key, Namespace: limitNamespace, Value: int64(max)}
		return nil, fl
	}
	return *top.Entities, nil
}

// bulkRef is one {"id"} of a bulk remove or fetch request.
type bulkRef struct {
	id   string
	echo *entityRef
	fail *failure
}

// readBulkIDs reads the body of a bulk remove or fetch request; on failure
// it answers and returns false.
func (f *Family) readBulkIDs(w http.ResponseWriter, r *http.Request) ([]bulkRef, bool) {
	body, ok := f.readBody(w, r)
	if !ok {
		return nil, false
	}
	raws, fl := splitBulk(body, f.maxBulk, "max.bulk.entities")
	if fl != nil {
		writeFailure(w, fl)
		return nil, false
	}
	refs := make([]bulkRef, len(raws))
	for i, raw := range raws {
		var ref entityRef
		if err := decodeStrict(raw, &ref); err != nil {
			refs[i] = bulkRef{echo: &entityRef{}, fail: badRequest(fmt.Sprintf("Entity %d could not be read: %s.", i, err))}
			continue
		}
		refs[i] = bulkRef{id: str(ref.ID), echo: &ref}
		if refs[i].id == "" {
			refs[i].fail = badRequest(fmt.Sprintf("Entity %d has no id.", i),
				problem{field: "id", code: detailRequired, message: "an id is required"})
		}
	}
	return refs, true
}

// handleBulkRemove removes entities by id: 200 per removed entity, 404 per
// unknown id. Removing an organization unlinks the contacts naming it (a
// guess).
func (f *Family) handleBulkRemove(et EntityType, w http.ResponseWriter, r *http.Request) {
	refs, ok := f.readBulkIDs(w, r)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	results := make([]bulkResult, len(refs))
	for i, ref := range refs {
		res := bulkResult{ID: ref.id}
		switch {
		case ref.fail != nil:
			res = res.failed(ref.fail, ref.echo)
		case f.storeOf(et).remove(ref.id) == nil:
			res = res.failed(entityNotFound(et, ref.id), ref.echo)
		default:
			if et == EntityOrganizations {
				f.unlinkOrg(ref.id, nil)
			}
			res.Success, res.Status = true, http.StatusOK
		}
		results[i] = res
	}
	core.WriteJSON(w, http.StatusOK, f.finish(results))
}

// handleBulkFetch returns entities by id: 200 with the entity, or 404.
func (f *Family) handleBulkFetch(et EntityType, w http.ResponseWriter, r *http.Request) {
	refs, ok := f.readBulkIDs(w, r)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	results := make([]bulkResult, len(refs))
	for i, ref := range refs {
		res := bulkResult{ID: ref.id}
		e, found := f.storeOf(et).items[ref.id]
		switch {
		case ref.fail != nil:
			res = res.failed(ref.fail, ref.echo)
		case !found:
			res = res.failed(entityNotFound(et, ref.id), ref.echo)
		default:
			res.Success, res.Status, res.Entity = true, http.StatusOK, f.render(et, e)
		}
		results[i] = res
	}
	core.WriteJSON(w, http.StatusOK, f.finish(results))
}
