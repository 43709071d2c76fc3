package upsert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// Table is an Architect data table.
type Table struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
}

// ErrTableNotFound is returned (wrapped) by GetTable when no table has the
// id or name.
var ErrTableNotFound = errors.New("data table not found")

const (
	// TablesPath is the data tables API.
	TablesPath = "/api/v2/flows/datatables"
	// dtPageSize is the page size of every listing.
	dtPageSize = 100
	// maxPages bounds a listing, against a server that never ends one.
	maxPages = 10000
)

// CodeTableNotFound is the error code of a missing table.
const CodeTableNotFound = "flows.datatables.table.not.found"

// ListTables returns every data table whose name matches nameFilter (the
// API's filter, where * is a wildcard; empty means all), all pages read.
// The schemas are not included.
func (c *Client) ListTables(ctx context.Context, nameFilter string) ([]Table, error) {
	q := url.Values{}
	if nameFilter != "" {
		q.Set("name", nameFilter)
	}
	var out []Table
	err := c.EachPage(ctx, nil, TablesPath, q, func(raw json.RawMessage) error {
		var t Table
		if err := json.Unmarshal(raw, &t); err != nil {
			return fmt.Errorf("upsert: unreadable data table in listing: %w", err)
		}
		out = append(out, t)
		return nil
	})
	return out, err
}

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// GetTable returns the table with the id or, failing that, the name
// nameOrID (a name is resolved through the listing filtered by name, and
// must match exactly). withSchema asks for the schema too. A missing table
// is an error wrapping ErrTableNotFound.
func (c *Client) GetTable(ctx context.Context, nameOrID string, withSchema bool) (Table, error) {
	if strings.TrimSpace(nameOrID) == "" {
		return Table{}, errors.New("upsert: data table name or id is empty")
	}
	if uuidPattern.MatchString(nameOrID) {
		t, err := c.GetTableByID(ctx, nameOrID, withSchema)
		if err == nil || !errors.Is(err, ErrTableNotFound) {
			return t, err
		}
	}
	list, err := c.ListTables(ctx, strings.ReplaceAll(nameOrID, "*", ""))
	if err != nil {
		return Table{}, err
	}
	var match *Table
	for i := range list {
		if list[i].Name == nameOrID {
			match = &list[i]
			break
		}
	}
	if match == nil {
		for i := range list {
			if strings.EqualFold(list[i].Name, nameOrID) {
				if match != nil {
					return Table{}, fmt.Errorf("upsert: data table name %q is ambiguous", nameOrID)
				}
				match = &list[i]
			}
		}
	}
	if match == nil {
		return Table{}, fmt.Errorf("upsert: data table %q: %w", nameOrID, ErrTableNotFound)
	}
	if !withSchema {
		return *match, nil
	}
	return c.GetTableByID(ctx, match.ID, true)
}

// GetTableByID returns the table with the id; a missing one is an error
// wrapping ErrTableNotFound.
func (c *Client) GetTableByID(ctx context.Context, id string, withSchema bool) (Table, error) {
	path := TablesPath + "/" + PathSegment(id)
	if withSchema {
		path += "?expand=schema"
	}
	res, err := c.Do(ctx, Call{Method: http.MethodGet, Path: path})
	if err != nil {
		var se *StatusError
		if errors.As(err, &se) && se.Status == http.StatusNotFound {
			return Table{}, fmt.Errorf("upsert: data table %q: %w (%v)", id, ErrTableNotFound, err)
		}
		return Table{}, err
	}
	var t Table
	if err := json.Unmarshal(res.Body, &t); err != nil {
		return Table{}, fmt.Errorf("upsert: data table %q: unreadable response: %w", id, err)
	}
	return t, nil
}

// EachPage reads a paged listing (pageNumber from 1, 100 per page) and
// hands each entity to fn. mk, when set, builds the call of each page (so
// that a target can count it for a batch).
func (c *Client) EachPage(ctx context.Context, mk func(method, path string) Call, path string, q url.Values, fn func(json.RawMessage) error) error {
	q2 := url.Values{}
	for k, v := range q {
		q2[k] = v
	}
	q2.Set("pageSize", strconv.Itoa(dtPageSize))
	for page := 1; page <= maxPages; page++ {
		q2.Set("pageNumber", strconv.Itoa(page))
		p := path + "?" + q2.Encode()
		cl := Call{Method: http.MethodGet, Path: p}
		if mk != nil {
			cl = mk(http.MethodGet, p)
		}
		res, err := c.Do(ctx, cl)
		if err != nil {
			return err
		}
		var pg struct {
			Entities  []json.RawMessage `json:"entities"`
			PageCount int               `json:"pageCount"`
		}
		if err := json.Unmarshal(res.Body, &pg); err != nil {
			return fmt.Errorf("upsert: unreadable page %d of %s: %w", page, path, err)
		}
		for _, e := range pg.Entities {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(pg.Entities) == 0 || page >= pg.PageCount {
			return nil
		}
	}
	return fmt.Errorf("upsert: listing %s has more than %d pages", path, maxPages)
}

// DecodeObject reads a JSON object, numbers kept as json.Number.
func DecodeObject(raw []byte) (map[string]any, error) {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

// CheckToken obtains an access token (or uses the cached one), to show that
// the login host answers and accepts the client's credentials. The error
// never contains the secret.
func (c *Client) CheckToken(ctx context.Context) error {
	_, err := c.tokens.token(ctx)
	return err
}
