//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/gcupsert/gcupsert/config"
	"github.com/gcupsert/gcupsert/internal/app/demo"
	appmirror "github.com/gcupsert/gcupsert/internal/app/mirror"
	"github.com/gcupsert/gcupsert/internal/inspect"
	"github.com/gcupsert/gcupsert/mirror/sqldb"
	"github.com/gcupsert/gcupsert/test/integration"
	"github.com/gcupsert/gcupsert/upsert"
)

// 9. External Contacts: a CRM's accounts and contacts, as Debezium writes
// them, on two topics into organizations and contacts (custom fields and
// links included), with a share of the enrich operations failing as
// retryable; the worker is killed with SIGKILL mid-stream and restarted.
// At the end the emulator holds exactly the CRM's expected state.
func TestExternalContactsKilledWorker(t *testing.T) {
	s := newECScenario(t, "9 External Contacts SIGKILL", 3, tuning{MaxRecords: 20})
	s.base.emu.faults(t, map[string]any{"latency": "10ms"})
	s.setRetryableShare(0.02)
	s.createDataSchemas()
	s.produce(demo.GenerateCRM(8_000, 3, 0.03, 9))
	w := s.base.startWorker("ec-0")
	s.base.startMirror("0")
	s.waitProgress(0.4, 2*time.Minute)
	w.kill()
	at := s.committed()
	w = s.base.startWorker("ec-1")
	rec := s.waitAdvance(at, time.Minute)
	s.waitDone(w, 3*time.Minute)
	s.base.stop(w)
	s.finish(s.base.readOutbound(), ms(rec), "recovery: the restart until every partition of both topics commits again")
}

// ecScenario is a scenario of the externalcontacts target: the CRM's two
// input topics beside the scenario's outbound topics, emulator and mirror.
type ecScenario struct {
	base   *scenario
	inputs []*ecInput // organizations, then contacts
	crm    demo.CRMDataset
}

// ecInput is one input topic, its route's entity and data schema, and
// what was produced to it.
type ecInput struct {
	topic, entity, dataSchema string
	events                    []demo.Event
	offsets                   map[int][]int // partition -> offset -> index in events
}

// syncSchema is the schema the sync events of the topic name.
func (in *ecInput) syncSchema() string { return in.entity + "/" + in.dataSchema }

// newECScenario opens a scenario whose input topic carries the
// organizations and creates a second one, of as many partitions, for the
// contacts; the emulator has the CRM's external source and the worker the
// routes of demo.CRMRoutes on these topics.
func newECScenario(t *testing.T, name string, partitions int, tune tuning) *ecScenario {
	t.Helper()
	base := openScenario(t, name, partitions)
	contacts := strings.TrimSuffix(base.topics.Input, ".in") + ".contacts"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := inspect.CreateTopics(ctx, suite.brokers, map[string]int{contacts: partitions}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := integration.DeleteTopics(ctx, suite.brokers, contacts); err != nil {
			t.Logf("deleting topics: %v", err)
		}
	})
	base.emu = startEmulatorEnv(t, "GCUPSERT_EMULATOR_EC_SOURCES="+demo.CRMSource)
	s := &ecScenario{base: base, inputs: []*ecInput{
		{topic: base.topics.Input, entity: "organization", dataSchema: demo.OrganizationSchema},
		{topic: contacts, entity: "contact", dataSchema: demo.ContactSchema},
	}}
	base.writeConfig(tune, s.routesYAML())
	return s
}

// routesYAML is demo.CRMRoutes on the scenario's topics, as YAML: the
// routes marshalled without their empty keys, and checked to parse back
// into the same routes.
func (s *ecScenario) routesYAML() string {
	t := s.base.t
	t.Helper()
	routes := demo.CRMRoutes()
	demoTopics := []string{demo.OrganizationsTopic, demo.ContactsTopic}
	if len(routes) != len(s.inputs) {
		t.Fatalf("demo.CRMRoutes has %d routes, want %d", len(routes), len(s.inputs))
	}
	for i, in := range s.inputs {
		if routes[i].Topic != demoTopics[i] || routes[i].Entity != in.entity || routes[i].Schema != in.dataSchema {
			t.Fatalf("demo.CRMRoutes()[%d] is %s %s %s, want %s %s %s", i, routes[i].Topic, routes[i].Entity, routes[i].Schema,
				demoTopics[i], in.entity, in.dataSchema)
		}
		routes[i].Topic = in.topic
	}
	raw, err := yaml.Marshal(routes)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if raw, err = yaml.Marshal(withoutEmpty(doc)); err != nil {
		t.Fatal(err)
	}
	var back config.Config
	if err := config.Parse(append([]byte("routes:\n"), raw...), &back); err != nil {
		t.Fatalf("the routes' YAML does not parse: %v\n%s", err, raw)
	}
	if !reflect.DeepEqual(back.Routes, routes) {
		t.Fatalf("the routes' YAML parses into\n%+v\nwant\n%+v", back.Routes, routes)
	}
	lines := strings.SplitAfter(strings.TrimSuffix(string(raw), "\n"), "\n")
	return "  " + strings.Join(lines, "  ") + "\n"
}

// withoutEmpty drops the empty values of a decoded YAML document: "",
// zero numbers and durations, false, null and empty lists and maps.
func withoutEmpty(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			if e = withoutEmpty(e); e != nil {
				out[k] = e
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case []any:
		var out []any
		for _, e := range x {
			if e = withoutEmpty(e); e != nil {
				out = append(out, e)
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case string, int, float64, bool:
		if x == "" || x == "0s" || x == 0 || x == 0.0 || x == false {
			return nil
		}
	}
	return v
}

// setRetryableShare makes share of the valid enrich operations fail with
// a retryable 503.
func (s *ecScenario) setRetryableShare(share float64) {
	t := s.base.t
	t.Helper()
	var cfg struct {
		RetryableShare float64 `json:"retryableShare"`
	}
	if err := s.base.emu.admin(http.MethodPut, "/emulator/externalcontacts/config", map[string]any{"retryableShare": share}, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.RetryableShare != share {
		t.Fatalf("the emulator's retryable share is %v, want %v", cfg.RetryableShare, share)
	}
}

// createDataSchemas creates the organizations' and the contacts' data
// schemas through the API, as an administrator would before the worker
// starts.
func (s *ecScenario) createDataSchemas() {
	t := s.base.t
	t.Helper()
	cl, err := upsert.NewClient(upsert.ClientConfig{BaseURL: s.base.emu.url, ClientID: clientID, ClientSecret: secret, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, d := range []struct{ entities, name, jsonSchema string }{
		{"organizations", demo.OrganizationSchema, demo.OrganizationDataSchema},
		{"contacts", demo.ContactSchema, demo.ContactDataSchema},
	} {
		body, err := json.Marshal(map[string]any{"name": d.name, "jsonSchema": json.RawMessage(d.jsonSchema)})
		if err != nil {
			t.Fatal(err)
		}
		res, err := cl.Do(ctx, upsert.Call{Method: http.MethodPost, Path: "/api/v2/externalcontacts/" + d.entities + "/schemas", Body: body})
		if err != nil {
			t.Fatalf("creating the %s data schema %s: %v", d.entities, d.name, err)
		}
		var got struct {
			Name    string `json:"name"`
			Version int    `json:"version"`
			Enabled bool   `json:"enabled"`
		}
		if err := json.Unmarshal(res.Body, &got); err != nil || got.Name != d.name || got.Version != 1 || !got.Enabled {
			t.Fatalf("creating the %s data schema %s: answered %d %s (%v)", d.entities, d.name, res.Status, res.Body, err)
		}
	}
}

// produce writes the CRM stream, each event to its topic and partition,
// and maps offsets to events by reading the topics back.
func (s *ecScenario) produce(ds demo.CRMDataset) {
	t := s.base.t
	t.Helper()
	s.crm = ds
	s.inputs[0].events, s.inputs[1].events = ds.Organizations, ds.Contacts
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, in := range s.inputs {
		msgs := make([]inspect.Message, len(in.events))
		for i, ev := range in.events {
			msgs[i] = inspect.Message{Partition: ev.Partition, Key: ev.Key, Value: ev.Value}
		}
		if err := inspect.Produce(ctx, suite.brokers, in.topic, msgs); err != nil {
			t.Fatal(err)
		}
		in.offsets = s.base.readBack(in.topic, len(in.events), func(i int) (int, []byte, []byte) {
			ev := in.events[i]
			return ev.Partition, ev.Key, ev.Value
		})
	}
}

// end is the end offset of every partition of both topics.
func (s *ecScenario) end() map[topicPartition]int64 {
	end := map[topicPartition]int64{}
	for _, in := range s.inputs {
		for p, idx := range in.offsets {
			end[topicPartition{in.topic, p}] = int64(len(idx))
		}
	}
	return end
}

// committed returns the group's committed offsets on both topics, or nil
// when the broker cannot answer.
func (s *ecScenario) committed() map[topicPartition]int64 {
	out := map[topicPartition]int64{}
	for _, in := range s.inputs {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := inspect.Committed(ctx, suite.brokers, s.base.group, in.topic)
		cancel()
		if err != nil {
			return nil
		}
		for p, o := range c {
			out[topicPartition{in.topic, p}] = o
		}
	}
	return out
}

func (s *ecScenario) waitProgress(frac float64, within time.Duration) map[topicPartition]int64 {
	s.base.t.Helper()
	return awaitProgress(s.base.t, s.committed, s.end(), frac, within)
}

func (s *ecScenario) waitAdvance(from map[topicPartition]int64, within time.Duration) time.Duration {
	s.base.t.Helper()
	return awaitAdvance(s.base.t, s.committed, s.end(), from, within)
}

// waitDone waits until the group has committed every event of both
// topics, and fails as soon as the worker w exits.
func (s *ecScenario) waitDone(w *proc, within time.Duration) {
	t := s.base.t
	t.Helper()
	deadline := time.Now().Add(within)
	end := s.end()
	for {
		c := s.committed()
		if done, total := progress(c, end); done == total {
			return
		}
		if !w.running() {
			t.Fatalf("%s exited before the group committed every event (committed %v):\n%s", w.name, c, tail(w.logPath, 30))
		}
		if time.Now().After(deadline) {
			t.Fatalf("committed %v after %s, want %v", c, within, end)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// input returns the input topic, partition, offset and event an event id
// names; ok is false when it names none that was produced.
func (s *ecScenario) input(id string) (in *ecInput, p int, o int64, ev demo.Event, ok bool) {
	topic, p, o, ok := splitEventID(id)
	for _, in := range s.inputs {
		if ok && in.topic == topic && o < int64(len(in.offsets[p])) {
			return in, p, o, in.events[in.offsets[p][o]], true
		}
	}
	return nil, 0, 0, demo.Event{}, false
}

// crmKey is the record key of a CRM event: the id in its Kafka key.
func crmKey(ev demo.Event) string {
	var k struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(ev.Key, &k)
	return k.ID
}

// isDelete reports whether a valid CRM event deletes its record: a
// Debezium delete or a tombstone.
func isDelete(ev demo.Event) bool {
	var v struct {
		Op string `json:"op"`
	}
	return ev.Value == nil || (json.Unmarshal(ev.Value, &v) == nil && v.Op == "d")
}

// tallyOutbound checks each outbound event against the input event it
// names; src is the id of the CRM's external source. It also returns the
// keys, by input topic, of which a sync event was delivered twice.
func (s *ecScenario) tallyOutbound(out outbound, src string) (*tally, map[string]map[string]bool) {
	tl := newTally()
	redelivered := map[string]map[string]bool{}
	for _, m := range out.Sync {
		var ev struct {
			Version   int            `json:"version"`
			EventID   string         `json:"eventId"`
			BatchID   string         `json:"batchId"`
			Key       string         `json:"key"`
			Operation string         `json:"operation"`
			Record    map[string]any `json:"record"`
			Target    string         `json:"target"`
			Schema    string         `json:"schema"`
			Source    struct {
				Topic     string `json:"topic"`
				Partition int    `json:"partition"`
				Offset    int64  `json:"offset"`
			} `json:"source"`
		}
		if err := json.Unmarshal(m.Value, &ev); err != nil {
			tl.problem("sync event is not JSON: %v", err)
			continue
		}
		in, p, o, inEv, ok := s.input(ev.EventID)
		if !ok || ev.Source.Topic != in.topic || ev.Source.Partition != p || ev.Source.Offset != o || ev.Version != 1 {
			tl.problem("sync event %q: bad id, version or source %+v", ev.EventID, ev.Source)
			continue
		}
		key := crmKey(inEv)
		switch {
		case ev.Target != "externalcontacts" || ev.Schema != in.syncSchema():
			tl.problem("sync event %s: target %q schema %q, want externalcontacts %s", ev.EventID, ev.Target, ev.Schema, in.syncSchema())
		case string(m.Key) != key || ev.Key != key:
			tl.problem("sync event %s: key %q, want %q", ev.EventID, ev.Key, key)
		case isDelete(inEv) != (ev.Operation == "deleted"):
			tl.problem("sync event %s: operation %q for delete=%v", ev.EventID, ev.Operation, isDelete(inEv))
		case !isDelete(inEv) && !slices.Contains(externalIDs(ev.Record, src), key):
			tl.problem("sync event %s: the record's external ids %v lack %s", ev.EventID, externalIDs(ev.Record, src), key)
		}
		tl.sync[ev.EventID]++
		tl.syncBatch[ev.EventID] = append(tl.syncBatch[ev.EventID], ev.BatchID)
		if tl.sync[ev.EventID] > 1 {
			if redelivered[in.topic] == nil {
				redelivered[in.topic] = map[string]bool{}
			}
			redelivered[in.topic][key] = true
		}
	}
	tl.countDead(out.Dead, func(id string) (eventSource, bool) {
		in, p, o, ev, ok := s.input(id)
		if !ok {
			return eventSource{}, false
		}
		return eventSource{topic: in.topic, partition: p, offset: o, key: ev.Key, value: ev.Value}, true
	})
	tl.countAudit(out.Audit, func(topic string) bool { return topic == s.inputs[0].topic || topic == s.inputs[1].topic })
	return tl, redelivered
}

// externalIDs lists the values of an entity's external ids in source src.
func externalIDs(entity map[string]any, src string) []string {
	var out []string
	ids, _ := entity["externalIds"].([]any)
	for _, x := range ids {
		ext, _ := x.(map[string]any)
		source, _ := ext["externalSource"].(map[string]any)
		if v, ok := ext["value"].(string); ok && source["id"] == src {
			out = append(out, v)
		}
	}
	return out
}

// byExternalID keys entities by their external ids in source src.
func byExternalID(entities map[string]map[string]any, src string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, e := range entities {
		for _, v := range externalIDs(e, src) {
			out[v] = e
		}
	}
	return out
}

// sourceID is the id of the CRM's external source in the emulator.
func (s *ecScenario) sourceID() string {
	t := s.base.t
	t.Helper()
	var sources map[string]string
	if err := s.base.emu.admin(http.MethodGet, "/emulator/externalcontacts/sources", nil, &sources); err != nil {
		t.Fatal(err)
	}
	id := sources[demo.CRMSource]
	if id == "" {
		t.Fatalf("the emulator has no source %q: %v", demo.CRMSource, sources)
	}
	return id
}

// entities returns the emulator's contacts or organizations by id, as the
// API shows them.
func (s *ecScenario) entities(kind string) map[string]map[string]any {
	s.base.t.Helper()
	var out map[string]map[string]any
	if err := s.base.emu.admin(http.MethodGet, "/emulator/externalcontacts/"+kind, nil, &out); err != nil {
		s.base.t.Fatal(err)
	}
	return out
}

// finish checks the scenario's end state and records its row: every event
// of both topics has exactly one outcome and is covered by an audit event,
// the committed offsets equal the end offsets, the emulator's entities are
// the CRM's expected state (demo.CheckCRM) and the mirror equals them.
func (s *ecScenario) finish(out outbound, recovery, note string) {
	s.base.t.Helper()
	src := s.sourceID()
	tl, redelivered := s.tallyOutbound(out, src)
	for _, in := range s.inputs {
		for p, idx := range in.offsets {
			evs := make([]outcomeInput, len(idx))
			for o, i := range idx {
				ev := in.events[i]
				evs[o] = outcomeInput{Key: ev.Key, Invalid: ev.Invalid, Late: ev.Invalid == demo.DanglingRef}
			}
			checkPartition(tl, in.topic, p, evs, int64(len(idx)))
		}
	}
	c := s.committed()
	for tp, n := range s.end() {
		if c[tp] != n {
			tl.problem("%s partition %d: committed %d, end offset %d", tp.Topic, tp.Partition, c[tp], n)
		}
	}
	orgs, contacts := s.entities("organizations"), s.entities("contacts")
	chk := demo.CheckCRM(s.crm, orgs, contacts, src)
	if len(chk.Missing)+len(chk.Unexpected)+len(chk.Mismatches) > 0 {
		tl.problem("the emulator holds %d entities of the CRM, want %d: %d missing %q, %d unexpected %q, %d mismatches %q",
			chk.Entities, chk.Expected, len(chk.Missing), chk.Missing[:min(3, len(chk.Missing))],
			len(chk.Unexpected), chk.Unexpected[:min(3, len(chk.Unexpected))], len(chk.Mismatches), chk.Mismatches[:min(3, len(chk.Mismatches))])
	}
	r := s.base.countRow(tl, s.crm.Events(), recovery, note+fmt.Sprintf("; %d organizations and %d contacts as the CRM expects",
		len(s.crm.ExpectedOrganizations), len(s.crm.ExpectedContacts)))
	r.Mirror = s.base.checkMirrorWith(tl, s.compareMirror(orgs, contacts, src, redelivered))
	s.base.record(r, tl)
}

// compareMirror compares the mirror's two tables with the emulator's
// organizations and contacts, keyed by their CRM ids, field by field but
// for fields that change without an event the mirror applies:
//   - A contact's sync event holds its organization as it was written, the
//     API shows it as it is now: both sides keep only its id.
//   - A redelivered event is written again, while the mirror applies an
//     event id once and keeps the first delivery's record. Writing again
//     moves the entity's modifyDate, and a delete and a create of the key
//     written again make a new entity (id, selfUri, createDate): for the
//     keys of redelivered, by input topic, these fields are left out; the
//     data is compared for every key, and these fields for the others.
func (s *ecScenario) compareMirror(orgs, contacts map[string]map[string]any, src string, redelivered map[string]map[string]bool) func(context.Context, *sqldb.DB) (int, []string, error) {
	project := func(topic string) func(map[string]any) map[string]any {
		return func(m map[string]any) map[string]any {
			if org, ok := m["externalOrganization"].(map[string]any); ok {
				m["externalOrganization"] = map[string]any{"id": org["id"]}
			}
			for _, key := range externalIDs(m, src) {
				if redelivered[topic][key] {
					for _, f := range []string{"id", "selfUri", "createDate", "modifyDate"} {
						delete(m, f)
					}
				}
			}
			return m
		}
	}
	return func(ctx context.Context, db *sqldb.DB) (int, []string, error) {
		var rows int
		var diffs []string
		for _, c := range []struct {
			in       *ecInput
			entities map[string]map[string]any
		}{{s.inputs[0], orgs}, {s.inputs[1], contacts}} {
			n, d, err := appmirror.CompareWith(ctx, db, "externalcontacts", c.in.syncSchema(), byExternalID(c.entities, src), project(c.in.topic))
			if err != nil {
				return 0, nil, err
			}
			rows, diffs = rows+n, append(diffs, d...)
		}
		return rows, diffs, nil
	}
}
