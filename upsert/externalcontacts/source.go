package externalcontacts

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gcupsert/gcupsert/upsert"
)

// apiPath is the root of the External Contacts API.
const apiPath = "/api/v2/externalcontacts"

// maxSourcePages bounds a listing of external sources (200 a page).
const maxSourcePages = 100

// Source is an external source: the system whose ids an entity's
// externalIds carry.
type Source struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Active *bool  `json:"active,omitempty"`
}

// FindSource returns the external source named name (compared without
// case and surrounding space, since names are unique so); ok is false when
// there is none.
func FindSource(ctx context.Context, c *upsert.Client, name string) (src Source, ok bool, err error) {
	want := strings.ToLower(strings.TrimSpace(name))
	cursor := ""
	for range maxSourcePages {
		q := url.Values{"name": {strings.TrimSpace(name)}, "limit": {"200"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		res, err := c.Do(ctx, upsert.Call{Method: http.MethodGet, Path: apiPath + "/externalsources?" + q.Encode()})
		if err != nil {
			return Source{}, false, err
		}
		var page struct {
			Entities []Source `json:"entities"`
			Cursors  *struct {
				After string `json:"after"`
			} `json:"cursors"`
		}
		if err := json.Unmarshal(res.Body, &page); err != nil {
			return Source{}, false, fmt.Errorf("externalcontacts: unreadable list of external sources: %w", err)
		}
		for _, s := range page.Entities {
			if strings.ToLower(strings.TrimSpace(s.Name)) == want && s.ID != "" {
				return s, true, nil
			}
		}
		if len(page.Entities) == 0 || page.Cursors == nil || page.Cursors.After == "" {
			return Source{}, false, nil
		}
		cursor = page.Cursors.After
	}
	return Source{}, false, fmt.Errorf("externalcontacts: more than %d pages of external sources named %q", maxSourcePages, name)
}

// CreateSource creates an active external source named name.
func CreateSource(ctx context.Context, c *upsert.Client, name string) (Source, error) {
	body, err := json.Marshal(map[string]any{"name": strings.TrimSpace(name), "active": true})
	if err != nil {
		return Source{}, err
	}
	res, err := c.Do(ctx, upsert.Call{Method: http.MethodPost, Path: apiPath + "/externalsources", Body: body})
	if err != nil {
		return Source{}, err
	}
	var s Source
	if err := json.Unmarshal(res.Body, &s); err != nil || s.ID == "" {
		return Source{}, fmt.Errorf("externalcontacts: the new external source has no id (%v)", err)
	}
	return s, nil
}

// resolveSource finds the configured source, creating it when allowed.
func resolveSource(ctx context.Context, c *upsert.Client, cfg Config) (Source, error) {
	s, ok, err := FindSource(ctx, c, cfg.Source)
	switch {
	case err != nil:
		return Source{}, fmt.Errorf("externalcontacts: external source %q: %w", cfg.Source, err)
	case ok:
		if s.Active != nil && !*s.Active {
			return Source{}, fmt.Errorf("externalcontacts: external source %q is not active", cfg.Source)
		}
		return s, nil
	case !cfg.CreateSource:
		return Source{}, fmt.Errorf("externalcontacts: no external source is named %q (create it, or allow gcupsert to)", cfg.Source)
	}
	s, err = CreateSource(ctx, c, cfg.Source)
	if err != nil {
		return Source{}, fmt.Errorf("externalcontacts: creating external source %q: %w", cfg.Source, err)
	}
	return s, nil
}
