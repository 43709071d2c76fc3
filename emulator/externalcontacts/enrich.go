package externalcontacts

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gcupsert/gcupsert/emulator/core"
)

// Enrich actions (Contactenrichrequest.action). Merge is for contacts
// only, and is served as Upsert (a guess: merging contacts is not
// modelled).
const (
	ActionUpsert = "Upsert"
	ActionUpdate = "Update"
	ActionInsert = "Insert"
	ActionMerge  = "Merge"
)

// enrichOp is a parsed enrich operation.
type enrichOp struct {
	tracker string         // the caller's id of the operation
	action  string         // Upsert, Update or Insert
	idents  []ident        // matchingIdentifiers, in order
	fields  map[string]any // the provided entity's fields
	touched bool           // the provided entity names a schema or custom fields
	rules   rules
	echo    any      // the operation as decoded, for a bulk error
	fail    *failure // why the operation is refused before it runs
}

// enrichParts are the parts of a decoded enrich operation of either type.
type enrichParts struct {
	id, action *string
	idents     *[]identifierDoc
	rules      *fieldRules
	doc        any // *contactDoc or *orgDoc; nil when absent
}

// decodeEnrichOp decodes raw into the enrich operation of et.
func decodeEnrichOp(et EntityType, raw json.RawMessage) (enrichParts, any, error) {
	if et == EntityContacts {
		var op contactEnrichOp
		if err := decodeStrict(raw, &op); err != nil {
			return enrichParts{}, nil, err
		}
		p := enrichParts{id: op.ID, action: op.Action, idents: op.MatchingIdentifiers, rules: op.FieldRules}
		if op.Contact != nil {
			p.doc = op.Contact
		}
		return p, &op, nil
	}
	var op orgEnrichOp
	if err := decodeStrict(raw, &op); err != nil {
		return enrichParts{}, nil, err
	}
	p := enrichParts{id: op.ID, action: op.Action, idents: op.MatchingIdentifiers, rules: op.FieldRules}
	if op.ExternalOrganization != nil {
		p.doc = op.ExternalOrganization
	}
	return p, &op, nil
}

// parseEnrichOp decodes and checks enrich operation i of et (-1: the one
// operation of a single enrich).
func parseEnrichOp(et EntityType, raw json.RawMessage, i int) enrichOp {
	p, echo, err := decodeEnrichOp(et, raw)
	if err != nil {
		var probe struct {
			ID any `json:"id"`
		}
		_ = json.Unmarshal(raw, &probe)
		msg := fmt.Sprintf("Operation %d could not be read: %s.", i, err)
		if i < 0 {
			msg = fmt.Sprintf("The enrich operation could not be read: %s.", err)
		}
		op := enrichOp{fail: badRequest(msg)}
		if id, ok := probe.ID.(string); ok {
			op.tracker, op.echo = id, &entityRef{ID: &id}
		}
		return op
	}
	op := enrichOp{tracker: str(p.id), action: str(p.action), echo: echo, fields: map[string]any{}}
	var ps []problem
	allowed := []string{ActionUpsert, ActionUpdate, ActionInsert}
	if et == EntityContacts {
		allowed = append(allowed, ActionMerge)
	}
	switch {
	case op.action == "":
		ps = append(ps, problem{field: "action", code: detailRequired, message: "an action is required"})
	case !slices.Contains(allowed, op.action):
		ps = append(ps, problem{field: "action", code: detailInvalid, value: clip(op.action), message: fmt.Sprintf("must be one of %v", allowed)})
	case op.action == ActionMerge:
		op.action = ActionUpsert
	}
	var ids []identifierDoc
	if p.idents != nil {
		ids = *p.idents
	}
	switch {
	case len(ids) == 0:
		ps = append(ps, problem{field: "matchingIdentifiers", code: detailRequired, message: "at least one identifier is required"})
	case et == EntityContacts && len(ids) > MaxMatchingIDs:
		ps = append(ps, problem{field: "matchingIdentifiers", code: detailTooMany, value: strconv.Itoa(len(ids)),
			message: fmt.Sprintf("at most %d identifiers", MaxMatchingIDs)})
	}
	for j, d := range ids {
		id, ips := checkIdentifier(et, d, fmt.Sprintf("matchingIdentifiers[%d]", j))
		op.idents, ps = append(op.idents, id), append(ps, ips...)
	}
	var rps []problem
	op.rules, rps = parseRules(p.rules)
	ps = append(ps, rps...)
	if p.doc != nil {
		op.fields, op.touched = docFields(p.doc)
	}
	if len(ps) > 0 {
		op.fail = invalid("enrich operation", ps)
	}
	return op
}

// applyEnrich runs op on the store of et: the first identifier that
// matches picks the entity; Insert on a match fails 409, Update without
// one 404; otherwise the provided fields are merged into the match (200)
// or make a new entity (201). A new entity takes every ExternalId
// identifier as an external id; an updated one keeps the external id it
// was matched by, whatever the merge did (a guess, so that it stays found
// by it). The caller holds f.mu.
func (f *Family) applyEnrich(et EntityType, op *enrichOp, now time.Time, u *undo) (int, *stored, *failure) {
	var hit *stored
	keep := op.idents // the ExternalId identifiers the entity ends up holding
	for _, id := range op.idents {
		if hit = f.match(et, id); hit != nil {
			keep = []ident{id}
			break
		}
	}
	switch {
	case op.action == ActionInsert && hit != nil:
		return 0, nil, conflict(CodeEnrichConflict, fmt.Sprintf("Insert: the identifiers match %s %s.", entityName(et), hit.id))
	case op.action == ActionUpdate && hit == nil:
		return 0, nil, &failure{status: http.StatusNotFound, code: CodeEnrichNotFound,
			message: fmt.Sprintf("Update: no %s matches the identifiers.", entityName(et))}
	}
	var existing map[string]any
	selfID := ""
	if hit != nil {
		existing, selfID = hit.fields, hit.id
	}
	merged := mergeFields(et, existing, op.fields, op.rules)
	addExternalIDs(merged, keep)
	fields, ps := normalize(et, merged)
	if len(ps) > 0 {
		return 0, nil, invalid(entityName(et), ps)
	}
	if fl := f.checkRefs(et, fields, op.touched, selfID); fl != nil {
		return 0, nil, fl
	}
	if hit == nil {
		return http.StatusCreated, f.insert(et, fields, now, u), nil
	}
	st := f.storeOf(et)
	u.note(st, hit.id)
	e := &stored{id: hit.id, seq: hit.seq, created: hit.created, modified: now, fields: fields}
	st.put(e)
	return http.StatusOK, e, nil
}

// addExternalIDs adds the ExternalId identifiers to the externalIds of an
// entity's fields, where missing.
func addExternalIDs(fields map[string]any, idents []ident) {
	arr, _ := fields["externalIds"].([]any)
	have := map[string]bool{}
	for _, x := range arr {
		have[itemKey(x)] = true
	}
	for _, id := range idents {
		if id.typ != IdentExternalID || have[extKey(id.sourceID, id.value)] {
			continue
		}
		have[extKey(id.sourceID, id.value)] = true
		arr = append(arr, map[string]any{"externalSource": map[string]any{"id": id.sourceID}, "value": id.value})
	}
	if len(arr) > 0 {
		fields["externalIds"] = arr
	}
}

// unavailable is the injected retryable failure of an operation.
func unavailable() *failure {
	return &failure{status: http.StatusServiceUnavailable, code: CodeUnavailable, retryable: true,
		message: "The operation could not be completed at this time; retry it."}
}

// dryRun reads the dryRun query parameter.
func dryRun(r *http.Request) (bool, *failure) {
	switch v := r.URL.Query().Get("dryRun"); v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, badRequest(fmt.Sprintf("dryRun must be true or false, not %s.", clip(v)))
	}
}

// handleBulkEnrich runs up to MaxEnrich enrich operations in request
// order, each on its own: a share of them (RetryableShare) fails with a
// retryable 503 and changes nothing. With dryRun nothing is kept.
func (f *Family) handleBulkEnrich(et EntityType, w http.ResponseWriter, r *http.Request) {
	dry, fl := dryRun(r)
	if fl != nil {
		writeFailure(w, fl)
		return
	}
	body, ok := f.readBody(w, r)
	if !ok {
		return
	}
	raws, fl := splitBulk(body, f.maxEnrich, "max.enrich.operations")
	if fl != nil {
		writeFailure(w, fl)
		return
	}
	ops := make([]enrichOp, len(raws))
	for i, raw := range raws {
		ops[i] = parseEnrichOp(et, raw, i)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var u undo
	now := f.now()
	results := make([]bulkResult, len(ops))
	for i := range ops {
		op := &ops[i]
		res := bulkResult{ID: op.tracker}
		if op.fail == nil && f.share > 0 && f.rng.Float64() < f.share {
			op.fail = unavailable()
		}
		if op.fail != nil {
			results[i] = res.failed(op.fail, op.echo)
			continue
		}
		status, e, fl := f.applyEnrich(et, op, now, &u)
		if fl != nil {
			results[i] = res.failed(fl, op.echo)
			continue
		}
		res.Success, res.Status, res.Entity = true, status, f.render(et, e)
		results[i] = res
	}
	if dry {
		u.rollback()
	}
	core.WriteJSON(w, http.StatusOK, f.finish(results))
}

// handleEnrichOne runs one enrich operation: 201 when it created the
// entity, 200 when it updated one; a failure answers with its status.
func (f *Family) handleEnrichOne(et EntityType, w http.ResponseWriter, r *http.Request) {
	dry, fl := dryRun(r)
	if fl != nil {
		writeFailure(w, fl)
		return
	}
	body, ok := f.readBody(w, r)
	if !ok {
		return
	}
	op := parseEnrichOp(et, body, -1)
	if op.fail != nil {
		writeFailure(w, op.fail)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var u undo
	status, e, fl := f.applyEnrich(et, &op, f.now(), &u)
	if fl != nil {
		writeFailure(w, fl)
		return
	}
	out := f.render(et, e)
	if dry {
		u.rollback()
	}
	core.WriteJSON(w, status, out)
}
