package core

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// ErrorBody is the Genesys Cloud error document. Every error response of the
// API paths carries one, and so does every error of the admin paths.
// ContextID is the response's ININ-Correlation-Id.
type ErrorBody struct {
	Message           string            `json:"message"`
	Code              string            `json:"code"`
	Status            int               `json:"status"`
	EntityID          string            `json:"entityId,omitempty"`
	EntityName        string            `json:"entityName,omitempty"`
	MessageWithParams string            `json:"messageWithParams,omitempty"`
	MessageParams     map[string]string `json:"messageParams,omitempty"`
	ContextID         string            `json:"contextId"`
	Details           []ErrorDetail     `json:"details"`
	Errors            []ErrorBody       `json:"errors"`
	Limit             *Limit            `json:"limit,omitempty"`
}

// ErrorDetail names one field-level problem of an entity.
type ErrorDetail struct {
	ErrorCode  string `json:"errorCode,omitempty"`
	FieldName  string `json:"fieldName,omitempty"`
	EntityID   string `json:"entityId,omitempty"`
	EntityName string `json:"entityName,omitempty"`
}

// Limit names the limit a request ran into.
type Limit struct {
	Key       string `json:"key,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Value     int64  `json:"value"`
}

// Error codes used in ErrorBody.Code and ErrorDetail.ErrorCode by every
// family; each family adds its own.
const (
	CodeBadRequest         = "bad.request"
	CodeAuthRequired       = "authentication.required"
	CodeCredentialsExpired = "credentials.expired"
	CodeNotAuthorized      = "not.authorized"
	CodeNotFound           = "not.found"
	CodeMethodNotAllowed   = "method.not.allowed"
	CodeConflict           = "conflict"
	CodeTooLarge           = "request.entity.too.large"
	CodeTooManyRequests    = "too.many.requests.retry.after"
	CodeInternal           = "internal.server.error"
	CodeNotImplemented     = "not.implemented"
	CodeBadGateway         = "bad.gateway"
	CodeServiceUnavailable = "service.unavailable"
	CodeServerTooBusy      = "server.too.busy"
	CodeGatewayTimeout     = "gateway.timeout"
	// CodeSchemaPrefix starts the errorCode of a detail naming the JSON
	// Schema keyword a field breaks: "schema.required", "schema.type", ...
	CodeSchemaPrefix = "schema."
)

const (
	headerCorrelationID = "ININ-Correlation-Id"
	headerRateAllowed   = "inin-ratelimit-allowed"
	headerRateCount     = "inin-ratelimit-count"
	headerRateReset     = "inin-ratelimit-reset"
	headerRetryAfter    = "Retry-After"
)

// StatusError returns the ErrorBody the emulator uses for a bare status.
func StatusError(status int) ErrorBody {
	code, msg := CodeBadRequest, "The request could not be processed."
	switch status {
	case http.StatusBadRequest:
		code, msg = CodeBadRequest, "The request could not be understood by the server due to malformed syntax."
	case http.StatusUnauthorized:
		code, msg = CodeAuthRequired, "No authentication bearer token specified in authorization header."
	case http.StatusForbidden:
		code, msg = CodeNotAuthorized, "You are not authorized to perform the requested action."
	case http.StatusNotFound:
		code, msg = CodeNotFound, "The requested resource was not found."
	case http.StatusMethodNotAllowed:
		code, msg = CodeMethodNotAllowed, "The requested method is not allowed on this resource."
	case http.StatusConflict:
		code, msg = CodeConflict, "The request conflicts with the current state of the resource."
	case http.StatusRequestEntityTooLarge:
		code, msg = CodeTooLarge, "The request is over the size limit."
	case http.StatusTooManyRequests:
		code, msg = CodeTooManyRequests, "Rate limit exceeded the maximum."
	case http.StatusInternalServerError:
		code, msg = CodeInternal, "The server encountered an unexpected condition which prevented it from fulfilling the request."
	case http.StatusNotImplemented:
		code, msg = CodeNotImplemented, "The server does not support the functionality required to fulfill the request."
	case http.StatusBadGateway:
		code, msg = CodeBadGateway, "The server received an invalid response from an upstream server."
	case http.StatusServiceUnavailable:
		code, msg = CodeServiceUnavailable, "The service is currently unavailable."
	case http.StatusGatewayTimeout:
		code, msg = CodeGatewayTimeout, "The server did not receive a timely response from an upstream server."
	default:
		if status >= 500 {
			code, msg = CodeInternal, "The server encountered an error."
		}
	}
	return ErrorBody{Message: msg, Code: code, Status: status}
}

// tooManyRequests is the exact 429 body of the Genesys API.
func tooManyRequests(retryAfter int) ErrorBody {
	return ErrorBody{
		Message: fmt.Sprintf("Rate limit exceeded the maximum. Retry the request in [%d] seconds", retryAfter),
		Code:    CodeTooManyRequests,
		Status:  http.StatusTooManyRequests,
	}
}

// NewID returns a random UUID (version 4): correlation ids, and the ids
// families give to what they create.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// correlationID returns the correlation id already set on w.
func correlationID(w http.ResponseWriter) string {
	return w.Header().Get(headerCorrelationID)
}

// BadRequest is a 400 bad.request with msg.
func BadRequest(msg string) ErrorBody {
	eb := StatusError(http.StatusBadRequest)
	eb.Message = msg
	return eb
}

// WriteError writes eb with its status; ContextID and the empty arrays are
// filled in, nested errors included.
func WriteError(w http.ResponseWriter, eb ErrorBody) {
	eb.Fill(correlationID(w))
	WriteJSON(w, eb.Status, eb)
}

// write429 writes a 429 with Retry-After and the exact Genesys body.
func write429(w http.ResponseWriter, retryAfter int) {
	w.Header().Set(headerRetryAfter, strconv.Itoa(retryAfter))
	WriteError(w, tooManyRequests(retryAfter))
}

// Fill sets eb's ContextID and turns nil Details and Errors into empty
// arrays, nested errors included, as WriteError does.
func (eb *ErrorBody) Fill(contextID string) {
	eb.ContextID = contextID
	if eb.Details == nil {
		eb.Details = []ErrorDetail{}
	}
	if eb.Errors == nil {
		eb.Errors = []ErrorBody{}
	}
	for i := range eb.Errors {
		eb.Errors[i].Fill(contextID)
	}
}

// marshal encodes v as compact JSON without HTML escaping and without a
// trailing newline.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// WriteJSON writes v as compact JSON (no HTML escaping) with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshal(v)
	if err != nil {
		eb := StatusError(http.StatusInternalServerError)
		eb.ContextID = correlationID(w)
		eb.Details, eb.Errors = []ErrorDetail{}, []ErrorBody{}
		b, _ = marshal(eb)
		status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
