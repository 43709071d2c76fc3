package upsert

import (
	"net/url"
	"strings"
)

// PathSegment escapes s as one path segment so that any key or id
// round-trips: what url.PathEscape escapes ("/" is %2F, "%" is %25, ...),
// and the dot segments "." and "..", which servers and proxies normalise
// away, as %2E.
func PathSegment(s string) string {
	if s == "." || s == ".." {
		return strings.Repeat("%2E", len(s))
	}
	return url.PathEscape(s)
}
