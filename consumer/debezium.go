package consumer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/gcupsert/gcupsert/upsert"
)

// Decoder turns a Kafka message into a record or says why it cannot.
// Implementations must be safe for concurrent use.
type Decoder interface {
	Decode(key, value []byte) (upsert.Record, *upsert.RecordError)
}

// Mapping reshapes decoded fields before validation.
type Mapping struct {
	// Key names the field holding the record key (Debezium: a column of
	// "after", or of "before" for deletes). Empty: the Kafka key.
	Key string
	// Rename maps source field names to target field names.
	Rename map[string]string
	// Drop lists source fields to leave out.
	Drop []string
	// Constants are fields set on every upsert, overriding the source.
	Constants map[string]any
}

func (m Mapping) empty() bool {
	return m.Key == "" && len(m.Rename) == 0 && len(m.Drop) == 0 && len(m.Constants) == 0
}

// validate checks the mapping once, at start.
func (m Mapping) validate() error {
	targets := map[string]string{}
	for from, to := range m.Rename {
		if from == "" || to == "" {
			return fmt.Errorf("rename %q -> %q: names must not be empty", from, to)
		}
		if other, dup := targets[to]; dup {
			return fmt.Errorf("rename: %q and %q both become %q", other, from, to)
		}
		targets[to] = from
	}
	for _, d := range m.Drop {
		if d == "" {
			return fmt.Errorf("drop: empty field name")
		}
		if _, renamed := m.Rename[d]; renamed {
			return fmt.Errorf("field %q is both dropped and renamed", d)
		}
	}
	for k := range m.Constants {
		if k == "" {
			return fmt.Errorf("constants: empty field name")
		}
	}
	return nil
}

// apply returns the mapped copy of fields; the key field is kept unless
// dropped.
func (m Mapping) apply(fields map[string]any) map[string]any {
	if len(m.Rename) == 0 && len(m.Drop) == 0 && len(m.Constants) == 0 {
		return fields
	}
	out := make(map[string]any, len(fields)+len(m.Constants))
	for k, v := range fields {
		if slices.Contains(m.Drop, k) {
			continue
		}
		if to, ok := m.Rename[k]; ok {
			k = to
		}
		out[k] = v
	}
	maps.Copy(out, m.Constants)
	return out
}

// NewDecoder returns the decoder of a route: format "plain" (the default)
// or "debezium", with a field mapping.
func NewDecoder(format string, m Mapping) (Decoder, error) {
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("mapping: %w", err)
	}
	switch format {
	case "", "plain":
		return plainDecoder{m}, nil
	case "debezium":
		return debeziumDecoder{m}, nil
	}
	return nil, fmt.Errorf("unknown format %q (want plain or debezium)", format)
}

type plainDecoder struct{ m Mapping }

func (d plainDecoder) Decode(key, value []byte) (upsert.Record, *upsert.RecordError) {
	rec, err := Decode(key, value)
	if err != nil || rec.Op != upsert.OpUpsert || d.m.empty() {
		return rec, err
	}
	if d.m.Key != "" {
		k, kerr := keyField(rec.Data, d.m.Key)
		if kerr != nil {
			return upsert.Record{}, kerr
		}
		if len(key) > 0 && string(key) != k {
			return upsert.Record{}, decodeErr("key.mismatch", fmt.Sprintf("field %q is %q but the Kafka key is %q", d.m.Key, k, key))
		}
		rec.Key = k
	}
	rec.Data = d.m.apply(rec.Data)
	return rec, nil
}

// debeziumDecoder reads Debezium change events, with or without the
// schema/payload wrapper: op c, u and r upsert "after"; d deletes "before";
// a tombstone deletes the record named by the Kafka key.
type debeziumDecoder struct{ m Mapping }

type dbzEnvelope struct {
	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`
	Op     *string         `json:"op"`
}

func (d debeziumDecoder) Decode(key, value []byte) (upsert.Record, *upsert.RecordError) {
	if value == nil {
		k, err := d.kafkaKey(key)
		if err != nil {
			return upsert.Record{}, err
		}
		return upsert.Record{Key: k, Op: upsert.OpDelete}, nil
	}
	var top map[string]json.RawMessage
	if err := unmarshalNumbers(value, &top); err != nil {
		return upsert.Record{}, decodeErr("invalid.json", "value is not a JSON object: "+trimJSONError(err))
	}
	body := value
	if p, ok := top["payload"]; ok {
		if _, hasOp := top["op"]; !hasOp {
			body = p // the schema/payload wrapper of the JSON converter
		}
	}
	var env dbzEnvelope
	if err := unmarshalNumbers(body, &env); err != nil || env.Op == nil {
		return upsert.Record{}, decodeErr("debezium.malformed", `not a Debezium change event: no "op" (with or without the schema/payload wrapper)`)
	}
	var row json.RawMessage
	op := upsert.OpUpsert
	switch *env.Op {
	case "c", "u", "r":
		row = env.After
	case "d":
		row, op = env.Before, upsert.OpDelete
	default:
		return upsert.Record{}, decodeErr("debezium.unsupported.op", fmt.Sprintf("Debezium op %q is not supported (want c, u, r or d)", *env.Op))
	}
	var fields map[string]any
	if len(bytes.TrimSpace(row)) > 0 && !bytes.Equal(bytes.TrimSpace(row), []byte("null")) {
		if err := unmarshalNumbers(row, &fields); err != nil {
			return upsert.Record{}, decodeErr("debezium.malformed", fmt.Sprintf("op %q: the row is not a JSON object", *env.Op))
		}
	}
	if fields == nil && op == upsert.OpUpsert {
		return upsert.Record{}, decodeErr("debezium.malformed", fmt.Sprintf(`op %q has no "after" row`, *env.Op))
	}
	var k string
	var kerr *upsert.RecordError
	switch {
	case d.m.Key != "" && fields != nil:
		k, kerr = keyField(fields, d.m.Key)
	default:
		k, kerr = d.kafkaKey(key)
	}
	if kerr != nil {
		return upsert.Record{}, kerr
	}
	if op == upsert.OpDelete {
		return upsert.Record{Key: k, Op: upsert.OpDelete}, nil
	}
	return upsert.Record{Key: k, Op: upsert.OpUpsert, Data: d.m.apply(fields)}, nil
}

// kafkaKey reads a Debezium message key: a JSON object with one field
// (with or without the schema/payload wrapper), a JSON scalar, or raw text.
func (d debeziumDecoder) kafkaKey(key []byte) (string, *upsert.RecordError) {
	if len(bytes.TrimSpace(key)) == 0 {
		return "", decodeErr("missing.key", "no Kafka key and no key field configured")
	}
	var v any
	if err := unmarshalNumbers(key, &v); err != nil {
		return string(key), nil // a plain string key
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

func keyField(fields map[string]any, name string) (string, *upsert.RecordError) {
	v, ok := fields[name]
	if !ok {
		return "", decodeErr("missing.key", fmt.Sprintf("key field %q is missing", name))
	}
	return scalarKey(v, fmt.Sprintf("key field %q", name))
}

func scalarKey(v any, what string) (string, *upsert.RecordError) {
	switch t := v.(type) {
	case string:
		if t == "" {
			return "", decodeErr("missing.key", what+" is empty")
		}
		return t, nil
	case json.Number:
		return t.String(), nil
	case bool:
		return fmt.Sprint(t), nil
	case nil:
		return "", decodeErr("missing.key", what+" is null")
	}
	return "", decodeErr("invalid.key", what+" is not a string or number")
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
