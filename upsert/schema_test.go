package upsert

import (
	"encoding/json"
	"testing"
)

// A number beyond a double, or beyond 64 bits in an integer field, is a
// schema violation: 1e400 was once written and stored as +Inf.
func TestNumbersOutOfRangeAreViolations(t *testing.T) {
	sch, err := CompileSchema("t", []byte(`{"type":"object","properties":{"n":{"type":"integer"},"x":{"type":"number"},"o":{"type":"object"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		data  map[string]any
		field string // "" = valid
	}{
		{map[string]any{"n": json.Number("1e400")}, "n"},
		{map[string]any{"x": json.Number("-1e400")}, "x"},
		{map[string]any{"x": json.Number("1e100000000")}, "x"},
		{map[string]any{"n": json.Number("9223372036854775808")}, "n"},
		{map[string]any{"o": map[string]any{"deep": json.Number("1e999")}}, "o"},
		{map[string]any{"n": json.Number("9223372036854775807"), "x": json.Number("1.7e308")}, ""},
		{map[string]any{"n": json.Number("1e3"), "x": json.Number("1e-400")}, ""},
	} {
		fe, err := ValidateFields(sch, tc.data)
		switch {
		case err != nil:
			t.Errorf("%v: %v", tc.data, err)
		case tc.field == "" && fe != nil:
			t.Errorf("%v: violations %v", tc.data, fe)
		case tc.field != "" && (len(fe) != 1 || fe[0].Field != tc.field || fe[0].Code != "range"):
			t.Errorf("%v: violations %v, want a range violation of %s", tc.data, fe, tc.field)
		}
	}
}
