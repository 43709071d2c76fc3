package bench

import (
	"fmt"
	"hash/fnv"
	"strconv"

	"github.com/gcupsert/gcupsert/internal/inspect"
)

// Stream makes n valid upsert events over keys distinct keys (key i%keys),
// each sent to the partition its key hashes to, in the plain envelope with
// the fields of the demo's customerAccounts schema. rev is written into
// customerName so that a later stream over the same keys changes every
// record. The same arguments give the same stream.
func Stream(n, keys, partitions int, rev string) []inspect.Message {
	if keys < 1 {
		keys = 1
	}
	statuses := [...]string{"active", "inactive", "prospect"}
	out := make([]inspect.Message, n)
	for i := range out {
		k := i % keys
		key := fmt.Sprintf("acc-%07d", k)
		b := make([]byte, 0, 256)
		b = append(b, `{"op":"upsert","key":"`...)
		b = append(b, key...)
		b = append(b, `","data":{"customerName":"Customer `...)
		b = strconv.AppendInt(b, int64(k), 10)
		b = append(b, ' ')
		b = append(b, rev...)
		b = append(b, `","accountNumber":"AN-`...)
		b = append(b, fmt.Sprintf("%06d", k%1_000_000)...)
		b = append(b, `","regionId":"region-`...)
		b = strconv.AppendInt(b, int64(k%7), 10)
		b = append(b, `","status":"`...)
		b = append(b, statuses[i%3]...)
		b = append(b, `","balance":`...)
		b = strconv.AppendFloat(b, float64((i*7919)%1_000_000)/100, 'f', -1, 64)
		b = append(b, `,"employees":`...)
		b = strconv.AppendInt(b, int64(i%5000), 10)
		b = append(b, `},"ts":"2026-11-27T08:00:00Z"}`...)
		out[i] = inspect.Message{Partition: partitionOf(key, partitions), Key: []byte(key), Value: b}
	}
	return out
}

func partitionOf(key string, partitions int) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(partitions))
}
