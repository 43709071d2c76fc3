package externalcontacts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gcupsert/gcupsert/emulator/core"
)

// Detail error codes (ErrorDetail.errorCode), naming what a field breaks.
const (
	detailRequired     = "required"
	detailTooLong      = "max.length"
	detailTooMany      = "max.items"
	detailInvalid      = "invalid.value"
	detailEmail        = "invalid.email"
	detailURL          = "invalid.url"
	detailUnknownSrc   = "unknown.externalSource"
	detailUnknownOrg   = "unknown.externalOrganization"
	detailUnknownSch   = "unknown.schema"
	detailSchemaPrefix = core.CodeSchemaPrefix
)

// maxEcho bounds the characters of request text copied into messages and
// error details.
const maxEcho = 64

// clip bounds s, text from a request, for an error message.
func clip(s string) string {
	if utf8.RuneCountInString(s) <= maxEcho {
		return s
	}
	r := []rune(s)
	return string(r[:maxEcho]) + "…"
}

// foldKey is the case-insensitive key of a name.
func foldKey(s string) string { return strings.ToLower(s) }

// problem is one field-level problem of an entity or a document.
type problem struct {
	field   string // JSON path such as "workPhone.display" or "customFields.age_integer"
	code    string // detail code
	value   string // the offending value, clipped
	message string
}

// failure is why an operation failed: an HTTP status, a code, a message
// and the field problems. It becomes an ErrorBody for a single request and
// a bulk error for an operation of a bulk request.
type failure struct {
	status    int
	code      string
	message   string
	problems  []problem
	retryable bool
	limit     *core.Limit
}

// badRequest is a 400 bad.request failure naming problems.
func badRequest(msg string, ps ...problem) *failure {
	return &failure{status: http.StatusBadRequest, code: core.CodeBadRequest, message: msg, problems: ps}
}

// invalid is the failure of an entity or document whose fields break the
// rules.
func invalid(what string, ps []problem) *failure {
	msgs := make([]string, 0, min(len(ps), 5))
	for i, p := range ps {
		if i == 5 {
			msgs = append(msgs, fmt.Sprintf("and %d more", len(ps)-5))
			break
		}
		msgs = append(msgs, p.field+": "+p.message)
	}
	return badRequest(fmt.Sprintf("The %s is invalid: %s.", what, strings.Join(msgs, "; ")), ps...)
}

// notFound is a 404 not.found failure.
func notFound(msg string) *failure {
	return &failure{status: http.StatusNotFound, code: core.CodeNotFound, message: msg}
}

// conflict is a 409 failure with code.
func conflict(code, msg string, ps ...problem) *failure {
	return &failure{status: http.StatusConflict, code: code, message: msg, problems: ps}
}

// errorBody turns fl into the ErrorBody of a single request.
func (fl *failure) errorBody() core.ErrorBody {
	eb := core.ErrorBody{Message: fl.message, Code: fl.code, Status: fl.status, Limit: fl.limit}
	for _, p := range fl.problems {
		eb.Details = append(eb.Details, core.ErrorDetail{ErrorCode: p.code, FieldName: p.field})
	}
	return eb
}

// writeFailure answers a single request with fl.
func writeFailure(w http.ResponseWriter, fl *failure) { core.WriteError(w, fl.errorBody()) }

// readBody reads an API request body within the server's limit; over it,
// 413 naming the limit. On failure it answers and returns false.
func (f *Family) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	limit := f.srv.MaxBodyBytes()
	return core.ReadBody(w, r, limit, core.BodyTooLarge(limit, limitNamespace))
}

// decodeStrict decodes body, a single JSON value, into v: numbers in any
// values stay json.Number, unknown fields are ignored (the SDKs never send
// them; a guess for other clients), trailing data is refused. The error
// names the problem without echoing the body.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return jsonProblem(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("data after the JSON value")
	}
	return nil
}

// jsonProblem describes a JSON decoding error briefly.
func jsonProblem(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "the body"
		}
		return fmt.Errorf("%s must be a JSON %s, not %s", clip(field), jsonKind(te.Type.Kind().String()), clip(te.Value))
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("malformed JSON at offset %d", se.Offset)
	}
	if errors.Is(err, io.EOF) {
		return errors.New("the body is empty")
	}
	return errors.New("malformed JSON")
}

// jsonKind names a Go kind as a JSON type.
func jsonKind(k string) string {
	switch k {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "map", "struct", "ptr":
		return "object"
	}
	return "number"
}

// readJSON reads and decodes the body of a single request into v; on
// failure it answers 413 or 400 and returns false.
func (f *Family) readJSON(w http.ResponseWriter, r *http.Request, what string, v any) bool {
	body, ok := f.readBody(w, r)
	if !ok {
		return false
	}
	if err := decodeStrict(body, v); err != nil {
		core.WriteError(w, core.BadRequest(fmt.Sprintf("The %s could not be read: %s.", what, err)))
		return false
	}
	return true
}

// str returns *p, or "" for nil.
func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }
