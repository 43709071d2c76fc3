package consumer

import (
	"time"

	"github.com/gcupsert/gcupsert/change"
)

// Hook is any value that implements one or more of the Hook* interfaces
// below; Config.Hooks takes any number of them. Each is told only of the
// events it implements, so a new kind of event breaks no existing hook.
// Hooks are called from the consumer's goroutines: they must be safe for
// concurrent use and must not block.
type Hook any

// Partition names one partition of a topic.
type Partition struct {
	Topic string
	ID    int
}

// HookAssigned is told of the partitions this member owns in a new
// generation.
type HookAssigned interface {
	OnAssigned(generation int32, partitions []Partition)
}

// HookRevoked is told that a generation ended and this member no longer
// owns its partitions.
type HookRevoked interface {
	OnRevoked(generation int32, partitions []Partition)
}

// HookFetched is told of each message read and of how many messages follow
// it in the partition (the consumer lag at fetch time).
type HookFetched interface {
	OnFetched(topic string, partition int, lag int64)
}

// HookBatchStarted is told when a batch goes to the target.
type HookBatchStarted interface {
	OnBatchStarted(topic string, partition int)
}

// HookBatchDone is told of a batch whose every message has an outcome and
// whose outbound events are acknowledged.
type HookBatchDone interface {
	OnBatchDone(b change.Batch)
}

// HookBatchRetry is told of a batch kept for another attempt: stage
// "upsert" (no outcome yet) or "publish" (outbound events not
// acknowledged). A retry is not progress.
type HookBatchRetry interface {
	OnBatchRetry(topic string, partition int, stage string, err error)
}

// HookBatchAbandoned is told of a batch given up uncommitted (generation
// ended, drain timeout, or the consumer stopped); it will be redelivered.
type HookBatchAbandoned interface {
	OnBatchAbandoned(topic string, partition int)
}

// HookCommitted is told of each committed offset (the next one to read).
type HookCommitted interface {
	OnCommitted(topic string, partition int, next int64, took time.Duration)
}

// HookCommitFailed is told of a failed offset commit (retried).
type HookCommitFailed interface {
	OnCommitFailed(err error)
}

// HookStopped is told once when the consumer stops on a failure that no
// retry can mend (a Permanent error); Run then returns it.
type HookStopped interface {
	OnStopped(err error)
}

// hookSet holds the hooks sorted by interface, once, so that the hot path
// (a fetched message) costs a loop over a short slice.
type hookSet struct {
	assigned  []HookAssigned
	revoked   []HookRevoked
	fetched   []HookFetched
	started   []HookBatchStarted
	done      []HookBatchDone
	retry     []HookBatchRetry
	abandoned []HookBatchAbandoned
	committed []HookCommitted
	failed    []HookCommitFailed
	stopped   []HookStopped
}

func newHookSet(hooks []Hook) hookSet {
	var s hookSet
	for _, h := range hooks {
		if h, ok := h.(HookAssigned); ok {
			s.assigned = append(s.assigned, h)
		}
		if h, ok := h.(HookRevoked); ok {
			s.revoked = append(s.revoked, h)
		}
		if h, ok := h.(HookFetched); ok {
			s.fetched = append(s.fetched, h)
		}
		if h, ok := h.(HookBatchStarted); ok {
			s.started = append(s.started, h)
		}
		if h, ok := h.(HookBatchDone); ok {
			s.done = append(s.done, h)
		}
		if h, ok := h.(HookBatchRetry); ok {
			s.retry = append(s.retry, h)
		}
		if h, ok := h.(HookBatchAbandoned); ok {
			s.abandoned = append(s.abandoned, h)
		}
		if h, ok := h.(HookCommitted); ok {
			s.committed = append(s.committed, h)
		}
		if h, ok := h.(HookCommitFailed); ok {
			s.failed = append(s.failed, h)
		}
		if h, ok := h.(HookStopped); ok {
			s.stopped = append(s.stopped, h)
		}
	}
	return s
}
