package upsert

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/gcupsert/gcupsert/change"
)

// UniqueValue is the one rule by which every target compares the values
// of a unique field. It reports false for no value: absent, null and the
// empty string (what a data table stores for an omitted string). Numbers
// compare by numeric value, exactly (1, 1.0 and 1e0 are one value; two
// integers that differ past float64's precision are two); strings by their
// text; booleans, objects and arrays by their JSON.
func UniqueValue(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		if x == "" {
			return "", false
		}
		return "s:" + x, true
	case json.Number:
		if c, ok := change.CanonicalNumber(string(x)); ok {
			return "n:" + c, true
		}
		return "s:" + string(x), true
	case float64:
		if c, ok := change.CanonicalNumber(strconv.FormatFloat(x, 'g', -1, 64)); ok {
			return "n:" + c, true
		}
		return "n:" + strconv.FormatFloat(x, 'g', -1, 64), true
	case float32:
		return UniqueValue(float64(x))
	case int:
		return "n:" + strconv.Itoa(x), true
	case int64:
		return "n:" + strconv.FormatInt(x, 10), true
	case bool:
		return "b:" + strconv.FormatBool(x), true
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("g:%v", v), true
	}
	return "j:" + string(raw), true
}

// UniqueSet maps, for each unique field, the values taken so far to the
// key holding them. It is not safe for concurrent use.
type UniqueSet struct {
	Fields []string
	owners []map[string]string
}

// NewUniqueSet returns an empty set for fields.
func NewUniqueSet(fields []string) *UniqueSet {
	u := &UniqueSet{Fields: fields, owners: make([]map[string]string, len(fields))}
	for f := range u.owners {
		u.owners[f] = map[string]string{}
	}
	return u
}

// Values are the UniqueValue of each field of data ("" for none).
func (u *UniqueSet) Values(data map[string]any) []string {
	vals := make([]string, len(u.Fields))
	for f, name := range u.Fields {
		vals[f], _ = UniqueValue(data[name])
	}
	return vals
}

// Owner is the key holding value v of field f.
func (u *UniqueSet) Owner(f int, v string) (string, bool) {
	k, ok := u.owners[f][v]
	return k, ok
}

// Claim makes key the holder of vals (per field; "" is none).
func (u *UniqueSet) Claim(key string, vals []string) {
	for f, v := range vals {
		if v != "" {
			u.owners[f][v] = key
		}
	}
}

// Release drops key's hold on vals.
func (u *UniqueSet) Release(key string, vals []string) {
	for f, v := range vals {
		if v != "" && u.owners[f][v] == key {
			delete(u.owners[f], v)
		}
	}
}
