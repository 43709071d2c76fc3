package sink

import (
	"bytes"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/segmentio/kafka-go"
)

// Event kinds: the names EventSchema and Validator take.
const (
	KindAudit      = "audit"
	KindSync       = "sync"
	KindDeadLetter = "deadletter"
)

// EventKinds lists the event kinds in a fixed order.
func EventKinds() []string { return []string{KindAudit, KindSync, KindDeadLetter} }

// ErrUnknownKind is returned for an event kind other than KindAudit,
// KindSync and KindDeadLetter.
var ErrUnknownKind = errors.New("sink: unknown event kind")

//go:embed schemas/*.json
var schemaFiles embed.FS

// EventSchemaFile returns the file name of the JSON Schema (draft 2020-12)
// of an event kind at the current Version, such as "audit.v1.json".
func EventSchemaFile(kind string) (string, error) {
	switch kind {
	case KindAudit, KindSync, KindDeadLetter:
		return kind + ".v" + strconv.Itoa(Version) + ".json", nil
	}
	return "", fmt.Errorf("%w: %q", ErrUnknownKind, kind)
}

// EventSchema returns the JSON Schema (draft 2020-12) of an event kind at
// the current Version. Audit and sync schemas describe the Kafka value; the
// dead-letter schema describes the document DeadLetterDocument builds from
// the Kafka record (key, value and headers).
func EventSchema(kind string) ([]byte, error) {
	name, err := EventSchemaFile(kind)
	if err != nil {
		return nil, err
	}
	return schemaFiles.ReadFile("schemas/" + name)
}

// DeadLetterDocument renders a dead-letter Kafka record as the JSON document
// the dead-letter schema describes:
//
//	{"key": base64 or null, "value": base64 or null, "headers": {"name": "value", ...}}
//
// Key and value use standard base64 with padding; a nil key or value is
// null. A header name that appears twice, or a header value that is not
// UTF-8, is an error.
func DeadLetterDocument(m kafka.Message) ([]byte, error) {
	headers := make(map[string]string, len(m.Headers))
	for _, h := range m.Headers {
		if _, dup := headers[h.Key]; dup {
			return nil, fmt.Errorf("sink: dead letter: header %q appears twice", h.Key)
		}
		if !utf8.Valid(h.Value) {
			return nil, fmt.Errorf("sink: dead letter: header %q is not UTF-8", h.Key)
		}
		headers[h.Key] = string(h.Value)
	}
	b64 := func(b []byte) *string {
		if b == nil {
			return nil
		}
		s := base64.StdEncoding.EncodeToString(b)
		return &s
	}
	return json.Marshal(struct {
		Key     *string           `json:"key"`
		Value   *string           `json:"value"`
		Headers map[string]string `json:"headers"`
	}{b64(m.Key), b64(m.Value), headers})
}

// SchemaError says why an event does not conform to its schema.
type SchemaError struct {
	Kind    string // KindAudit, KindSync or KindDeadLetter
	EventID string // when it could be read
	Err     error
}

func (e *SchemaError) Error() string {
	if e.EventID != "" {
		return fmt.Sprintf("sink: %s event %s: %v", e.Kind, e.EventID, e.Err)
	}
	return fmt.Sprintf("sink: %s event: %v", e.Kind, e.Err)
}

func (e *SchemaError) Unwrap() error { return e.Err }

// Validator checks Kafka records of the outbound topics against the event
// schemas, with format (date-time) and content (base64, embedded JSON)
// assertions on, plus the rules a schema cannot state: an audit record's
// key, eventId and batchId are equal; a sync record's key is its "key" and
// its eventId is its source position; a dead letter's event id is its
// source headers' position. A Validator is safe for concurrent use.
type Validator struct {
	schemas map[string]*jsonschema.Schema
}

// NewValidator compiles the embedded schemas.
func NewValidator() (*Validator, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.AssertContent()
	v := &Validator{schemas: map[string]*jsonschema.Schema{}}
	for _, kind := range EventKinds() {
		raw, err := EventSchema(kind)
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("sink: %s schema: %w", kind, err)
		}
		id, _ := doc.(map[string]any)["$id"].(string)
		if id == "" {
			return nil, fmt.Errorf("sink: %s schema has no $id", kind)
		}
		if err := c.AddResource(id, doc); err != nil {
			return nil, fmt.Errorf("sink: %s schema: %w", kind, err)
		}
		s, err := c.Compile(id)
		if err != nil {
			return nil, fmt.Errorf("sink: %s schema: %w", kind, err)
		}
		v.schemas[kind] = s
	}
	return v, nil
}

// Validate checks one Kafka record of the given kind. The error is a
// *SchemaError, or wraps ErrUnknownKind.
func (v *Validator) Validate(kind string, m kafka.Message) error {
	if _, ok := v.schemas[kind]; !ok {
		return fmt.Errorf("%w: %q", ErrUnknownKind, kind)
	}
	raw := m.Value
	if kind == KindDeadLetter {
		doc, err := DeadLetterDocument(m)
		if err != nil {
			return &SchemaError{Kind: kind, Err: err}
		}
		raw = doc
	}
	inst, id, err := v.validate(kind, raw)
	if err != nil {
		return err
	}
	if err := checkIdentity(kind, m.Key, inst); err != nil {
		return &SchemaError{Kind: kind, EventID: id, Err: err}
	}
	return nil
}

// ValidateJSON checks a JSON document against the schema of kind alone: the
// Kafka value of an audit or sync event, or a dead letter's
// DeadLetterDocument. The error is a *SchemaError, or wraps ErrUnknownKind.
func (v *Validator) ValidateJSON(kind string, raw []byte) error {
	if _, ok := v.schemas[kind]; !ok {
		return fmt.Errorf("%w: %q", ErrUnknownKind, kind)
	}
	_, _, err := v.validate(kind, raw)
	return err
}

func (v *Validator) validate(kind string, raw []byte) (any, string, error) {
	if raw == nil {
		return nil, "", &SchemaError{Kind: kind, Err: errors.New("value is null")}
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, "", &SchemaError{Kind: kind, Err: fmt.Errorf("not JSON: %w", err)}
	}
	id := eventIDOf(kind, inst)
	if err := v.schemas[kind].Validate(inst); err != nil {
		return nil, id, &SchemaError{Kind: kind, EventID: id, Err: err}
	}
	return inst, id, nil
}

func eventIDOf(kind string, inst any) string {
	obj, _ := inst.(map[string]any)
	if kind == KindDeadLetter {
		obj, _ = obj["headers"].(map[string]any)
		s, _ := obj[HeaderEventID].(string)
		return s
	}
	s, _ := obj["eventId"].(string)
	return s
}

// checkIdentity applies the key and id rules to an instance that already
// conforms to its schema.
func checkIdentity(kind string, key []byte, inst any) error {
	obj := inst.(map[string]any)
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	num := func(m map[string]any, k string) string {
		n, _ := m[k].(json.Number)
		return n.String()
	}
	switch kind {
	case KindAudit:
		id := str(obj, "eventId")
		if str(obj, "batchId") != id {
			return fmt.Errorf("batchId %q differs from eventId", str(obj, "batchId"))
		}
		if string(key) != id {
			return fmt.Errorf("Kafka key %q differs from eventId", key)
		}
		src := obj["source"].(map[string]any)
		if want := str(src, "topic") + "-" + num(src, "partition") + "-" + num(src, "firstOffset") + "-" + num(src, "lastOffset"); id != want {
			return fmt.Errorf("eventId differs from the source range %s", want)
		}
		first, _ := src["firstOffset"].(json.Number).Int64()
		last, _ := src["lastOffset"].(json.Number).Int64()
		if first > last {
			return fmt.Errorf("firstOffset %d is after lastOffset %d", first, last)
		}
	case KindSync:
		if string(key) != str(obj, "key") {
			return fmt.Errorf("Kafka key %q differs from key %q", key, str(obj, "key"))
		}
		src := obj["source"].(map[string]any)
		pos := str(src, "topic") + "-" + num(src, "partition")
		if want := pos + "-" + num(src, "offset"); str(obj, "eventId") != want {
			return fmt.Errorf("eventId differs from the source position %s", want)
		}
		off, _ := src["offset"].(json.Number).Int64()
		batch, first, last, ok := splitRange(str(obj, "batchId"))
		if !ok || batch != pos || off < first || off > last {
			return fmt.Errorf("batchId %q does not cover the source position", str(obj, "batchId"))
		}
	case KindDeadLetter:
		h := obj["headers"].(map[string]any)
		want := str(h, HeaderSourceTopic) + "-" + str(h, HeaderSourcePart) + "-" + str(h, HeaderSourceOffset)
		if str(h, HeaderEventID) != want {
			return fmt.Errorf("%s differs from the source position %s", HeaderEventID, want)
		}
	}
	return nil
}

// splitRange splits "<topic>-<partition>-<first>-<last>" into
// "<topic>-<partition>", first and last.
func splitRange(id string) (string, int64, int64, bool) {
	i := strings.LastIndexByte(id, '-')
	if i < 0 {
		return "", 0, 0, false
	}
	j := strings.LastIndexByte(id[:i], '-')
	if j < 0 {
		return "", 0, 0, false
	}
	first, err1 := strconv.ParseInt(id[j+1:i], 10, 64)
	last, err2 := strconv.ParseInt(id[i+1:], 10, 64)
	if err1 != nil || err2 != nil || first > last {
		return "", 0, 0, false
	}
	return id[:j], first, last, true
}
