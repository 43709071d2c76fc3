package upsert_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/upsert"
	"github.com/gcupsert/gcupsert/upsert/upserttest"
)

// A token endpoint that echoes the request's Authorization header, and an
// API that echoes the bearer token, put neither into an error, a log line
// or a rejection (which a dead letter would publish).
func TestEchoedSecretsAreRedacted(t *testing.T) {
	s := upserttest.NewStub(t)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, _ := upserttest.NewClient(t, s.URL, func(cfg *upsert.ClientConfig) {
		cfg.Logger = log
		cfg.Secrets = []string{"sasl-pass-4321"}
	})
	basic := base64.StdEncoding.EncodeToString([]byte(upserttest.ClientID + ":" + upserttest.ClientSecret))
	s.Token = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if n > 1 {
			return false
		}
		upserttest.WriteError(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client " + upserttest.ClientSecret,
			"error_description": "bad client: " + r.Header.Get("Authorization") + " raw " + basic + " secret " + upserttest.ClientSecret})
		return true
	}
	_, err := c.Do(context.Background(), upsert.Call{Method: http.MethodGet, Path: "/api/v2/x"})
	if err == nil {
		t.Fatal("no error from a refused token request")
	}
	check := func(what, text string) {
		t.Helper()
		for _, bad := range []string{upserttest.ClientSecret, basic, "tok-1", "sasl-pass-4321"} {
			if strings.Contains(text, bad) {
				t.Errorf("%s holds %q: %s", what, bad, text)
			}
		}
	}
	check("token error", err.Error())

	s.API = func(w http.ResponseWriter, r *http.Request, req upserttest.Request, n int) {
		auth := r.Header.Get("Authorization")
		upserttest.WriteError(w, http.StatusBadRequest, upsert.ErrorBody{Code: "bad.request", Status: 400,
			Message: "you sent " + auth + "; token " + strings.TrimPrefix(auth, "Bearer ") + "; also sasl-pass-4321",
			Errors: []upsert.ErrorBody{{EntityID: "k1", Code: "invalid.record", Message: "echo " + auth,
				Details: []upsert.ErrorDetail{{FieldName: "f", ErrorCode: strings.TrimPrefix(auth, "Bearer ")}}}}})
	}
	co := newTarget(t, c, nil)
	res, err := co.Upsert(context.Background(), prepareAll(t, co, "k1"))
	if err != nil {
		t.Fatal(err)
	}
	o := res.Outcomes[0]
	if o.Status != change.StatusRejected {
		t.Fatalf("outcome %v", o.Status)
	}
	check("rejection", fmt.Sprintf("%+v", *o.Err))
	check("logs", logs.String())
	if !strings.Contains(o.Err.Message, upsert.Redacted) {
		t.Errorf("rejection %q shows no redaction", o.Err.Message)
	}
}

// The official SDK sends the credentials raw; x/oauth2 URL-encodes them
// first. A secret holding "+ / = %" logs in either way, as configured.
func TestAuthStyles(t *testing.T) {
	const id, secret = "client+id", "se+cr/et=%41"
	for _, tc := range []struct {
		style upsert.AuthStyle
		want  string
	}{
		{upsert.AuthStyleBasic, id + ":" + secret},
		{upsert.AuthStyleBasicURLEncoded, "client%2Bid:se%2Bcr%2Fet%3D%2541"},
	} {
		s := upserttest.NewStub(t)
		var got string
		s.Token = func(w http.ResponseWriter, r *http.Request, n int) bool {
			raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(r.Header.Get("Authorization"), "Basic "))
			got = string(raw)
			if got != id+":"+secret { // a server that compares raw credentials
				upserttest.WriteError(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
				return true
			}
			return false
		}
		c, _ := upserttest.NewClient(t, s.URL, func(cfg *upsert.ClientConfig) {
			cfg.ClientID, cfg.ClientSecret, cfg.AuthStyle = id, secret, tc.style
		})
		err := c.CheckToken(context.Background())
		if got != tc.want {
			t.Errorf("%s: sent %q, want %q", tc.style, got, tc.want)
		}
		if (err == nil) != (tc.style == upsert.AuthStyleBasic) {
			t.Errorf("%s: CheckToken = %v", tc.style, err)
		}
	}
}
