package externalcontacts

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// draft04 is the JSON Schema draft of data schemas.
const draft04 = "http://json-schema.org/draft-04/schema#"

// coreTypes are the Genesys core types a custom field references with
// {"allOf":[{"$ref":"#/definitions/<type>"}]}, each with the JSON Schema
// its values must satisfy (a documented guess: the sources name the types
// and their limits, not the definitions) and the constraint keywords a
// property of that type may add.
var coreTypes = map[string]struct {
	def      map[string]any
	keywords []string
	maxLen   int // the cap on maxLength of text types
}{
	"text":       {stringDef(100, ""), []string{"minLength", "maxLength"}, 100},
	"longtext":   {stringDef(1000, ""), []string{"minLength", "maxLength"}, 1000},
	"url":        {stringDef(200, `^[Hh][Tt][Tt][Pp][Ss]?://[^\s/]+\S*$`), []string{"minLength", "maxLength"}, 200},
	"identifier": {stringDef(100, ""), []string{"minLength", "maxLength"}, 100},
	"enum":       {map[string]any{"type": "string"}, []string{"enum", "_enumProperties"}, 0},
	"integer":    {map[string]any{"type": "integer"}, []string{"minimum", "maximum"}, 0},
	"number":     {map[string]any{"type": "number"}, []string{"minimum", "maximum"}, 0},
	"checkbox":   {map[string]any{"type": "boolean"}, nil, 0},
	"date":       {stringDef(0, `^[0-9]{4}-[0-9]{2}-[0-9]{2}$`), nil, 0},
	"datetime": {stringDef(0, `^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$`),
		nil, 0},
	"tag": {map[string]any{"type": "array", "maxItems": maxTags,
		"items": map[string]any{"type": "string", "minLength": 1, "maxLength": maxTagLen}},
		[]string{"items", "minItems", "maxItems", "uniqueItems"}, 0},
}

// Limits of enum and tag custom fields (help.mypurecloud.com, custom field
// types).
const (
	maxEnumValues = 50
	maxEnumLen    = 100
	maxTags       = 10
	maxTagLen     = 100
)

func stringDef(maxLen int, pattern string) map[string]any {
	d := map[string]any{"type": "string"}
	if maxLen > 0 {
		d["maxLength"] = maxLen
	}
	if pattern != "" {
		d["pattern"] = pattern
	}
	return d
}

// docKeys are the keys of a Jsonschemadocument, the only ones a jsonSchema
// may hold.
var docKeys = []string{"id", "$schema", "title", "description", "type", "required", "properties", "additionalProperties"}

// fieldName is the form of a custom field name before its core-type
// suffix check (a guess: letters, digits and underscores).
var fieldName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// parsedDoc is a checked jsonSchema: the document as stored and each
// property's core type.
type parsedDoc struct {
	doc   map[string]any
	types map[string]string
}

// checkJSONSchema checks a jsonSchema document and returns it with its
// properties' core types, or the problems found. tooMany is set when the
// only problem is more than MaxSchemaProperties properties.
func checkJSONSchema(raw json.RawMessage) (pd parsedDoc, ps []problem, tooMany bool) {
	var v any
	if len(raw) == 0 || decodeStrict(raw, &v) != nil {
		return pd, []problem{{field: "jsonSchema", code: detailRequired, message: "a JSON Schema object is required"}}, false
	}
	doc, ok := v.(map[string]any)
	if !ok || doc == nil {
		return pd, []problem{{field: "jsonSchema", code: detailInvalid, message: "must be a JSON object"}}, false
	}
	for _, k := range sortedKeys(doc) {
		if !slices.Contains(docKeys, k) {
			ps = append(ps, problem{field: "jsonSchema." + clip(k), code: detailInvalid, message: "is not a key of a Jsonschemadocument"})
		}
	}
	ps = append(ps, checkDocTop(doc)...)
	props, _ := doc["properties"].(map[string]any)
	if doc["properties"] != nil && props == nil {
		ps = append(ps, problem{field: "jsonSchema.properties", code: detailInvalid, message: "must be an object"})
	}
	pd = parsedDoc{doc: doc, types: map[string]string{}}
	for _, name := range sortedKeys(props) {
		t, pps := checkProperty(name, props[name])
		ps = append(ps, pps...)
		pd.types[name] = t
	}
	if req, ok := doc["required"].([]any); ok {
		for _, r := range req {
			if s, ok := r.(string); !ok || props[s] == nil {
				ps = append(ps, problem{field: "jsonSchema.required", code: detailInvalid, value: valueText(r), message: "must name properties"})
			}
		}
	}
	if len(ps) == 0 && len(props) > MaxSchemaProperties {
		return pd, []problem{{field: "jsonSchema.properties", code: detailTooMany,
			message: fmt.Sprintf("at most %d custom fields", MaxSchemaProperties)}}, true
	}
	return pd, ps, false
}

// checkDocTop checks the top-level keys of a jsonSchema other than
// properties.
func checkDocTop(doc map[string]any) []problem {
	var ps []problem
	for _, k := range []string{"id", "$schema", "title", "description", "type"} {
		if v, ok := doc[k]; ok {
			if _, isStr := v.(string); !isStr {
				ps = append(ps, problem{field: "jsonSchema." + k, code: detailInvalid, message: "must be a string"})
			}
		}
	}
	if s, ok := doc["$schema"].(string); ok && strings.TrimSuffix(s, "#") != strings.TrimSuffix(draft04, "#") {
		ps = append(ps, problem{field: "jsonSchema.$schema", code: detailInvalid, value: clip(s), message: "must be " + draft04})
	}
	if t, ok := doc["type"].(string); ok && t != "object" {
		ps = append(ps, problem{field: "jsonSchema.type", code: detailInvalid, value: clip(t), message: `must be "object"`})
	}
	if v, ok := doc["required"]; ok {
		if _, isArr := v.([]any); !isArr {
			ps = append(ps, problem{field: "jsonSchema.required", code: detailInvalid, message: "must be an array of property names"})
		}
	}
	if v, ok := doc["additionalProperties"]; ok {
		if _, isBool := v.(bool); !isBool {
			ps = append(ps, problem{field: "jsonSchema.additionalProperties", code: detailInvalid, message: "must be a boolean"})
		}
	}
	return ps
}

// checkProperty checks one custom field definition and returns its core
// type.
func checkProperty(name string, v any) (string, []problem) {
	at := "jsonSchema.properties." + clip(name)
	bad := func(suffix, msg string) []problem {
		return []problem{{field: at + suffix, code: detailInvalid, message: msg}}
	}
	p, ok := v.(map[string]any)
	if !ok {
		return "", bad("", "must be an object")
	}
	t := refType(p["allOf"])
	if _, known := coreTypes[t]; !known {
		return "", bad(".allOf", `must be [{"$ref":"#/definitions/<core type>"}] with a known core type`)
	}
	var ps []problem
	prefix, hasSuffix := strings.CutSuffix(name, "_"+t)
	switch {
	case !fieldName.MatchString(name) || utf8.RuneCountInString(name) > MaxFieldName:
		ps = append(ps, bad("", fmt.Sprintf("a name is a letter then letters, digits or '_', at most %d characters", MaxFieldName))...)
	case !hasSuffix || prefix == "":
		ps = append(ps, bad("", fmt.Sprintf("the name must end with _%s, its core type", t))...)
	}
	allowed := append([]string{"allOf", "title", "description"}, coreTypes[t].keywords...)
	for _, k := range sortedKeys(p) {
		if !slices.Contains(allowed, k) {
			ps = append(ps, problem{field: at + "." + clip(k), code: detailInvalid, message: "is not a constraint of the " + t + " core type"})
		}
	}
	for _, k := range []string{"title", "description"} {
		if s, isStr := p[k].(string); p[k] != nil && !isStr {
			ps = append(ps, bad("."+k, "must be a string")...)
		} else if utf8.RuneCountInString(s) > 1000 {
			ps = append(ps, problem{field: at + "." + k, code: detailTooLong, message: "at most 1000 characters"})
		}
	}
	return t, append(ps, checkConstraints(at, t, p)...)
}

// refType returns the core type of [{"$ref":"#/definitions/<type>"}].
func refType(v any) string {
	arr, ok := v.([]any)
	if !ok || len(arr) != 1 {
		return ""
	}
	ref, ok := arr[0].(map[string]any)
	if !ok || len(ref) != 1 {
		return ""
	}
	s, _ := ref["$ref"].(string)
	t, ok := strings.CutPrefix(s, "#/definitions/")
	if !ok {
		return ""
	}
	return t
}

// checkConstraints checks the constraint keywords of a property of core
// type t against the type's limits.
func checkConstraints(at, t string, p map[string]any) []problem {
	var ps []problem
	lim := func(k string, lo, hi float64, integral bool) (float64, bool) {
		v, present := p[k]
		if !present {
			return 0, false
		}
		n, ok := number(v)
		if !ok || n < lo || n > hi || integral && n != math.Trunc(n) {
			ps = append(ps, problem{field: at + "." + k, code: detailInvalid, value: valueText(v),
				message: fmt.Sprintf("must be a number from %v to %v", lo, hi)})
			return 0, false
		}
		return n, true
	}
	switch t {
	case "text", "longtext", "url", "identifier":
		maxLen := float64(coreTypes[t].maxLen)
		lo, okLo := lim("minLength", 0, maxLen, true)
		hi, okHi := lim("maxLength", 0, maxLen, true)
		if okLo && okHi && lo > hi {
			ps = append(ps, problem{field: at + ".minLength", code: detailInvalid, message: "must not exceed maxLength"})
		}
	case "integer", "number":
		lo, okLo := lim("minimum", -math.MaxFloat64, math.MaxFloat64, t == "integer")
		hi, okHi := lim("maximum", -math.MaxFloat64, math.MaxFloat64, t == "integer")
		if okLo && okHi && lo > hi {
			ps = append(ps, problem{field: at + ".minimum", code: detailInvalid, message: "must not exceed maximum"})
		}
	case "enum":
		ps = append(ps, checkEnum(at, p)...)
	case "tag":
		ps = append(ps, checkTag(at, p)...)
	}
	return ps
}

// checkEnum checks the values of an enum property: 1 to 50 distinct
// strings of 1 to 100 characters.
func checkEnum(at string, p map[string]any) []problem {
	vals, ok := p["enum"].([]any)
	if !ok || len(vals) == 0 || len(vals) > maxEnumValues {
		return []problem{{field: at + ".enum", code: detailInvalid,
			message: fmt.Sprintf("must list 1 to %d values", maxEnumValues)}}
	}
	seen := map[string]bool{}
	for _, v := range vals {
		s, isStr := v.(string)
		if !isStr || s == "" || utf8.RuneCountInString(s) > maxEnumLen || seen[s] {
			return []problem{{field: at + ".enum", code: detailInvalid, value: valueText(v),
				message: fmt.Sprintf("values are distinct strings of 1 to %d characters", maxEnumLen)}}
		}
		seen[s] = true
	}
	if ep, present := p["_enumProperties"]; present {
		if _, isObj := ep.(map[string]any); !isObj {
			return []problem{{field: at + "._enumProperties", code: detailInvalid, message: "must be an object"}}
		}
	}
	return nil
}

// checkTag checks a tag property: items {minLength, maxLength} within
// 100 characters, minItems/maxItems within 10, uniqueItems a boolean.
func checkTag(at string, p map[string]any) []problem {
	var ps []problem
	if it, present := p["items"]; present {
		items, ok := it.(map[string]any)
		if !ok {
			return []problem{{field: at + ".items", code: detailInvalid, message: "must be an object"}}
		}
		for _, k := range sortedKeys(items) {
			n, isNum := number(items[k])
			if (k != "minLength" && k != "maxLength") || !isNum || n < 0 || n > maxTagLen || n != math.Trunc(n) {
				ps = append(ps, problem{field: at + ".items." + clip(k), code: detailInvalid,
					message: fmt.Sprintf("items take minLength and maxLength from 0 to %d", maxTagLen)})
			}
		}
	}
	for _, k := range []string{"minItems", "maxItems"} {
		if v, present := p[k]; present {
			if n, isNum := number(v); !isNum || n < 0 || n > maxTags || n != math.Trunc(n) {
				ps = append(ps, problem{field: at + "." + k, code: detailInvalid, value: valueText(v),
					message: fmt.Sprintf("must be a whole number from 0 to %d", maxTags)})
			}
		}
	}
	if v, present := p["uniqueItems"]; present {
		if _, isBool := v.(bool); !isBool {
			ps = append(ps, problem{field: at + ".uniqueItems", code: detailInvalid, message: "must be a boolean"})
		}
	}
	return ps
}

// number returns v as a float64 when it is a JSON number.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case float64:
		return n, true
	case int:
		return float64(n), true
	}
	return 0, false
}

// valueText is v as JSON text, clipped, for an error detail.
func valueText(v any) string {
	if s, ok := v.(string); ok {
		return clip(s)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return clip(string(b))
}

// refuseLoader keeps compiled schemas self-contained.
type refuseLoader struct{}

func (refuseLoader) Load(u string) (any, error) {
	return nil, fmt.Errorf("external schema %q is not allowed", clip(u))
}

// compileCustomFields compiles the validator of a checked document's
// custom fields: its properties with the core types' definitions supplied
// (a Jsonschemadocument has no definitions), no other key allowed.
func compileCustomFields(pd parsedDoc) (*jsonschema.Schema, error) {
	defs := map[string]any{}
	for t, ct := range coreTypes {
		defs[t] = ct.def
	}
	props := pd.doc["properties"]
	if props == nil {
		props = map[string]any{}
	}
	doc := map[string]any{
		"$schema": draft04, "type": "object", "properties": props,
		"additionalProperties": false, "definitions": defs,
	}
	if req, ok := pd.doc["required"]; ok {
		doc["required"] = req
	}
	// Round-trip through JSON so that the compiler sees only JSON values.
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	c.UseLoader(refuseLoader{})
	const loc = "mem:///externalcontacts/customfields.json"
	if err := c.AddResource(loc, v); err != nil {
		return nil, err
	}
	return c.Compile(loc)
}

// customFieldProblems validates custom field values with sch: one problem
// per offending field, named customFields.<key>.
func customFieldProblems(sch *jsonschema.Schema, fields map[string]any) []problem {
	err := sch.Validate(fields)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []problem{{field: "customFields", code: detailSchemaPrefix + "invalid", message: "invalid"}}
	}
	var ps []problem
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		for _, c := range e.Causes {
			walk(c)
		}
		if len(e.Causes) > 0 {
			return
		}
		msg := "invalid"
		if out := e.BasicOutput(); out != nil && out.Error != nil {
			msg = out.Error.String()
		}
		field := "customFields"
		if len(e.InstanceLocation) > 0 {
			field += "." + clip(e.InstanceLocation[0])
		}
		switch k := e.ErrorKind.(type) {
		case *kind.Required:
			for _, m := range k.Missing {
				ps = append(ps, problem{field: "customFields." + clip(m), code: detailSchemaPrefix + "required", message: "is required"})
			}
		case *kind.AdditionalProperties:
			for _, p := range k.Properties {
				ps = append(ps, problem{field: "customFields." + clip(p), code: detailSchemaPrefix + "additionalProperties",
					value: valueText(fields[p]), message: "is not a field of the schema"})
			}
		default:
			kw := "invalid"
			if path := e.ErrorKind.KeywordPath(); len(path) > 0 {
				kw = path[len(path)-1]
			}
			var val any
			if len(e.InstanceLocation) > 0 {
				val = fields[e.InstanceLocation[0]]
			}
			ps = append(ps, problem{field: field, code: detailSchemaPrefix + kw, value: valueText(val), message: clip(msg)})
		}
	}
	walk(ve)
	// A value may break a property's constraint and its core type's alike
	// (maxLength 10 and 100): one problem per field and keyword.
	seen := map[string]bool{}
	out := ps[:0]
	for _, p := range ps {
		if k := p.field + "\x00" + p.code; !seen[k] {
			seen[k] = true
			out = append(out, p)
		}
	}
	return out
}

// sortedKeys returns the keys of m, sorted.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
