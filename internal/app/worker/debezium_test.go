package worker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gcupsert/gcupsert/config"
	"github.com/gcupsert/gcupsert/internal/app/demo"
	"github.com/gcupsert/gcupsert/internal/app/worker"
	"github.com/gcupsert/gcupsert/internal/inspect"
)

// Debezium change events, with and without the schema/payload wrapper,
// reach Genesys through a field mapping; deletes and tombstones remove
// records; malformed envelopes are dead-lettered.
func TestDebeziumRouteEndToEnd(t *testing.T) {
	st := newStack(t, 1)
	cfg := st.cfg
	cfg.Routes[0].Format = "debezium"
	cfg.Routes[0].Mapping = config.Mapping{
		Rename:    map[string]string{"name": "customerName", "acct": "accountNumber", "region": "regionId"},
		Drop:      []string{"id", "updated_at"},
		Constants: map[string]any{"status": "active"},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	row := func(id int) string {
		return fmt.Sprintf(`{"id":%d,"name":"Customer %d","acct":"AN-%06d","region":"r1","updated_at":1700000000}`, id, id, id)
	}
	key := func(id int) []byte { return []byte(fmt.Sprintf(`{"id":%d}`, id)) }
	msgs := []inspect.Message{
		{Key: key(1), Value: []byte(`{"before":null,"after":` + row(1) + `,"op":"c","source":{"table":"accounts"}}`)},
		{Key: []byte(`{"schema":{"type":"struct"},"payload":{"id":2}}`), Value: []byte(`{"schema":{"type":"struct"},"payload":{"before":null,"after":` + row(2) + `,"op":"r"}}`)},
		{Key: key(3), Value: []byte(`{"after":` + row(3) + `,"op":"c"}`)},
		{Key: key(3), Value: []byte(`{"before":` + row(3) + `,"after":null,"op":"d"}`)},
		{Key: key(4), Value: []byte(`{"after":` + row(4) + `,"op":"c"}`)},
		{Key: key(4)}, // tombstone
		{Key: key(5), Value: []byte(`{"after":{},"op":"t"}`)},
		{Key: key(6), Value: []byte(`{"before":null,"after":null,"op":"u"}`)},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := inspect.Produce(ctx, cfg.Kafka.Brokers, "in", msgs); err != nil {
		t.Fatal(err)
	}
	w, err := worker.New(cfg, worker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	if _, err := inspect.WaitCommitted(ctx, cfg.Kafka.Brokers, cfg.Kafka.GroupID, "in", map[int]int64{0: int64(len(msgs))}); err != nil {
		t.Fatal(err)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	recs := st.emu.Records(demo.SchemaName)
	if len(recs) != 2 || recs["1"] == nil || recs["2"] == nil {
		t.Fatalf("records %v, want 1 and 2", recs)
	}
	if r := recs["1"]; r["customerName"] != "Customer 1" || r["accountNumber"] != "AN-000001" || r["status"] != "active" || r["updated_at"] != nil {
		t.Errorf("record 1 = %v", r)
	}
	dead, err := inspect.ReadAll(ctx, cfg.Kafka.Brokers, "d")
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, m := range dead {
		for _, h := range m.Headers {
			if h.Key == "gcupsert.error.code" {
				codes = append(codes, string(h.Value))
			}
		}
	}
	if fmt.Sprint(codes) != "[debezium.unsupported.op debezium.malformed]" {
		t.Errorf("dead-letter codes %v", codes)
	}
}
