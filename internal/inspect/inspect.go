// Package inspect reads a Kafka cluster's state for the demo and the tests:
// end offsets, a group's committed offsets and a topic's whole content. It
// also produces prepared messages to chosen partitions. Every call opens its
// own connections and closes them before returning.
package inspect

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"time"

	"github.com/segmentio/kafka-go"
)

// Message is a message to produce to an explicit partition.
type Message struct {
	Partition int
	Key       []byte
	Value     []byte
	Headers   []kafka.Header
}

func client(brokers []string) *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second, Transport: &kafka.Transport{}}
}

// Produce writes msgs to topic, each to its own partition, in order, with
// acks from all replicas.
func Produce(ctx context.Context, brokers []string, topic string, msgs []Message) error {
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{
		Addr:         kafka.TCP(brokers...),
		Topic:        topic,
		RequiredAcks: kafka.RequireAll,
		BatchSize:    1000,
		BatchTimeout: 2 * time.Millisecond,
		Balancer:     kafka.BalancerFunc(func(m kafka.Message, _ ...int) int { return m.Partition }),
		Transport:    tr,
	}
	defer w.Close()
	const chunk = 1000
	for i := 0; i < len(msgs); i += chunk {
		j := min(i+chunk, len(msgs))
		out := make([]kafka.Message, 0, j-i)
		for _, m := range msgs[i:j] {
			out = append(out, kafka.Message{Partition: m.Partition, Key: m.Key, Value: m.Value, Headers: m.Headers})
		}
		if err := writeRetrying(ctx, w, out); err != nil {
			return fmt.Errorf("produce to %s: %w", topic, err)
		}
	}
	return nil
}

// writeRetrying writes msgs, sending again only the messages that failed
// with a temporary error (a new topic whose leaders are still being
// elected answers "not leader for partition" for a moment), for up to 10 s.
func writeRetrying(ctx context.Context, w *kafka.Writer, msgs []kafka.Message) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := w.WriteMessages(ctx, msgs...)
		if err == nil {
			return nil
		}
		var failed []kafka.Message
		var we kafka.WriteErrors
		switch {
		case errors.As(err, &we):
			for i, e := range we {
				if e == nil {
					continue
				}
				if !isTemporary(e) {
					return err
				}
				failed = append(failed, msgs[i])
			}
		case isTemporary(err):
			failed = msgs
		default:
			return err
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		msgs = failed
		select {
		case <-ctx.Done():
			return err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// Partitions returns the partition ids of topic.
func Partitions(ctx context.Context, brokers []string, topic string) ([]int, error) {
	md, err := client(brokers).Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, err
	}
	for _, t := range md.Topics {
		if t.Name != topic {
			continue
		}
		if t.Error != nil {
			return nil, t.Error
		}
		ids := make([]int, 0, len(t.Partitions))
		for _, p := range t.Partitions {
			ids = append(ids, p.ID)
		}
		sort.Ints(ids)
		return ids, nil
	}
	return nil, fmt.Errorf("topic %s not found", topic)
}

// EndOffsets returns the next offset to be written, per partition. A
// temporary error (a new topic's leader still being elected) is retried for
// up to 10 s.
func EndOffsets(ctx context.Context, brokers []string, topic string) (map[int]int64, error) {
	var out map[int]int64
	err := retryTemporary(ctx, func() (err error) {
		out, err = endOffsets(ctx, brokers, topic)
		return err
	})
	return out, err
}

// retryTemporary calls fn until it succeeds, fails for good, or 10 s pass.
func retryTemporary(ctx context.Context, fn func() error) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := fn()
		if err == nil || !isTemporary(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func endOffsets(ctx context.Context, brokers []string, topic string) (map[int]int64, error) {
	parts, err := Partitions(ctx, brokers, topic)
	if err != nil {
		return nil, err
	}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for _, p := range parts {
		req.Topics[topic] = append(req.Topics[topic], kafka.LastOffsetOf(p))
	}
	res, err := client(brokers).ListOffsets(ctx, req)
	if err != nil {
		return nil, err
	}
	out := map[int]int64{}
	for _, po := range res.Topics[topic] {
		if po.Error != nil {
			return nil, po.Error
		}
		out[po.Partition] = po.LastOffset
	}
	return out, nil
}

// Committed returns group's committed offset per partition of topic; -1
// where none is committed (also before the group exists). Temporary errors
// are retried for up to 10 s.
func Committed(ctx context.Context, brokers []string, group, topic string) (map[int]int64, error) {
	var out map[int]int64
	err := retryTemporary(ctx, func() (err error) {
		out, err = committed(ctx, brokers, group, topic)
		return err
	})
	return out, err
}

func committed(ctx context.Context, brokers []string, group, topic string) (map[int]int64, error) {
	parts, err := Partitions(ctx, brokers, topic)
	if err != nil {
		return nil, err
	}
	res, err := client(brokers).OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
	if err != nil {
		return nil, err
	}
	out := map[int]int64{}
	for _, p := range parts {
		out[p] = -1
	}
	if errors.Is(res.Error, kafka.GroupIdNotFound) {
		return out, nil // the group has not been created yet: nothing committed
	}
	if res.Error != nil {
		return nil, res.Error
	}
	for _, po := range res.Topics[topic] {
		if po.Error != nil {
			return nil, po.Error
		}
		out[po.Partition] = po.CommittedOffset
	}
	return out, nil
}

// WaitCommitted polls until group has committed want on every partition
// (an empty partition needs no commit), or ctx ends; it returns the last
// offsets seen.
func WaitCommitted(ctx context.Context, brokers []string, group, topic string, want map[int]int64) (map[int]int64, error) {
	var last map[int]int64
	for {
		c, err := Committed(ctx, brokers, group, topic)
		if err == nil {
			last = c
			done := true
			for p, end := range want {
				if end > 0 && c[p] < end {
					done = false
				}
			}
			if done {
				return c, nil
			}
		}
		select {
		case <-ctx.Done():
			return last, fmt.Errorf("committed %v, want %v: %w", last, want, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ReadAll returns every message of topic from the start to the end offsets
// read at the call, partition by partition.
func ReadAll(ctx context.Context, brokers []string, topic string) ([]kafka.Message, error) {
	ends, err := EndOffsets(ctx, brokers, topic)
	if err != nil {
		return nil, err
	}
	parts := make([]int, 0, len(ends))
	for p := range ends {
		parts = append(parts, p)
	}
	sort.Ints(parts)
	var out []kafka.Message
	for _, p := range parts {
		if ends[p] == 0 {
			continue
		}
		msgs, err := readPartition(ctx, brokers, topic, p, ends[p])
		if err != nil {
			return nil, err
		}
		out = append(out, msgs...)
	}
	return out, nil
}

func readPartition(ctx context.Context, brokers []string, topic string, partition int, end int64) ([]kafka.Message, error) {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: brokers, Topic: topic, Partition: partition,
		MaxWait: 100 * time.Millisecond, MinBytes: 1, MaxBytes: 8 << 20,
		Dialer: &kafka.Dialer{Timeout: 10 * time.Second, Resolver: &net.Resolver{}},
	})
	defer r.Close()
	if err := r.SetOffset(kafka.FirstOffset); err != nil {
		return nil, err
	}
	var out []kafka.Message
	for {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				return nil, fmt.Errorf("read %s/%d: stopped at %d of %d: %w", topic, partition, len(out), end, err)
			}
			return nil, err
		}
		out = append(out, m)
		if m.Offset >= end-1 {
			return out, nil
		}
	}
}
