package sink

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/segmentio/kafka-go"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/internal/jsonenc"
)

// Version is the format version carried by every event ("version" in audit
// and sync JSON, the gcupsert.version header of dead letters).
const Version = 1

// Audit statuses.
const (
	StatusSuccess = "SUCCESS" // every record upserted or deleted
	StatusPartial = "PARTIAL" // some records dead-lettered
	StatusFailed  = "FAILED"  // no record written
)

// Sync operations.
const (
	OperationCreated = "created"
	OperationUpdated = "updated"
	OperationDeleted = "deleted"
)

// Dead-letter header names.
const (
	HeaderVersion       = "gcupsert.version"
	HeaderEventID       = "gcupsert.event.id"
	HeaderErrorClass    = "gcupsert.error.class"
	HeaderErrorCode     = "gcupsert.error.code"
	HeaderErrorStatus   = "gcupsert.error.status"
	HeaderErrorMessage  = "gcupsert.error.message"
	HeaderErrorFields   = "gcupsert.error.fields"
	HeaderCorrelationID = "gcupsert.error.correlation.id"
	HeaderAttempts      = "gcupsert.attempts"
	HeaderSourceTopic   = "gcupsert.source.topic"
	HeaderSourcePart    = "gcupsert.source.partition"
	HeaderSourceOffset  = "gcupsert.source.offset"
	HeaderTime          = "gcupsert.time"
	// HeaderFieldsDropped counts the field errors left out of
	// gcupsert.error.fields to keep it within MaxFieldsHeader bytes; absent
	// when none was.
	HeaderFieldsDropped = "gcupsert.error.fields.dropped"
	// HeaderValueOmitted is "true" when the original value did not fit the
	// dead-letter topic and the value is a pointer to the source message
	// instead: {"omitted":"value","topic","partition","offset","bytes"}.
	HeaderValueOmitted = "gcupsert.value.omitted"
	// HeaderKeyOmitted is "true" when the original key did not fit either
	// and the key is the event id instead.
	HeaderKeyOmitted = "gcupsert.key.omitted"
)

// MaxMessageHeader is the most bytes of an error message put in the
// gcupsert.error.message header; a longer message is cut at a rune boundary
// and ends with "...".
const MaxMessageHeader = 4096

// MaxFieldsHeader is the most bytes of the gcupsert.error.fields header.
const MaxFieldsHeader = 16 << 10

// Batch is everything published for one consumer batch: its audit event, a
// sync event per record written and a dead letter per record rejected.
type Batch struct {
	Audit       Audit
	Syncs       []Sync
	DeadLetters []DeadLetter
}

// Audit describes one batch. Its event id is the batch id.
type Audit struct {
	// BatchID defaults to BatchID(Topic, Partition, FirstOffset, LastOffset).
	BatchID        string
	Target, Schema string
	Status         string // StatusSuccess, StatusPartial or StatusFailed
	Counts         change.Counts
	Attempts       int
	Latency        time.Duration
	CorrelationIDs []string
	// Source range of the batch.
	Topic                   string
	Partition               int
	FirstOffset, LastOffset int64
	// WorkerID defaults to the publisher's Config.WorkerID when published.
	WorkerID string
	// Time defaults to the publisher's clock when published.
	Time time.Time
}

// Sync describes one record written to (or deleted from) the target.
type Sync struct {
	BatchID        string
	Key            string
	Operation      string // OperationCreated, OperationUpdated or OperationDeleted
	Target, Schema string
	// Record is the record as written; nil (JSON null) for a delete.
	Record map[string]any
	// RecordJSON, when set, is the record as written as a JSON object (as
	// the API returned it, so valid JSON: it is placed as it is when it is
	// compact), used instead of Record.
	RecordJSON json.RawMessage
	Source     change.Source
	// recordOmitted is set by Publish when the record does not fit.
	recordOmitted bool
	// Time defaults to the publisher's clock when published.
	Time time.Time
}

// DeadLetter is one rejected input message with the reason.
type DeadLetter struct {
	// Key and Value are the original message's, unchanged (Value is nil for
	// a tombstone).
	Key, Value []byte
	Source     change.Source
	// Err says why: class, code, HTTP status (0 when the record never
	// reached the API), message, fields and correlation id.
	Err      change.RecordError
	Attempts int
	// Time defaults to the publisher's clock when published.
	Time time.Time
}

// BatchID returns the id of the batch covering first..last of a partition:
// "<topic>-<partition>-<first>-<last>".
func BatchID(topic string, partition int, first, last int64) string {
	return topic + "-" + strconv.Itoa(partition) + "-" + strconv.FormatInt(first, 10) + "-" + strconv.FormatInt(last, 10)
}

// EventID returns the id of the event about one input message:
// "<topic>-<partition>-<offset>".
func EventID(src change.Source) string {
	return src.Topic + "-" + strconv.Itoa(src.Partition) + "-" + strconv.FormatInt(src.Offset, 10)
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

type auditJSON struct {
	Version        int             `json:"version"`
	Type           string          `json:"type"`
	EventID        string          `json:"eventId"`
	BatchID        string          `json:"batchId"`
	Target         string          `json:"target"`
	Schema         string          `json:"schema"`
	Status         string          `json:"status"`
	Counts         countsJSON      `json:"counts"`
	Attempts       int             `json:"attempts"`
	LatencyMs      float64         `json:"latencyMs"`
	CorrelationIDs []string        `json:"correlationIds"`
	Source         auditSourceJSON `json:"source"`
	WorkerID       string          `json:"workerId"`
	Time           string          `json:"time"`
}

type countsJSON struct {
	Records      int `json:"records"`
	Created      int `json:"created"`
	Updated      int `json:"updated"`
	Deleted      int `json:"deleted"`
	DeadLettered int `json:"deadLettered"`
	Collapsed    int `json:"collapsed"`
}

type auditSourceJSON struct {
	Topic       string `json:"topic"`
	Partition   int    `json:"partition"`
	FirstOffset int64  `json:"firstOffset"`
	LastOffset  int64  `json:"lastOffset"`
}

func (a Audit) id() string {
	if a.BatchID != "" {
		return a.BatchID
	}
	return BatchID(a.Topic, a.Partition, a.FirstOffset, a.LastOffset)
}

// Message encodes the audit event: key and event id are the batch id.
func (a Audit) Message() kafka.Message { return a.message() }

func (a Audit) message() kafka.Message {
	id := a.id()
	corr := a.CorrelationIDs
	if corr == nil {
		corr = []string{}
	}
	v := auditJSON{
		Version: Version, Type: "audit", EventID: id, BatchID: id,
		Target: a.Target, Schema: a.Schema, Status: a.Status,
		Counts: countsJSON{
			Records: a.Counts.Records, Created: a.Counts.Created, Updated: a.Counts.Updated,
			Deleted: a.Counts.Deleted, DeadLettered: a.Counts.DeadLettered, Collapsed: a.Counts.Collapsed,
		},
		Attempts:       a.Attempts,
		LatencyMs:      float64(a.Latency) / float64(time.Millisecond),
		CorrelationIDs: corr,
		Source:         auditSourceJSON{Topic: a.Topic, Partition: a.Partition, FirstOffset: a.FirstOffset, LastOffset: a.LastOffset},
		WorkerID:       a.WorkerID,
		Time:           formatTime(a.Time),
	}
	// Only strings and finite numbers: marshalling cannot fail.
	b, _ := json.Marshal(v)
	return kafka.Message{Key: []byte(id), Value: b, Time: a.Time}
}

// Message encodes the sync event: key = record key, event id =
// EventID(Source). A record that cannot be encoded as JSON is written as
// null here; Publish rejects such an event with ErrInvalidEvent instead.
func (s Sync) Message() kafka.Message {
	m, err := s.encode()
	if err != nil {
		r := s
		r.Record, r.RecordJSON = nil, nil
		m, _ = r.encode()
	}
	return m
}

// encode writes the sync event (docs/events.md): its fields in a fixed
// order, the record as written (RecordJSON as the API returned it, else
// Record), without reflection: one is encoded per record written.
func (s Sync) encode() (kafka.Message, error) {
	id := EventID(s.Source)
	b := make([]byte, 0, 256+len(s.RecordJSON))
	b = append(b, `{"version":`...)
	b = strconv.AppendInt(b, Version, 10)
	b = append(b, `,"type":"sync","eventId":`...)
	b = jsonenc.String(b, id)
	b = append(b, `,"batchId":`...)
	b = jsonenc.String(b, s.BatchID)
	b = append(b, `,"key":`...)
	b = jsonenc.String(b, s.Key)
	b = append(b, `,"operation":`...)
	b = jsonenc.String(b, s.Operation)
	b = append(b, `,"record":`...)
	var err error
	switch {
	case len(s.RecordJSON) > 0 && !hasSpace(s.RecordJSON):
		b = append(b, s.RecordJSON...) // decoded from the API's answer: valid, already compact
	case len(s.RecordJSON) > 0:
		b, err = jsonenc.Value(b, s.RecordJSON)
	case s.Record != nil:
		b, err = jsonenc.Object(b, s.Record)
	default:
		b = append(b, "null"...)
	}
	if err != nil {
		return kafka.Message{}, fmt.Errorf("%w: sync %s: record: %v", ErrInvalidEvent, id, err)
	}
	if s.recordOmitted {
		b = append(b, `,"recordOmitted":true`...)
	}
	b = append(b, `,"target":`...)
	b = jsonenc.String(b, s.Target)
	b = append(b, `,"schema":`...)
	b = jsonenc.String(b, s.Schema)
	b = append(b, `,"source":{"topic":`...)
	b = jsonenc.String(b, s.Source.Topic)
	b = append(b, `,"partition":`...)
	b = strconv.AppendInt(b, int64(s.Source.Partition), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, s.Source.Offset, 10)
	b = append(b, `},"time":`...)
	b = jsonenc.String(b, formatTime(s.Time))
	b = append(b, '}')
	return kafka.Message{Key: []byte(s.Key), Value: b, Time: s.Time}, nil
}

// hasSpace reports a byte JSON may hold between tokens.
func hasSpace(b []byte) bool {
	for _, c := range b {
		if c == ' ' || c == '\n' || c == '\t' || c == '\r' {
			return true
		}
	}
	return false
}

// Message encodes the dead letter: the original key and value, and the
// gcupsert.* headers (all of them always present, in a fixed order).
func (d DeadLetter) Message() kafka.Message {
	fields, dropped := fieldsHeader(d.Err.Fields)
	h := func(k, v string) kafka.Header { return kafka.Header{Key: k, Value: []byte(v)} }
	m := kafka.Message{
		Key:   cloneBytes(d.Key),
		Value: cloneBytes(d.Value),
		Time:  d.Time,
		Headers: []kafka.Header{
			h(HeaderVersion, strconv.Itoa(Version)),
			h(HeaderEventID, EventID(d.Source)),
			h(HeaderErrorClass, d.Err.Class),
			h(HeaderErrorCode, d.Err.Code),
			h(HeaderErrorStatus, strconv.Itoa(d.Err.Status)),
			h(HeaderErrorMessage, truncate(d.Err.Message, MaxMessageHeader)),
			{Key: HeaderErrorFields, Value: fields},
			h(HeaderCorrelationID, d.Err.CorrelationID),
			h(HeaderAttempts, strconv.Itoa(d.Attempts)),
			h(HeaderSourceTopic, d.Source.Topic),
			h(HeaderSourcePart, strconv.Itoa(d.Source.Partition)),
			h(HeaderSourceOffset, strconv.FormatInt(d.Source.Offset, 10)),
			h(HeaderTime, formatTime(d.Time)),
		},
	}
	if dropped > 0 {
		m.Headers = append(m.Headers, h(HeaderFieldsDropped, strconv.Itoa(dropped)))
	}
	return m
}

// fieldsHeader is the JSON array of the field errors, at most
// MaxFieldsHeader bytes: the errors that fit, in order, and the count of
// those left out.
func fieldsHeader(fields []change.FieldError) ([]byte, int) {
	out := append(make([]byte, 0, 256), '[')
	for i, f := range fields {
		f.Message = truncate(f.Message, MaxMessageHeader)
		b, _ := json.Marshal(f) // plain strings: cannot fail
		if len(out)+len(b)+2 > MaxFieldsHeader {
			return append(out, ']'), len(fields) - i
		}
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, b...)
	}
	return append(out, ']'), 0
}

// cloneBytes copies b, keeping nil as nil (a null key or value).
func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

func fieldsOrEmpty(f []change.FieldError) []change.FieldError {
	if f == nil {
		return []change.FieldError{}
	}
	return f
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ellipsis = "..."
	cut := n - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}
