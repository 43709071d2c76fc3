package datatables

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/upsert"
)

// dtField is one column of a data table, the key excluded.
type dtField struct {
	name   string
	typ    string // "string", "integer", "number" or "boolean"
	def    any    // the default, or the type's zero value
	order  int
	hasDef bool
}

// dtSchema is a data table's schema as the target uses it.
type dtSchema struct {
	raw       json.RawMessage
	validator *jsonschema.Schema
	fields    []dtField // column order: displayOrder, then name
	byName    map[string]int
	header    []byte // CSV header line, newline included
	loadedAt  time.Time
}

func parseTableSchema(table string, raw json.RawMessage, now time.Time) (*dtSchema, error) {
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, fmt.Errorf("upsert: data table %q has no schema", table)
	}
	var doc struct {
		Properties map[string]struct {
			Type         any             `json:"type"`
			Default      json.RawMessage `json:"default"`
			DisplayOrder *int            `json:"displayOrder"`
		} `json:"properties"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("upsert: data table %q: schema is not a JSON object: %w", table, err)
	}
	v, err := upsert.CompileSchema("datatable-"+table, raw)
	if err != nil {
		return nil, err
	}
	s := &dtSchema{raw: append(json.RawMessage(nil), raw...), validator: v, byName: map[string]int{}, loadedAt: now}
	for name, p := range doc.Properties {
		if name == "key" {
			continue
		}
		typ, _ := p.Type.(string)
		f := dtField{name: name, typ: typ, order: math.MaxInt32}
		if p.DisplayOrder != nil {
			f.order = *p.DisplayOrder
		}
		switch typ {
		case "integer", "number":
			f.def = json.Number("0")
		case "boolean":
			f.def = false
		default:
			f.def = ""
		}
		if len(p.Default) > 0 && !bytes.Equal(p.Default, []byte("null")) {
			d := json.NewDecoder(bytes.NewReader(p.Default))
			d.UseNumber()
			var dv any
			if d.Decode(&dv) == nil {
				f.def, f.hasDef = dv, true
			}
		}
		s.fields = append(s.fields, f)
	}
	sort.Slice(s.fields, func(i, j int) bool {
		if s.fields[i].order != s.fields[j].order {
			return s.fields[i].order < s.fields[j].order
		}
		return s.fields[i].name < s.fields[j].name
	})
	cols := []string{"key"}
	for i, f := range s.fields {
		s.byName[f.name] = i
		cols = append(cols, f.name)
	}
	s.header = csvLine(cols)
	return s, nil
}

// coerce returns a copy of data in which values that arrived as strings
// (CSV or CDC sources) are converted where the schema says integer, number
// or boolean, and numbers 0 and 1 become booleans. A JSON null, and an
// empty string in a non-string field, leave the field out, so the
// column's default applies. Values that cannot be converted are reported
// one FieldError each; fields the schema does not know are kept for the
// validator to report.
func (s *dtSchema) coerce(data map[string]any) (map[string]any, []change.FieldError) {
	out := make(map[string]any, len(data))
	var fe []change.FieldError
	for k, v := range data {
		if v == nil {
			continue
		}
		idx, known := s.byName[k]
		if !known {
			out[k] = v
			continue
		}
		cv, omit, err := coerceValue(s.fields[idx].typ, v)
		if err != "" {
			fe = append(fe, change.FieldError{Field: k, Code: "coercion", Message: err})
			continue
		}
		if !omit {
			out[k] = cv
		}
	}
	sort.Slice(fe, func(i, j int) bool { return fe[i].Field < fe[j].Field })
	return out, fe
}

// coerceValue converts v for a column of type typ. err is the reason when
// it cannot.
func coerceValue(typ string, v any) (out any, omit bool, err string) {
	switch typ {
	case "integer":
		switch x := v.(type) {
		case string:
			s := strings.TrimSpace(x)
			if s == "" {
				return nil, true, ""
			}
			if n, e := strconv.ParseInt(s, 10, 64); e == nil {
				return n, false, ""
			}
			f, e := strconv.ParseFloat(s, 64)
			if e != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				return nil, false, fmt.Sprintf("%q is not an integer", clip(x))
			}
			if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
				return nil, false, fmt.Sprintf("%q is not a whole number", clip(x))
			}
			return int64(f), false, ""
		}
	case "number":
		switch x := v.(type) {
		case string:
			s := strings.TrimSpace(x)
			if s == "" {
				return nil, true, ""
			}
			if isJSONNumber(s) {
				return json.Number(s), false, ""
			}
			f, e := strconv.ParseFloat(s, 64)
			if e != nil || math.IsInf(f, 0) || math.IsNaN(f) || strings.ContainsAny(s, "xX_pP") {
				return nil, false, fmt.Sprintf("%q is not a number", clip(x))
			}
			return f, false, ""
		}
	case "boolean":
		switch x := v.(type) {
		case string:
			switch strings.ToLower(strings.TrimSpace(x)) {
			case "":
				return nil, true, ""
			case "true", "t", "1", "yes", "y":
				return true, false, ""
			case "false", "f", "0", "no", "n":
				return false, false, ""
			}
			return nil, false, fmt.Sprintf("%q is not a boolean (true or false)", clip(x))
		case json.Number:
			return numberBool(string(x), v)
		case float64:
			return numberBool(strconv.FormatFloat(x, 'f', -1, 64), v)
		case int:
			return numberBool(strconv.Itoa(x), v)
		case int64:
			return numberBool(strconv.FormatInt(x, 10), v)
		}
	}
	return v, false, ""
}

func numberBool(s string, v any) (any, bool, string) {
	switch s {
	case "0":
		return false, false, ""
	case "1":
		return true, false, ""
	}
	return v, false, "" // left for the validator to report
}

func isJSONNumber(s string) bool {
	if s == "" || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return false
	}
	var n json.Number
	return json.Unmarshal([]byte(s), &n) == nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// rowJSON encodes a row: the fields and the key.
func rowJSON(key string, data map[string]any) ([]byte, error) {
	return upsert.EncodeObject(data, upsert.Field{Name: "key", Value: key})
}

// csvRow encodes a row as one CSV line (newline included) in the schema's
// column order. An absent field is an empty cell.
func (s *dtSchema) csvRow(key string, data map[string]any) ([]byte, error) {
	cells := make([]string, 0, len(s.fields)+1)
	cells = append(cells, key)
	for _, f := range s.fields {
		v, ok := data[f.name]
		if !ok || v == nil {
			cells = append(cells, "")
			continue
		}
		c, err := csvCell(v)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", f.name, err)
		}
		cells = append(cells, c)
	}
	for k := range data {
		if _, known := s.byName[k]; !known {
			return nil, fmt.Errorf("field %s is not a column of the table", k)
		}
	}
	return csvLine(cells), nil
}

func csvCell(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case json.Number:
		return string(x), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	if len(b) > 0 && (b[0] == '{' || b[0] == '[') {
		return "", fmt.Errorf("value is not a scalar")
	}
	return strings.Trim(string(b), `"`), nil
}

func csvLine(cells []string) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write(cells) // a bytes.Buffer does not fail
	w.Flush()
	return buf.Bytes()
}

// expected is the value a column holds after a write of data: the value
// sent, or the default when the field was left out (an empty string, for
// an import, is left out).
func (s *dtSchema) expected(f dtField, data map[string]any, csvMode bool) any {
	v, ok := data[f.name]
	if !ok || v == nil {
		return f.def
	}
	if str, isStr := v.(string); isStr && str == "" && csvMode {
		return f.def
	}
	return v
}

// rowMatches reports whether a row read back from the table holds what a
// write of data put there.
func (s *dtSchema) rowMatches(data, row map[string]any, csvMode bool) bool {
	for _, f := range s.fields {
		want := s.expected(f, data, csvMode)
		got, ok := row[f.name]
		if !ok || got == nil {
			got = f.def
		}
		if !sameValue(want, got) {
			return false
		}
	}
	return true
}

func sameValue(a, b any) bool {
	af, aNum := asFloat(a)
	bf, bNum := asFloat(b)
	if aNum && bNum {
		return af == bf
	}
	if aNum != bNum {
		return false
	}
	return fmt.Sprint(a) == fmt.Sprint(b)
}

func asFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	}
	return 0, false
}
