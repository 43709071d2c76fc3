package upsert

import (
	"context"
	"errors"
	"net/http"

	"github.com/gcupsert/gcupsert/change"
)

// Sort is the one place that decides what a failed request becomes, for
// every target:
//   - fatal: ctx ended, a transient failure outlived the retry budget, or
//     the credentials were refused; the target returns it and the batch is
//     sent again (no record is rejected for it);
//   - se: a permanent API answer, which the target maps to rejections of
//     the records the request carried (its own rules: 404 of a delete is
//     success, 409 a conflict, ...);
//   - rej: any other permanent failure, a rejection of every record the
//     request carried.
func Sort(ctx context.Context, err error) (se *StatusError, rej *change.RecordError, fatal error) {
	if cerr := ctx.Err(); cerr != nil {
		return nil, nil, cerr
	}
	if IsRetryable(err) || IsAuthFailure(err) {
		return nil, nil, err
	}
	if errors.As(err, &se) {
		return se, nil, nil
	}
	return nil, RequestRejection(err), nil
}

// StatusClass is the error class of a rejection by HTTP status.
func StatusClass(status int) string {
	switch status {
	case http.StatusConflict:
		return change.ClassConflict
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return change.ClassValidation
	}
	return change.ClassAPI
}

// Rejection is the rejection of every record of a request the API refused.
func Rejection(se *StatusError) *change.RecordError {
	e := &change.RecordError{
		Class:         StatusClass(se.Status),
		Code:          se.Code,
		Status:        se.Status,
		Message:       se.Message,
		CorrelationID: se.CorrelationID,
	}
	if se.Body != nil {
		e.Fields = detailFields(nil, se.Body, se.Message)
		for k := range se.Body.Errors {
			e.Fields = detailFields(e.Fields, &se.Body.Errors[k], se.Body.Errors[k].Message)
		}
	}
	return e
}

// EntityRejection is the rejection of a record that the error entry eb of
// the answer se names.
func EntityRejection(se *StatusError, eb *ErrorBody) *change.RecordError {
	e := &change.RecordError{
		Class:         StatusClass(se.Status),
		Code:          eb.Code,
		Status:        se.Status,
		Message:       eb.Message,
		Fields:        detailFields(nil, eb, eb.Message),
		CorrelationID: se.CorrelationID,
	}
	if e.Code == "" {
		e.Code = se.Code
	}
	if e.Message == "" {
		e.Message = se.Message
	}
	return e
}

func detailFields(out []change.FieldError, eb *ErrorBody, msg string) []change.FieldError {
	for _, d := range eb.Details {
		m := msg
		if m == "" {
			m = d.ErrorCode
		}
		out = append(out, change.FieldError{Field: d.FieldName, Code: d.ErrorCode, Message: m})
	}
	return out
}

// RequestRejection is the rejection for a permanent failure without an API
// answer, such as a token response without a token.
func RequestRejection(err error) *change.RecordError {
	e := &change.RecordError{Class: change.ClassAPI, Code: "request.failed", Message: err.Error()}
	var ae *AuthError
	if errors.As(err, &ae) {
		e.Code = "authentication.failed"
		if ae.Code != "" {
			e.Code = ae.Code
		}
		e.Status = ae.Status
	}
	return e
}
