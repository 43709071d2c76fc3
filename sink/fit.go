package sink

import (
	"encoding/json"
	"fmt"

	"github.com/segmentio/kafka-go"
)

// recordOverhead bounds what a record batch holding one record adds to its
// key, value and headers: the batch header (61 bytes) and the record's
// lengths, attributes and deltas.
const recordOverhead = 96

// headerOverhead bounds the varint lengths of one header.
const headerOverhead = 10

// Size is the bytes m takes on a topic, in a record batch of its own:
// what max.message.bytes is compared with, headers included.
func Size(m kafka.Message) int {
	n := recordOverhead + len(m.Key) + len(m.Value)
	for _, h := range m.Headers {
		n += headerOverhead + len(h.Key) + len(h.Value)
	}
	return n
}

// tooLarge is the permanent failure of an event that cannot be made to fit.
func tooLarge(what string, m kafka.Message, limit int) error {
	hb := 0
	for _, h := range m.Headers {
		hb += len(h.Key) + len(h.Value)
	}
	return fmt.Errorf("%w: %s takes %d bytes (key %d, value %d, headers %d) and the topic takes at most %d (max.message.bytes)",
		ErrInvalidEvent, what, Size(m), len(m.Key), len(m.Value), hb, limit)
}

// fitSync encodes s within limit: the record is left out, flagged with
// recordOmitted, when the event would not fit with it.
func fitSync(s Sync, limit int) (kafka.Message, error) {
	m, err := s.encode()
	if err != nil || Size(m) <= limit {
		return m, err
	}
	s.Record, s.RecordJSON, s.recordOmitted = nil, nil, true
	if m, err = s.encode(); err != nil || Size(m) <= limit {
		return m, err
	}
	return m, tooLarge("sync event "+EventID(s.Source), m, limit)
}

// fitDeadLetter encodes d within limit: the field errors are already
// bounded; when the original value does not fit, the value becomes a
// pointer to the source message (flagged in gcupsert.value.omitted), and
// when the key does not fit either, the key becomes the event id
// (gcupsert.key.omitted).
func fitDeadLetter(d DeadLetter, limit int) (kafka.Message, error) {
	m := d.Message()
	if Size(m) <= limit {
		return m, nil
	}
	pointer, _ := json.Marshal(struct {
		Omitted   string `json:"omitted"`
		Topic     string `json:"topic"`
		Partition int    `json:"partition"`
		Offset    int64  `json:"offset"`
		Bytes     int    `json:"bytes"`
	}{"value", d.Source.Topic, d.Source.Partition, d.Source.Offset, len(d.Value)})
	m.Value = pointer
	m.Headers = append(m.Headers, kafka.Header{Key: HeaderValueOmitted, Value: []byte("true")})
	if Size(m) <= limit {
		return m, nil
	}
	m.Key = []byte(EventID(d.Source))
	m.Headers = append(m.Headers, kafka.Header{Key: HeaderKeyOmitted, Value: []byte("true")})
	if Size(m) <= limit {
		return m, nil
	}
	return m, tooLarge("dead letter "+EventID(d.Source), m, limit)
}
