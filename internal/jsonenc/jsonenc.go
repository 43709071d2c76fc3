// Package jsonenc appends JSON without reflection for the values the
// pipeline encodes per record: strings, json.Number, booleans, null,
// integers and raw JSON, with objects' keys sorted. Anything else, and any
// string that needs more than the common escapes, goes through
// encoding/json (HTML escaping off), so the output is what encoding/json
// with SetEscapeHTML(false) writes.
package jsonenc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"
)

// String appends s as a JSON string.
func String(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			return slow(buf, s)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}

// slow appends s as encoding/json does.
func slow(buf []byte, s string) []byte {
	b, _ := marshal(s) // a string always encodes
	return append(buf, b...)
}

// Value appends v.
func Value(buf []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(buf, "null"...), nil
	case string:
		return String(buf, x), nil
	case bool:
		return strconv.AppendBool(buf, x), nil
	case json.Number:
		if !validNumber(string(x)) {
			return buf, fmt.Errorf("json: invalid number literal %q", string(x))
		}
		return append(buf, x...), nil
	case int:
		return strconv.AppendInt(buf, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(buf, x, 10), nil
	case json.RawMessage:
		if x == nil {
			return append(buf, "null"...), nil
		}
		out := bytes.NewBuffer(buf)
		if err := json.Compact(out, x); err != nil {
			return buf, fmt.Errorf("json: invalid raw JSON: %w", err)
		}
		return out.Bytes(), nil
	case map[string]any:
		return Object(buf, x)
	case []any:
		buf = append(buf, '[')
		for i, e := range x {
			if i > 0 {
				buf = append(buf, ',')
			}
			var err error
			if buf, err = Value(buf, e); err != nil {
				return buf, err
			}
		}
		return append(buf, ']'), nil
	}
	b, err := marshal(v)
	if err != nil {
		return buf, err
	}
	return append(buf, b...), nil
}

// Object appends m with its keys sorted.
func Object(buf []byte, m map[string]any) ([]byte, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	buf = append(buf, '{')
	for i, k := range keys {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = String(buf, k)
		buf = append(buf, ':')
		var err error
		if buf, err = Value(buf, m[k]); err != nil {
			return buf, err
		}
	}
	return append(buf, '}'), nil
}

func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// validNumber reports whether s is a JSON number.
func validNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	return i == len(s)
}
