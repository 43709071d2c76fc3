package datatables_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gcupsert/gcupsert/emulator"
	"github.com/gcupsert/gcupsert/internal/retry"
	"github.com/gcupsert/gcupsert/upsert"
	"github.com/gcupsert/gcupsert/upsert/datatables"
	"github.com/gcupsert/gcupsert/upsert/targettest"
)

const contractSchema = `{"$schema":"http://json-schema.org/draft-04/schema#","type":"object","required":["key"],
"additionalProperties":false,"properties":{"key":{"type":"string"},"name":{"type":"string","minLength":1},"version":{"type":"integer"}}}`

func TestContract(t *testing.T) {
	for _, mode := range []struct {
		name      string
		threshold int
	}{{"rows", 0}, {"import", 2}} {
		t.Run(mode.name, func(t *testing.T) {
			targettest.Run(t, func(t *testing.T) targettest.Setup {
				srv, err := emulator.New(emulator.Config{Clients: map[string]string{"c": "s"}, ImportProcessingTime: -1, DisableRateLimit: true})
				if err != nil {
					t.Fatal(err)
				}
				id, err := srv.CreateTable("things", []byte(contractSchema))
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
				tg, err := datatables.New(context.Background(), c, datatables.Config{Table: "things",
					ImportThreshold: mode.threshold, ImportPollInterval: time.Millisecond})
				if err != nil {
					t.Fatal(err)
				}
				return targettest.Setup{
					Target: tg, Emulator: srv,
					Valid:   func(key string, v int) map[string]any { return map[string]any{"name": "n-" + key, "version": v} },
					Invalid: func(string) map[string]any { return map[string]any{"name": true} },
					Stored: func(key string) (map[string]any, bool) {
						r, ok := srv.Rows(id)[key]
						return r, ok
					},
					Field: "version", Value: func(v int) any { return v },
				}
			})
		})
	}
}
