package externalcontacts

import (
	"github.com/gcupsert/gcupsert/change"
)

// Coalesce tells the consumer what two events of one key in a batch amount
// to, since enrich merges into the stored entity (consumer.Coalescer): a
// delete stands for both; an upsert after a delete does not (the entity is
// removed, then created anew with only its fields), so both are sent; two
// upserts with the Upsert action combine as the field rule would apply
// them one after the other: PreferProvided (the newer's non-null values
// over the older's), PreferExisting (the older's over the newer's),
// AlwaysUseProvided (the newer alone). Array fields under Fill or Extend,
// and the Insert and Update actions (each event has its own outcome), are
// not combined.
func (t *Target) Coalesce(older, newer change.Record) (change.Record, bool) {
	switch {
	case newer.Op == change.OpDelete:
		return newer, true
	case older.Op == change.OpDelete, t.cfg.Conflict != change.ConflictUpsert:
		return change.Record{}, false
	case t.cfg.DefaultAction == AlwaysUseProvided:
		return newer, true
	}
	if t.cfg.ArrayAction != ArrayReplace && (hasArray(older.Data) || hasArray(newer.Data)) {
		return change.Record{}, false
	}
	first, second := older.Data, newer.Data // PreferProvided: the newer wins
	if t.cfg.DefaultAction == PreferExisting {
		first, second = newer.Data, older.Data
	}
	data := make(map[string]any, len(first)+len(second))
	for k, v := range first {
		data[k] = v
	}
	for k, v := range second {
		if v != nil || data[k] == nil {
			data[k] = v
		}
	}
	newer.Data = data
	return newer, true
}

// hasArray reports an array value among data's fields.
func hasArray(data map[string]any) bool {
	for _, v := range data {
		if _, ok := v.([]any); ok {
			return true
		}
	}
	return false
}
