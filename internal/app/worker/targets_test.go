package worker_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gcupsert/gcupsert/config"
	"github.com/gcupsert/gcupsert/internal/app/worker"
	"github.com/gcupsert/gcupsert/internal/clock"
	"github.com/gcupsert/gcupsert/internal/version"
	"github.com/gcupsert/gcupsert/upsert"
)

// The Genesys client is built from the whole configuration: the token
// request carries the credentials as genesys.auth_style says, an API
// error echoing the SASL password does not show it, and every request
// names the build in its User-Agent.
func TestNewClientCarriesAuthStyleSecretsAndVersion(t *testing.T) {
	const saslPassword = "sasl-pw-9876"
	var mu sync.Mutex
	var auth, agents []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		agents = append(agents, r.Header.Get("User-Agent"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/oauth/token" {
			mu.Lock()
			auth = append(auth, r.Header.Get("Authorization"))
			mu.Unlock()
			fmt.Fprint(w, `{"access_token":"tok","token_type":"bearer","expires_in":3600}`)
			return
		}
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"code":"bad.request","status":400,"message":"your broker password is %s"}`, saslPassword)
	}))
	t.Cleanup(api.Close)
	for _, tc := range []struct{ style, creds string }{
		{"basic", "id+1:se+cr/et"},
		{"basic_urlencoded", "id%2B1:se%2Bcr%2Fet"},
	} {
		auth, agents = nil, nil
		cfg := config.Default()
		cfg.Genesys.BaseURL, cfg.Genesys.ClientID, cfg.Genesys.ClientSecret = api.URL, "id+1", "se+cr/et"
		cfg.Genesys.AuthStyle = tc.style
		cfg.Kafka.SASL.Password = saslPassword
		client, err := worker.NewClient(cfg, clock.Real, slog.New(slog.DiscardHandler), nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = client.Do(context.Background(), upsert.Call{Method: http.MethodGet, Path: "/api/v2/anything"})
		if err == nil || strings.Contains(err.Error(), saslPassword) || !strings.Contains(err.Error(), upsert.Redacted) {
			t.Errorf("%s: error %v, want the SASL password redacted", tc.style, err)
		}
		want := "Basic " + base64.StdEncoding.EncodeToString([]byte(tc.creds))
		if len(auth) != 1 || auth[0] != want {
			t.Errorf("%s: token requests sent %q, want %q", tc.style, auth, want)
		}
		for _, ua := range agents {
			if ua != version.Get().UserAgent() || !strings.HasPrefix(ua, "gcupsert/") {
				t.Errorf("User-Agent %q, want %q", ua, version.Get().UserAgent())
			}
		}
	}
}
