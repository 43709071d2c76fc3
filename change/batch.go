package change

import "time"

// Source is the position of one input message.
type Source struct {
	Topic     string
	Partition int
	Offset    int64
}

// Entry is one source message of a finished batch and what became of it.
type Entry struct {
	Offset int64
	// Key and Value are the source message's, unchanged (Value is nil for a
	// tombstone); a dead letter carries them.
	Key, Value []byte
	// RecordKey is the decoded record key; empty when decoding failed.
	RecordKey string
	// Op is the decoded operation, when decoding succeeded.
	Op      Op
	Outcome Outcome
}

// Batch is a contiguous range of one partition's offsets, every message of
// which has an outcome. The consumer builds it; the sink turns it into
// outbound events; hooks read it.
type Batch struct {
	Topic     string
	Partition int
	// Target and Schema name the route's target ("datatables", ...) and its
	// schema, table or entity.
	Target, Schema string
	// Entries are in offset order and cover the range without gaps other
	// than those of the partition itself (compaction, transaction markers).
	Entries []Entry
	// Attempts and CorrelationIDs sum up the target's requests.
	Attempts       int
	CorrelationIDs []string
	// Latency is the time the target took, retries included.
	Latency time.Duration
	// Items and Bytes are the records sent to the target and their
	// request-body bytes.
	Items, Bytes int
}

// First and Last are the batch's first and last offsets.
func (b Batch) First() int64 { return b.Entries[0].Offset }
func (b Batch) Last() int64  { return b.Entries[len(b.Entries)-1].Offset }

// Counts are the per-outcome message counts of a batch.
type Counts struct {
	Records, Created, Updated, Deleted, DeadLettered, Collapsed int
}

// Counts counts the batch's entries by outcome.
func (b Batch) Counts() Counts {
	c := Counts{Records: len(b.Entries)}
	for i := range b.Entries {
		switch b.Entries[i].Outcome.Status {
		case StatusCreated:
			c.Created++
		case StatusUpdated:
			c.Updated++
		case StatusDeleted:
			c.Deleted++
		case StatusCollapsed:
			c.Collapsed++
		default:
			c.DeadLettered++
		}
	}
	return c
}
