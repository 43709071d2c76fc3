package consumer

import (
	"fmt"
	"testing"

	"github.com/gcupsert/gcupsert/change"
)

func testLimits(records, bytes int) batchLimits {
	tl := change.Limits{MaxRecords: records, MaxBytes: bytes, Overhead: len(`{"records":[]}`), Separator: 1}
	return batchLimits{target: tl, maxRecords: records, maxBytes: bytes, maxEntries: 1000, maxRetained: 1 << 30}
}

func item(key string, size int) change.Item {
	body := make([]byte, size)
	return change.Item{Record: change.Record{Key: key, Op: change.OpUpsert}, Body: body}
}

func TestBatchBoundByRecords(t *testing.T) {
	l := testLimits(3, 1<<20)
	b := newBatch("t", 0)
	for i := 0; i < 3; i++ {
		k := fmt.Sprint("k", i)
		if !b.fits(l, k, 10, 0, false, false, nil) {
			t.Fatalf("item %d does not fit", i)
		}
		b.addItem(int64(i), []byte(k), nil, item(k, 10), false, false)
	}
	if !b.full(l, false) || b.fits(l, "k9", 10, 0, false, false, nil) {
		t.Fatal("batch of 3 should be full")
	}
	// A newer event of a key already in the batch replaces it, so it fits.
	if !b.fits(l, "k1", 10, 0, false, false, nil) {
		t.Fatal("same key should fit a full batch")
	}
}

func TestBatchBoundByBodyBytes(t *testing.T) {
	// Body: 14 bytes of framing + items + separators.
	l := testLimits(100, 14+10+1+10)
	b := newBatch("t", 0)
	b.addItem(0, []byte("a"), nil, item("a", 10), false, false)
	if !b.fits(l, "b", 10, 0, false, false, nil) {
		t.Fatal("second item should fit exactly")
	}
	b.addItem(1, []byte("b"), nil, item("b", 10), false, false)
	if got := b.bodySize(l); got != l.maxBytes {
		t.Fatalf("body size %d, want %d", got, l.maxBytes)
	}
	if b.fits(l, "c", 1, 0, false, false, nil) {
		t.Fatal("one more byte should not fit")
	}
	// Replacing "a" with a smaller item fits; with a larger one does not.
	if !b.fits(l, "a", 9, 0, false, false, nil) || b.fits(l, "a", 11, 0, false, false, nil) {
		t.Fatal("replacement sizing is wrong")
	}
}

func TestBatchCollapsesToNewest(t *testing.T) {
	l := testLimits(100, 1<<20)
	b := newBatch("t", 2)
	b.addItem(10, []byte("a"), nil, item("a", 5), false, false)
	b.addItem(11, []byte("b"), nil, item("b", 6), false, false)
	b.addRejected(12, []byte("x"), []byte("junk"), change.Record{}, &change.RecordError{Class: "decode", Code: "invalid.json"})
	b.addItem(13, []byte("a"), nil, item("a", 7), false, false)
	if len(b.items) != 2 || len(b.entries) != 4 {
		t.Fatalf("items %d entries %d", len(b.items), len(b.entries))
	}
	if b.items[0].Record.Key != "a" || b.items[1].Record.Key != "b" || b.items[0].Size() != 7 {
		t.Fatalf("the newer event should keep the key's first place: %v, %v", b.items[0].Record.Key, b.items[1].Record.Key)
	}
	if e := b.entries[0]; e.kind != entryCollapsed || e.by != 13 {
		t.Fatalf("entry 0 = %+v", e)
	}
	if e := b.entries[3]; e.kind != entryItem || e.item != 0 {
		t.Fatalf("entry 3 = %+v", e)
	}
	if e := b.entries[1]; e.item != 1 {
		t.Fatalf("entry 1 points at item %d", e.item)
	}
	if b.itemBytes != 13 || b.bodySize(l) != 14+13+1 {
		t.Fatalf("bytes %d body %d", b.itemBytes, b.bodySize(l))
	}
	if b.first() != 10 || b.last() != 13 {
		t.Fatalf("range %d-%d", b.first(), b.last())
	}
}

func TestBatchBoundByEntries(t *testing.T) {
	l := testLimits(100, 1<<20)
	l.maxEntries = 2
	b := newBatch("t", 0)
	b.addRejected(0, nil, nil, change.Record{}, &change.RecordError{})
	b.addRejected(1, nil, nil, change.Record{}, &change.RecordError{})
	if !b.full(l, false) || b.fits(l, "", -1, 0, false, false, nil) {
		t.Fatal("entry bound not applied")
	}
}
