package upsert

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/gcupsert/gcupsert/change"
)

var schemaPrinter = message.NewPrinter(language.English)

// CompileSchema compiles a self-contained JSON Schema document (draft 4 to
// 2020-12 by its "$schema"; draft 4, as Genesys uses, when absent).
func CompileSchema(name string, doc []byte) (*jsonschema.Schema, error) {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("upsert: schema %q is not valid JSON: %w", name, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	c.UseLoader(noLoader{})
	loc := "mem:///" + name + ".json"
	if err := c.AddResource(loc, v); err != nil {
		return nil, fmt.Errorf("upsert: schema %q: %w", name, err)
	}
	sch, err := c.Compile(loc)
	if err != nil {
		return nil, fmt.Errorf("upsert: schema %q does not compile: %w", name, err)
	}
	return sch, nil
}

// noLoader refuses external references, keeping schemas self-contained.
type noLoader struct{}

func (noLoader) Load(u string) (any, error) {
	return nil, fmt.Errorf("external schema %q is not allowed", u)
}

// ValidateFields checks data against sch and returns one change.FieldError per
// violation, nil when data is valid. Values of Go types that are not JSON
// types (e.g. []string) are checked in their JSON form. Numbers are checked
// for range first: none may be beyond a double (1e400 is no number an API
// can store), and a field whose schema type is integer must fit 64 bits.
func ValidateFields(sch *jsonschema.Schema, data map[string]any) ([]change.FieldError, error) {
	plan := planOf(sch)
	if fe := checkRanges(plan.integers, data); fe != nil {
		return fe, nil
	}
	if plan.flat != nil && plan.flat.valid(data) {
		return nil, nil
	}
	err := sch.Validate(data)
	if err == nil {
		return nil, nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return nil, err
	}
	if hasInvalidValue(ve) {
		raw, err := json.Marshal(data)
		if err != nil {
			return nil, err
		}
		norm, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return nil, err
		}
		if err = sch.Validate(norm); err == nil {
			return nil, nil
		}
		if !errors.As(err, &ve) {
			return nil, err
		}
	}
	return appendFieldErrors(nil, ve), nil
}

func hasInvalidValue(ve *jsonschema.ValidationError) bool {
	if _, ok := ve.ErrorKind.(*kind.InvalidJsonValue); ok {
		return true
	}
	for _, c := range ve.Causes {
		if hasInvalidValue(c) {
			return true
		}
	}
	return false
}

// appendFieldErrors appends the leaves of the error tree.
func appendFieldErrors(out []change.FieldError, ve *jsonschema.ValidationError) []change.FieldError {
	if len(ve.Causes) > 0 {
		for _, c := range ve.Causes {
			out = appendFieldErrors(out, c)
		}
		return out
	}
	switch k := ve.ErrorKind.(type) {
	case *kind.Required:
		for _, m := range k.Missing {
			out = append(out, change.FieldError{Field: fieldPath(ve.InstanceLocation, m), Code: "required", Message: "missing required field"})
		}
		return out
	case *kind.AdditionalProperties:
		for _, p := range k.Properties {
			out = append(out, change.FieldError{Field: fieldPath(ve.InstanceLocation, p), Code: "additionalProperties", Message: "field not allowed by the schema"})
		}
		return out
	}
	code := "schema"
	if kw := ve.ErrorKind.KeywordPath(); len(kw) > 0 {
		code = kw[len(kw)-1]
	}
	return append(out, change.FieldError{Field: fieldPath(ve.InstanceLocation, ""), Code: code, Message: ve.ErrorKind.LocalizedString(schemaPrinter)})
}

// fieldPath joins an instance location (and an optional child) with dots.
func fieldPath(loc []string, child string) string {
	if child != "" {
		loc = append(loc[:len(loc):len(loc)], child)
	}
	return strings.Join(loc, ".")
}

// Summarize renders field errors for a RecordError message.
func Summarize(prefix string, fields []change.FieldError) string {
	var sb strings.Builder
	sb.WriteString(prefix)
	for i, f := range fields {
		if i == 3 {
			fmt.Fprintf(&sb, "; and %d more", len(fields)-3)
			break
		}
		if i == 0 {
			sb.WriteString(": ")
		} else {
			sb.WriteString("; ")
		}
		name := f.Field
		if name == "" {
			name = "(record)"
		}
		fmt.Fprintf(&sb, "%s: %s", name, f.Message)
	}
	return sb.String()
}

// schemaPlan is what ValidateFields computes once per compiled schema:
// the properties whose type is integer (and not number), which the JSON
// Schema library would build anew on every call, and the flat plan (nil
// when the schema is not flat).
type schemaPlan struct {
	integers map[string]bool
	flat     *flatPlan
}

// plans caches a plan per compiled schema. Schemas compiled again
// (refreshed) add entries; the cache is emptied when it holds maxPlans.
var (
	plans       sync.Map // *jsonschema.Schema -> *schemaPlan
	plansCached atomic.Int64
)

const maxPlans = 1024

func planOf(sch *jsonschema.Schema) *schemaPlan {
	if p, ok := plans.Load(sch); ok {
		return p.(*schemaPlan)
	}
	if plansCached.Add(1) > maxPlans {
		plans.Clear()
		plansCached.Store(1)
	}
	p := &schemaPlan{integers: map[string]bool{}, flat: newFlatPlan(sch)}
	for name, ps := range sch.Properties {
		if ps != nil && ps.Types != nil {
			ts := ps.Types.ToStrings()
			p.integers[name] = slices.Contains(ts, "integer") && !slices.Contains(ts, "number")
		}
	}
	plans.Store(sch, p)
	return p
}

// checkRanges reports the numbers of data that are out of range.
func checkRanges(integers map[string]bool, data map[string]any) []change.FieldError {
	var fe []change.FieldError
	for name, v := range data {
		if msg := outOfRange(v, integers[name]); msg != "" {
			fe = append(fe, change.FieldError{Field: name, Code: "range", Message: msg})
		}
	}
	slices.SortFunc(fe, func(a, b change.FieldError) int { return strings.Compare(a.Field, b.Field) })
	return fe
}

// outOfRange says why v (or a number inside it) is out of range; "" when
// it is not.
func outOfRange(v any, integer bool) string {
	switch x := v.(type) {
	case json.Number:
		if plainSmall(string(x)) {
			return ""
		}
		c, ok := change.CanonicalNumber(string(x))
		if f, err := strconv.ParseFloat(string(x), 64); !ok || err != nil || math.IsInf(f, 0) {
			return fmt.Sprintf("%.40s is beyond the range of a number", x)
		}
		if _, err := strconv.ParseInt(c, 10, 64); integer && err != nil && !strings.Contains(c, ".") {
			return fmt.Sprintf("%.40s is beyond the range of a 64-bit integer", x)
		}
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return "not a finite number"
		}
		if integer && (x >= 1<<63 || x < -(1<<63)) {
			return "beyond the range of a 64-bit integer"
		}
	case map[string]any:
		for _, e := range x {
			if msg := outOfRange(e, false); msg != "" {
				return msg
			}
		}
	case []any:
		for _, e := range x {
			if msg := outOfRange(e, false); msg != "" {
				return msg
			}
		}
	}
	return ""
}

// plainSmall reports a number of at most 15 digits with no exponent:
// within the range of a double and, when whole, of a 64-bit integer.
func plainSmall(s string) bool {
	if len(s) == 0 || len(s) > 16 {
		return false
	}
	digits := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '-' && i == 0, c == '.':
		default:
			return false
		}
	}
	return digits > 0 && digits <= 15
}
