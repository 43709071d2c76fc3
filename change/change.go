// Package change holds the types every stage of the pipeline shares: a
// decoded record change (Record), the record encoded for a request (Item),
// what became of it (Outcome), why it was rejected (RecordError), and a
// finished batch of one partition (Batch), which the consumer hands to the
// sink. It imports nothing of the project, so that decoding, targets, the
// consumer and the sink depend on it and not on each other.
package change

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Op is what a change event asks for.
type Op string

const (
	// OpUpsert creates or updates the record (subject to the route's Conflict).
	OpUpsert Op = "upsert"
	// OpDelete removes the record; a missing record counts as deleted.
	OpDelete Op = "delete"
)

// Conflict is the conflict-resolution directive of a route.
type Conflict string

const (
	ConflictUpsert     Conflict = "upsert"     // update when it exists, else create
	ConflictUpdateOnly Conflict = "updateOnly" // update; a missing record is rejected
	ConflictCreateOnly Conflict = "createOnly" // create; an existing record is rejected
)

// ParseConflict checks a directive read from configuration; empty means
// ConflictUpsert.
func ParseConflict(s string) (Conflict, error) {
	switch c := Conflict(s); c {
	case "":
		return ConflictUpsert, nil
	case ConflictUpsert, ConflictUpdateOnly, ConflictCreateOnly:
		return c, nil
	}
	return "", fmt.Errorf("unknown conflict resolution %q (want upsert, updateOnly or createOnly)", s)
}

// Record is one decoded change: the record key, the operation and, for
// upserts, the field values (the key is not among them).
type Record struct {
	Key  string
	Op   Op
	Data map[string]any
}

// Check is the rule every target applies first: a record has a key (see
// CheckKey) and a known operation.
func (r Record) Check() *RecordError {
	if err := CheckKey(r.Key); err != nil {
		return &RecordError{Class: ClassValidation, Code: err.Code, Message: err.Message}
	}
	switch r.Op {
	case OpUpsert, OpDelete:
		return nil
	}
	return &RecordError{Class: ClassValidation, Code: "op.unknown", Message: fmt.Sprintf("unknown operation %q", r.Op)}
}

// KeyError says why a key cannot name a record.
type KeyError struct{ Code, Message string }

// CheckKey is the one rule for a record key, whatever decoded it: not
// empty, not only white space, and valid UTF-8, so that two different keys
// can never become one (a key is never converted). Codes: key.missing,
// key.blank, key.invalid.
func CheckKey(k string) *KeyError {
	switch {
	case k == "":
		return &KeyError{Code: "key.missing", Message: "record has no key"}
	case !utf8.ValidString(k):
		return &KeyError{Code: "key.invalid", Message: "record key is not valid UTF-8; it cannot be represented exactly"}
	case strings.TrimSpace(k) == "":
		return &KeyError{Code: "key.blank", Message: "record key is only white space"}
	}
	return nil
}

// Item is a record that passed per-record validation and has been encoded as
// it will appear in the request body. Items are made by a target's Prepare.
type Item struct {
	Record Record
	// Body is the record exactly as it is placed in the request body.
	Body []byte
}

// Size is the number of bytes the item adds to a request body.
func (it Item) Size() int { return len(it.Body) }

// Limits describes the requests of a target, so that a batcher can size
// the body that is actually sent: a body of n items is Overhead bytes of
// framing, the items, and Separator bytes between consecutive items.
type Limits struct {
	MaxRecords int
	MaxBytes   int
	Overhead   int
	Separator  int
}

// BodySize is the exact size of a body with n items totalling itemBytes.
func (l Limits) BodySize(n, itemBytes int) int {
	if n <= 0 {
		return l.Overhead
	}
	return l.Overhead + itemBytes + (n-1)*l.Separator
}
