package change

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Status is the outcome of one record.
type Status int

const (
	StatusRejected  Status = iota // dead-lettered; Outcome.Err says why
	StatusCreated                 // written, new
	StatusUpdated                 // written over an earlier version
	StatusDeleted                 // removed, or found missing
	StatusCollapsed               // superseded by a newer event of its key in the batch
)

func (s Status) String() string {
	switch s {
	case StatusCreated:
		return "created"
	case StatusUpdated:
		return "updated"
	case StatusDeleted:
		return "deleted"
	case StatusCollapsed:
		return "collapsed"
	default:
		return "rejected"
	}
}

// Written reports whether the status is a write the target made (created,
// updated or deleted): what a sync event reports.
func (s Status) Written() bool {
	return s == StatusCreated || s == StatusUpdated || s == StatusDeleted
}

// Outcome is what happened to one record of a batch.
type Outcome struct {
	Status Status
	// Written is the record as written (key included) for created and
	// updated records, when the target has it decoded.
	Written map[string]any
	// WrittenJSON is the record as written, as the JSON object the API
	// returned, when the target kept it undecoded (so that sync events
	// carry it without a decode and an encode). Record decodes it.
	WrittenJSON json.RawMessage
	// Err is set when Status is StatusRejected.
	Err *RecordError
	// Attempts is the number of HTTP requests that carried this record.
	Attempts int
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

// Result is the outcome of a target call: one Outcome per input item, in
// order.
type Result struct {
	Outcomes []Outcome
	// Attempts is the number of HTTP requests made, token requests excluded.
	Attempts int
	// CorrelationIDs are the ININ-Correlation-Id values of the responses.
	CorrelationIDs []string
}

// Error classes: what a dead letter's gcupsert.error.class says.
const (
	ClassDecode     = "decode"
	ClassValidation = "validation"
	ClassUnique     = "unique"
	ClassReference  = "reference"
	ClassConflict   = "conflict"
	ClassAPI        = "api"
)

// FieldError is one field-level problem of a record.
type FieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// RecordError says why a record was rejected. It is what a dead letter
// carries in its headers.
type RecordError struct {
	// Class groups errors for operators: one of the Class constants.
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
