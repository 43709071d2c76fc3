package consumer

import "github.com/gcupsert/gcupsert/change"

// entryKind says what became of one source message inside a batch.
type entryKind int

const (
	entryItem      entryKind = iota // sent to the target
	entryRejected                   // rejected before sending (decode or validation)
	entryCollapsed                  // superseded by a newer event of the same key in the batch
)

// entry is one source message of a batch, in offset order. Its Outcome is
// set when it is rejected or collapsed, and for an entryItem once the
// target answered.
type entry struct {
	change.Entry
	kind entryKind
	item int   // index into batch.items while the batch is built
	by   int64 // for entryCollapsed: the offset that superseded it
	prev int   // the entry this one superseded, -1 if none
}

// batch is a contiguous range of one partition's offsets and the items to
// send for it. It is built by one goroutine and then handed to the sender;
// it is never shared while being built.
type batch struct {
	topic     string
	partition int
	entries   []entry
	items     []change.Item
	itemEntry []int          // items[i] came from entries[itemEntry[i]]
	byKey     map[string]int // record key -> index into items
	itemBytes int            // sum of the items' encoded sizes
	retained  int            // bytes of source messages held for dead letters
	opened    bool
	reserved  int64 // bytes taken from the consumer's buffer budget
}

// batchLimits bounds a batch. A batch is one request's worth (maxRecords,
// maxBytes) while the sender is free; while it is busy the next batch
// coalesces up to the buffer bounds: bufferKeys distinct keys, and
// bufferBytes of source messages and prepared items (each entry counted
// entryOverhead bytes more), so that a backlog of a few hot keys converges
// into few requests.
type batchLimits struct {
	target      change.Limits
	maxRecords  int // items per request (<= target.MaxRecords)
	maxBytes    int // request body bytes (<= target.MaxBytes)
	maxEntries  int // source messages per batch, items or not
	maxRetained int // bytes of source messages per batch
	bufferKeys  int // items of a batch gathered while the sender is busy
	// free is what such a batch holds without taking from the consumer's
	// shared buffer budget: a request's worth.
	free int
}

// entryOverhead is what an entry costs beside its key and value bytes,
// and itemFactor what a prepared record costs for each byte of its body
// (the body, and the decoded record it keeps): estimates of Go's memory,
// measured on the worker, so that the buffer bound bounds the process.
const (
	entryOverhead = 256
	itemFactor    = 6
)

// held is the memory the batch holds, as the buffer bound counts it.
func (b *batch) held() int {
	return b.retained + itemFactor*b.itemBytes + len(b.entries)*entryOverhead
}

func newBatch(topic string, partition int) *batch {
	return &batch{topic: topic, partition: partition, byKey: make(map[string]int)}
}

func (b *batch) empty() bool { return len(b.entries) == 0 }

func (b *batch) first() int64 { return b.entries[0].Offset }
func (b *batch) last() int64  { return b.entries[len(b.entries)-1].Offset }

// bodySize is the size of the request body the items would make.
func (b *batch) bodySize(l batchLimits) int {
	return l.target.BodySize(len(b.items), b.itemBytes)
}

// budget is the buffer bytes all partitions share; nil: none.
type budget interface{ TryAcquire(n int64) bool }

// reserveChunk is how much a coalescing batch takes from the shared budget
// at a time.
const reserveChunk = 256 << 10

// fits reports whether an item of the given key and size can join the batch
// without breaking a bound: a request's bounds, or, when coalescing (the
// sender is busy), the buffer's: bufferKeys records, and beyond a request's
// worth of memory, bytes taken from the shared budget. An item that replaces
// one of the same key only changes the byte count.
func (b *batch) fits(l batchLimits, key string, size, raw int, coalescing, separate bool, shared budget) bool {
	if len(b.entries) == 0 {
		return true
	}
	if coalescing {
		grow := raw + entryOverhead + itemFactor*max(size, 0)
		if i, ok := b.byKey[key]; ok && size >= 0 && !separate {
			grow -= itemFactor * b.items[i].Size()
		} else if size >= 0 && len(b.items)+1 > l.bufferKeys {
			return false
		}
		need := int64(b.held()+grow-l.free) - b.reserved
		if need <= 0 {
			return true
		}
		chunk := (need + reserveChunk - 1) / reserveChunk * reserveChunk
		if shared == nil || !shared.TryAcquire(chunk) {
			return false
		}
		b.reserved += chunk
		return true
	}
	if len(b.entries)+1 > l.maxEntries || b.retained+raw > l.maxRetained {
		return false
	}
	if size < 0 { // a rejected message: no item
		return true
	}
	n, bytes := len(b.items), b.itemBytes+size
	if i, ok := b.byKey[key]; ok && !separate {
		bytes -= b.items[i].Size()
	} else {
		n++
	}
	return n <= l.maxRecords && l.target.BodySize(n, bytes) <= l.maxBytes
}

// full reports whether no further item can join: a request's worth, or,
// when coalescing, the buffer's bytes (with all its keys taken, events of
// those keys still join; a new key is held back by fits).
func (b *batch) full(l batchLimits, coalescing bool) bool {
	if coalescing {
		return false // fits decides, taking from the shared budget
	}
	return len(b.items) >= l.maxRecords || len(b.entries) >= l.maxEntries || b.retained >= l.maxRetained
}

// addItem adds a prepared record; an earlier item of the same key is
// collapsed into it, unless separate (both are sent, in order). When
// compact is set (a coalescing batch), the event two back in the key's
// chain drops its key and value: only the latest superseded event can be
// sent after all (revive).
func (b *batch) addItem(offset int64, key, value []byte, it change.Item, compact, separate bool) {
	e := entry{Entry: change.Entry{Offset: offset, Key: key, Value: value, RecordKey: it.Record.Key, Op: it.Record.Op}, kind: entryItem, prev: -1}
	b.retained += len(key) + len(value)
	if i, ok := b.byKey[it.Record.Key]; ok && !separate {
		// The older event is superseded. The newer one keeps the key's place,
		// so batch checks such as uniqueness see keys in the order they first
		// appeared.
		e.prev = b.itemEntry[i]
		old := &b.entries[b.itemEntry[i]]
		old.kind, old.by = entryCollapsed, offset
		old.Outcome = change.Outcome{Status: change.StatusCollapsed}
		if compact && old.prev >= 0 {
			b.compact(old.prev)
			old.prev = -1
		}
		b.itemBytes += it.Size() - b.items[i].Size()
		b.items[i] = it
		b.itemEntry[i] = len(b.entries)
		e.item = i
		b.entries = append(b.entries, e)
		return
	}
	e.item = len(b.items)
	b.byKey[it.Record.Key] = len(b.items)
	b.items = append(b.items, it)
	b.itemEntry = append(b.itemEntry, len(b.entries))
	b.itemBytes += it.Size()
	b.entries = append(b.entries, e)
}

// addRejected adds a message that was rejected before sending; rec is what
// decoding gave, if anything.
func (b *batch) addRejected(offset int64, key, value []byte, rec change.Record, err *change.RecordError) {
	b.retained += len(key) + len(value)
	b.entries = append(b.entries, entry{
		Entry: change.Entry{Offset: offset, Key: key, Value: value, RecordKey: rec.Key, Op: rec.Op,
			Outcome: change.Outcome{Status: change.StatusRejected, Err: err}},
		kind: entryRejected, prev: -1,
	})
}

// compact drops the key and value of collapsed entry i, which can no
// longer be sent after all.
func (b *batch) compact(i int) {
	e := &b.entries[i]
	b.retained -= len(e.Key) + len(e.Value)
	e.Key, e.Value = nil, nil
}
