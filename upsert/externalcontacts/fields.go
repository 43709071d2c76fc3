package externalcontacts

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/gcupsert/gcupsert/change"
)

// kind is how a standard field's value is checked and placed.
type kind int

const (
	kindText  kind = iota // a string of at most max characters
	kindEmail             // an e-mail address of at most 256 characters
	kindPhone             // an E.164 number, sent as a Phonenumber's display
	kindURL               // an absolute http(s) URL of at most max characters
	kindBool
	kindInt     // a non-negative integer
	kindStrings // an array of strings
)

// field is one standard field of an entity, as the SDK model constrains it.
type field struct {
	kind kind
	max  int    // characters; 0: no stated limit
	path string // where it goes: "address.city" is address{city}
}

var (
	contactFields = map[string]field{
		"firstName":         {kind: kindText, max: 1000},
		"middleName":        {kind: kindText, max: 1000},
		"lastName":          {kind: kindText, max: 1000},
		"salutation":        {kind: kindText, max: 1000},
		"title":             {kind: kindText, max: 1000},
		"workEmail":         {kind: kindEmail, max: 256},
		"personalEmail":     {kind: kindEmail, max: 256},
		"otherEmail":        {kind: kindEmail, max: 256},
		"workPhone":         {kind: kindPhone, max: 512},
		"cellPhone":         {kind: kindPhone, max: 512},
		"homePhone":         {kind: kindPhone, max: 512},
		"otherPhone":        {kind: kindPhone, max: 512},
		"externalSystemUrl": {kind: kindURL, max: 1000},
		"surveyOptOut":      {kind: kindBool},
	}
	organizationFields = map[string]field{
		"name":              {kind: kindText, max: 1000},
		"companyType":       {kind: kindText},
		"industry":          {kind: kindText},
		"phoneNumber":       {kind: kindPhone, max: 512},
		"faxNumber":         {kind: kindPhone, max: 512},
		"employeeCount":     {kind: kindInt},
		"revenue":           {kind: kindInt},
		"tags":              {kind: kindStrings},
		"websites":          {kind: kindStrings},
		"externalSystemUrl": {kind: kindURL, max: 1000},
	}
	// addressFields are the Contactaddress fields, written as
	// "address.<name>" in a record.
	addressFields = map[string]int{
		"address1": 200, "address2": 200, "city": 100, "state": 50, "postalCode": 25, "countryCode": 25,
	}
)

// standardField returns the standard field name of entity e, or nil.
func standardField(e Entity, name string) *field {
	if rest, ok := strings.CutPrefix(name, "address."); ok {
		if n, ok := addressFields[rest]; ok {
			return &field{kind: kindText, max: n, path: name}
		}
		return nil
	}
	m := contactFields
	if e == Organization {
		m = organizationFields
	}
	if f, ok := m[name]; ok {
		f.path = name
		return &f
	}
	return nil
}

// StandardFields lists the record fields that are standard fields of e,
// address parts as "address.<name>".
func StandardFields(e Entity) []string {
	m := contactFields
	if e == Organization {
		m = organizationFields
	}
	out := make([]string, 0, len(m)+len(addressFields))
	for k := range m {
		out = append(out, k)
	}
	for k := range addressFields {
		out = append(out, "address."+k)
	}
	return out
}

var (
	e164Pattern  = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)
	emailPattern = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s.]+$`)
)

// place checks value against f and sets it in entity; it returns the
// field's problem, or nil. A null value is left out (the field rules then
// leave the stored value as it is).
func (f *field) place(name string, value any, entity map[string]any) *change.FieldError {
	if value == nil {
		return nil
	}
	bad := func(code, format string, args ...any) *change.FieldError {
		return &change.FieldError{Field: name, Code: code, Message: fmt.Sprintf(format, args...)}
	}
	var out any
	switch f.kind {
	case kindBool:
		b, ok := value.(bool)
		if !ok {
			return bad("field.type", "%s must be true or false", name)
		}
		out = b
	case kindInt:
		n, ok := integer(value)
		if !ok || n < 0 {
			return bad("field.type", "%s must be a whole number of at least 0", name)
		}
		out = n
	case kindStrings:
		list, ok := value.([]any)
		if !ok {
			return bad("field.type", "%s must be an array of strings", name)
		}
		for _, v := range list {
			if _, ok := v.(string); !ok {
				return bad("field.type", "%s must be an array of strings", name)
			}
		}
		out = list
	default:
		s, ok := value.(string)
		if !ok {
			return bad("field.type", "%s must be a string", name)
		}
		s = strings.TrimSpace(s)
		if s == "" {
			return nil
		}
		if f.max > 0 && utf8.RuneCountInString(s) > f.max {
			return bad("field.too.long", "%s has %d characters, at most %d are allowed", name, utf8.RuneCountInString(s), f.max)
		}
		if fe := f.checkString(name, s); fe != nil {
			return fe
		}
		out = s
		if f.kind == kindPhone {
			out = map[string]any{"display": s}
		}
	}
	setPath(entity, f.path, out)
	return nil
}

// checkString checks the format of an e-mail, phone or URL field.
func (f *field) checkString(name, s string) *change.FieldError {
	switch f.kind {
	case kindEmail:
		if !emailPattern.MatchString(s) {
			return &change.FieldError{Field: name, Code: "field.format", Message: name + " is not an e-mail address"}
		}
	case kindPhone:
		if !e164Pattern.MatchString(s) {
			return &change.FieldError{Field: name, Code: "field.format",
				Message: name + " is not an E.164 phone number (+, country code, number: at most 15 digits)"}
		}
	case kindURL:
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &change.FieldError{Field: name, Code: "field.format", Message: name + " is not an absolute http(s) URL"}
		}
	}
	return nil
}

// integer reads a JSON number (json.Number or float64) that is whole.
func integer(v any) (int64, bool) {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	case float64:
		i := int64(n)
		return i, float64(i) == n
	case int:
		return int64(n), true
	case int64:
		return n, true
	}
	return 0, false
}

// setPath sets entity[path], creating the object of a dotted path.
func setPath(entity map[string]any, path string, v any) {
	parent, leaf, nested := strings.Cut(path, ".")
	if !nested {
		entity[path] = v
		return
	}
	obj, _ := entity[parent].(map[string]any)
	if obj == nil {
		obj = map[string]any{}
		entity[parent] = obj
	}
	obj[leaf] = v
}

// schemaOf is the JSON Schema of a standard field's value in a record.
func (f *field) schemaOf() map[string]any {
	switch f.kind {
	case kindBool:
		return map[string]any{"type": "boolean"}
	case kindInt:
		return map[string]any{"type": "integer", "minimum": 0}
	case kindStrings:
		return map[string]any{"type": "array", "items": map[string]any{"type": "string"}}
	}
	s := map[string]any{"type": "string"}
	if f.max > 0 {
		s["maxLength"] = f.max
	}
	return s
}

// FieldsSchema is a JSON Schema of the fields a record of entity e may
// hold: its standard fields (address parts as "address.<name>"), orgField
// (when set) and the custom fields of dataSchema (the JSON Schema of a data
// schema; nil for none), with the core types' definitions, so that it
// compiles. Configuration checks read field names and constants from it.
func FieldsSchema(e Entity, orgField string, dataSchema []byte) []byte {
	props := map[string]any{}
	var doc map[string]any
	if len(dataSchema) > 0 && json.Unmarshal(dataSchema, &doc) == nil {
		if custom, ok := doc["properties"].(map[string]any); ok {
			for k, v := range custom {
				props[k] = v
			}
		}
	}
	for _, name := range StandardFields(e) {
		props[name] = standardField(e, name).schemaOf()
	}
	if orgField != "" {
		props[orgField] = map[string]any{"type": "string", "maxLength": maxValueLength}
	}
	out, _ := json.Marshal(map[string]any{"type": "object", "additionalProperties": false, "properties": props, "definitions": coreTypes})
	return out
}

// EntitySchema is a JSON Schema of the top-level fields of an entity of
// kind e as the API returns it (what a sync event's record holds): the
// standard fields, phones and the address as objects, and the id, external
// ids, custom fields and, for contacts, the organization.
func EntitySchema(e Entity) []byte {
	props := map[string]any{
		"id":           map[string]any{"type": "string"},
		"externalIds":  map[string]any{"type": "array"},
		"customFields": map[string]any{"type": "object"},
		"address":      map[string]any{"type": "object"},
		"modifyDate":   map[string]any{"type": "string"},
		"createDate":   map[string]any{"type": "string"},
	}
	if e == Contact {
		props["externalOrganization"] = map[string]any{"type": "object"}
	}
	for _, name := range StandardFields(e) {
		f := standardField(e, name)
		switch {
		case strings.HasPrefix(name, "address."):
		case f.kind == kindPhone:
			props[name] = map[string]any{"type": "object"}
		default:
			props[name] = f.schemaOf()
		}
	}
	out, _ := json.Marshal(map[string]any{"type": "object", "properties": props})
	return out
}
