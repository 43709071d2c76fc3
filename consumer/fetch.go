package consumer

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

// message is one record of a partition. Key and Value are nil only when
// the record's key or value is null: an empty value is a non-nil empty
// slice, so that a tombstone (null) is told apart from an empty value from
// the record batch itself.
type message struct {
	Offset        int64
	Key, Value    []byte
	HighWaterMark int64
}

// fetcher reads one partition with fetch requests from a given offset.
type fetcher struct {
	client    *kafka.Client
	topic     string
	partition int
	offset    int64 // next offset to read; negative: not resolved yet
	reset     StartOffset
	maxWait   time.Duration
	clock     clock.Clock
	log       *slog.Logger
}

// fetchMaxBytes bounds one fetch response.
const fetchMaxBytes = 8 << 20

// run sends the partition's records, in offset order, to out until ctx
// ends; it closes out when it returns.
func (f *fetcher) run(ctx context.Context, out chan<- message) {
	defer close(out)
	for f.offset < 0 {
		if err := f.resolve(ctx, StartOffset(f.offset)); err != nil {
			if f.pause(ctx, "resolving the start offset failed; retrying", err) != nil {
				return
			}
		}
	}
	for {
		res, err := f.client.Fetch(ctx, &kafka.FetchRequest{
			Topic: f.topic, Partition: f.partition, Offset: f.offset,
			MinBytes: 1, MaxBytes: fetchMaxBytes, MaxWait: f.maxWait,
		})
		if err == nil && res.Error != nil {
			err = res.Error
		}
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, kafka.OffsetOutOfRange):
			if err := f.resolve(ctx, f.reset); err != nil && f.pause(ctx, "resetting an out-of-range offset failed; retrying", err) != nil {
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
func (f *fetcher) deliver(ctx context.Context, res *kafka.FetchResponse, out chan<- message) error {
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
					f.log.Warn("unreadable record in a fetch response; fetching again", "offset", f.offset, "error", err)
				}
				break
			}
			key, kerr := readBytes(rec.Key)
			value, verr := readBytes(rec.Value)
			if rec.Offset < f.offset {
				continue
			}
			if kerr != nil || verr != nil {
				f.log.Warn("record cut short in a fetch response; fetching again", "offset", rec.Offset, "error", errors.Join(kerr, verr))
				return nil
			}
			f.offset = rec.Offset + 1
			if control {
				continue
			}
			select {
			case out <- message{Offset: rec.Offset, Key: key, Value: value, HighWaterMark: res.HighWatermark}:
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
func (f *fetcher) resolve(ctx context.Context, where StartOffset) error {
	res, err := f.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{
		Topics: map[string][]kafka.OffsetRequest{f.topic: {{Partition: f.partition, Timestamp: int64(where)}}},
	})
	if err != nil {
		return err
	}
	for _, p := range res.Topics[f.topic] {
		if p.Partition != f.partition {
			continue
		}
		if p.Error != nil {
			return p.Error
		}
		next := p.FirstOffset
		if where == StartLast {
			next = p.LastOffset
		}
		if f.offset >= 0 {
			f.log.Warn("offset out of range (deleted by retention?); resetting as kafka.start_offset says",
				"offset", f.offset, "first", p.FirstOffset, "last", p.LastOffset, "resume_at", next)
		}
		f.offset = next
		return nil
	}
	return fmt.Errorf("no offsets listed for %s/%d", f.topic, f.partition)
}

// pause logs err and waits a second; it fails only when ctx ends.
func (f *fetcher) pause(ctx context.Context, msg string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	f.log.Warn(msg, "offset", f.offset, "error", err)
	return clock.Sleep(ctx, f.clock, time.Second)
}
