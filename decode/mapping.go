package decode

import (
	"fmt"
	"maps"
	"slices"

	"github.com/gcupsert/gcupsert/change"
)

// Mapping reshapes decoded fields before validation.
type Mapping struct {
	// Key names the field holding the record key (Debezium: a column of
	// "after", or of "before" for deletes). Empty: the Kafka key.
	Key string
	// Rename maps source field names to target field names.
	Rename map[string]string
	// Drop lists source fields to leave out.
	Drop []string
	// Constants are fields set on every upsert, overriding the source.
	Constants map[string]any
}

func (m Mapping) empty() bool {
	return m.Key == "" && len(m.Rename) == 0 && len(m.Drop) == 0 && len(m.Constants) == 0
}

// validate checks the mapping once, at start.
func (m Mapping) validate() error {
	targets := map[string]string{}
	for from, to := range m.Rename {
		if from == "" || to == "" {
			return fmt.Errorf("rename %q -> %q: names must not be empty", from, to)
		}
		if other, dup := targets[to]; dup {
			return fmt.Errorf("rename: %q and %q both become %q", other, from, to)
		}
		targets[to] = from
	}
	for _, d := range m.Drop {
		if d == "" {
			return fmt.Errorf("drop: empty field name")
		}
		if _, renamed := m.Rename[d]; renamed {
			return fmt.Errorf("field %q is both dropped and renamed", d)
		}
	}
	for k := range m.Constants {
		if k == "" {
			return fmt.Errorf("constants: empty field name")
		}
	}
	return nil
}

// apply returns the mapped copy of fields; the key field is kept unless
// dropped.
func (m Mapping) apply(fields map[string]any) map[string]any {
	if len(m.Rename) == 0 && len(m.Drop) == 0 && len(m.Constants) == 0 {
		return fields
	}
	out := make(map[string]any, len(fields)+len(m.Constants))
	for k, v := range fields {
		if slices.Contains(m.Drop, k) {
			continue
		}
		if to, ok := m.Rename[k]; ok {
			k = to
		}
		out[k] = v
	}
	maps.Copy(out, m.Constants)
	return out
}

func keyField(fields map[string]any, name string) (string, *change.RecordError) {
	v, ok := fields[name]
	if !ok {
		return "", decodeErr("missing.key", fmt.Sprintf("key field %q is missing", name))
	}
	return scalarKey(v, fmt.Sprintf("key field %q", name))
}
