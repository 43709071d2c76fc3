package demo

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"sort"
)

// Schema is the demo's customobjects schema: customer accounts.
const Schema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "customerAccounts",
  "type": "object",
  "required": ["customerName", "accountNumber", "regionId", "status"],
  "properties": {
    "customerName":  {"type": "string", "minLength": 1, "maxLength": 100},
    "accountNumber": {"type": "string", "pattern": "^AN-[0-9]{6}$"},
    "regionId":      {"type": "string", "maxLength": 40},
    "status":        {"type": "string", "enum": ["active", "inactive", "prospect"]},
    "balance":       {"type": "number"},
    "employees":     {"type": "integer", "minimum": 0}
  },
  "additionalProperties": false
}`

// SchemaName is the demo's schema (and emulator object type) name.
const SchemaName = "customerAccounts"

// TableSchema is the same record as a Genesys data table: keyed by "key",
// with the property types data tables allow.
const TableSchema = `{
  "$schema": "http://json-schema.org/draft-04/schema#",
  "type": "object",
  "required": ["key"],
  "properties": {
    "key":           {"title": "key", "type": "string"},
    "customerName":  {"title": "customerName", "type": "string", "maxLength": 100},
    "accountNumber": {"title": "accountNumber", "type": "string"},
    "regionId":      {"title": "regionId", "type": "string"},
    "status":        {"title": "status", "type": "string"},
    "balance":       {"title": "balance", "type": "number", "default": 0},
    "employees":     {"title": "employees", "type": "integer", "default": 0}
  },
  "additionalProperties": false
}`

// RegionsSchema is the data table the demo's regionId references.
const RegionsSchema = `{
  "$schema": "http://json-schema.org/draft-04/schema#",
  "type": "object",
  "required": ["key"],
  "properties": {
    "key":  {"title": "key", "type": "string"},
    "name": {"title": "name", "type": "string"}
  },
  "additionalProperties": false
}`

// Regions is the number of regions, region-0 .. region-6.
const Regions = 7

// Kinds of invalid events the generator makes on purpose.
const (
	BadJSON      = "bad JSON"
	MissingKey   = "missing key"
	WrongType    = "wrong type"
	UnknownOp    = "unknown op"
	DuplicateUID = "duplicate unique value"
	BadEnum      = "value not in enum"
	MissingRef   = "missing reference"
	DanglingRef  = "dangling reference"
)

// CustomObjectsKinds are the invalid kinds the customobjects target rejects.
var CustomObjectsKinds = []string{BadJSON, MissingKey, WrongType, UnknownOp, DuplicateUID, BadEnum, MissingRef}

// DataTablesKinds are the invalid kinds the datatables target rejects (data
// tables have no enums, and an empty reference is not checked).
var DataTablesKinds = []string{BadJSON, MissingKey, WrongType, UnknownOp, DuplicateUID, DanglingRef}

// Event is one generated input message.
type Event struct {
	Partition int
	Key       []byte
	Value     []byte
	Invalid   string // which invalid kind, "" for a valid event
}

// Dataset is a generated stream and what the pipeline must make of it.
type Dataset struct {
	Events []Event
	// Expected holds the keys that must exist in Genesys afterwards.
	Expected map[string]bool
	// InvalidByKind counts the invalid events by kind.
	InvalidByKind map[string]int
	// Deletes counts valid delete events.
	Deletes int
}

// PartitionOf is the partition a key's events go to.
func PartitionOf(key string, partitions int) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(partitions))
}

// Generate makes n events over about 0.8n keys, of which about
// invalidRatio are invalid in the kinds above, and about 1% are deletes.
// The stream is the same for the same seed.
func Generate(n, partitions int, invalidRatio float64, seed uint64) Dataset {
	return GenerateKinds(n, partitions, invalidRatio, seed, CustomObjectsKinds)
}

// GenerateKinds is Generate with the invalid kinds to draw from.
func GenerateKinds(n, partitions int, invalidRatio float64, seed uint64, kinds []string) Dataset {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	keys := n * 8 / 10
	if keys < 1 {
		keys = 1
	}
	ds := Dataset{Expected: map[string]bool{}, InvalidByKind: map[string]int{}}
	state := map[int]bool{}     // key index -> exists after the events so far
	protected := map[int]bool{} // keys whose account number a duplicate copies: never deleted
	dups := 0
	for i := 0; i < n; i++ {
		k := rng.IntN(keys)
		key := fmt.Sprintf("acc-%06d", k)
		p := PartitionOf(key, partitions)
		if rng.Float64() < invalidRatio {
			kind := kinds[rng.IntN(len(kinds))]
			if kind == DuplicateUID {
				// A new key that copies the account number of an existing one,
				// sent to that key's partition so it is seen after it.
				if !state[k] {
					kind = WrongType
				} else {
					dups++
					protected[k] = true
					dkey := fmt.Sprintf("dup-%06d", dups)
					ds.Events = append(ds.Events, Event{Partition: p, Key: []byte(dkey), Value: envelope("upsert", dkey, record(k, rng)), Invalid: kind})
					ds.InvalidByKind[kind]++
					continue
				}
			}
			ds.Events = append(ds.Events, invalid(kind, k, key, p, rng))
			ds.InvalidByKind[kind]++
			continue
		}
		if state[k] && !protected[k] && rng.Float64() < 0.0125 {
			ds.Events = append(ds.Events, Event{Partition: p, Key: []byte(key), Value: envelope("delete", key, nil)})
			state[k] = false
			ds.Deletes++
			continue
		}
		ds.Events = append(ds.Events, Event{Partition: p, Key: []byte(key), Value: envelope("upsert", key, record(k, rng))})
		state[k] = true
	}
	for k, ok := range state {
		if ok {
			ds.Expected[fmt.Sprintf("acc-%06d", k)] = true
		}
	}
	return ds
}

func record(k int, rng *rand.Rand) map[string]any {
	statuses := []string{"active", "inactive", "prospect"}
	return map[string]any{
		"customerName":  fmt.Sprintf("Customer %d", k),
		"accountNumber": fmt.Sprintf("AN-%06d", k),
		"regionId":      fmt.Sprintf("region-%d", k%Regions),
		"status":        statuses[rng.IntN(len(statuses))],
		"balance":       float64(rng.IntN(1_000_000)) / 100,
		"employees":     rng.IntN(5000),
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

func invalid(kind string, k int, key string, p int, rng *rand.Rand) Event {
	ev := Event{Partition: p, Key: []byte(key), Invalid: kind}
	rec := record(k, rng)
	switch kind {
	case BadJSON:
		full := envelope("upsert", key, rec)
		ev.Value = full[:len(full)/2]
	case MissingKey:
		ev.Key = nil
		m := map[string]any{"op": "upsert", "data": rec}
		ev.Value, _ = json.Marshal(m)
	case WrongType:
		rec["employees"] = "many"
		ev.Value = envelope("upsert", key, rec)
	case UnknownOp:
		ev.Value = envelope("merge", key, rec)
	case BadEnum:
		rec["status"] = "zombie"
		ev.Value = envelope("upsert", key, rec)
	case MissingRef:
		rec["regionId"] = ""
		ev.Value = envelope("upsert", key, rec)
	case DanglingRef:
		rec["regionId"] = "region-unknown"
		ev.Value = envelope("upsert", key, rec)
	}
	return ev
}

// SortedKinds lists the invalid kinds in a stable order.
func SortedKinds(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
