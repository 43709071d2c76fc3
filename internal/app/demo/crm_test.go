package demo

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestGenerateCRM(t *testing.T) {
	a := GenerateCRM(4000, 3, 0.03, 7)
	b := GenerateCRM(4000, 3, 0.03, 7)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed gave two streams")
	}
	if a.Events() < 4000 || len(a.Organizations) == 0 || len(a.Contacts) == 0 || a.Deletes == 0 {
		t.Fatalf("events %d (orgs %d, contacts %d), deletes %d", a.Events(), len(a.Organizations), len(a.Contacts), a.Deletes)
	}
	for _, k := range CRMKinds {
		if a.InvalidByKind[k] == 0 {
			t.Errorf("no %q event", k)
		}
	}
	linked := 0
	for key, c := range a.ExpectedContacts {
		if c.Org == "" {
			continue
		}
		linked++
		if _, ok := a.ExpectedOrganizations[c.Org]; !ok {
			t.Errorf("contact %s belongs to %s, which does not exist at the end", key, c.Org)
		}
	}
	if linked == 0 || linked == len(a.ExpectedContacts) {
		t.Errorf("%d of %d contacts have an organization", linked, len(a.ExpectedContacts))
	}
	// Every valid event is a Debezium change of a row keyed {"id":...}.
	for _, ev := range append(a.Organizations, a.Contacts...) {
		if ev.Invalid != "" || ev.Value == nil {
			continue
		}
		var m struct {
			Op string `json:"op"`
		}
		var k map[string]string
		if json.Unmarshal(ev.Value, &m) != nil || json.Unmarshal(ev.Key, &k) != nil || k["id"] == "" || (m.Op != "c" && m.Op != "u" && m.Op != "d") {
			t.Fatalf("event %s %s", ev.Key, ev.Value)
		}
	}
}
