package core

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// MaxAdminBody bounds admin request bodies.
const MaxAdminBody = 1 << 20

// ReadLimited reads at most limit bytes of r's body; tooLarge reports more.
func ReadLimited(r *http.Request, limit int) (body []byte, tooLarge bool, err error) {
	if r.ContentLength > int64(limit) {
		return nil, true, nil
	}
	body, err = io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
	if err != nil {
		return nil, false, err
	}
	if len(body) > limit {
		return nil, true, nil
	}
	return body, false, nil
}

// ReadBody reads at most limit bytes of r's body. When the body is larger
// it answers tooLarge, when it cannot be read 400 bad.request, and returns
// false.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int, tooLarge ErrorBody) ([]byte, bool) {
	body, over, err := ReadLimited(r, limit)
	switch {
	case over:
		WriteError(w, tooLarge)
		return nil, false
	case err != nil:
		WriteError(w, BadRequest("The request body could not be read."))
		return nil, false
	}
	return body, true
}

// BodyTooLarge is the 413 of an API body over limit bytes, naming the
// limit max.body.bytes in namespace.
func BodyTooLarge(limit int, namespace string) ErrorBody {
	eb := StatusError(http.StatusRequestEntityTooLarge)
	eb.Message = fmt.Sprintf("The request body is over the limit of %d bytes.", limit)
	eb.Limit = &Limit{Key: "max.body.bytes", Namespace: namespace, Value: int64(limit)}
	return eb
}

// ReadAdminBody reads an admin request body (at most MaxAdminBody bytes);
// on failure it answers the request and returns false.
func ReadAdminBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	return ReadBody(w, r, MaxAdminBody, StatusError(http.StatusRequestEntityTooLarge))
}

// ReadAdminJSON decodes an admin request body into v, rejecting unknown
// fields and trailing data; on failure it answers the request and returns
// false. what names the document in error messages.
func ReadAdminJSON(w http.ResponseWriter, r *http.Request, what string, v any) bool {
	body, ok := ReadAdminBody(w, r)
	if !ok {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		WriteError(w, BadRequest("Invalid "+what+" document: "+err.Error()))
		return false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		WriteError(w, BadRequest("Invalid "+what+" document: data after the JSON object."))
		return false
	}
	return true
}

// DecodeByID decodes b, the JSON encoding of entities by id, as
// encoding/json decodes into any (numbers are float64); it returns nil when
// err is set or b does not decode. Families hand out copies of their state
// with it: encode under their lock, decode after.
func DecodeByID(b []byte, err error) map[string]map[string]any {
	if err != nil {
		return nil
	}
	out := map[string]map[string]any{}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil
	}
	return out
}
