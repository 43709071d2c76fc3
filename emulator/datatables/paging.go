package datatables

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gcupsert/gcupsert/emulator/core"
)

// Paging bounds of the list endpoints.
const (
	defaultPageSize = 25
	maxPageSize     = 500
)

// expands reports whether the expand query parameter names what.
func expands(q url.Values, what string) bool {
	for _, v := range q["expand"] {
		for _, p := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(p), what) {
				return true
			}
		}
	}
	return false
}

// paging is the page a list request asked for.
type paging struct {
	number, size int
	descending   bool
}

// parsePaging reads pageNumber, pageSize and sortOrder.
func parsePaging(q url.Values) (paging, *core.ErrorBody) {
	p := paging{number: 1, size: defaultPageSize}
	for _, f := range []struct {
		name string
		dst  *int
	}{{"pageNumber", &p.number}, {"pageSize", &p.size}} {
		v := q.Get(f.name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			eb := core.BadRequest(fmt.Sprintf("%s must be a positive integer.", f.name))
			return p, &eb
		}
		*f.dst = n
	}
	if p.size > maxPageSize {
		eb := core.BadRequest(fmt.Sprintf("pageSize %d is over the maximum of %d.", p.size, maxPageSize))
		return p, &eb
	}
	switch strings.ToLower(q.Get("sortOrder")) {
	case "", "asc", "ascending":
	case "desc", "descending":
		p.descending = true
	default:
		eb := core.BadRequest("sortOrder must be ascending or descending.")
		return p, &eb
	}
	return p, nil
}

// boolParam reads a boolean query parameter with a default.
func boolParam(q url.Values, name string, def bool) (bool, *core.ErrorBody) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		eb := core.BadRequest(fmt.Sprintf("%s must be true or false.", name))
		return def, &eb
	}
	return b, nil
}

// listing is a Genesys paged entity listing.
type listing struct {
	Entities    any    `json:"entities"`
	PageSize    int    `json:"pageSize"`
	PageNumber  int    `json:"pageNumber"`
	Total       int    `json:"total"`
	PageCount   int    `json:"pageCount"`
	FirstURI    string `json:"firstUri"`
	SelfURI     string `json:"selfUri"`
	NextURI     string `json:"nextUri,omitempty"`
	PreviousURI string `json:"previousUri,omitempty"`
	LastURI     string `json:"lastUri"`
}

// bounds returns the slice bounds of page p over total items.
func (p paging) bounds(total int) (lo, hi int) {
	lo = min((p.number-1)*p.size, total)
	return lo, min(lo+p.size, total)
}

// newListing fills the paging fields of a listing of total items; the
// URIs repeat the request's query with pageNumber and pageSize set.
func newListing(path string, q url.Values, p paging, total int, entities any) listing {
	pageCount := (total + p.size - 1) / p.size
	uri := func(n int) string {
		q2 := url.Values{}
		for k, v := range q {
			q2[k] = slices.Clone(v)
		}
		q2.Set("pageSize", strconv.Itoa(p.size))
		q2.Set("pageNumber", strconv.Itoa(n))
		return path + "?" + q2.Encode()
	}
	l := listing{
		Entities: entities, PageSize: p.size, PageNumber: p.number, Total: total, PageCount: pageCount,
		FirstURI: uri(1), SelfURI: uri(p.number), LastURI: uri(max(pageCount, 1)),
	}
	if p.number < pageCount {
		l.NextURI = uri(p.number + 1)
	}
	if p.number > 1 {
		l.PreviousURI = uri(min(p.number-1, max(pageCount, 1)))
	}
	return l
}

// globMatch matches name against pattern, case-insensitively; '*' matches
// any run of characters.
func globMatch(pattern, name string) bool {
	pattern, name = strings.ToLower(pattern), strings.ToLower(name)
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == name
	}
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	name = name[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(name, mid)
		if i < 0 {
			return false
		}
		name = name[i+len(mid):]
	}
	return strings.HasSuffix(name, last)
}
