package mirror

import "context"

// DeleteMode says what a delete does to a row.
type DeleteMode string

const (
	// DeleteRemove removes the row and keeps its position in a tombstone.
	DeleteRemove DeleteMode = "remove"
	// DeleteMark keeps the row, fields cleared, with _deleted true.
	DeleteMark DeleteMode = "mark"
)

// Batch is what one transaction applies: the events and failures of one
// partition's offset range, and the next offset to store with them.
type Batch struct {
	Group    string
	Position Position // the topic, partition and next offset
	Events   []Event
	Failures []Failure
}

// Applied counts what a transaction did.
type Applied struct {
	Upserted, Deleted, Stale, Failures int
}

// Store is the database. Implementations must be safe for concurrent use
// by the partitions of one member.
type Store interface {
	// Prepare creates the tables, or adds the columns they lack (it never
	// drops one), and the store's own tables.
	Prepare(ctx context.Context, tables []Table) error
	// Offsets returns the next offset stored for each partition of topic
	// that has one.
	Offsets(ctx context.Context, group, topic string) (map[int]int64, error)
	// Apply applies b in one transaction with b.Position as the
	// partition's next offset. An event whose table was not prepared is an
	// error.
	Apply(ctx context.Context, b Batch) (Applied, error)
	Close() error
}
