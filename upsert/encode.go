package upsert

import (
	"bytes"
	"encoding/json"
)

// Field is a named value.
type Field struct {
	Name  string
	Value any
}

// EncodeObject encodes data with extra fields set on top, as targets send a
// record: one JSON object, keys sorted, no HTML escaping, no newline.
func EncodeObject(data map[string]any, extra ...Field) ([]byte, error) {
	m := make(map[string]any, len(data)+len(extra))
	for k, v := range data {
		m[k] = v
	}
	for _, f := range extra {
		m[f.Name] = f.Value
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
