//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"

	"github.com/gcupsert/gcupsert/internal/app/demo"
)

// Invalid kinds the e2e datasets use. Unlike demo.Generate they never reuse
// a unique value of another key: the worker checks unique fields within a
// batch only, so across batches the outcome would depend on the API rather
// than on the pipeline under test.
var invalidKinds = []string{demo.BadJSON, demo.MissingKey, demo.WrongType, demo.UnknownOp, demo.BadEnum, demo.MissingRef}

// event is one input message and what the pipeline must make of it.
type event struct {
	Partition int
	Key       []byte
	Value     []byte // nil: a tombstone
	Invalid   string // "" for a valid event
	Delete    bool
	Data      map[string]any // the record an upsert writes
}

// dataset is a stream and its expected end state.
type dataset struct {
	Events     []event
	Partitions int
	// Expected maps each key that must exist afterwards to its last data.
	Expected map[string]map[string]any
}

// datasetOptions shape a generated stream.
type datasetOptions struct {
	Events     int
	Partitions int
	Prefix     string  // key prefix, so datasets never share keys
	Updates    float64 // share of events that update an existing key
	Deletes    float64 // share of events that delete an existing key (half as tombstones)
	Invalid    float64 // share of invalid events
	Seed       uint64
}

// newDataset makes a reproducible stream: new keys, updates and deletes of
// existing keys (in their key's partition, so in order) and invalid events of
// every kind in invalidKinds. Each key has its own account number.
func newDataset(o datasetOptions) dataset {
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x5851f42d4c957f2d))
	ds := dataset{Partitions: o.Partitions, Expected: map[string]map[string]any{}}
	var live []string // keys that currently exist
	liveIdx := map[string]int{}
	next := 0
	addLive := func(k string) {
		if _, ok := liveIdx[k]; !ok {
			liveIdx[k] = len(live)
			live = append(live, k)
		}
	}
	removeLive := func(k string) {
		i := liveIdx[k]
		last := live[len(live)-1]
		live[i], liveIdx[last] = last, i
		live = live[:len(live)-1]
		delete(liveIdx, k)
	}
	keyNum := map[string]int{}
	for range o.Events {
		r := rng.Float64()
		switch {
		case r < o.Invalid:
			kind := invalidKinds[rng.IntN(len(invalidKinds))]
			key := fmt.Sprintf("%s-bad-%06d", o.Prefix, next)
			next++
			ds.Events = append(ds.Events, invalidEvent(kind, key, demo.PartitionOf(key, o.Partitions), next, rng))
		case r < o.Invalid+o.Deletes && len(live) > 0:
			key := live[rng.IntN(len(live))]
			removeLive(key)
			delete(ds.Expected, key)
			ev := event{Partition: demo.PartitionOf(key, o.Partitions), Key: []byte(key), Delete: true}
			if rng.IntN(2) == 0 {
				ev.Value = envelope("delete", key, nil)
			}
			ds.Events = append(ds.Events, ev)
		case r < o.Invalid+o.Deletes+o.Updates && len(live) > 0:
			key := live[rng.IntN(len(live))]
			data := recordData(keyNum[key], rng)
			ds.Expected[key] = data
			ds.Events = append(ds.Events, event{Partition: demo.PartitionOf(key, o.Partitions), Key: []byte(key), Value: envelope("upsert", key, data), Data: data})
		default:
			key := fmt.Sprintf("%s-%07d", o.Prefix, next)
			keyNum[key] = next
			next++
			data := recordData(keyNum[key], rng)
			ds.Expected[key] = data
			addLive(key)
			ds.Events = append(ds.Events, event{Partition: demo.PartitionOf(key, o.Partitions), Key: []byte(key), Value: envelope("upsert", key, data), Data: data})
		}
	}
	return ds
}

func recordData(n int, rng *rand.Rand) map[string]any {
	statuses := []string{"active", "inactive", "prospect"}
	return map[string]any{
		"customerName":  fmt.Sprintf("Customer %d", n),
		"accountNumber": fmt.Sprintf("AN-%06d", n%1_000_000),
		"regionId":      fmt.Sprintf("region-%d", n%7),
		"status":        statuses[rng.IntN(len(statuses))],
		"balance":       float64(rng.IntN(1_000_000)) / 100,
		"employees":     float64(rng.IntN(5000)),
	}
}

func envelope(op, key string, data map[string]any) []byte {
	m := map[string]any{"op": op, "key": key, "ts": "2026-11-27T08:00:00Z"}
	if data != nil {
		m["data"] = data
	}
	b, _ := json.Marshal(m)
	return b
}

func invalidEvent(kind, key string, p, n int, rng *rand.Rand) event {
	ev := event{Partition: p, Key: []byte(key), Invalid: kind}
	rec := recordData(n, rng)
	switch kind {
	case demo.BadJSON:
		full := envelope("upsert", key, rec)
		ev.Value = full[:len(full)/2]
	case demo.MissingKey:
		ev.Key = nil
		ev.Value, _ = json.Marshal(map[string]any{"op": "upsert", "data": rec})
	case demo.WrongType:
		rec["employees"] = "many"
		ev.Value = envelope("upsert", key, rec)
	case demo.UnknownOp:
		ev.Value = envelope("merge", key, rec)
	case demo.BadEnum:
		rec["status"] = "zombie"
		ev.Value = envelope("upsert", key, rec)
	case demo.MissingRef:
		rec["regionId"] = ""
		ev.Value = envelope("upsert", key, rec)
	default:
		panic("unknown invalid kind " + kind)
	}
	return ev
}
