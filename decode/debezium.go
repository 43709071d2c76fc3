package decode

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/gcupsert/gcupsert/change"
)

type dbzEnvelope struct {
	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`
	Op     *string         `json:"op"`
}

// debezium reads a Debezium change event, with or without the
// schema/payload wrapper: op c, u and r upsert "after"; d deletes "before";
// a tombstone deletes the record named by the Kafka key.
func (d *Decoder) debezium(key, value []byte) (change.Record, *change.RecordError) {
	if value == nil {
		k, err := d.kafkaKey(key)
		if err != nil {
			return change.Record{}, err
		}
		return change.Record{Key: k, Op: change.OpDelete}, nil
	}
	if rerr := checkValue(value); rerr != nil {
		return change.Record{}, rerr
	}
	var top map[string]json.RawMessage
	if err := unmarshalNumbers(value, &top); err != nil {
		return change.Record{}, decodeErr("invalid.json", "value is not a JSON object: "+trimJSONError(err))
	}
	body := value
	if p, ok := top["payload"]; ok {
		if _, hasOp := top["op"]; !hasOp {
			body = p // the schema/payload wrapper of the JSON converter
		}
	}
	var env dbzEnvelope
	if err := unmarshalNumbers(body, &env); err != nil || env.Op == nil {
		return change.Record{}, decodeErr("debezium.malformed", `not a Debezium change event: no "op" (with or without the schema/payload wrapper)`)
	}
	var row json.RawMessage
	op := change.OpUpsert
	switch *env.Op {
	case "c", "u", "r":
		row = env.After
	case "d":
		row, op = env.Before, change.OpDelete
	default:
		return change.Record{}, decodeErr("debezium.unsupported.op", fmt.Sprintf("Debezium op %q is not supported (want c, u, r or d)", *env.Op))
	}
	var fields map[string]any
	if len(bytes.TrimSpace(row)) > 0 && !bytes.Equal(bytes.TrimSpace(row), []byte("null")) {
		if err := unmarshalNumbers(row, &fields); err != nil {
			return change.Record{}, decodeErr("debezium.malformed", fmt.Sprintf("op %q: the row is not a JSON object", *env.Op))
		}
	}
	if fields == nil && op == change.OpUpsert {
		return change.Record{}, decodeErr("debezium.malformed", fmt.Sprintf(`op %q has no "after" row`, *env.Op))
	}
	var k string
	var kerr *change.RecordError
	switch {
	case d.m.Key != "" && fields != nil:
		k, kerr = keyField(fields, d.m.Key)
	default:
		k, kerr = d.kafkaKey(key)
	}
	if kerr != nil {
		return change.Record{}, kerr
	}
	if op == change.OpDelete {
		return change.Record{Key: k, Op: change.OpDelete}, nil
	}
	return change.Record{Key: k, Op: change.OpUpsert, Data: d.m.apply(fields)}, nil
}

// kafkaKey reads a Debezium message key: a JSON object with one field
// (with or without the schema/payload wrapper), a JSON scalar, or raw text.
func (d *Decoder) kafkaKey(key []byte) (string, *change.RecordError) {
	if len(key) == 0 {
		return "", decodeErr("missing.key", "no Kafka key and no key field configured")
	}
	var v any
	if err := unmarshalNumbers(key, &v); err != nil || loneSurrogate(key) {
		return checkKey(string(key), "the Kafka key") // a plain string key
	}
	if m, ok := v.(map[string]any); ok {
		if p, ok := m["payload"]; ok && m["schema"] != nil {
			v = p
		}
	}
	switch t := v.(type) {
	case map[string]any:
		if d.m.Key != "" {
			return keyField(t, d.m.Key)
		}
		if len(t) != 1 {
			names := slices.Sorted(maps.Keys(t))
			return "", decodeErr("key.ambiguous", fmt.Sprintf("the Kafka key has fields %s; name the key field in the route's mapping", strings.Join(names, ", ")))
		}
		for _, x := range t {
			return scalarKey(x, "the Kafka key")
		}
	}
	return scalarKey(v, "the Kafka key")
}

func unmarshalNumbers(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the JSON value")
	}
	return nil
}
