package externalcontacts

import (
	"context"

	"golang.org/x/sync/errgroup"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/upsert"
)

// Upsert writes a batch. Items are sent in phases in which every key
// appears once (a key's second event goes in the next phase, so that per
// key order holds); in a phase, the upserts go as bulk enrich requests of
// at most MaxEnrich operations and the deletes as identifier lookups and
// bulk removes, Parallelism requests at a time.
//
// The Result holds one Outcome per item, in order. The error is non-nil
// only when ctx ended, a transient failure outlived the retry budget (a
// request's, or that of the entities the API marked retryable) or the
// credentials were refused; the Result then has no outcomes and the batch
// must be sent again.
func (t *Target) Upsert(ctx context.Context, items []change.Item) (change.Result, error) {
	b := upsert.NewTracker(items)
	if err := ctx.Err(); err != nil {
		return change.Result{}, err
	}
	if err := t.refreshSchema(ctx, false); err != nil {
		return b.Failed(), err
	}
	for _, phase := range phases(b) {
		if err := t.runPhase(ctx, b, phase); err != nil {
			return b.Failed(), err
		}
	}
	return b.Result(), nil
}

// phases orders the items that have no outcome yet into phases in which
// each key appears once, in item order.
func phases(b *upsert.Tracker) [][]int {
	var out [][]int
	seen := map[string]int{}
	for i, it := range b.Items {
		if b.Done(i) {
			continue
		}
		if rerr := it.Record.Check(); rerr != nil {
			b.Reject(i, rerr)
			continue
		}
		n := seen[it.Record.Key]
		seen[it.Record.Key] = n + 1
		if n == len(out) {
			out = append(out, nil)
		}
		out[n] = append(out[n], i)
	}
	return out
}

// runPhase writes one phase: references first, then upserts and deletes.
func (t *Target) runPhase(ctx context.Context, b *upsert.Tracker, idxs []int) error {
	var ups, dels []int
	for _, i := range idxs {
		if b.Items[i].Record.Op == change.OpDelete {
			dels = append(dels, i)
		} else {
			ups = append(ups, i)
		}
	}
	orgIDs, err := t.resolveOrganizations(ctx, b, ups)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(t.cfg.Parallelism)
	for _, chunk := range t.enrichChunks(b, ups) {
		g.Go(func() error { return t.enrich(gctx, b, chunk, orgIDs) })
	}
	g.Go(func() error { return t.remove(gctx, b, dels) })
	err = g.Wait()
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return err
}

// enrichChunks splits idxs into requests of at most MaxEnrich operations
// and MaxBytes bytes.
func (t *Target) enrichChunks(b *upsert.Tracker, idxs []int) [][]int {
	var out [][]int
	var cur []int
	size := t.limits.Overhead
	for _, i := range idxs {
		if b.Done(i) {
			continue
		}
		n := t.opSize(b.Items[i])
		if len(cur) > 0 && (len(cur) == t.cfg.MaxEnrich || size+n+1 > t.cfg.MaxBytes) {
			out = append(out, cur)
			cur, size = nil, t.limits.Overhead
		}
		cur = append(cur, i)
		size += n + 1
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}
