package mirror

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
)

// ColumnType is the SQL type family of a typed column.
type ColumnType string

const (
	TypeText    ColumnType = "text"
	TypeInteger ColumnType = "integer"
	TypeNumber  ColumnType = "number"
	TypeBoolean ColumnType = "boolean"
	TypeJSON    ColumnType = "json"
)

// Column is one typed column: a property of the route's JSON Schema.
type Column struct {
	Name string
	Type ColumnType
}

// Table is the mirror of one route: the records of one target and schema
// (customobjects schema, data table, External Contacts entity).
type Table struct {
	Name           string
	Target, Schema string
	// Columns are the typed columns, by name; every record is also kept
	// whole as JSON, so a property without a column loses nothing.
	Columns []Column
}

// TableName is the SQL name of the table of a target and schema: both
// lower-cased, every character other than a letter, digit or '_' made
// '_', joined by '_', at most 50 bytes (room for suffixes within
// PostgreSQL's 63): a longer name keeps 41 bytes and ends with '_' and 8
// hex digits of a hash of the whole. Distinct pairs can share a name ("a-b"
// and "a_b"); callers refuse such routes.
func TableName(target, schema string) string {
	clean := func(s string) string {
		var b strings.Builder
		for _, r := range strings.ToLower(s) {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
				b.WriteRune(r)
			} else {
				b.WriteByte('_')
			}
		}
		return b.String()
	}
	n := clean(target) + "_" + clean(schema)
	if len(n) > 50 {
		h := fnv.New32a()
		h.Write([]byte(target + "\x00" + schema))
		n = fmt.Sprintf("%s_%08x", n[:41], h.Sum32())
	}
	return n
}

// maxColumnName bounds a typed column's name (PostgreSQL's identifiers are
// at most 63 bytes); a longer property is kept in the record JSON only.
const maxColumnName = 63

// ColumnsOf reads the typed columns of a JSON Schema: one per property
// whose type is string, integer, number or boolean (object and array
// properties are JSON columns), sorted by name. Properties whose names
// start with '_' (the mirror's own columns) or are longer than 63 bytes
// have no column.
func ColumnsOf(schema []byte) ([]Column, error) {
	var doc struct {
		Properties map[string]struct {
			Type any `json:"type"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(schema, &doc); err != nil {
		return nil, fmt.Errorf("schema is not a JSON object: %w", err)
	}
	var cols []Column
	for name, p := range doc.Properties {
		if strings.HasPrefix(name, "_") || len(name) > maxColumnName || name == "" {
			continue
		}
		cols = append(cols, Column{Name: name, Type: columnType(p.Type)})
	}
	slices.SortFunc(cols, func(a, b Column) int { return strings.Compare(a.Name, b.Name) })
	return cols, nil
}

// columnType maps a JSON Schema "type" (a name or a list, "null" ignored).
func columnType(t any) ColumnType {
	var names []string
	switch x := t.(type) {
	case string:
		names = []string{x}
	case []any:
		for _, n := range x {
			if s, ok := n.(string); ok && s != "null" {
				names = append(names, s)
			}
		}
	}
	if len(names) != 1 {
		return TypeJSON
	}
	switch names[0] {
	case "string":
		return TypeText
	case "integer":
		return TypeInteger
	case "number":
		return TypeNumber
	case "boolean":
		return TypeBoolean
	}
	return TypeJSON
}
