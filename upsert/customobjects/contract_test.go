package customobjects_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gcupsert/gcupsert/emulator"
	"github.com/gcupsert/gcupsert/internal/retry"
	"github.com/gcupsert/gcupsert/upsert"
	"github.com/gcupsert/gcupsert/upsert/customobjects"
	"github.com/gcupsert/gcupsert/upsert/targettest"
)

const contractSchema = `{"type":"object","additionalProperties":false,"required":["name"],
"properties":{"name":{"type":"string","minLength":1},"version":{"type":"integer"}}}`

func TestContract(t *testing.T) {
	targettest.Run(t, func(t *testing.T) targettest.Setup {
		srv, err := emulator.New(emulator.Config{
			Clients: map[string]string{"c": "s"}, DisableRateLimit: true,
			Schemas: map[string][]byte{"things": []byte(contractSchema)},
		})
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(srv.Handler())
		t.Cleanup(hs.Close)
		c, err := upsert.NewClient(upsert.ClientConfig{BaseURL: hs.URL, ClientID: "c", ClientSecret: "s",
			Retry: retry.Policy{Initial: time.Millisecond, Max: 5 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		tg, err := customobjects.New(c, customobjects.Config{Schema: "things", SchemaJSON: []byte(contractSchema)})
		if err != nil {
			t.Fatal(err)
		}
		return targettest.Setup{
			Target: tg, Emulator: srv,
			Valid:   func(key string, v int) map[string]any { return map[string]any{"name": "n-" + key, "version": v} },
			Invalid: func(string) map[string]any { return map[string]any{"name": 42} },
			Stored: func(key string) (map[string]any, bool) {
				r, ok := srv.Records("things")[key]
				return r, ok
			},
			Field: "version", Value: func(v int) any { return v },
		}
	})
}
