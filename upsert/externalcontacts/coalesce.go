package externalcontacts

import (
	"github.com/gcupsert/gcupsert/change"
)

// Supersedes tells the consumer whether the newer of two events of one key
// in a batch stands for both, since enrich merges into the stored entity
// (consumer.Coalescer). A delete does. The newer of two upserts (Upsert
// action) does when the field rule makes it so: AlwaysUseProvided, or
// PreferProvided when it sets every field the older one sets (Debezium's
// change events carry every column), array fields replaced, not filled.
// Otherwise both are sent, in order: an upsert after a delete (the entity
// is removed, then created anew with only its fields), Insert and Update
// (each event has its own outcome), and an older upsert with fields the
// newer leaves out.
func (t *Target) Supersedes(older, newer change.Record) bool {
	switch {
	case newer.Op == change.OpDelete:
		return true
	case older.Op == change.OpDelete, t.cfg.Conflict != change.ConflictUpsert:
		return false
	case t.cfg.DefaultAction == AlwaysUseProvided:
		return true
	case t.cfg.DefaultAction == PreferExisting:
		return false
	}
	for k, v := range older.Data {
		if _, isArray := v.([]any); v != nil && (newer.Data[k] == nil || isArray && t.cfg.ArrayAction != ArrayReplace) {
			return false
		}
	}
	return true
}
