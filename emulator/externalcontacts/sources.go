package externalcontacts

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gcupsert/gcupsert/emulator/core"
)

// source is one external source.
type source struct {
	id, name    string
	active      bool
	uriTemplate string // "" when the source has no linkConfiguration
}

// sourcesPath is the path of the external sources.
const sourcesPath = basePath + "/externalsources"

// doc returns s as the API shows it (Externalsource).
func (s *source) doc() sourceDoc {
	d := sourceDoc{ID: ptr(s.id), Name: ptr(s.name), Active: ptr(s.active), SelfURI: ptr(sourcesPath + "/" + s.id)}
	if s.uriTemplate != "" {
		d.LinkConfiguration = &linkConfiguration{URITemplate: ptr(s.uriTemplate)}
	}
	return d
}

// sortKey orders sources by name, case-insensitively, then id.
func (s *source) sortKey() string { return foldKey(s.name) + "\x00" + s.id }

// checkSourceName trims a source name and checks it: 1 to 200 characters.
func checkSourceName(name string) (string, *problem) {
	n := strings.TrimSpace(name)
	switch {
	case n == "":
		return "", &problem{field: "name", code: detailRequired, message: "a name is required"}
	case utf8.RuneCountInString(n) > MaxSourceName:
		return "", &problem{field: "name", code: detailTooLong, value: clip(n),
			message: fmt.Sprintf("at most %d characters", MaxSourceName)}
	}
	return n, nil
}

// checkSourceDoc checks the body of a source POST or PUT and returns the
// source it describes (without id). active defaults to true (a guess, from
// Terraform's default).
func checkSourceDoc(d sourceDoc) (source, []problem) {
	var ps []problem
	name, p := checkSourceName(str(d.Name))
	if p != nil {
		ps = append(ps, *p)
	}
	s := source{name: name, active: d.Active == nil || *d.Active}
	if lc := d.LinkConfiguration; lc != nil {
		t := strings.TrimSpace(str(lc.URITemplate))
		switch {
		case t == "":
			ps = append(ps, problem{field: "linkConfiguration.uriTemplate", code: detailRequired, message: "a uriTemplate is required"})
		case utf8.RuneCountInString(t) > MaxURITemplate:
			ps = append(ps, problem{field: "linkConfiguration.uriTemplate", code: detailTooLong, value: clip(t),
				message: fmt.Sprintf("at most %d characters", MaxURITemplate)})
		case !isHTTPURL(t):
			ps = append(ps, problem{field: "linkConfiguration.uriTemplate", code: detailURL, value: clip(t),
				message: "must be an absolute http or https URL"})
		}
		s.uriTemplate = t
	}
	return s, ps
}

// isHTTPURL reports whether s is an absolute http(s) URL with a host.
func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (strings.EqualFold(u.Scheme, "http") || strings.EqualFold(u.Scheme, "https")) && u.Host != ""
}

// sourceByName returns the source named name (case-insensitive) other than
// id. The caller holds f.mu.
func (f *Family) sourceByName(name, id string) *source {
	for _, s := range f.sources {
		if s.id != id && strings.EqualFold(s.name, name) {
			return s
		}
	}
	return nil
}

// CreateSource adds an external source named name (active, no
// linkConfiguration) and returns its id. The source is part of the seeded
// state that Reset restores.
func (f *Family) CreateSource(name string) (string, error) {
	n, p := checkSourceName(name)
	if p != nil {
		return "", fmt.Errorf("%w: source %q: %s", ErrInvalid, clip(name), p.message)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sourceByName(n, "") != nil {
		return "", fmt.Errorf("%w: a source named %q exists", ErrInvalid, clip(n))
	}
	s := source{id: core.NewID(), name: n, active: true}
	f.seeded.sources = append(f.seeded.sources, s)
	f.sources[s.id] = &s
	return s.id, nil
}

// SourceID returns the id of the source named name (case-insensitive).
func (f *Family) SourceID(name string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s := f.sourceByName(name, ""); s != nil {
		return s.id, true
	}
	return "", false
}

func sourceNotFound(id string) *failure {
	return notFound(fmt.Sprintf("External source %s was not found.", clip(id)))
}

func nameTaken(name string) *failure {
	return conflict(CodeSourceNameExists, fmt.Sprintf("An external source named %s already exists.", clip(name)),
		problem{field: "name", code: CodeSourceNameExists, value: clip(name), message: "must be unique"})
}

func (f *Family) handleSourceCreate(w http.ResponseWriter, r *http.Request) {
	var d sourceDoc
	if !f.readJSON(w, r, "external source", &d) {
		return
	}
	s, ps := checkSourceDoc(d)
	if len(ps) > 0 {
		writeFailure(w, invalid("external source", ps))
		return
	}
	f.mu.Lock()
	if f.sourceByName(s.name, "") != nil {
		f.mu.Unlock()
		writeFailure(w, nameTaken(s.name))
		return
	}
	s.id = core.NewID()
	f.sources[s.id] = &s
	out := s.doc()
	f.mu.Unlock()
	core.WriteJSON(w, http.StatusOK, out)
}

func (f *Family) handleSourceGet(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("externalSourceId")
	f.mu.Lock()
	s, ok := f.sources[id]
	var out sourceDoc
	if ok {
		out = s.doc()
	}
	f.mu.Unlock()
	if !ok {
		writeFailure(w, sourceNotFound(id))
		return
	}
	core.WriteJSON(w, http.StatusOK, out)
}

func (f *Family) handleSourceUpdate(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("externalSourceId")
	var d sourceDoc
	if !f.readJSON(w, r, "external source", &d) {
		return
	}
	s, ps := checkSourceDoc(d)
	f.mu.Lock()
	defer f.mu.Unlock()
	cur, ok := f.sources[id]
	switch {
	case !ok:
		writeFailure(w, sourceNotFound(id))
	case len(ps) > 0:
		writeFailure(w, invalid("external source", ps))
	case f.sourceByName(s.name, id) != nil:
		writeFailure(w, nameTaken(s.name))
	default:
		s.id = cur.id
		*cur = s
		core.WriteJSON(w, http.StatusOK, cur.doc())
	}
}

func (f *Family) handleSourceDelete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("externalSourceId")
	f.mu.Lock()
	_, ok := f.sources[id]
	delete(f.sources, id)
	f.mu.Unlock()
	if !ok {
		writeFailure(w, sourceNotFound(id))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// cursor is a position in the source listing: after the source whose
// sortKey is after, valid until expires.
type cursor struct {
	after   string
	expires int64 // unix nanoseconds on the server's clock
}

// maxCursors bounds the cursors kept: expired ones go first, then any.
const maxCursors = 10000

// sourcesQuery is a parsed source listing request.
type sourcesQuery struct {
	limit     int
	name      string
	active    *bool
	after     string // sortKey to start after; "" from the start
	hasCursor bool
}

// parseSourcesQuery reads cursor, limit, name and active. The caller holds
// f.mu (cursors are looked up).
func (f *Family) parseSourcesQuery(q url.Values) (sourcesQuery, *failure) {
	sq := sourcesQuery{limit: DefaultSourcePageSize, name: q.Get("name")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil:
			return sq, badRequest(fmt.Sprintf("limit must be a whole number, not %s.", clip(v)))
		case n != 0 && (n < MinSourcePageSize || n > MaxSourcePageSize):
			return sq, badRequest(fmt.Sprintf("limit must be between %d and %d.", MinSourcePageSize, MaxSourcePageSize))
		case n != 0:
			sq.limit = n
		}
	}
	if v, set := q["active"]; set && len(v) > 0 {
		b, err := strconv.ParseBool(v[0])
		if err != nil || (v[0] != "true" && v[0] != "false") {
			return sq, badRequest(fmt.Sprintf("active must be true or false, not %s.", clip(v[0])))
		}
		sq.active = &b
	}
	if c := q.Get("cursor"); c != "" {
		cur, ok := f.cursors[c]
		if !ok || f.srv.Clock().Now().UnixNano() >= cur.expires {
			return sq, badRequest(fmt.Sprintf("The cursor %s is unknown or expired.", clip(c)))
		}
		sq.after, sq.hasCursor = cur.after, true
	}
	return sq, nil
}

// sourceListing is a Cursorexternalsourcelisting.
type sourceListing struct {
	Entities []sourceDoc `json:"entities"`
	Cursors  *cursorsDoc `json:"cursors,omitempty"`
	SelfURI  string      `json:"selfUri"`
	NextURI  string      `json:"nextUri,omitempty"`
}

type cursorsDoc struct {
	After string `json:"after,omitempty"`
}

func (f *Family) handleSourcesList(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sq, fl := f.parseSourcesQuery(r.URL.Query())
	if fl != nil {
		writeFailure(w, fl)
		return
	}
	all := make([]*source, 0, len(f.sources))
	for _, s := range f.sources {
		if sq.active != nil && s.active != *sq.active {
			continue
		}
		if !strings.HasPrefix(foldKey(s.name), foldKey(sq.name)) {
			continue
		}
		if sq.hasCursor && s.sortKey() <= sq.after {
			continue
		}
		all = append(all, s)
	}
	slices.SortFunc(all, func(a, b *source) int { return cmp.Compare(a.sortKey(), b.sortKey()) })
	page := all[:min(len(all), sq.limit)]
	out := sourceListing{Entities: make([]sourceDoc, 0, len(page)), SelfURI: sourcesURI(sq, "")}
	for _, s := range page {
		out.Entities = append(out.Entities, s.doc())
	}
	if len(all) > len(page) {
		c := f.newCursor(page[len(page)-1].sortKey())
		out.Cursors = &cursorsDoc{After: c}
		out.NextURI = sourcesURI(sq, c)
	}
	core.WriteJSON(w, http.StatusOK, out)
}

// newCursor stores a cursor positioned after key and returns its token.
// The caller holds f.mu.
func (f *Family) newCursor(after string) string {
	now := f.srv.Clock().Now().UnixNano()
	for k, c := range f.cursors {
		if now >= c.expires || len(f.cursors) >= maxCursors {
			delete(f.cursors, k)
		}
	}
	tok := core.NewID()
	f.cursors[tok] = cursor{after: after, expires: now + int64(CursorTTL)}
	return tok
}

// sourcesURI is the listing URI of sq, at cursor c when not empty.
func sourcesURI(sq sourcesQuery, c string) string {
	q := url.Values{"limit": {strconv.Itoa(sq.limit)}}
	if sq.name != "" {
		q.Set("name", sq.name)
	}
	if sq.active != nil {
		q.Set("active", strconv.FormatBool(*sq.active))
	}
	if c != "" {
		q.Set("cursor", c)
	}
	return sourcesPath + "?" + q.Encode()
}
