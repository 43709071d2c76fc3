package externalcontacts

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/upsert"
)

// orgCache maps organizations' external ids to their ids, each entry for
// ttl. Misses are not kept: an organization may appear at any moment.
type orgCache struct {
	ttl time.Duration

	mu sync.Mutex
	m  map[string]orgEntry
}

type orgEntry struct {
	id string
	at time.Time
}

// maxOrgCache bounds the cached organizations; the oldest half goes when
// it is reached.
const maxOrgCache = 100_000

func newOrgCache(ttl time.Duration) *orgCache {
	return &orgCache{ttl: ttl, m: map[string]orgEntry{}}
}

func (c *orgCache) get(ext string, now time.Time) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[ext]
	if !ok || now.Sub(e.at) >= c.ttl {
		return "", false
	}
	return e.id, true
}

func (c *orgCache) put(ext, id string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxOrgCache {
		cut := now.Add(-c.ttl / 2)
		for k, e := range c.m {
			if e.at.Before(cut) || len(c.m) >= maxOrgCache {
				delete(c.m, k)
			}
		}
	}
	c.m[ext] = orgEntry{id: id, at: now}
}

// forgetID drops the entries of an organization id the API no longer
// knows.
func (c *orgCache) forgetID(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.m {
		if e.id == id {
			delete(c.m, k)
		}
	}
}

// resolveOrganizations returns the organization id of each contact of
// idxs that names one. An organization that does not exist is looked up
// again, with growing waits, for ReferenceWait; the contacts that still
// name none are then rejected as reference.dangling.
func (t *Target) resolveOrganizations(ctx context.Context, b *upsert.Tracker, idxs []int) (map[int]string, error) {
	out := map[int]string{}
	if t.orgs == nil {
		return out, nil
	}
	want := map[string][]int{} // external id -> items
	for _, i := range idxs {
		if ext, ok := b.Items[i].Record.Data[t.cfg.OrganizationField].(string); ok && ext != "" {
			want[ext] = append(want[ext], i)
		}
	}
	clk := t.c.Clock()
	deadline := clk.Now().Add(t.cfg.ReferenceWait)
	wait := time.Second
	for len(want) > 0 {
		if err := t.lookupOrganizations(ctx, b, want, out); err != nil {
			return nil, err
		}
		if len(want) == 0 || !clk.Now().Add(wait).Before(deadline) {
			break
		}
		t.log.Info("contacts name organizations that do not exist yet; looking again", "organizations", len(want), "wait", wait)
		tm := clk.NewTimer(wait)
		select {
		case <-ctx.Done():
			tm.Stop()
			return nil, ctx.Err()
		case <-tm.C():
		}
		wait = min(2*wait, 10*time.Second)
	}
	for ext, items := range want {
		for _, i := range items {
			b.Reject(i, &change.RecordError{Class: change.ClassReference, Code: "reference.dangling",
				Message: fmt.Sprintf("no organization has the external id %q in the source %s (waited %s)", clip(ext, 100), t.cfg.Source, t.cfg.ReferenceWait),
				Fields:  []change.FieldError{{Field: t.cfg.OrganizationField, Code: "reference.dangling", Message: "no organization has this external id"}}})
		}
	}
	return out, nil
}

// lookupOrganizations resolves the external ids of want, from the cache
// or the API, into out, and removes the resolved ones from want.
func (t *Target) lookupOrganizations(ctx context.Context, b *upsert.Tracker, want map[string][]int, out map[int]string) error {
	now := t.c.Clock().Now()
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(t.cfg.Parallelism)
	found := map[string]string{}
	for ext, items := range want {
		if id, ok := t.orgs.get(ext, now); ok {
			mu.Lock()
			found[ext] = id
			mu.Unlock()
			continue
		}
		g.Go(func() error {
			id, rej, err := t.lookup(gctx, b, Organization, ext, items)
			switch {
			case err != nil:
				return err
			case rej != nil:
				for _, i := range items {
					b.Reject(i, rej)
				}
				mu.Lock()
				found[ext] = "" // decided: rejected
				mu.Unlock()
			case id != "":
				t.orgs.put(ext, id, t.c.Clock().Now())
				mu.Lock()
				found[ext] = id
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for ext, id := range found {
		for _, i := range want[ext] {
			if id != "" {
				out[i] = id
			}
		}
		delete(want, ext)
	}
	return nil
}

// lookup finds the id of the entity of kind e with the external id ext in
// the source, counted for the items idxs: "" when there is none, a
// rejection when the API refuses the lookup, or a fatal error.
func (t *Target) lookup(ctx context.Context, b *upsert.Tracker, e Entity, ext string, idxs []int) (string, *change.RecordError, error) {
	body, err := json.Marshal(map[string]any{"type": "ExternalId", "value": ext, "externalSource": map[string]string{"id": t.source.ID}})
	if err != nil {
		return "", nil, err
	}
	res, err := t.c.Do(ctx, b.Call(http.MethodPost, apiPath+"/identifierlookup/"+e.plural(), body, idxs...))
	if err != nil {
		se, rej, fatal := upsert.Sort(ctx, err)
		switch {
		case fatal != nil:
			return "", nil, fatal
		case se != nil && se.Status == http.StatusNotFound:
			return "", nil, nil
		case se != nil:
			rej = upsert.Rejection(se)
		}
		return "", rej, nil
	}
	var ent struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(res.Body, &ent); err != nil || ent.ID == "" {
		return "", &change.RecordError{Class: change.ClassAPI, Code: "lookup.unreadable", Status: res.Status,
			Message: "the identifier lookup answered no entity id"}, nil
	}
	return ent.ID, nil, nil
}

// clip bounds s to n runes for a message.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "..."
}
