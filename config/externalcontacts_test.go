package config

import (
	"strings"
	"testing"
)

const ecRoute = `
worker_id: w1
kafka:
  brokers: [localhost:9092]
genesys:
  base_url: http://127.0.0.1:8080
  client_id: demo
routes:
  - topic: crm.contacts
    target: externalcontacts
    entity: contact
    external_source: CRM
    schema: crmContact
    organization_field: accountId
    conflict_resolution: upsert
    externalcontacts:
      field_rule: PreferProvided
      max_enrich: 10
`

func TestExternalContactsRoutes(t *testing.T) {
	if msg := loadErr(t, ecRoute); msg != "" {
		t.Fatalf("a good route is refused: %s", msg)
	}
	for _, tc := range []struct{ from, to, want string }{
		{"entity: contact", "entity: person", `routes[0].entity: "person" is not contact or organization`},
		{"external_source: CRM", "external_source: ''", "routes[0].external_source: must name the external source"},
		{"entity: contact", "entity: organization", "routes[0].organization_field: applies to contacts only"},
		{"max_enrich: 10", "max_enrich: 11", "routes[0].externalcontacts.max_enrich: 11 is not between 1 and 10"},
		{"field_rule: PreferProvided", "field_rule: Merge", `routes[0].externalcontacts.field_rule: "Merge" is not`},
		{"schema: crmContact", "schema_file: x.json", "schema_file, table, references, reference_fields and unique_fields do not apply"},
		{"target: externalcontacts", "target: datatables\n    table: T", "entity, external_source, create_source, organization_field and externalcontacts apply to the externalcontacts target only"},
	} {
		body := strings.Replace(ecRoute, tc.from, tc.to, 1)
		if msg := loadErr(t, body); !strings.Contains(msg, tc.want) {
			t.Errorf("%s -> %s: error %q, want %q", tc.from, tc.to, msg, tc.want)
		}
	}
}
