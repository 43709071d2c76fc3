package datatables

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gcupsert/gcupsert/emulator/core"
)

// draft04 is the $schema of every data-table schema.
const draft04 = "http://json-schema.org/draft-04/schema#"

// Property types a data-table schema may use.
const (
	typeString  = "string"
	typeInteger = "integer"
	typeNumber  = "number"
	typeBoolean = "boolean"
)

// keyField is the name of the key property of every table.
const keyField = "key"

// dtField is one property of a data-table schema.
type dtField struct {
	name      string
	typ       string
	def       any // typed default: string, int64, float64 or bool
	order     int // displayOrder
	minLength *int
	maxLength *int
	minimum   *float64
	maximum   *float64
	doc       map[string]any // the property as served, title, $id and displayOrder filled in
}

// dtSchema is a checked data-table schema.
type dtSchema struct {
	fields map[string]*dtField
	order  []string // property names by displayOrder
}

// doc returns the schema document as GET ?expand=schema serves it.
func (sc *dtSchema) doc() map[string]any {
	props := make(map[string]any, len(sc.fields))
	for name, f := range sc.fields {
		p := make(map[string]any, len(f.doc))
		for k, v := range f.doc {
			p[k] = v
		}
		props[name] = p
	}
	return map[string]any{
		"$schema":              draft04,
		"type":                 "object",
		"required":             []string{keyField},
		"properties":           props,
		"additionalProperties": false,
	}
}

// schemaError is a 400 flows.datatables.syntax.error about a schema.
func schemaError(msg string, details ...core.ErrorDetail) *core.ErrorBody {
	return &core.ErrorBody{Message: msg, Code: CodeSyntax, Status: http.StatusBadRequest, Details: details}
}

// decodeJSON decodes one JSON value with numbers as json.Number and
// nothing after it.
func decodeJSONValue(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("data after the JSON value")
	}
	return v, nil
}

// objectKeys returns the member names of a JSON object in document order.
func objectKeys(raw []byte) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("not a JSON object")
	}
	var keys []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := t.(string)
		keys = append(keys, k)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// parseSchema checks a data-table schema document against the rules of
// the package comment. maxFields bounds the number of properties.
func parseSchema(raw []byte, maxFields int) (*dtSchema, *core.ErrorBody) {
	v, err := decodeJSONValue(raw)
	if err != nil {
		return nil, schemaError("The schema is not valid JSON: " + err.Error())
	}
	top, ok := v.(map[string]any)
	if !ok {
		return nil, schemaError("The schema must be a JSON object.")
	}
	if eb := checkSchemaTop(top); eb != nil {
		return nil, eb
	}
	props := top["properties"].(map[string]any)
	// Document order decides the displayOrder of properties that set none.
	var rawTop map[string]json.RawMessage
	_ = json.Unmarshal(raw, &rawTop)
	docOrder, _ := objectKeys(rawTop["properties"])
	if len(props) > maxFields {
		return nil, &core.ErrorBody{
			Message: fmt.Sprintf("The schema has %d fields; a datatable may have at most %d fields.", len(props), maxFields),
			Code:    CodeLimit,
			Status:  http.StatusBadRequest,
			Limit:   &core.Limit{Key: "max.fields.per.table", Namespace: limitNamespace, Value: int64(maxFields)},
		}
	}
	sc, eb := parseProperties(props, docOrder)
	if eb != nil {
		return nil, eb
	}
	for name := range sc.fields {
		sc.order = append(sc.order, name)
	}
	slices.SortStableFunc(sc.order, func(a, b string) int {
		fa, fb := sc.fields[a], sc.fields[b]
		if fa.order != fb.order {
			return fa.order - fb.order
		}
		return strings.Compare(a, b)
	})
	return sc, nil
}

// checkSchemaTop checks the top-level keywords of a schema document:
// $schema, type, additionalProperties, required and properties.
func checkSchemaTop(top map[string]any) *core.ErrorBody {
	if sv, ok := top["$schema"]; ok {
		if s, _ := sv.(string); strings.TrimSuffix(s, "#") != strings.TrimSuffix(draft04, "#") {
			return schemaError("The schema must be JSON Schema draft-04 ("+draft04+").",
				core.ErrorDetail{ErrorCode: "schema.$schema", FieldName: "$schema"})
		}
	}
	if tv, ok := top["type"]; ok && tv != "object" {
		return schemaError(`The schema type must be "object".`, core.ErrorDetail{ErrorCode: "schema.type", FieldName: "type"})
	}
	if ap, ok := top["additionalProperties"]; !ok || ap != false {
		return schemaError("The schema must set additionalProperties to false.",
			core.ErrorDetail{ErrorCode: "schema.additionalProperties", FieldName: "additionalProperties"})
	}
	req, _ := top["required"].([]any)
	if len(req) != 1 || req[0] != keyField {
		return schemaError(`The schema must set required to exactly ["key"].`,
			core.ErrorDetail{ErrorCode: "schema.required", FieldName: "required"})
	}
	if _, ok := top["properties"].(map[string]any); !ok {
		return schemaError("The schema has no properties object.", core.ErrorDetail{ErrorCode: "schema.properties", FieldName: "properties"})
	}
	return nil
}

// parseProperties checks the properties of a schema, in document order;
// it returns the fields, or a 400 naming every offending property.
func parseProperties(props map[string]any, docOrder []string) (*dtSchema, *core.ErrorBody) {
	sc := &dtSchema{fields: make(map[string]*dtField, len(props))}
	var details []core.ErrorDetail
	var msgs []string
	bad := func(field, code, msg string) {
		details = append(details, core.ErrorDetail{ErrorCode: code, FieldName: field})
		msgs = append(msgs, field+": "+msg)
	}
	for i, name := range docOrder {
		pv := props[name]
		if name == "" {
			bad(name, "schema.properties", "a field name must not be empty")
			continue
		}
		p, ok := pv.(map[string]any)
		if !ok {
			bad(name, "schema.properties", "a field must be described by an object")
			continue
		}
		f, msg := parseField(name, p, i)
		if msg != "" {
			bad(name, "schema.properties", msg)
			continue
		}
		sc.fields[name] = f
	}
	if _, ok := props[keyField]; !ok {
		bad(keyField, "schema.required", "the key field is missing")
	} else if f := sc.fields[keyField]; f != nil && f.typ != typeString {
		bad(keyField, "schema.type", `the key field must be of type "string"`)
	}
	if len(details) > 0 {
		return nil, schemaError("The schema is invalid: "+strings.Join(msgs, "; ")+".", details...)
	}
	return sc, nil
}

// parseField checks one property description; pos is its place in the
// document. It returns a message when the property breaks a rule.
func parseField(name string, p map[string]any, pos int) (*dtField, string) {
	typ, _ := p["type"].(string)
	switch typ {
	case typeString, typeInteger, typeNumber, typeBoolean:
	default:
		return nil, fmt.Sprintf("type %v is not one of string, integer, number, boolean", p["type"])
	}
	f := &dtField{name: name, typ: typ, order: pos, doc: map[string]any{}}
	for k, v := range p {
		f.doc[k] = v
	}
	if n, ok := p["displayOrder"]; ok {
		i, ok := intOf(n)
		if !ok {
			return nil, "displayOrder must be an integer"
		}
		f.order = int(i)
	}
	f.doc["displayOrder"] = f.order
	if _, ok := f.doc["title"]; !ok {
		f.doc["title"] = name
	}
	if _, ok := f.doc["$id"]; !ok {
		f.doc["$id"] = "/properties/" + name
	}
	for _, kw := range []string{"minLength", "maxLength"} {
		v, ok := p[kw]
		if !ok {
			continue
		}
		n, ok := intOf(v)
		if !ok || n < 0 || typ != typeString {
			return nil, kw + " must be a non-negative integer on a string field"
		}
		i := int(n)
		if kw == "minLength" {
			f.minLength = &i
		} else {
			f.maxLength = &i
		}
	}
	for _, kw := range []string{"minimum", "maximum"} {
		v, ok := p[kw]
		if !ok {
			continue
		}
		num, isNum := v.(json.Number)
		x, err := num.Float64()
		if !isNum || err != nil || (typ != typeInteger && typ != typeNumber) {
			return nil, kw + " must be a number on an integer or number field"
		}
		if kw == "minimum" {
			f.minimum = &x
		} else {
			f.maximum = &x
		}
	}
	if dv, ok := p["default"]; ok {
		d, ok := typedValue(typ, dv)
		if !ok {
			return nil, fmt.Sprintf("default %v is not of type %s", dv, typ)
		}
		f.def = d
	}
	return f, ""
}

// intOf returns v as an integer when it is an integral JSON number.
func intOf(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return i, true
	}
	f, err := n.Float64()
	if err != nil || f != math.Trunc(f) || math.Abs(f) >= 1<<63 {
		return 0, false
	}
	return int64(f), true
}

// typedValue converts a decoded JSON value to the Go value stored for a
// field of type typ: string, int64, float64 or bool.
func typedValue(typ string, v any) (any, bool) {
	switch typ {
	case typeString:
		s, ok := v.(string)
		return s, ok
	case typeInteger:
		return intOf(v)
	case typeNumber:
		n, ok := v.(json.Number)
		if !ok {
			return nil, false
		}
		f, err := n.Float64()
		return f, err == nil
	case typeBoolean:
		b, ok := v.(bool)
		return b, ok
	}
	return nil, false
}

// zero returns the value a row reads back for f when it omits f.
func (f *dtField) zero() any {
	if f.def != nil {
		return f.def
	}
	switch f.typ {
	case typeString:
		return ""
	case typeInteger:
		return int64(0)
	case typeNumber:
		return float64(0)
	}
	return false
}

// check checks a typed value against f's constraints; it returns the
// failed keyword and a message.
func (f *dtField) check(v any) (string, string) {
	switch x := v.(type) {
	case string:
		n := utf8.RuneCountInString(x)
		if f.minLength != nil && n < *f.minLength {
			return "minLength", fmt.Sprintf("length %d is below minLength %d", n, *f.minLength)
		}
		if f.maxLength != nil && n > *f.maxLength {
			return "maxLength", fmt.Sprintf("length %d is over maxLength %d", n, *f.maxLength)
		}
	case int64, float64:
		var num float64
		if i, ok := x.(int64); ok {
			num = float64(i)
		} else {
			num = x.(float64)
		}
		if f.minimum != nil && num < *f.minimum {
			return "minimum", fmt.Sprintf("%v is below minimum %v", num, *f.minimum)
		}
		if f.maximum != nil && num > *f.maximum {
			return "maximum", fmt.Sprintf("%v is over maximum %v", num, *f.maximum)
		}
	}
	return "", ""
}

// checkRow validates a decoded row object (numbers as json.Number) and
// returns the row to store (typed values, omitted properties left out), or
// the 400 ErrorBody naming every offending field.
func (sc *dtSchema) checkRow(obj map[string]any, maxKeyLength int, tableName string) (map[string]any, *core.ErrorBody) {
	key, _ := obj[keyField].(string)
	var details []core.ErrorDetail
	var msgs []string
	var limit *core.Limit
	bad := func(field, code, msg string) {
		details = append(details, core.ErrorDetail{ErrorCode: code, FieldName: field, EntityID: key})
		msgs = append(msgs, field+": "+msg)
	}
	kv, hasKey := obj[keyField]
	switch {
	case !hasKey:
		bad(keyField, core.CodeSchemaPrefix+"required", "the key is required")
	case kv == nil || key == "" && kv != "":
		bad(keyField, core.CodeSchemaPrefix+"type", "the key must be a string")
	case key == "":
		bad(keyField, CodeKeyEmpty, "the key must not be empty")
	case utf8.RuneCountInString(key) > maxKeyLength:
		bad(keyField, CodeKeyTooLong, fmt.Sprintf("the key is %d characters long; the limit is %d",
			utf8.RuneCountInString(key), maxKeyLength))
		limit = &core.Limit{Key: "max.key.length", Namespace: limitNamespace, Value: int64(maxKeyLength)}
	}
	row := make(map[string]any, len(obj))
	names := make([]string, 0, len(obj))
	for k := range obj {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		v := obj[k]
		f, ok := sc.fields[k]
		if !ok {
			bad(k, core.CodeSchemaPrefix+"additionalProperties", "the table has no such field")
			continue
		}
		tv, ok := typedValue(f.typ, v)
		if !ok {
			if k != keyField {
				bad(k, core.CodeSchemaPrefix+"type", fmt.Sprintf("%s is not of type %s", jsonText(v), f.typ))
			}
			continue
		}
		if kw, msg := f.check(tv); kw != "" {
			bad(k, core.CodeSchemaPrefix+kw, msg)
			continue
		}
		row[k] = tv
	}
	if len(details) == 0 {
		return row, nil
	}
	label := key
	if label == "" {
		label = "without a key"
	}
	return nil, &core.ErrorBody{
		Message:  fmt.Sprintf("Row %s does not match the schema of datatable %s: %s.", label, tableName, strings.Join(msgs, "; ")),
		Code:     CodeSyntax,
		Status:   http.StatusBadRequest,
		EntityID: key,
		Details:  details,
		Limit:    limit,
	}
}

// jsonText renders a decoded JSON value for a message.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

// full returns row with every field of sc, omitted ones at their default.
func (sc *dtSchema) full(row map[string]any) map[string]any {
	out := make(map[string]any, len(sc.fields))
	for name, f := range sc.fields {
		if v, ok := row[name]; ok {
			out[name] = v
		} else {
			out[name] = f.zero()
		}
	}
	return out
}
