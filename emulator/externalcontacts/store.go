package externalcontacts

import (
	"bytes"
	"encoding/json"
	"time"
)

// stored is one contact or organization.
type stored struct {
	id                string
	seq               int64 // creation order: the oldest match wins a lookup
	created, modified time.Time
	fields            map[string]any // the writable fields, normalised, as JSON values
}

// store holds the entities of one type, indexed by external id.
type store struct {
	et    EntityType
	items map[string]*stored
	byExt map[string]string // extKey -> entity id
	seq   int64
}

func newStore(et EntityType) *store {
	return &store{et: et, items: map[string]*stored{}, byExt: map[string]string{}}
}

// extKey is the index key of an external id.
func extKey(sourceID, value string) string { return sourceID + "\x00" + value }

// extKeys returns the index keys of the externalIds of fields.
func extKeys(fields map[string]any) []string {
	var keys []string
	arr, _ := fields["externalIds"].([]any)
	for _, x := range arr {
		src, val := externalIDParts(x)
		if src != "" && val != "" {
			keys = append(keys, extKey(src, val))
		}
	}
	return keys
}

// externalIDParts returns the source id and value of an externalIds item.
func externalIDParts(x any) (sourceID, value string) {
	m, _ := x.(map[string]any)
	value, _ = m["value"].(string)
	src, _ := m["externalSource"].(map[string]any)
	sourceID, _ = src["id"].(string)
	return sourceID, value
}

// put stores e, replacing the entity of the same id, and returns what it
// replaced (nil when e is new).
func (s *store) put(e *stored) *stored {
	old := s.remove(e.id)
	s.items[e.id] = e
	for _, k := range extKeys(e.fields) {
		s.byExt[k] = e.id
	}
	return old
}

// remove drops the entity id and returns it (nil when unknown).
func (s *store) remove(id string) *stored {
	old, ok := s.items[id]
	if !ok {
		return nil
	}
	for _, k := range extKeys(old.fields) {
		if s.byExt[k] == id {
			delete(s.byExt, k)
		}
	}
	delete(s.items, id)
	return old
}

// undo is a journal of store changes, to roll a dry run back.
type undo []struct {
	s    *store
	id   string
	prev *stored // nil: the entity did not exist
}

// note records the state of entity id of s before a change.
func (u *undo) note(s *store, id string) {
	*u = append(*u, struct {
		s    *store
		id   string
		prev *stored
	}{s, id, s.items[id]})
}

// rollback restores what note recorded, newest first.
func (u undo) rollback() {
	for i := len(u) - 1; i >= 0; i-- {
		c := u[i]
		if c.prev == nil {
			c.s.remove(c.id)
		} else {
			c.s.put(c.prev)
		}
	}
}

// toMap encodes v as JSON and decodes it as a JSON object with numbers
// kept as json.Number.
func toMap(v any) map[string]any {
	b, err := json.Marshal(v)
	if err != nil {
		return map[string]any{}
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if dec.Decode(&m) != nil || m == nil {
		return map[string]any{}
	}
	return m
}

// fromMap decodes the JSON object m into v.
func fromMap(m map[string]any, v any) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}

// deepCopy copies a JSON value.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		a := make([]any, len(x))
		for i, e := range x {
			a[i] = deepCopy(e)
		}
		return a
	}
	return v
}

// prune drops null values, empty objects and empty arrays from a JSON
// object, recursively; custom field values are kept as they are but for
// nulls.
func prune(m map[string]any) map[string]any {
	for k, v := range m {
		switch x := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			if k != "customFields" {
				prune(x)
			} else {
				for ck, cv := range x {
					if cv == nil {
						delete(x, ck)
					}
				}
			}
			if len(x) == 0 {
				delete(m, k)
			}
		case []any:
			for _, e := range x {
				if em, ok := e.(map[string]any); ok {
					prune(em)
				}
			}
			if len(x) == 0 {
				delete(m, k)
			}
		}
	}
	return m
}
