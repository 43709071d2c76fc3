package mirror

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/gcupsert/gcupsert/change"
)

// Position is where the mirror read a message.
type Position struct {
	Topic     string
	Partition int
	Offset    int64
}

// Event is one sync event as the mirror applies it.
type Event struct {
	ID             string
	Key            string
	Delete         bool
	Target, Schema string
	// Record is the record as written, a JSON object; nil for a delete,
	// and when RecordOmitted (the event would not fit its topic).
	Record        json.RawMessage
	RecordOmitted bool
	// Source is the input message the worker wrote it for: the version
	// the ordering rule compares.
	Source change.Source
	Time   time.Time
}

type syncJSON struct {
	Version       int             `json:"version"`
	Type          string          `json:"type"`
	EventID       string          `json:"eventId"`
	Key           string          `json:"key"`
	Operation     string          `json:"operation"`
	Record        json.RawMessage `json:"record"`
	RecordOmitted bool            `json:"recordOmitted"`
	Target        string          `json:"target"`
	Schema        string          `json:"schema"`
	Source        struct {
		Topic     string `json:"topic"`
		Partition *int   `json:"partition"`
		Offset    *int64 `json:"offset"`
	} `json:"source"`
	Time time.Time `json:"time"`
}

// ParseSync reads a sync event (version 1).
func ParseSync(value []byte) (Event, error) {
	var s syncJSON
	if err := json.Unmarshal(value, &s); err != nil {
		return Event{}, fmt.Errorf("not a sync event: %w", err)
	}
	switch {
	case s.Type != "sync" || s.Version != 1:
		return Event{}, fmt.Errorf("not a sync event of version 1 (type %q, version %d)", s.Type, s.Version)
	case s.EventID == "" || s.Key == "" || s.Target == "" || s.Schema == "":
		return Event{}, errors.New("sync event lacks eventId, key, target or schema")
	case s.Source.Topic == "" || s.Source.Partition == nil || s.Source.Offset == nil:
		return Event{}, errors.New("sync event lacks its source position")
	}
	e := Event{
		ID: s.EventID, Key: s.Key, Target: s.Target, Schema: s.Schema, RecordOmitted: s.RecordOmitted, Time: s.Time,
		Source: change.Source{Topic: s.Source.Topic, Partition: *s.Source.Partition, Offset: *s.Source.Offset},
	}
	switch s.Operation {
	case "deleted":
		e.Delete = true
	case "created", "updated":
		rec := bytes.TrimSpace(s.Record)
		if len(rec) > 0 && rec[0] == '{' {
			e.Record = rec
		} else if !s.RecordOmitted {
			return Event{}, fmt.Errorf("sync event %s: operation %s without a record", s.EventID, s.Operation)
		}
	default:
		return Event{}, fmt.Errorf("sync event %s: unknown operation %q", s.EventID, s.Operation)
	}
	return e, nil
}

// Failure is a message the mirror keeps in its errors table: a dead letter
// of the worker, or a message of the sync topic that is not a sync event.
type Failure struct {
	ID            string
	Source        change.Source
	Key, Value    []byte
	Class, Code   string
	Status        int
	Message       string
	Fields        json.RawMessage
	CorrelationID string
	Time          time.Time
}

// ParseDeadLetter reads a dead letter's key, value and headers.
func ParseDeadLetter(m kafka.Message) Failure {
	h := map[string]string{}
	for _, x := range m.Headers {
		h[x.Key] = string(x.Value)
	}
	part, _ := strconv.Atoi(h["gcupsert.source.partition"])
	off, _ := strconv.ParseInt(h["gcupsert.source.offset"], 10, 64)
	status, _ := strconv.Atoi(h["gcupsert.error.status"])
	t, _ := time.Parse(time.RFC3339Nano, h["gcupsert.time"])
	f := Failure{
		ID: h["gcupsert.event.id"], Key: m.Key, Value: m.Value,
		Source: change.Source{Topic: h["gcupsert.source.topic"], Partition: part, Offset: off},
		Class:  h["gcupsert.error.class"], Code: h["gcupsert.error.code"], Status: status,
		Message: h["gcupsert.error.message"], CorrelationID: h["gcupsert.error.correlation.id"], Time: t,
	}
	if json.Valid([]byte(h["gcupsert.error.fields"])) {
		f.Fields = json.RawMessage(h["gcupsert.error.fields"])
	}
	if f.ID == "" {
		f.ID = fmt.Sprintf("%s-%d-%d", m.Topic, m.Partition, m.Offset)
	}
	return f
}

// invalidSync is the failure kept for a message of the sync topic that
// the mirror cannot read: nothing is dropped silently.
func invalidSync(pos Position, key, value []byte, err error, now time.Time) Failure {
	return Failure{
		ID:     fmt.Sprintf("%s-%d-%d", pos.Topic, pos.Partition, pos.Offset),
		Source: change.Source{Topic: pos.Topic, Partition: pos.Partition, Offset: pos.Offset},
		Key:    key, Value: value, Class: "mirror", Code: "invalid.sync.event", Message: err.Error(), Time: now.UTC(),
	}
}
