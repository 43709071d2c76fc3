package consumer

import (
	"fmt"
	"testing"

	"github.com/gcupsert/gcupsert/upsert"
)

// BenchmarkBatchFill measures batching: sizing (fits) and adding 100
// prepared items of about 180 bytes, including one collapse, per batch.
func BenchmarkBatchFill(b *testing.B) {
	l := batchLimits{
		target:     upsert.Limits{MaxRecords: 100, MaxBytes: 2 << 20, Overhead: 13, Separator: 1},
		maxRecords: 100, maxBytes: 2 << 20, maxEntries: 1000, maxRetained: 8 << 20,
	}
	items := make([]upsert.Item, 100)
	keys := make([][]byte, 100)
	value := make([]byte, 200)
	for i := range items {
		k := fmt.Sprintf("acc-%06d", i)
		if i == 99 {
			k = "acc-000000" // collapses into the first
		}
		keys[i] = []byte(k)
		items[i] = upsert.Item{Record: upsert.Record{Key: k, Op: upsert.OpUpsert}, Body: make([]byte, 180)}
	}
	b.ReportAllocs()
	for b.Loop() {
		cur := newBatch("t", 0)
		for i, it := range items {
			if !cur.fits(l, it.Record.Key, it.Size(), len(keys[i])+len(value)) {
				b.Fatal("item does not fit")
			}
			cur.addItem(int64(i), keys[i], value, it)
		}
		if len(cur.items) != 99 || cur.bodySize(l) <= 0 {
			b.Fatalf("%d items", len(cur.items))
		}
	}
}

// BenchmarkDecodeRejected measures the decoding of an envelope that is
// rejected (unknown op), the path every invalid event takes.
func BenchmarkDecodeRejected(b *testing.B) {
	key := []byte("acc-000123")
	value := []byte(`{"op":"merge","key":"acc-000123","data":{"customerName":"Acme 123","accountNumber":"AN-000123"}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(key, value); err == nil {
			b.Fatal("accepted")
		}
	}
}
