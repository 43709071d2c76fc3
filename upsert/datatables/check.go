package datatables

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/upsert"
)

// refCache holds the keys of a referenced table: filled by paging the
// table (keys only) when first used and again once older than the TTL, at
// most maxKeys of them; a key it lacks is looked up on its own (and added
// when found), so a key created since the last read is never taken for a
// dangling one. Safe for concurrent use.
type refCache struct {
	c       *upsert.Client
	id      string
	name    string
	ttl     time.Duration
	maxKeys int

	mu       sync.Mutex
	keys     map[string]struct{}
	loadedAt time.Time
	loaded   bool
	loads    int // full reads, for tests
}

func newRefCache(c *upsert.Client, id, name string, ttl time.Duration, maxKeys int) *refCache {
	return &refCache{c: c, id: id, name: name, ttl: ttl, maxKeys: maxKeys}
}

// has reports whether the referenced table has a row keyed key. mk builds
// the calls (so that they count for the batch). The error is fatal (ctx,
// transient past the budget, refused credentials) or a *upsert.StatusError.
func (r *refCache) has(ctx context.Context, mk func(method, path string) upsert.Call, key string) (bool, error) {
	r.mu.Lock()
	now := r.c.Clock().Now()
	if !r.loaded || now.Sub(r.loadedAt) >= r.ttl {
		keys := map[string]struct{}{}
		err := r.c.EachPage(ctx, mk, upsert.TablesPath+"/"+upsert.PathSegment(r.id)+"/rows", url.Values{"showbrief": {"true"}, "sortOrder": {"ascending"}},
			func(raw json.RawMessage) error {
				if len(keys) >= r.maxKeys {
					return errEnough
				}
				var row struct {
					Key string `json:"key"`
				}
				if json.Unmarshal(raw, &row) == nil && row.Key != "" {
					keys[row.Key] = struct{}{}
				}
				return nil
			})
		if err != nil && !errors.Is(err, errEnough) {
			r.mu.Unlock()
			return false, err
		}
		r.keys, r.loadedAt, r.loaded = keys, now, true
		r.loads++
	}
	_, hit := r.keys[key]
	r.mu.Unlock()
	if hit {
		return true, nil
	}
	_, err := r.c.Do(ctx, mk(http.MethodGet, upsert.TablesPath+"/"+upsert.PathSegment(r.id)+"/rows/"+upsert.PathSegment(key)+"?showbrief=true"))
	if err != nil {
		var se *upsert.StatusError
		if errors.As(err, &se) && isRowMissing(se) {
			return false, nil
		}
		return false, err
	}
	r.mu.Lock()
	if len(r.keys) < r.maxKeys {
		r.keys[key] = struct{}{}
	}
	r.mu.Unlock()
	return true, nil
}

var errEnough = errors.New("enough keys")

// refValue is the key a reference field's value names; "" when empty.
func refValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return string(x)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return strings.Trim(string(raw), `"`)
}

// checkReferences rejects upserts whose reference fields name no row of
// the referenced table (class "reference", code "reference.dangling").
func (t *Target) checkReferences(ctx context.Context, b *upsert.Tracker) error {
	if len(t.refs) == 0 {
		return nil
	}
	fields := make([]string, 0, len(t.refs))
	for f := range t.refs {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	memo := map[string]bool{}
	for i, it := range b.Items {
		if b.Done(i) || it.Record.Op != change.OpUpsert {
			continue
		}
		var fe []change.FieldError
		var apiErr *upsert.StatusError
		for _, f := range fields {
			v := refValue(it.Record.Data[f])
			if v == "" {
				continue
			}
			rc := t.refs[f]
			mk := b.Maker(i)
			found, ok := memo[f+"\x00"+v]
			if !ok {
				var err error
				found, err = rc.has(ctx, mk, v)
				if err != nil {
					se, fatal := t.outcomeOf(ctx, b, i, err)
					if fatal != nil {
						return fatal
					}
					if se == nil {
						break // item rejected
					}
					apiErr = se
					break
				}
				memo[f+"\x00"+v] = found
			}
			if !found {
				fe = append(fe, change.FieldError{Field: f, Code: "reference.dangling",
					Message: fmt.Sprintf("no row keyed %q in data table %q", clip(v), rc.name)})
			}
		}
		switch {
		case b.Done(i):
		case apiErr != nil:
			e := upsert.Rejection(apiErr)
			e.Class, e.Message = "reference", "referenced data table cannot be read: "+e.Message
			b.Reject(i, e)
		case len(fe) > 0:
			b.Reject(i, &change.RecordError{Class: "reference", Code: "reference.dangling", Message: upsert.Summarize("reference names no existing row", fe), Fields: fe})
		}
	}
	return nil
}

// uniqueIndex maps the unique fields' values of the table's rows to their
// keys (upsert.UniqueValue decides what is equal). It is built by paging
// the table (full rows) when first needed and again after SchemaRefresh,
// and kept current by the target's own writes. Safe for concurrent use.
type uniqueIndex struct {
	fields []string

	mu       sync.Mutex
	loaded   bool
	loadedAt time.Time
	byKey    map[string][]string // key -> value per field ("" none)
	byVal    *upsert.UniqueSet
	loads    int // full reads, for tests
}

func newUniqueIndex(fields []string) *uniqueIndex {
	return &uniqueIndex{fields: fields}
}

func (x *uniqueIndex) load(ctx context.Context, t *Target, mk func(method, path string) upsert.Call) error {
	byKey := map[string][]string{}
	byVal := upsert.NewUniqueSet(x.fields)
	err := t.c.EachPage(ctx, mk, t.path+"/rows", url.Values{"showbrief": {"false"}, "sortOrder": {"ascending"}}, func(raw json.RawMessage) error {
		row, err := upsert.DecodeObject(raw)
		if err != nil {
			return fmt.Errorf("datatables: unreadable row of data table %q: %w", t.name, err)
		}
		key, _ := row["key"].(string)
		if key == "" {
			return nil
		}
		vals := byVal.Values(row)
		byKey[key] = vals
		byVal.Claim(key, vals)
		return nil
	})
	if err != nil {
		return err
	}
	x.byKey, x.byVal, x.loaded, x.loadedAt = byKey, byVal, true, t.c.Clock().Now()
	x.loads++
	return nil
}

// has reports whether the index holds key; known is false before the index
// was built.
func (x *uniqueIndex) has(key string) (exists, known bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.loaded {
		return false, false
	}
	_, exists = x.byKey[key]
	return exists, true
}

func (x *uniqueIndex) put(key string, data map[string]any) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.loaded {
		return
	}
	x.removeLocked(key)
	vals := x.byVal.Values(data)
	x.byKey[key] = vals
	x.byVal.Claim(key, vals)
}

func (x *uniqueIndex) remove(key string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.loaded {
		x.removeLocked(key)
	}
}

func (x *uniqueIndex) removeLocked(key string) {
	if old, ok := x.byKey[key]; ok {
		x.byVal.Release(key, old)
		delete(x.byKey, key)
	}
}

// checkUnique rejects upserts that share a unique field's value with an
// earlier record of the batch or with another key's row in the table
// (class "unique", code "unique.violation"), each field on its own.
func (t *Target) checkUnique(ctx context.Context, b *upsert.Tracker) error {
	x := t.index
	if x == nil {
		return nil
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.loaded || t.c.Clock().Now().Sub(x.loadedAt) >= t.cfg.SchemaRefresh {
		if err := x.load(ctx, t, b.Maker()); err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			if upsert.IsRetryable(err) || upsert.IsAuthFailure(err) || !x.loaded {
				return err
			}
			t.log.Warn("rereading the unique index failed; keeping the one in use", "error", err.Error())
		}
	}
	batchOwner := upsert.NewUniqueSet(x.fields) // within the batch
	changed := map[string][]string{}            // key -> its values after the batch's earlier records
	for i, it := range b.Items {
		if b.Done(i) {
			continue
		}
		key := it.Record.Key
		if it.Record.Op == change.OpDelete {
			changed[key] = make([]string, len(x.fields))
			continue
		}
		vals := batchOwner.Values(it.Record.Data)
		var fe []change.FieldError
		for f, v := range vals {
			if v == "" {
				continue
			}
			if owner, ok := batchOwner.Owner(f, v); ok && owner != key {
				if cur := changed[owner]; cur != nil && cur[f] == v {
					fe = append(fe, change.FieldError{Field: x.fields[f], Code: "unique", Message: fmt.Sprintf("value also used by key %q in this batch", owner)})
					continue
				}
			}
			if owner, ok := x.byVal.Owner(f, v); ok && owner != key {
				if cur, rewritten := changed[owner]; !rewritten || cur[f] == v {
					fe = append(fe, change.FieldError{Field: x.fields[f], Code: "unique", Message: fmt.Sprintf("value already used by key %q in the table", owner)})
				}
			}
		}
		if fe != nil {
			b.Reject(i, &change.RecordError{Class: "unique", Code: "unique.violation", Message: upsert.Summarize("unique field value already used", fe), Fields: fe})
			continue
		}
		changed[key] = vals
		batchOwner.Claim(key, vals)
	}
	return nil
}
