package upsert

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gcupsert/gcupsert/change"
)

func TestIsRetryable(t *testing.T) {
	status := func(s int) error { return &StatusError{Status: s} }
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"429", status(429), true},
		{"500", status(500), true},
		{"502", status(502), true},
		{"503", status(503), true},
		{"504", status(504), true},
		{"501", status(501), false},
		{"400", status(400), false},
		{"401", status(401), false},
		{"403", status(403), false},
		{"404", status(404), false},
		{"409", status(409), false},
		{"413", status(413), false},
		{"422", status(422), false},
		{"wrapped 503", fmt.Errorf("batch: %w", status(503)), true},
		{"transport", &TransportError{Method: "POST", Path: "/x", Err: syscall.ECONNRESET}, true},
		{"transport timeout", &TransportError{Method: "POST", Path: "/x", Err: context.DeadlineExceeded}, true},
		{"net op error", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"url error", &url.Error{Op: "Post", URL: "http://x", Err: &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}}, true},
		{"unexpected EOF", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{"canceled", context.Canceled, false},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), false},
		{"auth invalid_client", &AuthError{Status: 401, Code: "invalid_client"}, false},
		{"auth 400", &AuthError{Status: 400, Code: "invalid_request"}, false},
		{"auth 503", &AuthError{Status: 503}, true},
		{"auth 429", &AuthError{Status: 429}, true},
		{"auth unreachable", &AuthError{Err: syscall.ECONNREFUSED}, true},
		{"auth unreachable in transport", &TransportError{Err: &AuthError{Err: errors.New("dial")}}, true},
		{"auth canceled", &AuthError{Err: context.Canceled}, false},
		{"record error", &change.RecordError{Class: "api", Code: "x"}, false},
		{"plain", errors.New("boom"), false},
	}
	for _, tt := range tests {
		if got := IsRetryable(tt.err); got != tt.want {
			t.Errorf("%s: IsRetryable(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

func fakeResponse(status int, header map[string]string, body string) *http.Response {
	h := http.Header{}
	for k, v := range header {
		h.Set(k, v)
	}
	return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(body))}
}

func TestCheckResponse(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := checkResponse(fakeResponse(204, nil, ""), now, nil); err != nil {
		t.Errorf("204: %v", err)
	}

	body := `{"message":"Rate limit exceeded the maximum. Retry the request in [42] seconds","code":"too.many.requests.retry.after","status":429,"contextId":"ctx-1","details":[],"errors":[]}`
	err := checkResponse(fakeResponse(429, map[string]string{"Retry-After": "42", "ININ-Correlation-Id": "corr-9"}, body), now, nil)
	var se *StatusError
	if !errors.As(err, &se) {
		t.Fatalf("%T", err)
	}
	if se.Status != 429 || se.Code != "too.many.requests.retry.after" || se.RetryAfter != 42*time.Second ||
		se.CorrelationID != "corr-9" || se.Body == nil || se.Body.ContextID != "ctx-1" || !strings.Contains(se.Message, "[42]") {
		t.Errorf("%+v", se)
	}
	for _, want := range []string{"429", "too.many.requests.retry.after", "corr-9", "42s"} {
		if !strings.Contains(se.Error(), want) {
			t.Errorf("Error() %q lacks %q", se.Error(), want)
		}
	}

	nested := `{"code":"bad.request","status":400,"message":"bad","errors":[{"entityId":"k1","code":"c1","details":[{"errorCode":"type","fieldName":"f","entityId":"k1","entityName":"n"}],"messageParams":{"a":"b"}}]}`
	err = checkResponse(fakeResponse(400, nil, nested), now, nil)
	if !errors.As(err, &se) || se.Body == nil || len(se.Body.Errors) != 1 || se.Body.Errors[0].EntityID != "k1" ||
		se.Body.Errors[0].Details[0].FieldName != "f" || se.Body.Errors[0].MessageParams["a"] != "b" {
		t.Errorf("nested body: %+v", se.Body)
	}

	// Not JSON, correlation id from the body's contextId absent: defaults.
	err = checkResponse(fakeResponse(502, nil, "<html>bad gateway</html>"), now, nil)
	if !errors.As(err, &se) || se.Code != "http.502" || se.Message != "Bad Gateway" || se.Body != nil {
		t.Errorf("html body: %+v", se)
	}
	err = checkResponse(fakeResponse(413, nil, ""), now, nil)
	if !errors.As(err, &se) || se.Code != "request.entity.too.large" {
		t.Errorf("413: %+v", se)
	}
	err = checkResponse(fakeResponse(400, nil, `{"code":"x","contextId":"from-body"}`), now, nil)
	if !errors.As(err, &se) || se.CorrelationID != "from-body" {
		t.Errorf("contextId fallback: %+v", se)
	}

	// At most maxErrorBody bytes are read.
	big := &countingReader{r: strings.NewReader(strings.Repeat("x", 10*maxErrorBody))}
	_ = checkResponse(&http.Response{StatusCode: 500, Header: http.Header{}, Body: io.NopCloser(big)}, now, nil)
	if big.n > maxErrorBody {
		t.Errorf("read %d bytes of an error body, limit %d", big.n, maxErrorBody)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"-5", 0},
		{"42", 42 * time.Second},
		{" 3 ", 3 * time.Second},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
