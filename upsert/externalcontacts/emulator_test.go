package externalcontacts_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/emulator"
	ecemu "github.com/gcupsert/gcupsert/emulator/externalcontacts"
	"github.com/gcupsert/gcupsert/internal/retry"
	"github.com/gcupsert/gcupsert/upsert"
	"github.com/gcupsert/gcupsert/upsert/externalcontacts"
	"github.com/gcupsert/gcupsert/upsert/targettest"
)

// contactSchema is a data schema of the contacts' custom fields.
const contactSchema = `{"$schema":"http://json-schema.org/draft-04/schema#","title":"crm","properties":{
 "score_integer":{"allOf":[{"$ref":"#/definitions/integer"}],"title":"Score","minimum":0,"maximum":100},
 "tier_enum":{"allOf":[{"$ref":"#/definitions/enum"}],"title":"Tier","enum":["gold","silver"]}}}`

// env is a target on a fresh emulator.
type env struct {
	t      *testing.T
	srv    *emulator.Server
	client *upsert.Client
	target *externalcontacts.Target
}

// newEnv starts an emulator with the source "CRM" and the contacts'
// data schema "crm", and a target of cfg on it (entity contact, source CRM
// and data schema crm unless cfg says otherwise).
func newEnv(t *testing.T, ecfg emulator.Config, cfg externalcontacts.Config) *env {
	t.Helper()
	ecfg.Clients = map[string]string{"c": "s"}
	ecfg.DisableRateLimit = true
	ecfg.ECSources = append(ecfg.ECSources, "CRM")
	ecfg.ECSchemas = append(ecfg.ECSchemas, emulator.ECSchema{Entity: ecemu.EntityContacts, Name: "crm", JSONSchema: []byte(contactSchema)})
	if ecfg.Seed == 0 {
		ecfg.Seed = 5
	}
	srv, err := emulator.New(ecfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	c, err := upsert.NewClient(upsert.ClientConfig{BaseURL: hs.URL, ClientID: "c", ClientSecret: "s",
		Retry: retry.Policy{Initial: time.Millisecond, Max: 5 * time.Millisecond, MaxElapsed: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Entity == "" {
		cfg.Entity = externalcontacts.Contact
	}
	if cfg.Source == "" {
		cfg.Source = "CRM"
	}
	if cfg.DataSchema == "" && cfg.Entity == externalcontacts.Contact {
		cfg.DataSchema = "crm"
	}
	tg, err := externalcontacts.New(context.Background(), c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, srv: srv, client: c, target: tg}
}

func (e *env) family() *ecemu.Family { return e.srv.ExternalContacts() }

// stored is the entity of kind et whose external id in CRM is key.
func (e *env) stored(et ecemu.EntityType, key string) (map[string]any, bool) {
	return e.family().FindByExternalID(et, e.target.SourceID(), key)
}

// upsert prepares recs (failing on a rejection) and sends them in one call.
func (e *env) upsert(recs ...change.Record) []change.Outcome {
	e.t.Helper()
	items := make([]change.Item, len(recs))
	for i, r := range recs {
		it, rerr := e.target.Prepare(r)
		if rerr != nil {
			e.t.Fatalf("Prepare(%s): %v", r.Key, rerr)
		}
		items[i] = it
	}
	res, err := e.target.Upsert(context.Background(), items)
	if err != nil {
		e.t.Fatalf("Upsert: %v", err)
	}
	if len(res.Outcomes) != len(items) {
		e.t.Fatalf("%d outcomes for %d items", len(res.Outcomes), len(items))
	}
	return res.Outcomes
}

func up(key string, data map[string]any) change.Record {
	return change.Record{Key: key, Op: change.OpUpsert, Data: data}
}

func del(key string) change.Record { return change.Record{Key: key, Op: change.OpDelete} }

// The contract every target meets, on contacts with custom fields.
func TestContract(t *testing.T) {
	targettest.Run(t, func(t *testing.T) targettest.Setup {
		e := newEnv(t, emulator.Config{}, externalcontacts.Config{})
		return targettest.Setup{
			Target: e.target, Emulator: e.srv,
			Valid: func(key string, v int) map[string]any {
				return map[string]any{"lastName": "L-" + key, "title": fmt.Sprint("t", v), "score_integer": v}
			},
			Invalid: func(string) map[string]any { return map[string]any{"workEmail": "nope"} },
			Stored:  func(key string) (map[string]any, bool) { return e.stored(ecemu.EntityContacts, key) },
			Field:   "title", Value: func(v int) any { return fmt.Sprint("t", v) },
		}
	})
}
