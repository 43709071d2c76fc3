package externalcontacts

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/internal/retry"
	"github.com/gcupsert/gcupsert/upsert"
)

// remove deletes the entities of idxs: each is found by its external id
// (identifier lookup; none found counts as deleted), then removed by bulk
// remove requests of at most MaxBulk ids (an id the API no longer knows
// counts as deleted too).
func (t *Target) remove(ctx context.Context, b *upsert.Tracker, idxs []int) error {
	if len(idxs) == 0 {
		return nil
	}
	ids := map[int]string{}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(t.cfg.Parallelism)
	for _, i := range idxs {
		g.Go(func() error {
			id, rej, err := t.lookup(gctx, b, t.cfg.Entity, b.Items[i].Record.Key, []int{i})
			switch {
			case err != nil:
				return err
			case rej != nil:
				b.Reject(i, rej)
			case id == "":
				b.Succeed(i, change.StatusDeleted, nil, nil)
			default:
				mu.Lock()
				ids[i] = id
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	var pending []int
	for _, i := range idxs {
		if _, ok := ids[i]; ok {
			pending = append(pending, i)
		}
	}
	for len(pending) > 0 {
		n := min(len(pending), t.cfg.MaxBulk)
		if err := t.removeChunk(ctx, b, pending[:n], ids); err != nil {
			return err
		}
		pending = pending[n:]
	}
	return nil
}

// removeChunk sends one bulk remove, and again the ids the API failed as
// retryable, under the client's retry policy.
func (t *Target) removeChunk(ctx context.Context, b *upsert.Tracker, idxs []int, ids map[int]string) error {
	pending := idxs
	err := t.c.Retry(ctx, "external contacts bulk remove", func() error {
		again, err := t.removeOnce(ctx, b, pending, ids)
		if err != nil {
			return retry.Permanent(err)
		}
		if pending = again; len(pending) > 0 {
			return errRetryable{n: len(pending)}
		}
		return nil
	})
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return err
}

func (t *Target) removeOnce(ctx context.Context, b *upsert.Tracker, idxs []int, ids map[int]string) ([]int, error) {
	var body bytes.Buffer
	body.WriteString(`{"entities":[`)
	byID := map[string]int{}
	for n, i := range idxs {
		id, _ := json.Marshal(ids[i])
		if n > 0 {
			body.WriteByte(',')
		}
		fmt.Fprintf(&body, `{"id":%s}`, id)
		byID[ids[i]] = i
	}
	body.WriteString(`]}`)
	res, err := t.c.Do(ctx, b.Call(http.MethodPost, apiPath+"/bulk/"+t.cfg.Entity.plural()+"/remove", body.Bytes(), idxs...))
	if err != nil {
		se, rej, fatal := upsert.Sort(ctx, err)
		if fatal != nil {
			return nil, fatal
		}
		if se != nil {
			rej = upsert.Rejection(se)
		}
		for _, i := range idxs {
			b.Reject(i, rej)
		}
		return nil, nil
	}
	var br struct {
		Results []bulkResult `json:"results"`
	}
	if err := json.Unmarshal(res.Body, &br); err != nil {
		return nil, fmt.Errorf("externalcontacts: unreadable bulk remove response: %w", err)
	}
	seen := map[int]*bulkResult{}
	for k := range br.Results {
		if i, ok := byID[br.Results[k].ID]; ok {
			seen[i] = &br.Results[k]
		}
	}
	corr := res.Header.Get("ININ-Correlation-Id")
	var again []int
	for _, i := range idxs {
		r := seen[i]
		switch {
		case r == nil:
			again = append(again, i)
		case r.Success, r.Status == http.StatusNotFound, r.Error != nil && r.Error.Status == http.StatusNotFound:
			b.Succeed(i, change.StatusDeleted, nil, nil)
		case r.Error != nil && upsert.RetryableEntity(r.Error.Retryable, r.Error.Status):
			again = append(again, i)
		default:
			b.Reject(i, t.entityRejection(r, corr))
		}
	}
	return again, nil
}
