package upsert

import (
	"encoding/json"
	"slices"
	"sync"

	"github.com/gcupsert/gcupsert/change"
)

// Tracker collects the outcomes of one target call: an outcome per item,
// the attempts and the correlation ids of its requests, counted for the
// items each request carried. Its methods are safe for concurrent use;
// Items may be replaced (a record prepared again) before requests start,
// not while they run.
type Tracker struct {
	Items []change.Item

	mu       sync.Mutex
	outcomes []change.Outcome
	done     []bool
	attempts int
	corr     []string
	seenCorr map[string]bool
}

// NewTracker tracks a copy of items.
func NewTracker(items []change.Item) *Tracker {
	return &Tracker{
		Items:    slices.Clone(items),
		outcomes: make([]change.Outcome, len(items)),
		done:     make([]bool, len(items)),
		seenCorr: map[string]bool{},
	}
}

// Reject records that item i is rejected for e.
func (t *Tracker) Reject(i int, e *change.RecordError) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.outcomes[i].Status = change.StatusRejected
	t.outcomes[i].Err = e
	t.outcomes[i].Written, t.outcomes[i].WrittenJSON = nil, nil
	t.done[i] = true
}

// Succeed records a write of item i: the record as written is written, or
// raw (a JSON object as the API returned it) when written is nil.
func (t *Tracker) Succeed(i int, s change.Status, written map[string]any, raw json.RawMessage) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.outcomes[i].Status = s
	t.outcomes[i].Written, t.outcomes[i].WrittenJSON = written, raw
	t.outcomes[i].Err = nil
	t.done[i] = true
}

// Done reports whether item i has an outcome.
func (t *Tracker) Done(i int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.done[i]
}

// Status is item i's outcome status so far (StatusRejected when none).
func (t *Tracker) Status(i int) change.Status {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.outcomes[i].Status
}

// Call builds an API call counted for the batch and for the items idxs.
func (t *Tracker) Call(method, path string, body []byte, idxs ...int) Call {
	return Call{
		Method: method,
		Path:   path,
		Body:   body,
		OnAttempt: func() {
			t.mu.Lock()
			defer t.mu.Unlock()
			t.attempts++
			for _, i := range idxs {
				t.outcomes[i].Attempts++
			}
		},
		OnCorrelation: func(id string) {
			t.mu.Lock()
			defer t.mu.Unlock()
			if !t.seenCorr[id] {
				t.seenCorr[id] = true
				t.corr = append(t.corr, id)
			}
		},
	}
}

// Maker returns a builder of body-less calls counted for the items idxs.
func (t *Tracker) Maker(idxs ...int) func(method, path string) Call {
	return func(method, path string) Call { return t.Call(method, path, nil, idxs...) }
}

// Result is the call's result: an outcome per item, in order.
func (t *Tracker) Result() change.Result {
	t.mu.Lock()
	defer t.mu.Unlock()
	return change.Result{Outcomes: t.outcomes, Attempts: t.attempts, CorrelationIDs: t.corr}
}

// Failed is the result of a call that gives no outcomes (the batch must be
// sent again): its attempts and correlation ids only.
func (t *Tracker) Failed() change.Result {
	t.mu.Lock()
	defer t.mu.Unlock()
	return change.Result{Attempts: t.attempts, CorrelationIDs: slices.Clone(t.corr)}
}
