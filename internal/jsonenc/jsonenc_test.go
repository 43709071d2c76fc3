package jsonenc

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
)

// Object writes what encoding/json writes with HTML escaping off, for
// every kind of value a record holds.
func TestObjectMatchesEncodingJSON(t *testing.T) {
	cases := []map[string]any{
		{},
		{"b": "x", "a": json.Number("-1.5e+3"), "c": true, "d": nil, "e": 7, "f": int64(-9)},
		{"html": "<a href=\"x\">&</a>", "ctl": "tab\tnl\n\x01", "uni": "ü日本\u2028", "bad": "\xff", `q"k`: `back\slash`},
		{"nested": map[string]any{"z": 1.5, "y": []any{"a", json.Number("2"), nil, map[string]any{"k": false}}}},
		{"float": 1e21, "small": 1e-7, "neg0": math.Copysign(0, -1), "list": []string{"x"}},
		{"raw": json.RawMessage(`{"a": [1, 2]}`)},
	}
	for _, m := range cases {
		got, err := Object(nil, m)
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(m); err != nil {
			t.Fatal(err)
		}
		if w := bytes.TrimSuffix(want.Bytes(), []byte("\n")); !bytes.Equal(got, w) {
			t.Errorf("got  %s\nwant %s", got, w)
		}
	}
}

func TestInvalidValuesAreErrors(t *testing.T) {
	for _, v := range []any{json.Number("1e"), json.Number("01"), json.Number("abc"), json.RawMessage(`{`), math.Inf(1), make(chan int)} {
		if _, err := Value(nil, v); err == nil {
			t.Errorf("%v: no error", v)
		}
	}
	for _, n := range []string{"0", "-0", "12", "1.25", "-3e10", "4E-2", "0.5e+1"} {
		if !validNumber(n) {
			t.Errorf("%s refused", n)
		}
	}
}
