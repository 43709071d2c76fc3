package worker

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/gcupsert/gcupsert/config"
	"github.com/gcupsert/gcupsert/consumer"
	"github.com/gcupsert/gcupsert/upsert"
	"github.com/gcupsert/gcupsert/upsert/datatables"
)

// checkTargetFields checks the field names of route r, configured at key,
// against the schema of its target t; or, when building the target failed
// on columns the table lacks (err), against the schema that error carries.
func checkTargetFields(key string, r config.Route, t consumer.Target, err error) error {
	if ce := (*datatables.ColumnError)(nil); errors.As(err, &ce) {
		return CheckFields(key, r, ce.Schema)
	}
	s, ok := t.(interface{ SchemaJSON() []byte })
	if err != nil || !ok {
		return nil
	}
	return CheckFields(key, r, s.SchemaJSON())
}

// CheckFields checks the field names of route r, configured at key (e.g.
// "routes[0]"), against doc, the JSON Schema of its target: the schema
// file of a customobjects route, the table's schema of a datatables route.
func CheckFields(key string, r config.Route, doc []byte) error {
	switch r.Target {
	case "datatables":
		return checkFields(key, r, "table "+r.Table, doc)
	case "externalcontacts":
		what := r.Entity + " (standard fields)"
		if r.Schema != "" {
			what = r.Entity + " (standard fields and the data schema " + r.Schema + ")"
		}
		return checkFields(key, r, what, doc)
	}
	return checkFields(key, r, "schema "+r.Schema, doc)
}

// checkFields refuses the field names of route r, configured at key (e.g.
// "routes[0]"), that its target schema lacks: unique_fields,
// reference_fields, the fields of references, the targets of
// mapping.rename and the fields of mapping.constants (mapping.key and
// mapping.drop name source fields and are not checked). A constant the
// field's schema refuses is refused too. what names the schema ("schema
// customerAccounts", "table Accounts") and doc is its JSON Schema; a
// schema that lists no properties allows any field and is not checked.
// All problems are returned at once, each naming its key.
func checkFields(key string, r config.Route, what string, doc []byte) error {
	var s struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(doc, &s); err != nil || len(s.Properties) == 0 {
		return nil
	}
	var errs []error
	field := func(k, name string) bool {
		if _, ok := s.Properties[name]; ok {
			return true
		}
		errs = append(errs, fmt.Errorf("%s: %q is not a field of %s", k, name, what))
		return false
	}
	for j, f := range r.UniqueFields {
		field(fmt.Sprintf("%s.unique_fields[%d]", key, j), f)
	}
	for j, f := range r.ReferenceFields {
		field(fmt.Sprintf("%s.reference_fields[%d]", key, j), f)
	}
	for _, f := range slices.Sorted(maps.Keys(r.References)) {
		field(key+".references."+f, f)
	}
	for _, from := range slices.Sorted(maps.Keys(r.Mapping.Rename)) {
		field(key+".mapping.rename."+from, r.Mapping.Rename[from])
	}
	var sch *jsonschema.Schema
	for _, f := range slices.Sorted(maps.Keys(r.Mapping.Constants)) {
		k := key + ".mapping.constants." + f
		if !field(k, f) {
			continue
		}
		if sch == nil {
			var err error
			if sch, err = upsert.CompileSchema("fields", doc); err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
		}
		if err := checkConstant(sch, f, r.Mapping.Constants[f]); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", k, err))
		}
	}
	return errors.Join(errs...)
}

// checkConstant validates the constant v of field f against the field's
// schema within sch.
func checkConstant(sch *jsonschema.Schema, f string, v any) error {
	fe, err := upsert.ValidateFields(sch, map[string]any{f: v})
	if err != nil {
		return fmt.Errorf("cannot be checked: %w", err)
	}
	var msgs []string
	for _, e := range fe {
		if e.Field == f || strings.HasPrefix(e.Field, f+".") {
			msgs = append(msgs, e.Message)
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	raw, _ := json.Marshal(v)
	return fmt.Errorf("%s does not fit the field: %s", raw, strings.Join(msgs, "; "))
}
