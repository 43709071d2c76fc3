package upsert

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Op is what a change event asks for.
type Op string

const (
	// OpUpsert creates or updates the record (subject to the route's Conflict).
	OpUpsert Op = "upsert"
	// OpDelete removes the record; a missing record counts as deleted.
	OpDelete Op = "delete"
)

// Conflict is the conflict-resolution directive of a route.
type Conflict string

const (
	ConflictUpsert     Conflict = "upsert"     // update when it exists, else create
	ConflictUpdateOnly Conflict = "updateOnly" // update; a missing record is rejected
	ConflictCreateOnly Conflict = "createOnly" // create; an existing record is rejected
)

// ParseConflict checks a directive read from configuration.
func ParseConflict(s string) (Conflict, error) {
	switch c := Conflict(s); c {
	case ConflictUpsert, ConflictUpdateOnly, ConflictCreateOnly:
		return c, nil
	}
	return "", fmt.Errorf("unknown conflict resolution %q (want upsert, updateOnly or createOnly)", s)
}

// Record is one decoded change: the record key, the operation and, for
// upserts, the field values (the key is not among them).
type Record struct {
	Key  string
	Op   Op
	Data map[string]any
}

// Item is a record that passed per-record validation and has been encoded as
// it will appear in the request body. Items are made by a target's Prepare.
type Item struct {
	Record Record
	// Body is the record's JSON exactly as it is placed in the request body.
	Body []byte
}

// Size is the number of bytes the item adds to a request body.
func (it Item) Size() int { return len(it.Body) }

// Status is the outcome of one record.
type Status int

const (
	StatusRejected Status = iota // dead-lettered; Outcome.Err says why
	StatusCreated
	StatusUpdated
	StatusDeleted
)

func (s Status) String() string {
	switch s {
	case StatusCreated:
		return "created"
	case StatusUpdated:
		return "updated"
	case StatusDeleted:
		return "deleted"
	default:
		return "rejected"
	}
}

// Outcome is what happened to one record of a batch.
type Outcome struct {
	Status Status
	// Written is the record as written (key included) for created and
	// updated records, when the target has it decoded.
	Written map[string]any
	// WrittenJSON is the record as written, as the JSON object the API
	// returned, when the target kept it undecoded (customobjects does, so
	// that sync events carry it without a decode and an encode). Record
	// decodes it.
	WrittenJSON json.RawMessage
	// Err is set when Status is StatusRejected.
	Err *RecordError
	// Attempts is the number of HTTP requests that carried this record.
	Attempts int
}

// Result is the outcome of a batch: one Outcome per input item, in order.
type Result struct {
	Outcomes []Outcome
	// Attempts is the number of HTTP requests made for the batch, token
	// requests excluded.
	Attempts int
	// CorrelationIDs are the ININ-Correlation-Id values of the responses.
	CorrelationIDs []string
}

// FieldError is one field-level problem of a record.
type FieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// RecordError says why a record was rejected. It is what a dead letter
// carries in its headers.
type RecordError struct {
	// Class groups errors for operators: "decode", "validation", "unique",
	// "reference", "conflict", "api".
	Class string
	// Code is a stable, machine-readable code (the Genesys error code for
	// API rejections, e.g. "bad.request").
	Code string
	// Status is the HTTP status, 0 when the record was rejected before sending.
	Status int
	// Message is a human-readable explanation, free of secrets.
	Message string
	// Fields lists field-level errors, when known.
	Fields []FieldError
	// CorrelationID is the ININ-Correlation-Id of the rejecting response.
	CorrelationID string
}

func (e *RecordError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("%s: %s (HTTP %d): %s", e.Class, e.Code, e.Status, e.Message)
	}
	return fmt.Sprintf("%s: %s: %s", e.Class, e.Code, e.Message)
}

// Record returns the record as written: Written, or WrittenJSON decoded
// (numbers as json.Number); nil when there is neither or WrittenJSON is not
// a JSON object.
func (o Outcome) Record() map[string]any {
	if o.Written != nil || len(o.WrittenJSON) == 0 {
		return o.Written
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(o.WrittenJSON))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil
	}
	return m
}
