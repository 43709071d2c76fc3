package consumer

import (
	"fmt"
	"testing"

	"github.com/gcupsert/gcupsert/change"
)

// BenchmarkBatchFill measures batching: sizing (fits) and adding 100
// prepared items of about 180 bytes, including one collapse, per batch.
func BenchmarkBatchFill(b *testing.B) {
	l := batchLimits{
		target:     change.Limits{MaxRecords: 100, MaxBytes: 2 << 20, Overhead: 13, Separator: 1},
		maxRecords: 100, maxBytes: 2 << 20, maxEntries: 1000, maxRetained: 8 << 20,
	}
	items := make([]change.Item, 100)
	keys := make([][]byte, 100)
	value := make([]byte, 200)
	for i := range items {
		k := fmt.Sprintf("acc-%06d", i)
		if i == 99 {
			k = "acc-000000" // collapses into the first
		}
		keys[i] = []byte(k)
		items[i] = change.Item{Record: change.Record{Key: k, Op: change.OpUpsert}, Body: make([]byte, 180)}
	}
	b.ReportAllocs()
	for b.Loop() {
		cur := newBatch("t", 0)
		for i, it := range items {
			if !cur.fits(l, it.Record.Key, it.Size(), len(keys[i])+len(value), false, false, nil) {
				b.Fatal("item does not fit")
			}
			cur.addItem(int64(i), keys[i], value, it, false, false)
		}
		if len(cur.items) != 99 || cur.bodySize(l) <= 0 {
			b.Fatalf("%d items", len(cur.items))
		}
	}
}
