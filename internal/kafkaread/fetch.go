// Package kafkaread reads one partition with fetch requests (kafka-go's
// Client), record by record, from a given offset. Unlike a kafka-go Reader
// it tells a null value from an empty one (Message.Value is nil only for a
// null), skips transaction markers, and resets an offset that is out of
// range as the caller says. Used by the worker's consumer and the mirror.
package kafkaread

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"

	"github.com/gcupsert/gcupsert/internal/clock"
)

// Message is one record of a partition. Key and Value are nil only when
// the record's key or value is null: an empty value is a non-nil empty
// slice, so that a tombstone (null) is told apart from an empty value from
// the record batch itself.
type Message struct {
	Offset        int64
	Key, Value    []byte
	Headers       []kafka.Header
	HighWaterMark int64
}

// Fetcher reads one partition with fetch requests from Offset. Set its
// fields, then call Run once.
type Fetcher struct {
	Client    *kafka.Client
	Topic     string
	Partition int
	// Offset is the next offset to read; kafka.FirstOffset or
	// kafka.LastOffset are resolved at start.
	Offset int64
	// Reset is where an out-of-range offset resumes: kafka.FirstOffset
	// (the default when zero) or kafka.LastOffset.
	Reset   int64
	MaxWait time.Duration
	Clock   clock.Clock
	Log     *slog.Logger
}

// fetchMaxBytes bounds one fetch response (the broker still returns a
// first record batch larger than that). Each partition holds one response
// at a time, so this bounds the memory of reading.
const fetchMaxBytes = 1 << 20

// Run sends the partition's records, in offset order, to out until ctx
// ends; it closes out when it returns.
func (f *Fetcher) Run(ctx context.Context, out chan<- Message) {
	defer close(out)
	if f.Reset == 0 {
		f.Reset = kafka.FirstOffset
	}
	if f.Clock == nil {
		f.Clock = clock.Real
	}
	if f.Log == nil {
		f.Log = slog.New(slog.DiscardHandler)
	}
	for f.Offset < 0 {
		if err := f.resolve(ctx, f.Offset); err != nil {
			if f.pause(ctx, "resolving the start offset failed; retrying", err) != nil {
				return
			}
		}
	}
	for {
		res, err := f.Client.Fetch(ctx, &kafka.FetchRequest{
			Topic: f.Topic, Partition: f.Partition, Offset: f.Offset,
			MinBytes: 1, MaxBytes: fetchMaxBytes, MaxWait: f.MaxWait,
		})
		if err == nil && res.Error != nil {
			err = res.Error
		}
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, kafka.OffsetOutOfRange):
			if err := f.resolve(ctx, f.Reset); err != nil && f.pause(ctx, "resetting an out-of-range offset failed; retrying", err) != nil {
				return
			}
			continue
		case err != nil:
			if f.pause(ctx, "fetch failed; retrying", err) != nil {
				return
			}
			continue
		}
		if err := f.deliver(ctx, res, out); err != nil {
			return
		}
	}
}

// deliver sends the records of a fetch response at or after the offset,
// and moves the offset past every record read, transaction markers
// included.
func (f *Fetcher) deliver(ctx context.Context, res *kafka.FetchResponse, out chan<- Message) error {
	batches := []protocol.RecordReader{res.Records}
	if s, ok := res.Records.(*protocol.RecordStream); ok {
		batches = s.Records
	}
	for _, batch := range batches {
		_, control := batch.(*protocol.ControlBatch)
		for {
			rec, err := batch.ReadRecord()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					f.Log.Warn("unreadable record in a fetch response; fetching again", "offset", f.Offset, "error", err)
				}
				break
			}
			key, kerr := readBytes(rec.Key)
			value, verr := readBytes(rec.Value)
			if rec.Offset < f.Offset {
				continue
			}
			if kerr != nil || verr != nil {
				f.Log.Warn("record cut short in a fetch response; fetching again", "offset", rec.Offset, "error", errors.Join(kerr, verr))
				return nil
			}
			f.Offset = rec.Offset + 1
			if control {
				continue
			}
			select {
			case out <- Message{Offset: rec.Offset, Key: key, Value: value, Headers: rec.Headers, HighWaterMark: res.HighWatermark}:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

// readBytes reads and closes b; nil stays nil (a null key or value).
func readBytes(b protocol.Bytes) ([]byte, error) {
	if b == nil {
		return nil, nil
	}
	defer b.Close()
	buf := make([]byte, b.Len())
	_, err := io.ReadFull(b, buf)
	return buf, err
}

// resolve sets the offset from where: the first or the last offset of the
// partition. An offset that is out of range (deleted by retention) is
// reset the same way, as kafka.start_offset says, with a warning.
func (f *Fetcher) resolve(ctx context.Context, where int64) error {
	res, err := f.Client.ListOffsets(ctx, &kafka.ListOffsetsRequest{
		Topics: map[string][]kafka.OffsetRequest{f.Topic: {{Partition: f.Partition, Timestamp: where}}},
	})
	if err != nil {
		return err
	}
	for _, p := range res.Topics[f.Topic] {
		if p.Partition != f.Partition {
			continue
		}
		if p.Error != nil {
			return p.Error
		}
		next := p.FirstOffset
		if where == kafka.LastOffset {
			next = p.LastOffset
		}
		if f.Offset >= 0 {
			f.Log.Warn("offset out of range (deleted by retention?); resetting as kafka.start_offset says",
				"offset", f.Offset, "first", p.FirstOffset, "last", p.LastOffset, "resume_at", next)
		}
		f.Offset = next
		return nil
	}
	return fmt.Errorf("no offsets listed for %s/%d", f.Topic, f.Partition)
}

// pause logs err and waits a second; it fails only when ctx ends.
func (f *Fetcher) pause(ctx context.Context, msg string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	f.Log.Warn(msg, "offset", f.Offset, "error", err)
	return clock.Sleep(ctx, f.Clock, time.Second)
}
