package decode

import (
	"fmt"

	"github.com/gcupsert/gcupsert/change"
)

// Format names an input format.
type Format string

const (
	// FormatPlain is the plain envelope (see Envelope).
	FormatPlain Format = "plain"
	// FormatDebezium is a Debezium change event.
	FormatDebezium Format = "debezium"
)

// Decoder is the decoder of one route: its format and field mapping. It is
// safe for concurrent use.
type Decoder struct {
	format Format
	m      Mapping
}

// New returns the decoder of a route: format plain (the default when empty)
// or debezium, with a field mapping checked here.
func New(format Format, m Mapping) (*Decoder, error) {
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("mapping: %w", err)
	}
	switch format {
	case "":
		format = FormatPlain
	case FormatPlain, FormatDebezium:
	default:
		return nil, fmt.Errorf("unknown format %q (want plain or debezium)", format)
	}
	return &Decoder{format: format, m: m}, nil
}

// Decode turns a Kafka message into a record, or says why it cannot (class
// "decode"); a rejected message is dead-lettered, never dropped.
func (d *Decoder) Decode(key, value []byte) (change.Record, *change.RecordError) {
	if d.format == FormatDebezium {
		return d.debezium(key, value)
	}
	return d.plain(key, value)
}

func (d *Decoder) plain(key, value []byte) (change.Record, *change.RecordError) {
	rec, err := Envelope(key, value)
	if err != nil || rec.Op != change.OpUpsert || d.m.empty() {
		return rec, err
	}
	if d.m.Key != "" {
		k, kerr := keyField(rec.Data, d.m.Key)
		if kerr != nil {
			return change.Record{}, kerr
		}
		if len(key) > 0 && string(key) != k {
			return change.Record{}, decodeErr("key.mismatch", fmt.Sprintf("field %q is %q but the Kafka key is %q", d.m.Key, k, key))
		}
		rec.Key = k
	}
	rec.Data = d.m.apply(rec.Data)
	return rec, nil
}
