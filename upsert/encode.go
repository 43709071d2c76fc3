package upsert

import "github.com/gcupsert/gcupsert/internal/jsonenc"

// Field is a named value.
type Field struct {
	Name  string
	Value any
}

// EncodeObject encodes data with extra fields set on top, as targets send a
// record: one JSON object, keys sorted, no HTML escaping, no newline.
func EncodeObject(data map[string]any, extra ...Field) ([]byte, error) {
	m := data
	if len(extra) > 0 {
		m = make(map[string]any, len(data)+len(extra))
		for k, v := range data {
			m[k] = v
		}
		for _, f := range extra {
			m[f.Name] = f.Value
		}
	}
	return jsonenc.Object(make([]byte, 0, 64+32*len(m)), m)
}
