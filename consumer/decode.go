package consumer

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/gcupsert/gcupsert/upsert"
)

// Decode turns a Kafka message into a record. It accepts the plain envelope
//
//	{"op":"upsert"|"delete","key":"acc-001","data":{...},"ts":"RFC3339"}
//
// and a tombstone (nil value), which deletes the record named by the Kafka
// key. The Kafka key is the record key; the envelope's key may repeat it but
// must not contradict it. Anything else is rejected with class "decode" and a
// code saying why; a rejected message is dead-lettered, never dropped.
func Decode(key, value []byte) (upsert.Record, *upsert.RecordError) {
	if value == nil {
		if len(key) == 0 {
			return upsert.Record{}, decodeErr("missing.key", "tombstone without a Kafka key")
		}
		return upsert.Record{Key: string(key), Op: upsert.OpDelete}, nil
	}
	if rec, ok := decodeFast(key, value); ok {
		return rec, nil
	}
	return decodeChecked(key, value)
}

// decodeFast decodes a well-formed upsert envelope in one pass over the
// value. It reports false for anything else, which decodeChecked then
// classifies; for the envelopes it accepts, both give the same record.
func decodeFast(key, value []byte) (upsert.Record, bool) {
	var env struct {
		Op   string         `json:"op"`
		Key  *string        `json:"key"`
		Data map[string]any `json:"data"`
		TS   string         `json:"ts"`
	}
	dec := json.NewDecoder(bytes.NewReader(value))
	dec.UseNumber()
	if err := dec.Decode(&env); err != nil || env.Data == nil || upsert.Op(env.Op) != upsert.OpUpsert {
		return upsert.Record{}, false
	}
	// json.Unmarshal refuses anything after the value; so does this.
	if len(bytes.TrimSpace(value[dec.InputOffset():])) != 0 {
		return upsert.Record{}, false
	}
	recKey := string(key)
	if env.Key != nil && *env.Key != "" && *env.Key != recKey {
		return upsert.Record{}, false
	}
	if recKey == "" {
		return upsert.Record{}, false
	}
	return upsert.Record{Key: recKey, Op: upsert.OpUpsert, Data: env.Data}, true
}

// decodeChecked decodes value step by step and names what is wrong with it.
func decodeChecked(key, value []byte) (upsert.Record, *upsert.RecordError) {
	var env struct {
		Op   *string         `json:"op"`
		Key  *string         `json:"key"`
		Data json.RawMessage `json:"data"`
		TS   string          `json:"ts"`
	}
	if err := json.Unmarshal(value, &env); err != nil {
		return upsert.Record{}, decodeErr("invalid.json", "value is not a JSON envelope: "+trimJSONError(err))
	}
	recKey := string(key)
	if env.Key != nil {
		switch {
		case *env.Key == "":
		case recKey == "":
			recKey = *env.Key
		case *env.Key != recKey:
			return upsert.Record{}, decodeErr("key.mismatch", fmt.Sprintf("envelope key %q differs from the Kafka key %q", *env.Key, recKey))
		}
	}
	if recKey == "" {
		return upsert.Record{}, decodeErr("missing.key", "no record key: the Kafka key and the envelope's \"key\" are both empty")
	}
	if env.Op == nil {
		return upsert.Record{}, decodeErr("missing.op", `envelope has no "op" (want "upsert" or "delete")`)
	}
	switch upsert.Op(*env.Op) {
	case upsert.OpDelete:
		return upsert.Record{Key: recKey, Op: upsert.OpDelete}, nil
	case upsert.OpUpsert:
	default:
		return upsert.Record{}, decodeErr("unknown.op", fmt.Sprintf("unknown op %q (want \"upsert\" or \"delete\")", *env.Op))
	}
	data := bytes.TrimSpace(env.Data)
	if len(data) == 0 || bytes.Equal(data, []byte("null")) {
		return upsert.Record{}, decodeErr("missing.data", `an upsert needs a "data" object`)
	}
	var fields map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&fields); err != nil {
		return upsert.Record{}, decodeErr("invalid.data", `"data" is not a JSON object`)
	}
	return upsert.Record{Key: recKey, Op: upsert.OpUpsert, Data: fields}, nil
}

func decodeErr(code, msg string) *upsert.RecordError {
	return &upsert.RecordError{Class: "decode", Code: code, Message: msg}
}

func trimJSONError(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
