// Package decode turns input messages into record changes: the plain
// envelope, Debezium change events (with or without the schema/payload
// wrapper), and a route's field mapping (key field, renames, drops,
// constants). A message that cannot be decoded gets a *change.RecordError of
// class "decode" naming why; it is dead-lettered, never dropped and never
// fatal. Decoding is pure: no I/O, safe for concurrent use.
package decode

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/gcupsert/gcupsert/change"
)

// Envelope turns a Kafka message into a record. It accepts the plain envelope
//
//	{"op":"upsert"|"delete","key":"acc-001","data":{...},"ts":"RFC3339"}
//
// and a tombstone (a null value), which deletes the record named by the
// Kafka key. The Kafka key is the record key; the envelope's key may repeat
// it but must not contradict it. An empty value, text that is not valid
// UTF-8, and a key that is blank or not valid UTF-8 are refused: nothing is
// converted. Anything else is rejected with class "decode" and a code
// saying why; a rejected message is dead-lettered, never dropped.
func Envelope(key, value []byte) (change.Record, *change.RecordError) {
	if value == nil {
		if len(key) == 0 {
			return change.Record{}, decodeErr("missing.key", "tombstone without a Kafka key")
		}
		k, kerr := checkKey(string(key), "the Kafka key")
		if kerr != nil {
			return change.Record{}, kerr
		}
		return change.Record{Key: k, Op: change.OpDelete}, nil
	}
	if rerr := checkValue(value); rerr != nil {
		return change.Record{}, rerr
	}
	rec, ok := decodeFast(key, value)
	if !ok {
		var rerr *change.RecordError
		if rec, rerr = decodeChecked(key, value); rerr != nil {
			return change.Record{}, rerr
		}
	}
	k, kerr := checkKey(rec.Key, "the record key")
	if kerr != nil {
		return change.Record{}, kerr
	}
	rec.Key = k
	return rec, nil
}

// decodeFast decodes a well-formed upsert envelope in one pass over the
// value. It reports false for anything else, which decodeChecked then
// classifies; for the envelopes it accepts, both give the same record.
func decodeFast(key, value []byte) (change.Record, bool) {
	var env struct {
		Op   string         `json:"op"`
		Key  *string        `json:"key"`
		Data map[string]any `json:"data"`
		TS   string         `json:"ts"`
	}
	dec := json.NewDecoder(bytes.NewReader(value))
	dec.UseNumber()
	if err := dec.Decode(&env); err != nil || env.Data == nil || change.Op(env.Op) != change.OpUpsert {
		return change.Record{}, false
	}
	// json.Unmarshal refuses anything after the value; so does this.
	if len(bytes.TrimSpace(value[dec.InputOffset():])) != 0 {
		return change.Record{}, false
	}
	recKey := string(key)
	if env.Key != nil && *env.Key != "" && *env.Key != recKey {
		return change.Record{}, false
	}
	if recKey == "" {
		return change.Record{}, false
	}
	return change.Record{Key: recKey, Op: change.OpUpsert, Data: env.Data}, true
}

// decodeChecked decodes value step by step and names what is wrong with it.
func decodeChecked(key, value []byte) (change.Record, *change.RecordError) {
	var env struct {
		Op   *string         `json:"op"`
		Key  *string         `json:"key"`
		Data json.RawMessage `json:"data"`
		TS   string          `json:"ts"`
	}
	if err := json.Unmarshal(value, &env); err != nil {
		return change.Record{}, decodeErr("invalid.json", "value is not a JSON envelope: "+trimJSONError(err))
	}
	recKey := string(key)
	if env.Key != nil {
		switch {
		case *env.Key == "":
		case recKey == "":
			recKey = *env.Key
		case *env.Key != recKey:
			return change.Record{}, decodeErr("key.mismatch", fmt.Sprintf("envelope key %q differs from the Kafka key %q", *env.Key, recKey))
		}
	}
	if recKey == "" {
		return change.Record{}, decodeErr("missing.key", "no record key: the Kafka key and the envelope's \"key\" are both empty")
	}
	if env.Op == nil {
		return change.Record{}, decodeErr("missing.op", `envelope has no "op" (want "upsert" or "delete")`)
	}
	switch change.Op(*env.Op) {
	case change.OpDelete:
		return change.Record{Key: recKey, Op: change.OpDelete}, nil
	case change.OpUpsert:
	default:
		return change.Record{}, decodeErr("unknown.op", fmt.Sprintf("unknown op %q (want \"upsert\" or \"delete\")", *env.Op))
	}
	data := bytes.TrimSpace(env.Data)
	if len(data) == 0 || bytes.Equal(data, []byte("null")) {
		return change.Record{}, decodeErr("missing.data", `an upsert needs a "data" object`)
	}
	var fields map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&fields); err != nil {
		return change.Record{}, decodeErr("invalid.data", `"data" is not a JSON object`)
	}
	return change.Record{Key: recKey, Op: change.OpUpsert, Data: fields}, nil
}

func decodeErr(code, msg string) *change.RecordError {
	return &change.RecordError{Class: "decode", Code: code, Message: msg}
}

func trimJSONError(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
