package demo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"time"

	"github.com/gcupsert/gcupsert/config"
	"github.com/gcupsert/gcupsert/emulator"
	ecemu "github.com/gcupsert/gcupsert/emulator/externalcontacts"
	"github.com/gcupsert/gcupsert/internal/inspect"
)

// runCRM is Run for the externalcontacts target: the CRM's accounts and
// contacts, as Debezium writes them, on two topics, into organizations and
// contacts with custom fields and links.
func runCRM(ctx context.Context, opts Options, began time.Time) (Summary, error) {
	st, err := startStack(opts)
	if err != nil {
		return Summary{}, err
	}
	defer st.Close()
	ds := GenerateCRM(opts.Events, opts.Partitions, opts.InvalidRatio, opts.Seed)
	for topic, evs := range map[string][]Event{OrganizationsTopic: ds.Organizations, ContactsTopic: ds.Contacts} {
		msgs := make([]inspect.Message, len(evs))
		for i, ev := range evs {
			msgs[i] = inspect.Message{Partition: ev.Partition, Key: ev.Key, Value: ev.Value}
		}
		if err := inspect.Produce(ctx, st.brokers, topic, msgs); err != nil {
			return Summary{}, err
		}
	}
	dir, err := os.MkdirTemp("", "gcupsert-demo-")
	if err != nil {
		return Summary{}, err
	}
	defer os.RemoveAll(dir)
	cfg := st.baseConfig(opts)
	cfg.Routes = CRMRoutes()
	if err := cfg.Validate(); err != nil {
		return Summary{}, err
	}
	t := newTally()
	ends, committed, err := st.runWorkerOn(ctx, cfg, opts, t, OrganizationsTopic, ContactsTopic)
	if errors.Is(err, errNotDrained) {
		partial := t.summary()
		st.addAPIStats(&partial)
		return partial, err
	}
	if err != nil {
		return Summary{}, err
	}
	s := t.summary()
	s.Produced, s.InvalidByKind, s.Target = ds.Events(), ds.InvalidByKind, "externalcontacts"
	s.TopicEnd, s.TopicCommitted = ends, committed
	if err := st.countOutbound(ctx, &s); err != nil {
		return s, err
	}
	st.compareCRM(&s, ds)
	st.addAPIStats(&s)
	for _, n := range s.APIStatus {
		s.APIRequests += n
	}
	if err := st.runMirror(ctx, cfg, dir, opts.Logger, &s, st.crmChecks); err != nil {
		return s, err
	}
	s.Elapsed = time.Since(began)
	if opts.Inspect != nil {
		if err := opts.Inspect(ctx, st.brokers); err != nil {
			return s, err
		}
	}
	return s, nil
}

// CRMRoutes are the routes of the CRM's two topics: Debezium change
// events whose columns are renamed to the entities' fields and custom
// fields, the contacts naming their account as their organization.
func CRMRoutes() []config.Route {
	return []config.Route{{
		Topic: OrganizationsTopic, Target: "externalcontacts", Entity: "organization", ExternalSource: CRMSource,
		Schema: OrganizationSchema, ConflictResolution: "upsert", Format: "debezium",
		Mapping: config.Mapping{Drop: []string{"id", "updated_at"},
			Rename: map[string]string{"employees": "employeeCount", "tier": "tier_enum", "since": "since_date"}},
	}, {
		Topic: ContactsTopic, Target: "externalcontacts", Entity: "contact", ExternalSource: CRMSource,
		Schema: ContactSchema, OrganizationField: "accountId", ConflictResolution: "upsert", Format: "debezium",
		Mapping: config.Mapping{Drop: []string{"id", "updated_at"}, Rename: map[string]string{
			"first_name": "firstName", "last_name": "lastName", "email": "workEmail", "phone": "cellPhone",
			"city": "address.city", "account_id": "accountId", "score": "score_integer", "vip": "vip_checkbox", "segment": "segment_text"}},
		ExternalContacts: config.ExternalContacts{ReferenceWait: config.Duration(5 * time.Second)},
	}}
}

// crmEmulator is the emulator's configuration for the CRM demo: the
// external source and the two data schemas exist, and a share of the
// enrich operations fails as retryable (as many as the requests that fail
// with a 5xx).
func crmEmulator(c *emulator.Config, faults float64) {
	c.ECRetryableShare = max(faults, 0)
	c.ECSources = []string{CRMSource}
	c.ECSchemas = []emulator.ECSchema{
		{Entity: ecemu.EntityOrganizations, Name: OrganizationSchema, JSONSchema: []byte(OrganizationDataSchema)},
		{Entity: ecemu.EntityContacts, Name: ContactSchema, JSONSchema: []byte(ContactDataSchema)},
	}
	c.DisableRateLimit = true
}

// compareCRM checks the emulator's organizations and contacts against the
// expected ones (CheckCRM).
func (st *stack) compareCRM(s *Summary, ds CRMDataset) {
	fam := st.emu.ExternalContacts()
	src, _ := fam.SourceID(CRMSource)
	r := CheckCRM(ds, fam.Organizations(), fam.Contacts(), src)
	s.EmulatorRecords, s.ExpectedKeys = r.Entities, r.Expected
	s.MissingKeys, s.UnexpectedKeys, s.Mismatches = r.Missing, r.Unexpected, r.Mismatches
}

// CRMCheck is how the External Contacts entities compare with a CRM
// stream's expected state.
type CRMCheck struct {
	Entities, Expected              int // entities of the source, and expected
	Missing, Unexpected, Mismatches []string
}

// CheckCRM compares organizations and contacts (by id, as the API shows
// them) with what ds expects of source: the external ids, every expected
// field, and each contact's organization.
func CheckCRM(ds CRMDataset, organizations, contacts map[string]map[string]any, source string) CRMCheck {
	orgs, cons := byExternalID(organizations, source), byExternalID(contacts, source)
	r := CRMCheck{Entities: len(orgs) + len(cons), Expected: len(ds.ExpectedOrganizations) + len(ds.ExpectedContacts)}
	for key, want := range ds.ExpectedOrganizations {
		got, ok := orgs[key]
		if !ok {
			r.Missing = append(r.Missing, "organization "+key)
			continue
		}
		r.Mismatches = append(r.Mismatches, mismatches("organization "+key, got, want)...)
	}
	for key, want := range ds.ExpectedContacts {
		got, ok := cons[key]
		if !ok {
			r.Missing = append(r.Missing, "contact "+key)
			continue
		}
		r.Mismatches = append(r.Mismatches, mismatches("contact "+key, got, want.Fields)...)
		link, _ := got["externalOrganization"].(map[string]any)
		wantID := ""
		if want.Org != "" {
			wantID, _ = orgs[want.Org]["id"].(string)
		}
		if gotID, _ := link["id"].(string); gotID != wantID {
			r.Mismatches = append(r.Mismatches, fmt.Sprintf("contact %s: organization %q, want %q (%s)", key, gotID, wantID, want.Org))
		}
	}
	for key := range orgs {
		if _, ok := ds.ExpectedOrganizations[key]; !ok {
			r.Unexpected = append(r.Unexpected, "organization "+key)
		}
	}
	for key := range cons {
		if _, ok := ds.ExpectedContacts[key]; !ok {
			r.Unexpected = append(r.Unexpected, "contact "+key)
		}
	}
	sort.Strings(r.Missing)
	sort.Strings(r.Unexpected)
	sort.Strings(r.Mismatches)
	return r
}

// mismatches lists the fields of want (dotted paths reach into objects)
// that got does not hold.
func mismatches(what string, got, want map[string]any) []string {
	var out []string
	for path, w := range flatten(want, "") {
		g := lookup(got, path)
		if f, ok := g.(float64); ok { // the API's numbers
			if n, ok := w.(int); ok && f == float64(n) {
				continue
			}
		}
		if !reflect.DeepEqual(g, w) {
			out = append(out, fmt.Sprintf("%s: %s is %v, want %v", what, path, g, w))
		}
	}
	return out
}

// flatten maps nested objects to dotted paths; a key that holds a dot
// already ("cellPhone.e164") is a path.
func flatten(m map[string]any, prefix string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			for p, x := range flatten(sub, prefix+k+".") {
				out[p] = x
			}
			continue
		}
		out[prefix+k] = v
	}
	return out
}

func lookup(m map[string]any, path string) any {
	var cur any = m
	for _, part := range splitPath(path) {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = obj[part]
	}
	return cur
}

func splitPath(p string) []string {
	var out []string
	start := 0
	for i := 0; i < len(p); i++ {
		if p[i] == '.' {
			out = append(out, p[start:i])
			start = i + 1
		}
	}
	return append(out, p[start:])
}

// byExternalID keys entities (by id) by their external id in source src.
func byExternalID(entities map[string]map[string]any, src string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, e := range entities {
		ids, _ := e["externalIds"].([]any)
		for _, x := range ids {
			ext, _ := x.(map[string]any)
			s, _ := ext["externalSource"].(map[string]any)
			if v, ok := ext["value"].(string); ok && s["id"] == src {
				out[v] = e
			}
		}
	}
	return out
}

// crmChecks are the mirror's two tables against the emulator. A contact
// shows its organization in full, as it is now, while its sync event
// holds it as it was: both sides keep only its id.
func (st *stack) crmChecks() []mirrorCheck {
	fam := st.emu.ExternalContacts()
	src, _ := fam.SourceID(CRMSource)
	orgOnlyID := func(m map[string]any) map[string]any {
		if org, ok := m["externalOrganization"].(map[string]any); ok {
			m["externalOrganization"] = map[string]any{"id": org["id"]}
		}
		return m
	}
	return []mirrorCheck{
		{target: "externalcontacts", schema: "organization/" + OrganizationSchema, records: byExternalID(fam.Organizations(), src)},
		{target: "externalcontacts", schema: "contact/" + ContactSchema, records: byExternalID(fam.Contacts(), src), project: orgOnlyID},
	}
}
