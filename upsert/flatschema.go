package upsert

import (
	"encoding/json"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// A flatPlan answers "surely valid" for the common case of a flat schema
// (an object of scalar properties with types, lengths, patterns, string
// enums and bounds) without the JSON Schema library's general walk. It
// never rejects: a record it cannot vouch for, valid or not, goes to the
// library, which alone decides what is a violation and how it reads.
type flatPlan struct {
	props    map[string]flatProp
	required []string
	closed   bool // additionalProperties: false
}

type flatProp struct {
	anyType                                 bool
	str, number, integer, boolean, nullType bool
	enum                                    []string // nil: no enum
	minLen, maxLen                          int      // -1: none
	pattern                                 jsonschema.Regexp
	min, max                                *big.Rat
	// minInt and maxInt are min and max when whole and within 64 bits,
	// so that a plain integer is compared without big.Rat.
	minInt, maxInt *int64
}

// Keywords a flat schema may hold: annotations and identity at both
// levels; the object keywords at the top; the scalar ones per property.
// Any other exported field of jsonschema.Schema that is set leaves the
// schema to the library, so a keyword added by a later version of the
// library is never skipped here.
var (
	flatAnnotations = []string{"DraftVersion", "Location", "ID", "Anchor", "DynamicAnchor",
		"Title", "Description", "Default", "Comment", "ReadOnly", "WriteOnly", "Examples", "Deprecated"}
	flatTopFields  = append([]string{"Types", "Required", "Properties", "AdditionalProperties"}, flatAnnotations...)
	flatPropFields = append([]string{"Types", "Enum", "MinLength", "MaxLength", "Pattern", "Minimum", "Maximum"}, flatAnnotations...)
	flatBoolFields = append([]string{"Bool"}, flatAnnotations...)
)

// onlyFields reports whether s sets no exported field beyond allowed.
func onlyFields(s *jsonschema.Schema, allowed []string) bool {
	v := reflect.ValueOf(s).Elem()
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if f.IsExported() && !v.Field(i).IsZero() && !slices.Contains(allowed, f.Name) {
			return false
		}
	}
	return true
}

// newFlatPlan is sch's plan, or nil when sch is not flat.
func newFlatPlan(sch *jsonschema.Schema) *flatPlan {
	if sch == nil || !onlyFields(sch, flatTopFields) {
		return nil
	}
	if sch.Types != nil && !sch.Types.IsEmpty() && !slices.Equal(sch.Types.ToStrings(), []string{"object"}) {
		return nil
	}
	p := &flatPlan{props: make(map[string]flatProp, len(sch.Properties)), required: sch.Required}
	switch a := sch.AdditionalProperties.(type) {
	case nil:
	case bool:
		p.closed = !a
	default:
		return nil
	}
	for name, ps := range sch.Properties {
		fp, ok := newFlatProp(ps)
		if !ok {
			return nil
		}
		p.props[name] = fp
	}
	return p
}

func newFlatProp(s *jsonschema.Schema) (flatProp, bool) {
	if s != nil && s.Bool != nil { // {} or true: anything; false: nothing
		return flatProp{anyType: true, minLen: -1, maxLen: -1}, *s.Bool && onlyFields(s, flatBoolFields)
	}
	if s == nil || !onlyFields(s, flatPropFields) {
		return flatProp{}, false
	}
	fp := flatProp{minLen: -1, maxLen: -1, pattern: s.Pattern, min: s.Minimum, max: s.Maximum}
	if s.Types == nil || s.Types.IsEmpty() {
		fp.anyType = true
	} else {
		for _, t := range s.Types.ToStrings() {
			switch t {
			case "string":
				fp.str = true
			case "number":
				fp.number = true
			case "integer":
				fp.integer = true
			case "boolean":
				fp.boolean = true
			case "null":
				fp.nullType = true
			}
		}
	}
	if s.Enum != nil {
		fp.enum = make([]string, 0, len(s.Enum.Values))
		for _, e := range s.Enum.Values {
			str, ok := e.(string)
			if !ok {
				return flatProp{}, false
			}
			fp.enum = append(fp.enum, str)
		}
	}
	fp.minInt, fp.maxInt = int64Of(s.Minimum), int64Of(s.Maximum)
	if s.MinLength != nil {
		fp.minLen = *s.MinLength
	}
	if s.MaxLength != nil {
		fp.maxLen = *s.MaxLength
	}
	return fp, true
}

// valid reports whether data is surely valid; false means "ask the
// library", not "invalid".
func (p *flatPlan) valid(data map[string]any) bool {
	for _, r := range p.required {
		if _, ok := data[r]; !ok {
			return false
		}
	}
	for name, v := range data {
		fp, ok := p.props[name]
		if !ok {
			if p.closed {
				return false
			}
			continue
		}
		if !fp.valid(v) {
			return false
		}
	}
	return true
}

func (fp *flatProp) valid(v any) bool {
	switch x := v.(type) {
	case string:
		if !fp.anyType && !fp.str {
			return false
		}
		if fp.enum != nil && !slices.Contains(fp.enum, x) {
			return false
		}
		if fp.minLen >= 0 || fp.maxLen >= 0 {
			n := utf8.RuneCountInString(x)
			if n < fp.minLen || (fp.maxLen >= 0 && n > fp.maxLen) {
				return false
			}
		}
		return fp.pattern == nil || fp.pattern.MatchString(x)
	case json.Number:
		if fp.enum != nil {
			return false
		}
		if !fp.anyType && !fp.number && !(fp.integer && plainInteger(string(x))) {
			return false
		}
		if fp.min == nil && fp.max == nil {
			return true
		}
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil &&
			(fp.min == nil || fp.minInt != nil) && (fp.max == nil || fp.maxInt != nil) {
			return (fp.minInt == nil || i >= *fp.minInt) && (fp.maxInt == nil || i <= *fp.maxInt)
		}
		n, ok := new(big.Rat).SetString(string(x))
		return ok && (fp.min == nil || n.Cmp(fp.min) >= 0) && (fp.max == nil || n.Cmp(fp.max) <= 0)
	case bool:
		return fp.enum == nil && (fp.anyType || fp.boolean)
	case nil:
		return fp.enum == nil && (fp.anyType || fp.nullType)
	}
	return false // other values (maps, arrays, Go types) are the library's
}

// int64Of is r when it is whole and within 64 bits, else nil.
func int64Of(r *big.Rat) *int64 {
	if r == nil || !r.IsInt() || !r.Num().IsInt64() {
		return nil
	}
	i := r.Num().Int64()
	return &i
}

// plainInteger reports an optional minus sign followed by digits only: a
// whole number in any JSON Schema draft. "1.0" and "1e2" are whole too,
// but the plan leaves them to the library.
func plainInteger(s string) bool {
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
