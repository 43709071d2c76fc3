package upsert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxErrorBody is how much of an error response body is read.
const maxErrorBody = 64 << 10

// ErrorBody is the Genesys Cloud error document.
type ErrorBody struct {
	Message           string            `json:"message,omitempty"`
	Code              string            `json:"code,omitempty"`
	Status            int               `json:"status,omitempty"`
	EntityID          string            `json:"entityId,omitempty"`
	EntityName        string            `json:"entityName,omitempty"`
	MessageWithParams string            `json:"messageWithParams,omitempty"`
	MessageParams     map[string]string `json:"messageParams,omitempty"`
	ContextID         string            `json:"contextId,omitempty"`
	Details           []ErrorDetail     `json:"details,omitempty"`
	Errors            []ErrorBody       `json:"errors,omitempty"`
	Limit             *ErrorLimit       `json:"limit,omitempty"`
}

// ErrorDetail is one entry of ErrorBody.Details.
type ErrorDetail struct {
	ErrorCode  string `json:"errorCode,omitempty"`
	FieldName  string `json:"fieldName,omitempty"`
	EntityID   string `json:"entityId,omitempty"`
	EntityName string `json:"entityName,omitempty"`
}

// ErrorLimit names the limit an error response refers to.
type ErrorLimit struct {
	Key       string `json:"key,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Value     int64  `json:"value,omitempty"`
}

// StatusError is a Genesys Cloud API response with a non-2xx status.
// Its message never contains tokens or credentials.
type StatusError struct {
	Status        int
	Code          string
	Message       string
	CorrelationID string
	// RetryAfter is the parsed Retry-After header, 0 when absent.
	RetryAfter time.Duration
	// Body is the parsed error document, nil when the body was not one.
	Body *ErrorBody
}

func (e *StatusError) Error() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "genesys: HTTP %d", e.Status)
	if e.Code != "" {
		sb.WriteString(" ")
		sb.WriteString(e.Code)
	}
	if e.Message != "" {
		sb.WriteString(": ")
		sb.WriteString(e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&sb, " (retry after %s)", e.RetryAfter)
	}
	if e.CorrelationID != "" {
		fmt.Fprintf(&sb, " [correlation id %s]", e.CorrelationID)
	}
	return sb.String()
}

// AuthError is a failure to obtain an access token. Status is the token
// endpoint's HTTP status, 0 when it could not be reached. It never carries
// the client secret or a token.
type AuthError struct {
	Status      int
	Code        string // OAuth "error", e.g. "invalid_client"
	Description string
	Err         error
}

func (e *AuthError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("genesys: fetching access token: %v", e.Err)
	}
	s := fmt.Sprintf("genesys: fetching access token: HTTP %d", e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Description != "" {
		s += ": " + e.Description
	}
	if e.Code == "invalid_client" || e.Status == http.StatusUnauthorized {
		s += " (check the OAuth client id and secret)"
	}
	return s
}

func (e *AuthError) Unwrap() error { return e.Err }

// TransportError is a request that got no HTTP response: connection
// refused or reset, timeout of one attempt, truncated body. It is retryable.
type TransportError struct {
	Method string
	Path   string
	Err    error
}

func (e *TransportError) Error() string {
	return fmt.Sprintf("genesys: %s %s: %v", e.Method, e.Path, e.Err)
}

func (e *TransportError) Unwrap() error { return e.Err }

// IsRetryable reports whether err is transient: a network error, a 429, or a
// 5xx other than 501. A 401 (already retried once with a fresh token), 400,
// 403, 404, 409, 413, 422, other errors and context cancellation are not.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	var ae *AuthError
	if errors.As(err, &ae) && ae.Status != 0 {
		return retryableStatus(ae.Status)
	}
	var se *StatusError
	if errors.As(err, &se) {
		return retryableStatus(se.Status)
	}
	var te *TransportError
	if errors.As(err, &te) {
		return true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if ae != nil {
		return true // token endpoint unreachable
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF)
}

// RetryableEntity reports whether one entity of a bulk request that the
// API failed is worth sending again: the API says so (its retryable flag),
// or its status is one IsRetryable retries (429, 5xx but 501).
func RetryableEntity(retryable bool, status int) bool {
	return retryable || retryableStatus(status)
}

func retryableStatus(status int) bool {
	switch {
	case status == http.StatusTooManyRequests:
		return true
	case status == http.StatusNotImplemented:
		return false
	case status >= 500 && status <= 599:
		return true
	}
	return false
}

// checkResponse returns nil for a 2xx response and otherwise a *StatusError
// built from the status, the Genesys error body (at most maxErrorBody bytes
// are read), Retry-After and ININ-Correlation-Id. now resolves an HTTP-date
// Retry-After. The body is not closed.
func checkResponse(resp *http.Response, now time.Time, r *Redactor) error {
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return nil
	}
	se := &StatusError{
		Status:        resp.StatusCode,
		CorrelationID: clip(r.Redact(resp.Header.Get("ININ-Correlation-Id")), 100),
		RetryAfter:    parseRetryAfter(resp.Header.Get("Retry-After"), now),
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var body ErrorBody
	if len(data) > 0 && json.Unmarshal(data, &body) == nil {
		r.redactBody(&body)
		se.Body = &body
		se.Code = clip(body.Code, 200)
		se.Message = clip(body.Message, 4096)
		if se.CorrelationID == "" {
			se.CorrelationID = clip(r.Redact(body.ContextID), 100)
		}
	}
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		se.Code = "redirect"
		se.Message = fmt.Sprintf("answered %d, redirecting to %s; a write never follows a redirect", resp.StatusCode,
			clip(r.Redact(resp.Header.Get("Location")), 200))
	}
	if se.Code == "" {
		se.Code = defaultCode(resp.StatusCode)
	}
	if se.Message == "" {
		se.Message = http.StatusText(resp.StatusCode)
	}
	return se
}

func defaultCode(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "bad.request"
	case http.StatusUnauthorized:
		return "authentication.required"
	case http.StatusForbidden:
		return "missing.permissions"
	case http.StatusNotFound:
		return "not.found"
	case http.StatusConflict:
		return "conflict"
	case http.StatusRequestEntityTooLarge:
		return "request.entity.too.large"
	case http.StatusTooManyRequests:
		return "too.many.requests.retry.after"
	}
	return "http." + strconv.Itoa(status)
}

// parseRetryAfter reads delay-seconds or an HTTP-date; 0 when absent or invalid.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// IsAuthFailure reports whether err means the API refused the worker's
// credentials: the token endpoint refused the client, or a request was
// answered 401 even with a fresh token. Such a failure concerns every record
// alike and only an operator can fix it, so Upsert returns it as an error
// (the consumer keeps the batch and retries it) instead of rejecting records.
func IsAuthFailure(err error) bool {
	var ae *AuthError
	if errors.As(err, &ae) {
		return !IsRetryable(err)
	}
	var se *StatusError
	return errors.As(err, &se) && se.Status == 401
}

// clip bounds text from a server before it goes into an error.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
