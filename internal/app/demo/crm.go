package demo

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
)

// The External Contacts demo: a CRM database's accounts and contacts
// tables, streamed by Debezium into two topics.
const (
	OrganizationsTopic = "crm.public.accounts"
	ContactsTopic      = "crm.public.contacts"
	// CRMSource is the external source whose external ids carry the CRM's
	// primary keys.
	CRMSource = "Demo CRM"
	// OrganizationSchema and ContactSchema name the data schemas of the
	// custom fields.
	OrganizationSchema = "crmAccount"
	ContactSchema      = "crmContact"
)

// OrganizationDataSchema and ContactDataSchema are the data schemas' JSON
// Schemas, in the API's form: each property references its core type and
// is named with it.
const (
	OrganizationDataSchema = `{"$schema":"http://json-schema.org/draft-04/schema#","title":"crmAccount","properties":{
 "tier_enum":{"allOf":[{"$ref":"#/definitions/enum"}],"title":"Tier","enum":["gold","silver","bronze"]},
 "since_date":{"allOf":[{"$ref":"#/definitions/date"}],"title":"Customer since"}}}`
	ContactDataSchema = `{"$schema":"http://json-schema.org/draft-04/schema#","title":"crmContact","properties":{
 "score_integer":{"allOf":[{"$ref":"#/definitions/integer"}],"title":"Score","minimum":0,"maximum":100},
 "vip_checkbox":{"allOf":[{"$ref":"#/definitions/checkbox"}],"title":"VIP"},
 "segment_text":{"allOf":[{"$ref":"#/definitions/text"}],"title":"Segment","maxLength":50}}}`
)

// Invalid kinds of the CRM stream, beside BadJSON, MissingKey, BadEnum and
// DanglingRef.
const (
	BadPhone      = "phone not E.164"
	BadEmail      = "bad e-mail address"
	UnknownColumn = "unmapped column"
)

// CRMKinds are the invalid kinds the CRM stream draws from.
var CRMKinds = []string{BadJSON, MissingKey, BadEnum, DanglingRef, BadPhone, BadEmail, UnknownColumn}

// CRMContact is what the External Contacts API must hold for a contact:
// its standard and custom fields as the CRM last set them, and the key of
// its organization ("" for none).
type CRMContact struct {
	Fields map[string]any
	Org    string
}

// CRMDataset is a generated CRM stream and what it must leave in Genesys.
type CRMDataset struct {
	Organizations, Contacts []Event
	// ExpectedOrganizations holds each organization's fields by key;
	// ExpectedContacts each contact by key.
	ExpectedOrganizations map[string]map[string]any
	ExpectedContacts      map[string]CRMContact
	InvalidByKind         map[string]int
	Deletes               int
}

// Events counts every event of both topics.
func (d CRMDataset) Events() int { return len(d.Organizations) + len(d.Contacts) }

// crmGen is the state of a CRM stream being generated.
type crmGen struct {
	rng        *rand.Rand
	partitions int
	ds         CRMDataset
	orgs       []string // keys of the organizations that exist
	orgExists  map[string]bool
	referenced map[string]bool // organizations a contact named: never deleted
	// retired are deleted organizations, never created again: a contact
	// read ahead of the accounts topic could link to the old one.
	retired map[string]bool
	hasOrg  map[string]bool // contacts that belong to an organization
}

// GenerateCRM makes about n events (a fifth of them on accounts, the rest
// on contacts) over n/20 organizations and n/3 contacts, with about
// invalidRatio invalid events and a few deletes, each followed by its
// tombstone. The stream is the same for the same seed.
func GenerateCRM(n, partitions int, invalidRatio float64, seed uint64) CRMDataset {
	g := &crmGen{
		rng: rand.New(rand.NewPCG(seed, seed^0x51ed2701)), partitions: partitions,
		ds: CRMDataset{ExpectedOrganizations: map[string]map[string]any{}, ExpectedContacts: map[string]CRMContact{},
			InvalidByKind: map[string]int{}},
		orgExists: map[string]bool{}, referenced: map[string]bool{}, hasOrg: map[string]bool{}, retired: map[string]bool{},
	}
	orgKeys, contactKeys := max(n/20, 5), max(n/3, 10)
	for i := 0; i < n; i++ {
		if g.rng.Float64() < 0.2 || len(g.orgs) == 0 {
			g.organizationEvent(fmt.Sprintf("acct-%05d", g.rng.IntN(orgKeys)), invalidRatio)
		} else {
			g.contactEvent(fmt.Sprintf("cont-%06d", g.rng.IntN(contactKeys)), invalidRatio)
		}
	}
	return g.ds
}

func (g *crmGen) organizationEvent(key string, invalidRatio float64) {
	for g.retired[key] {
		if len(g.orgs) > 0 {
			key = g.orgs[g.rng.IntN(len(g.orgs))]
		} else {
			key += "r" // a new key
		}
	}
	tiers := []string{"gold", "silver", "bronze"}
	k := len(key)
	row := map[string]any{
		"id": key, "name": "Account " + key[k-5:], "industry": []string{"retail", "banking", "energy"}[g.rng.IntN(3)],
		"employees": g.rng.IntN(20000), "tier": tiers[g.rng.IntN(3)],
		"since":      fmt.Sprintf("20%02d-%02d-%02d", 10+g.rng.IntN(16), 1+g.rng.IntN(12), 1+g.rng.IntN(28)),
		"updated_at": 1764230400000 + g.rng.Int64N(1e9),
	}
	if g.rng.Float64() < invalidRatio {
		kind := []string{BadJSON, MissingKey, BadEnum, UnknownColumn}[g.rng.IntN(4)]
		g.ds.Organizations = append(g.ds.Organizations, g.invalid(kind, key, row, "tier"))
		return
	}
	if g.orgExists[key] && !g.referenced[key] && g.rng.Float64() < 0.05 {
		g.ds.Organizations = append(g.ds.Organizations, g.deleteEvents(key, row)...)
		g.orgExists[key] = false
		g.retired[key] = true
		g.orgs = removeKey(g.orgs, key)
		delete(g.ds.ExpectedOrganizations, key)
		return
	}
	g.ds.Organizations = append(g.ds.Organizations, g.change(key, row, g.orgExists[key]))
	if !g.orgExists[key] {
		g.orgExists[key] = true
		g.orgs = append(g.orgs, key)
	}
	g.ds.ExpectedOrganizations[key] = map[string]any{"name": row["name"], "industry": row["industry"],
		"employeeCount": row["employees"], "customFields": map[string]any{"tier_enum": row["tier"], "since_date": row["since"]}}
}

func (g *crmGen) contactEvent(key string, invalidRatio float64) {
	prev, exists := g.ds.ExpectedContacts[key]
	if !exists {
		g.hasOrg[key] = g.rng.Float64() < 0.9
	}
	n := g.rng.IntN(1_000_000)
	row := map[string]any{
		"id": key, "first_name": fmt.Sprintf("First%d", n%997), "last_name": fmt.Sprintf("Last%d", n%991),
		"email": fmt.Sprintf("%s@example.com", key), "phone": fmt.Sprintf("+4420%08d", n%100_000_000),
		"city": []string{"London", "Leeds", "Bristol", "York"}[g.rng.IntN(4)], "account_id": nil,
		"score": g.rng.IntN(101), "vip": g.rng.IntN(4) == 0, "segment": []string{"smb", "enterprise", "public"}[g.rng.IntN(3)],
		"updated_at": 1764230400000 + g.rng.Int64N(1e9),
	}
	org := ""
	if g.hasOrg[key] {
		org = g.orgs[g.rng.IntN(len(g.orgs))]
		row["account_id"] = org
	}
	if g.rng.Float64() < invalidRatio {
		kind := CRMKinds[g.rng.IntN(len(CRMKinds))]
		if kind == BadEnum {
			kind = BadPhone
		}
		g.ds.Contacts = append(g.ds.Contacts, g.invalid(kind, key, row, ""))
		return
	}
	if exists && g.rng.Float64() < 0.02 {
		g.ds.Contacts = append(g.ds.Contacts, g.deleteEvents(key, row)...)
		delete(g.ds.ExpectedContacts, key)
		return
	}
	g.ds.Contacts = append(g.ds.Contacts, g.change(key, row, exists))
	if org == "" {
		org = prev.Org // a null account_id leaves the link as it was
	} else {
		g.referenced[org] = true
	}
	g.ds.ExpectedContacts[key] = CRMContact{Org: org, Fields: map[string]any{
		"firstName": row["first_name"], "lastName": row["last_name"], "workEmail": row["email"],
		"cellPhone.e164": row["phone"], "address.city": row["city"],
		"customFields": map[string]any{"score_integer": row["score"], "vip_checkbox": row["vip"], "segment_text": row["segment"]},
	}}
}

// change is the Debezium event of an insert ("c") or update ("u") of row.
func (g *crmGen) change(key string, row map[string]any, exists bool) Event {
	op := "c"
	if exists {
		op = "u"
	}
	return g.debezium(key, op, nil, row)
}

// deleteEvents are a delete ("d", the row in before) and its tombstone.
func (g *crmGen) deleteEvents(key string, row map[string]any) []Event {
	g.ds.Deletes++
	tomb := Event{Partition: PartitionOf(key, g.partitions), Key: crmKey(key)}
	return []Event{g.debezium(key, "d", row, nil), tomb}
}

func (g *crmGen) debezium(key, op string, before, after map[string]any) Event {
	v, _ := json.Marshal(map[string]any{"before": before, "after": after, "op": op, "ts_ms": 1764230400000,
		"source": map[string]any{"connector": "postgresql", "db": "crm", "schema": "public"}})
	return Event{Partition: PartitionOf(key, g.partitions), Key: crmKey(key), Value: v}
}

// invalid is an event of kind that the pipeline must dead-letter; enumCol
// names the column a BadEnum breaks.
func (g *crmGen) invalid(kind, key string, row map[string]any, enumCol string) Event {
	g.ds.InvalidByKind[kind]++
	switch kind {
	case MissingKey:
		delete(row, "id")
	case BadEnum:
		row[enumCol] = "platinum"
	case DanglingRef:
		row["account_id"] = fmt.Sprintf("acct-missing-%d", g.rng.IntN(1000))
	case BadPhone:
		row["phone"] = "020 7946 0" + fmt.Sprint(g.rng.IntN(1000))
	case BadEmail:
		row["email"] = "no-at-sign.example.com"
	case UnknownColumn:
		row["fax"] = "+442079460000"
	}
	ev := g.debezium(key, "u", nil, row)
	ev.Invalid = kind
	switch kind {
	case BadJSON:
		ev.Value = ev.Value[:len(ev.Value)/2]
	case MissingKey:
		ev.Key = nil
	}
	return ev
}

// crmKey is the Kafka key Debezium writes: the primary key as a struct.
func crmKey(key string) []byte {
	b, _ := json.Marshal(map[string]string{"id": key})
	return b
}

func removeKey(keys []string, key string) []string {
	for i, k := range keys {
		if k == key {
			return append(keys[:i], keys[i+1:]...)
		}
	}
	return keys
}
