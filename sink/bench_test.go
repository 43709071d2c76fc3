package sink

import (
	"fmt"
	"testing"
	"time"

	"github.com/gcupsert/gcupsert/change"
)

// BenchmarkSyncEncode measures encoding one sync event with a typical
// record.
func BenchmarkSyncEncode(b *testing.B) {
	s := Sync{
		BatchID: "crm.accounts-0-100-199", Key: "acc-000123", Operation: OperationUpdated,
		Target: "customobjects", Schema: "customerAccounts",
		Record: map[string]any{"id": "acc-000123", "customerName": "Customer 123", "accountNumber": "AN-000123",
			"regionId": "region-4", "status": "active", "balance": 1234.5, "employees": 42.0, "conflictResolution": "upsert"},
		Source: change.Source{Topic: "crm.accounts", Partition: 0, Offset: 123},
		Time:   time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC),
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.encode(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuditEncode measures encoding one audit event of a 100-record batch.
func BenchmarkAuditEncode(b *testing.B) {
	a := Audit{BatchID: "crm.accounts-0-100-199", Target: "customobjects", Schema: "customerAccounts", Status: StatusSuccess,
		Topic: "crm.accounts", FirstOffset: 100, LastOffset: 199, WorkerID: "w", Time: time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)}
	for i := 0; i < 3; i++ {
		a.CorrelationIDs = append(a.CorrelationIDs, fmt.Sprintf("c-%d", i))
	}
	b.ReportAllocs()
	for b.Loop() {
		if m := a.message(); len(m.Value) == 0 {
			b.Fatal("empty")
		}
	}
}
