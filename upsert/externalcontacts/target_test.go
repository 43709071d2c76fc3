package externalcontacts_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/emulator"
	ecemu "github.com/gcupsert/gcupsert/emulator/externalcontacts"
	"github.com/gcupsert/gcupsert/upsert"
	"github.com/gcupsert/gcupsert/upsert/externalcontacts"
)

// Enrich creates a new contact and updates an existing one; a field the
// update leaves out keeps its value (PreferProvided).
func TestEnrichCreatesThenUpdates(t *testing.T) {
	e := newEnv(t, emulator.Config{}, externalcontacts.Config{})
	out := e.upsert(up("c1", map[string]any{"firstName": "Ada", "lastName": "Lovelace", "cellPhone": "+441234567890", "tier_enum": "gold"}))
	if out[0].Status != change.StatusCreated {
		t.Fatalf("first write: %v %v", out[0].Status, out[0].Err)
	}
	out = e.upsert(up("c1", map[string]any{"title": "Countess", "score_integer": 90}))
	if out[0].Status != change.StatusUpdated {
		t.Fatalf("second write: %v %v", out[0].Status, out[0].Err)
	}
	c, ok := e.stored(ecemu.EntityContacts, "c1")
	if !ok {
		t.Fatal("no contact c1")
	}
	cf, _ := c["customFields"].(map[string]any)
	phone, _ := c["cellPhone"].(map[string]any)
	if c["firstName"] != "Ada" || c["title"] != "Countess" || phone["e164"] != "+441234567890" || cf["tier_enum"] != "gold" || cf["score_integer"] != float64(90) {
		t.Errorf("stored %v", c)
	}
	// The sync record is the entity as the API returned it.
	rec := out[0].Record()
	if rec["id"] != c["id"] || rec["title"] != "Countess" {
		t.Errorf("written record %v", rec)
	}
}

// createOnly maps to Insert and updateOnly to Update: an Insert of an
// existing contact and an Update of a missing one are rejected, each with
// the API's code.
func TestInsertExistingAndUpdateMissingAreRejected(t *testing.T) {
	e := newEnv(t, emulator.Config{}, externalcontacts.Config{Conflict: change.ConflictCreateOnly})
	if out := e.upsert(up("c1", map[string]any{"lastName": "A"})); out[0].Status != change.StatusCreated {
		t.Fatalf("insert: %v %v", out[0].Status, out[0].Err)
	}
	out := e.upsert(up("c1", map[string]any{"lastName": "B"}))
	if o := out[0]; o.Status != change.StatusRejected || o.Err.Class != change.ClassConflict || o.Err.Code != ecemu.CodeEnrichConflict || o.Err.Status != http.StatusConflict {
		t.Errorf("insert of an existing contact: %v %+v", o.Status, o.Err)
	}
	u := newEnv(t, emulator.Config{}, externalcontacts.Config{Conflict: change.ConflictUpdateOnly})
	out = u.upsert(up("missing", map[string]any{"lastName": "B"}))
	if o := out[0]; o.Status != change.StatusRejected || o.Err.Class != change.ClassConflict || o.Err.Code != ecemu.CodeEnrichNotFound || o.Err.Status != http.StatusNotFound {
		t.Errorf("update of a missing contact: %v %+v", o.Status, o.Err)
	}
	if _, ok := u.stored(ecemu.EntityContacts, "missing"); ok {
		t.Error("an update created a contact")
	}
}

// Results come in any order; each outcome is the one of its own record.
func TestResultsAreMatchedByTracker(t *testing.T) {
	e := newEnv(t, emulator.Config{}, externalcontacts.Config{})
	var recs []change.Record
	for i := 0; i < 10; i++ {
		recs = append(recs, up(fmt.Sprint("k", i), map[string]any{"lastName": fmt.Sprint("L", i)}))
	}
	for i, o := range e.upsert(recs...) {
		rec := o.Record()
		if o.Status != change.StatusCreated || rec["lastName"] != fmt.Sprint("L", i) {
			t.Errorf("outcome %d: %v, record %v", i, o.Status, rec)
		}
	}
}

// Operations the API fails as retryable are sent again, alone: a record
// that succeeded at once was carried by one request only.
func TestRetryableEntitiesAreRetriedAlone(t *testing.T) {
	e := newEnv(t, emulator.Config{ECRetryableShare: 0.4}, externalcontacts.Config{})
	var recs []change.Record
	for i := 0; i < 10; i++ {
		recs = append(recs, up(fmt.Sprint("k", i), map[string]any{"lastName": "L"}))
	}
	once, again := 0, 0
	for i, o := range e.upsert(recs...) {
		if o.Status != change.StatusCreated {
			t.Errorf("record %d: %v %v", i, o.Status, o.Err)
		}
		if o.Attempts == 1 {
			once++
		} else {
			again++
		}
	}
	if once == 0 || again == 0 {
		t.Errorf("%d records done at once and %d after a retry; want some of each", once, again)
	}
	if n := len(e.family().Contacts()); n != 10 {
		t.Errorf("%d contacts, want 10", n)
	}
}

// An operation the API refuses for good is rejected with its code, message
// and field details; the others of its request are written.
func TestEntityRejectionsCarryTheirDetails(t *testing.T) {
	e := newEnv(t, emulator.Config{}, externalcontacts.Config{})
	good, rerr := e.target.Prepare(up("good", map[string]any{"lastName": "G"}))
	if rerr != nil {
		t.Fatal(rerr)
	}
	// A body the client would never build: its e-mail is not one.
	bad := change.Item{Record: up("bad", nil), Body: []byte(`{"workEmail":"not-an-address","externalIds":[{"externalSource":{"id":"` +
		e.target.SourceID() + `"},"value":"bad"}]}`)}
	res, err := e.target.Upsert(context.Background(), []change.Item{good, bad})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcomes[0].Status != change.StatusCreated {
		t.Errorf("good record: %v %v", res.Outcomes[0].Status, res.Outcomes[0].Err)
	}
	o := res.Outcomes[1]
	if o.Status != change.StatusRejected || o.Err.Status != http.StatusBadRequest || o.Err.Class != change.ClassValidation ||
		len(o.Err.Fields) == 0 || o.Err.Fields[0].Field != "workEmail" || o.Err.Message == "" {
		t.Errorf("bad record: %v %+v", o.Status, o.Err)
	}
}

// Custom fields are validated against the data schema read from the API;
// when the schema gets a new version, a write the API refuses for the old
// version reads the schema again and goes through.
func TestCustomFieldsFollowTheDataSchema(t *testing.T) {
	e := newEnv(t, emulator.Config{}, externalcontacts.Config{})
	for data, field := range map[string]string{`{"score_integer":101}`: "score_integer", `{"tier_enum":"bronze"}`: "tier_enum", `{"vip_checkbox":true}`: "vip_checkbox"} {
		var m map[string]any
		_ = json.Unmarshal([]byte(data), &m)
		if _, rerr := e.target.Prepare(up("c", m)); rerr == nil || rerr.Fields[0].Field != field {
			t.Errorf("%s: %v", data, rerr)
		}
	}
	it, rerr := e.target.Prepare(up("c1", map[string]any{"lastName": "A", "score_integer": 5}))
	if rerr != nil {
		t.Fatal(rerr)
	}
	e.putSchema("crm", strings.Replace(contactSchema, `"tier_enum"`, `"vip_checkbox":{"allOf":[{"$ref":"#/definitions/checkbox"}],"title":"VIP"},"tier_enum"`, 1))
	res, err := e.target.Upsert(context.Background(), []change.Item{it})
	if err != nil {
		t.Fatal(err)
	}
	if o := res.Outcomes[0]; o.Status != change.StatusCreated {
		t.Fatalf("write prepared against the old version: %v %+v", o.Status, o.Err)
	}
	c, _ := e.stored(ecemu.EntityContacts, "c1")
	if s, _ := c["schema"].(map[string]any); s["version"] != float64(2) {
		t.Errorf("stored schema %v, want version 2", c["schema"])
	}
	if _, rerr := e.target.Prepare(up("c2", map[string]any{"vip_checkbox": true})); rerr != nil {
		t.Errorf("a field of the new version is refused: %v", rerr)
	}
}

// putSchema replaces the contacts' data schema name with a new version.
func (e *env) putSchema(name, doc string) {
	e.t.Helper()
	ds, ok, err := externalcontacts.FindDataSchema(context.Background(), e.client, externalcontacts.Contact, name)
	if err != nil || !ok {
		e.t.Fatalf("schema %s: %v %v", name, ok, err)
	}
	body, _ := json.Marshal(map[string]any{"name": name, "version": ds.Version, "jsonSchema": json.RawMessage(doc)})
	if _, err := e.client.Do(context.Background(), upsert.Call{Method: http.MethodPut,
		Path: "/api/v2/externalcontacts/contacts/schemas/" + ds.ID, Body: body}); err != nil {
		e.t.Fatal(err)
	}
}

// A delete finds the contact by its external id and removes it; one that
// does not exist counts as deleted.
func TestDeleteByExternalID(t *testing.T) {
	e := newEnv(t, emulator.Config{}, externalcontacts.Config{})
	e.upsert(up("c1", map[string]any{"lastName": "A"}), up("c2", map[string]any{"lastName": "B"}))
	for i, o := range e.upsert(del("c1"), del("never")) {
		if o.Status != change.StatusDeleted {
			t.Errorf("delete %d: %v %v", i, o.Status, o.Err)
		}
	}
	if _, ok := e.stored(ecemu.EntityContacts, "c1"); ok {
		t.Error("c1 is still there")
	}
	if _, ok := e.stored(ecemu.EntityContacts, "c2"); !ok {
		t.Error("c2 went too")
	}
}

// A contact names its organization by external id: resolved, the contact
// links to it; an organization that appears while the contact waits is
// found; one that never appears is a dangling reference.
func TestOrganizationReferences(t *testing.T) {
	e := newEnv(t, emulator.Config{}, externalcontacts.Config{OrganizationField: "accountId", ReferenceWait: 1500 * time.Millisecond})
	orgs, err := externalcontacts.New(context.Background(), e.client, externalcontacts.Config{Entity: externalcontacts.Organization, Source: "CRM"})
	if err != nil {
		t.Fatal(err)
	}
	write := func(tg *externalcontacts.Target, recs ...change.Record) []change.Outcome {
		var items []change.Item
		for _, r := range recs {
			it, rerr := tg.Prepare(r)
			if rerr != nil {
				t.Fatal(rerr)
			}
			items = append(items, it)
		}
		res, err := tg.Upsert(context.Background(), items)
		if err != nil {
			t.Fatal(err)
		}
		return res.Outcomes
	}
	if o := write(orgs, up("acme", map[string]any{"name": "Acme"})); o[0].Status != change.StatusCreated {
		t.Fatalf("organization: %v %v", o[0].Status, o[0].Err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { // the late organization, while the contact waits
		time.Sleep(300 * time.Millisecond)
		write(orgs, up("late", map[string]any{"name": "Late Ltd"}))
	})
	out := write(e.target, up("c1", map[string]any{"lastName": "A", "accountId": "acme"}),
		up("c2", map[string]any{"lastName": "B", "accountId": "late"}),
		up("c3", map[string]any{"lastName": "C", "accountId": "nobody"}),
		up("c4", map[string]any{"lastName": "D"}))
	wg.Wait()
	for i, want := range []string{"acme", "late"} {
		org, _ := e.stored(ecemu.EntityOrganizations, want)
		c, _ := e.stored(ecemu.EntityContacts, fmt.Sprint("c", i+1))
		link, _ := c["externalOrganization"].(map[string]any)
		if out[i].Status != change.StatusCreated || link == nil || link["id"] != org["id"] {
			t.Errorf("c%d: %v %v, linked to %v, want %v", i+1, out[i].Status, out[i].Err, link, org["id"])
		}
	}
	if o := out[2]; o.Status != change.StatusRejected || o.Err.Class != change.ClassReference || o.Err.Code != "reference.dangling" {
		t.Errorf("dangling reference: %v %+v", o.Status, o.Err)
	}
	if c, _ := e.stored(ecemu.EntityContacts, "c4"); out[3].Status != change.StatusCreated || c["externalOrganization"] != nil {
		t.Errorf("contact without an organization: %v, %v", out[3].Status, c)
	}
}

// Requests hold at most MaxEnrich operations; a request the API refuses as
// too large (400 over its operation limit, 413 over its body limit) is
// split, and a record alone over the body limit is rejected.
func TestBatchLimits(t *testing.T) {
	recs := func(n int) []change.Record {
		var out []change.Record
		for i := 0; i < n; i++ {
			out = append(out, up(fmt.Sprint("k", i), map[string]any{"lastName": "L"}))
		}
		return out
	}
	e := newEnv(t, emulator.Config{}, externalcontacts.Config{MaxEnrich: 4})
	e.upsert(recs(10)...)
	if n := e.srv.Stats().ByKind[ecemu.KindBulkContactsEnrich]; n != 3 {
		t.Errorf("%d enrich requests for 10 records of at most 4, want 3", n)
	}
	// The server takes fewer operations than the client sends: 400, split.
	s := newEnv(t, emulator.Config{ECMaxEnrich: 3}, externalcontacts.Config{})
	for i, o := range s.upsert(recs(10)...) {
		if o.Status != change.StatusCreated {
			t.Errorf("record %d over the server's operation limit: %v %v", i, o.Status, o.Err)
		}
	}
	if st := s.srv.Stats(); st.ByStatus[http.StatusBadRequest] == 0 {
		t.Errorf("no 400 for 10 operations over a limit of 3: %v", st.ByStatus)
	}
	// The server takes smaller bodies than the client sends: 413, split.
	b := newEnv(t, emulator.Config{MaxBodyBytes: 3000}, externalcontacts.Config{})
	long := strings.Repeat("x", 900)
	big := up("big", map[string]any{"firstName": long, "middleName": long, "lastName": long, "title": long})
	out := b.upsert(append(recs(10), big)...)
	for i, o := range out[:10] {
		if o.Status != change.StatusCreated {
			t.Errorf("record %d over the server's body limit: %v %v", i, o.Status, o.Err)
		}
	}
	if o := out[10]; o.Status != change.StatusRejected || o.Err.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("a record alone over the body limit: %v %+v", o.Status, o.Err)
	}
}
