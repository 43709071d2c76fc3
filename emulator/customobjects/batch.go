package customobjects

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"

	"github.com/gcupsert/gcupsert/emulator/core"
)

// batchRecord is one decoded record of a batch.
type batchRecord struct {
	id       string
	conflict string
	stored   map[string]any // fields plus id
}

// splitBatch returns the raw records of a batch body, or a message saying
// why the body is not a batch.
func splitBatch(body []byte) ([]json.RawMessage, string) {
	var top map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&top); err != nil || top == nil {
		return nil, "The request body is not a JSON object."
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, "The request body has data after the JSON object."
	}
	raw, ok := top["records"]
	if !ok {
		return nil, "The request body has no records array."
	}
	var recs []json.RawMessage
	if err := json.Unmarshal(raw, &recs); err != nil || recs == nil {
		return nil, "The records field is not an array."
	}
	if len(recs) == 0 {
		return nil, "The records array is empty."
	}
	return recs, ""
}

// checkRecord decodes and validates record i; it returns the record, or an
// ErrorBody naming its problems.
func checkRecord(sch *jsonschema.Schema, i int, raw json.RawMessage) (batchRecord, *core.ErrorBody) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	_ = dec.Decode(&v) // raw is a valid JSON value: splitBatch decoded it
	obj, ok := v.(map[string]any)
	if !ok {
		return batchRecord{}, &core.ErrorBody{
			Message: fmt.Sprintf("Record %d is not a JSON object.", i),
			Code:    CodeInvalidRecord,
			Status:  http.StatusBadRequest,
			Details: []core.ErrorDetail{{ErrorCode: CodeNotObject}},
		}
	}
	var details []core.ErrorDetail
	id, idOK := obj["id"].(string)
	switch {
	case obj["id"] == nil:
		details = append(details, core.ErrorDetail{ErrorCode: CodeMissingID, FieldName: "id"})
	case !idOK || id == "":
		details = append(details, core.ErrorDetail{ErrorCode: CodeInvalidID, FieldName: "id"})
		id = ""
	}
	cr, crOK := obj["conflictResolution"].(string)
	switch {
	case obj["conflictResolution"] == nil:
		details = append(details, core.ErrorDetail{ErrorCode: CodeMissingConflict, FieldName: "conflictResolution", EntityID: id})
	case !crOK || (cr != ConflictUpsert && cr != ConflictUpdateOnly && cr != ConflictCreateOnly):
		details = append(details, core.ErrorDetail{ErrorCode: CodeInvalidConflict, FieldName: "conflictResolution", EntityID: id})
	}
	fields := make(map[string]any, len(obj))
	for k, val := range obj {
		if k != "id" && k != "conflictResolution" {
			fields[k] = val
		}
	}
	var msgs []string
	if err := sch.Validate(fields); err != nil {
		d, m := schemaDetails(err, id)
		details = append(details, d...)
		msgs = m
	}
	if len(details) > 0 {
		for j := range details {
			details[j].EntityID = id
		}
		label := id
		if label == "" {
			label = fmt.Sprintf("at index %d", i)
		}
		msg := fmt.Sprintf("Record %s is invalid.", label)
		if len(msgs) > 0 {
			msg = fmt.Sprintf("Record %s is invalid: %s.", label, strings.Join(msgs, "; "))
		}
		return batchRecord{}, &core.ErrorBody{
			Message:  msg,
			Code:     CodeInvalidRecord,
			Status:   http.StatusBadRequest,
			EntityID: id,
			Details:  details,
		}
	}
	stored := fields
	stored["id"] = id
	return batchRecord{id: id, conflict: cr, stored: stored}, nil
}

// schemaDetails turns a validation error into one detail per offending
// field and readable messages.
func schemaDetails(err error, id string) ([]core.ErrorDetail, []string) {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []core.ErrorDetail{{ErrorCode: core.CodeSchemaPrefix + "invalid", EntityID: id}}, []string{err.Error()}
	}
	var details []core.ErrorDetail
	var msgs []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		field := strings.Join(e.InstanceLocation, ".")
		msg := "invalid"
		if out := e.BasicOutput(); out != nil && out.Error != nil {
			msg = out.Error.String()
		}
		if field != "" {
			msgs = append(msgs, field+": "+msg)
		} else {
			msgs = append(msgs, msg)
		}
		join := func(name string) string {
			if field == "" {
				return name
			}
			return field + "." + name
		}
		switch k := e.ErrorKind.(type) {
		case *kind.Required:
			for _, m := range k.Missing {
				details = append(details, core.ErrorDetail{ErrorCode: core.CodeSchemaPrefix + "required", FieldName: join(m)})
			}
		case *kind.AdditionalProperties:
			for _, p := range k.Properties {
				details = append(details, core.ErrorDetail{ErrorCode: core.CodeSchemaPrefix + "additionalProperties", FieldName: join(p)})
			}
		default:
			kw := "invalid"
			if path := e.ErrorKind.KeywordPath(); len(path) > 0 {
				kw = path[len(path)-1]
			}
			details = append(details, core.ErrorDetail{ErrorCode: core.CodeSchemaPrefix + kw, FieldName: field})
		}
	}
	walk(ve)
	return details, msgs
}
