// Package sink publishes gcupsert's outbound events to Kafka: one audit event
// per batch, one sync event per record written to the target and one dead
// letter per rejected record, each on its own topic.
//
// Contract:
//
//   - Acks: every event is produced with acks=all (kafka.RequireAll).
//     Publish returns nil only when the broker has acknowledged every event of
//     the batch; it never reports success for an unacknowledged event.
//   - At-least-once: a failed write is retried under the retry policy,
//     waiting on the injected clock, until the context ends, the Publisher
//     is closed or the policy's time budget is spent. A
//     retry re-sends only the events that were not acknowledged (plus, to keep
//     a key's order, any later event of the same topic and key). Kafka-go has
//     no idempotent producer, so a write whose acknowledgement was lost, and a
//     batch the caller publishes again, can appear twice.
//   - Deterministic ids: given the same input, every event is byte-for-byte
//     the same except its time. Audit events are keyed and identified by the
//     batch id "<topic>-<partition>-<first>-<last>"; sync events and dead
//     letters by the source position "<topic>-<partition>-<offset>", so
//     consumers can drop duplicates.
//   - Ordering: messages are partitioned by key hash (kafka.Hash), so all
//     events of one key land in one partition of their topic, in the order
//     they appear in the batch, and batches published one after another (as
//     the consumer does for one source partition) keep their order.
//
// A Publisher is safe for concurrent use by multiple goroutines.
package sink

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"

	"github.com/gcupsert/gcupsert/internal/clock"
	"github.com/gcupsert/gcupsert/internal/retry"
)

// Defaults applied by New.
const (
	DefaultBatchTimeout    = 5 * time.Millisecond
	DefaultWriteTimeout    = 10 * time.Second
	DefaultRetryInitial    = 200 * time.Millisecond
	DefaultRetryMax        = 10 * time.Second
	DefaultRetryMaxElapsed = time.Minute
)

// Config configures a Publisher.
type Config struct {
	// Brokers are the bootstrap addresses (host:port); at least one.
	Brokers []string
	// ClientID names the connections to the brokers (quotas, ACLs, logs);
	// default "gcupsert".
	ClientID string
	// AuditTopic, SyncTopic and DeadLetterTopic are required and distinct.
	AuditTopic, SyncTopic, DeadLetterTopic string
	// WorkerID fills Audit.WorkerID when the event has none; default the
	// host name.
	WorkerID string
	// BatchTimeout is how long the writer lingers for more messages before
	// it sends a produce request; default 5ms.
	BatchTimeout time.Duration
	// WriteTimeout bounds one produce request; default 10s.
	WriteTimeout time.Duration
	// Limits are the outbound topics' max.message.bytes (ReadLimits reads
	// them): every event is made to fit its topic. Default: Kafka's default.
	Limits Limits
	// BatchBytes bounds the records the writer puts in one batch of a
	// partition; default (and at most) the smallest of Limits.
	BatchBytes int64
	// Retry paces failed publish attempts: defaults from 200ms, doubling to
	// 10s, for at most a minute before Publish returns the failure to its
	// caller (which may publish again).
	Retry retry.Policy
	// AllowAutoTopicCreation lets the broker create missing topics (for
	// demos); by default a missing topic is an error that is retried.
	AllowAutoTopicCreation bool
	// Clock times the waits between retries; default clock.Real.
	Clock clock.Clock
	// Logger receives a warning per failed attempt; default slog.Default().
	Logger *slog.Logger
	// Transport is the connection pool; default a new one per Publisher
	// (never kafka.DefaultTransport), closed by Close. TLS and SASL apply
	// to that default transport only.
	Transport *kafka.Transport
	TLS       *tls.Config
	SASL      sasl.Mechanism
}

// Sentinel errors.
var (
	// ErrConfig marks an invalid Config.
	ErrConfig = errors.New("sink: invalid config")
	// ErrClosed is returned by Publish on a closed Publisher.
	ErrClosed = errors.New("sink: publisher closed")
	// ErrInvalidEvent marks an event that can never be written (invalid
	// fields, not encodable, larger than BatchBytes). It is permanent:
	// retrying the same batch cannot succeed.
	ErrInvalidEvent = errors.New("sink: invalid event")
)

// PublishError is returned by Publish when it gives up before every event was
// acknowledged. Err is why it stopped (the context's error, ErrClosed or
// ErrInvalidEvent); Last is the last write error, if any. errors.Is matches
// both.
type PublishError struct {
	BatchID  string
	Attempts int // write attempts made
	Unacked  int // events not acknowledged when it stopped
	Err      error
	Last     error
}

func (e *PublishError) Error() string {
	s := fmt.Sprintf("sink: publish batch %s: %v after %d attempts, %d events unacknowledged", e.BatchID, e.Err, e.Attempts, e.Unacked)
	if e.Last != nil {
		s += ": last error: " + e.Last.Error()
	}
	return s
}

func (e *PublishError) Unwrap() []error {
	if e.Last == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Last}
}

// writer is the part of *kafka.Writer the Publisher uses.
type writer interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
	Close() error
}

// Publisher writes batches of events. Create it with New.
type Publisher struct {
	cfg       Config
	w         writer
	transport *kafka.Transport
	ownsTr    bool
	log       *slog.Logger

	closeCtx  context.Context // done once Close is called
	close     context.CancelFunc
	closeOnce sync.Once
	closeErr  error
}

// New validates cfg, fills its defaults and returns a Publisher. It does not
// connect: the first Publish does.
func New(cfg Config) (*Publisher, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Publisher{cfg: cfg, log: cfg.Logger}
	p.closeCtx, p.close = context.WithCancel(context.Background())
	p.transport = cfg.Transport
	if p.transport == nil {
		p.transport = &kafka.Transport{ClientID: cfg.ClientID, TLS: cfg.TLS, SASL: cfg.SASL}
		p.ownsTr = true
	}
	p.w = &kafka.Writer{
		Addr:                   kafka.TCP(cfg.Brokers...),
		Balancer:               &kafka.Hash{},
		RequiredAcks:           kafka.RequireAll,
		MaxAttempts:            1, // retries are Publish's, on the injected clock
		BatchSize:              1000,
		BatchBytes:             cfg.BatchBytes,
		BatchTimeout:           cfg.BatchTimeout,
		ReadTimeout:            cfg.WriteTimeout,
		WriteTimeout:           cfg.WriteTimeout,
		AllowAutoTopicCreation: cfg.AllowAutoTopicCreation,
		Transport:              p.transport,
	}
	return p, nil
}

func (c *Config) setDefaults() {
	if c.ClientID == "" {
		c.ClientID = "gcupsert"
	}
	if c.WorkerID == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "gcupsert"
		}
		c.WorkerID = h
	}
	if c.BatchTimeout == 0 {
		c.BatchTimeout = DefaultBatchTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	c.Limits.setDefaults()
	if c.BatchBytes == 0 {
		c.BatchBytes = int64(c.Limits.min())
	}
	if c.Retry.Initial == 0 {
		c.Retry.Initial = DefaultRetryInitial
	}
	if c.Retry.Max == 0 {
		c.Retry.Max = max(DefaultRetryMax, c.Retry.Initial)
	}
	if c.Retry.MaxElapsed == 0 {
		c.Retry.MaxElapsed = DefaultRetryMaxElapsed
	}
	c.Retry.SetDefaults()
	if c.Clock == nil {
		c.Clock = clock.Real
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports the first setting that cannot work, wrapping ErrConfig.
func (c *Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
	}
	if len(c.Brokers) == 0 {
		return bad("no brokers")
	}
	for _, b := range c.Brokers {
		if b == "" {
			return bad("empty broker address")
		}
	}
	if c.AuditTopic == "" || c.SyncTopic == "" || c.DeadLetterTopic == "" {
		return bad("audit, sync and dead-letter topics are required")
	}
	if c.AuditTopic == c.SyncTopic || c.AuditTopic == c.DeadLetterTopic || c.SyncTopic == c.DeadLetterTopic {
		return bad("audit, sync and dead-letter topics must be distinct")
	}
	if c.Transport != nil && (c.TLS != nil || c.SASL != nil) {
		return bad("TLS and SASL apply only when Transport is not set")
	}
	if c.BatchTimeout < 0 || c.WriteTimeout < 0 || c.BatchBytes < 0 || c.Limits.min() < 0 {
		return bad("negative duration or size")
	}
	if c.BatchBytes > int64(c.Limits.min()) {
		return bad("BatchBytes %d is above the smallest topic limit %d", c.BatchBytes, c.Limits.min())
	}
	if err := c.Retry.Validate(); err != nil {
		return bad("%v", err)
	}
	return nil
}

// Publish writes every event of b (its sync events, dead letters and audit
// event) with acks=all and returns nil once all are acknowledged. Failed
// writes are retried under Config.Retry until ctx is done, the Publisher
// is closed or the policy's MaxElapsed is spent; then it returns a
// *PublishError matching ctx.Err(), ErrClosed or the last write error. An
// event that can never be written fails at once with a PublishError
// matching ErrInvalidEvent, marked permanent (retry.IsPermanent). Zero Time
// fields are set to the clock's now and an empty Audit.WorkerID to
// Config.WorkerID, once, so every attempt sends the same bytes.
func (p *Publisher) Publish(ctx context.Context, b Batch) error {
	msgs, err := p.encode(b)
	if err != nil {
		return retry.Permanent(err)
	}
	id := b.Audit.id()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(p.closeCtx, cancel)()
	pending, attempts := msgs, 0
	var last error
	err = p.cfg.Retry.Do(ctx, p.cfg.Clock, func() error {
		attempts++
		err := p.w.WriteMessages(ctx, pending...)
		if err == nil {
			return nil
		}
		last = err
		if errors.Is(err, io.ErrClosedPipe) {
			return retry.Permanent(ErrClosed)
		}
		var tooLarge kafka.MessageTooLargeError
		if errors.As(err, &tooLarge) {
			last = nil
			return retry.Permanent(fmt.Errorf("%w: the writer refused a message of %d bytes, headers included (BatchBytes %d)",
				ErrInvalidEvent, Size(tooLarge.Message), p.cfg.BatchBytes))
		}
		if refusedAsTooLarge(err) {
			last = nil
			return retry.Permanent(fmt.Errorf("%w: the broker refused an event as too large (max.message.bytes): %v", ErrInvalidEvent, err))
		}
		pending = resend(pending, failed(pending, err))
		return err
	}, func(err error, wait time.Duration) {
		p.log.Warn("publish failed, retrying", "batch", id, "attempt", attempts, "unacked", len(pending), "of", len(msgs),
			"wait", wait, "error", err)
	})
	if err == nil {
		return nil
	}
	cause := err
	switch {
	case p.closed():
		cause = ErrClosed
	case errors.Is(err, ErrInvalidEvent), errors.Is(err, ErrClosed):
	case ctx.Err() != nil:
		cause = ctx.Err()
	default:
		cause = errors.New("retry budget spent")
	}
	perr := &PublishError{BatchID: id, Attempts: attempts, Unacked: len(pending), Err: cause, Last: last}
	if errors.Is(cause, ErrInvalidEvent) {
		return retry.Permanent(perr)
	}
	return perr
}

// encode validates b, fills its defaults and returns its messages: sync
// events, then dead letters, then the audit event.
func (p *Publisher) encode(b Batch) ([]kafka.Message, error) {
	now := p.cfg.Clock.Now().UTC()
	a := b.Audit
	if a.Time.IsZero() {
		a.Time = now
	}
	if a.WorkerID == "" {
		a.WorkerID = p.cfg.WorkerID
	}
	id := a.id()
	invalid := func(format string, args ...any) error {
		cause := fmt.Errorf("%w: "+format, append([]any{ErrInvalidEvent}, args...)...)
		return &PublishError{BatchID: id, Unacked: 1 + len(b.Syncs) + len(b.DeadLetters), Err: cause}
	}
	if a.BatchID == "" && a.Topic == "" {
		return nil, invalid("audit has neither batch id nor source topic")
	}
	switch a.Status {
	case StatusSuccess, StatusPartial, StatusFailed:
	default:
		return nil, invalid("audit %s: status %q", id, a.Status)
	}
	msgs := make([]kafka.Message, 0, 1+len(b.Syncs)+len(b.DeadLetters))
	for _, s := range b.Syncs {
		if s.Time.IsZero() {
			s.Time = now
		}
		switch s.Operation {
		case OperationCreated, OperationUpdated, OperationDeleted:
		default:
			return nil, invalid("sync %s: operation %q", EventID(s.Source), s.Operation)
		}
		if s.Key == "" {
			return nil, invalid("sync %s: empty key", EventID(s.Source))
		}
		m, err := fitSync(s, p.cfg.Limits.Sync)
		if err != nil {
			return nil, &PublishError{BatchID: id, Unacked: cap(msgs), Err: err}
		}
		m.Topic = p.cfg.SyncTopic
		msgs = append(msgs, m)
	}
	for _, d := range b.DeadLetters {
		if d.Time.IsZero() {
			d.Time = now
		}
		m, err := fitDeadLetter(d, p.cfg.Limits.DeadLetter)
		if err != nil {
			return nil, &PublishError{BatchID: id, Unacked: cap(msgs), Err: err}
		}
		m.Topic = p.cfg.DeadLetterTopic
		msgs = append(msgs, m)
	}
	m := a.message()
	if Size(m) > p.cfg.Limits.Audit {
		return nil, &PublishError{BatchID: id, Unacked: cap(msgs), Err: tooLarge("audit event "+id, m, p.cfg.Limits.Audit)}
	}
	m.Topic = p.cfg.AuditTopic
	msgs = append(msgs, m)
	return msgs, nil
}

// failed reports which of msgs were not acknowledged by a WriteMessages call
// that returned err: per message for kafka.WriteErrors, all of them otherwise.
func failed(msgs []kafka.Message, err error) []bool {
	out := make([]bool, len(msgs))
	var werrs kafka.WriteErrors
	if errors.As(err, &werrs) && len(werrs) == len(msgs) {
		for i, e := range werrs {
			out[i] = e != nil
		}
		return out
	}
	for i := range out {
		out[i] = true
	}
	return out
}

// resend returns the messages to send again, in their order: each failed one,
// and each later one with the same topic and a non-nil key equal to a failed
// one's, so the newest event of a key is written last.
func resend(msgs []kafka.Message, failed []bool) []kafka.Message {
	type tk struct{ topic, key string }
	var poisoned map[tk]bool
	var out []kafka.Message
	for i, m := range msgs {
		k := tk{m.Topic, string(m.Key)}
		if failed[i] || (m.Key != nil && poisoned[k]) {
			out = append(out, m)
			if m.Key != nil {
				if poisoned == nil {
					poisoned = map[tk]bool{}
				}
				poisoned[k] = true
			}
		}
	}
	return out
}

func (p *Publisher) closed() bool { return p.closeCtx.Err() != nil }

// Close stops the Publisher: Publish calls waiting to retry return ErrClosed,
// and writes in flight finish (each bounded by WriteTimeout). Safe to call
// more than once; later calls return the first call's result.
func (p *Publisher) Close() error {
	p.closeOnce.Do(func() {
		p.close()
		p.closeErr = p.w.Close()
		if p.ownsTr {
			p.transport.CloseIdleConnections()
		}
	})
	return p.closeErr
}

// refusedAsTooLarge reports whether the broker refused a message as larger
// than max.message.bytes: permanent, the same bytes never fit.
func refusedAsTooLarge(err error) bool {
	var werrs kafka.WriteErrors
	if errors.As(err, &werrs) {
		for _, e := range werrs {
			if errors.Is(e, kafka.MessageSizeTooLarge) {
				return true
			}
		}
	}
	return errors.Is(err, kafka.MessageSizeTooLarge)
}
