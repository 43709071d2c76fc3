package core_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gcupsert/gcupsert/emulator/core"
	"github.com/gcupsert/gcupsert/emulator/customobjects"
	"github.com/gcupsert/gcupsert/emulator/internal/emutest"
)

func TestAdminFaults(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.Token()
	admin := func(method, path, body string) []byte {
		t.Helper()
		w := e.Do(method, path, body, http.Header{"Content-Type": {"application/json"}})
		if w.Code != 200 {
			t.Fatalf("%s %s: %d %s", method, path, w.Code, w.Body)
		}
		return w.Body.Bytes()
	}

	got := emutest.DecodeJSON[core.FaultsJSON](t, admin(http.MethodPost, "/emulator/faults",
		`{"down":true,"latency":"0s","retryAfter":"4s","failNext":{"count":2,"status":502},"omitEntityIds":true}`))
	if !got.Down || time.Duration(got.RetryAfter) != 4*time.Second || !slices.Equal(got.FailNext, []int{502, 502}) || !got.OmitEntityIDs {
		t.Errorf("faults %+v", got)
	}
	emutest.WantStatus(t, e.Post(tok, batch(rec("a", "upsert"))), 503)

	// Fields left out keep their values.
	got = emutest.DecodeJSON[core.FaultsJSON](t, admin(http.MethodPost, "/emulator/faults", `{"down":false}`))
	if got.Down || !slices.Equal(got.FailNext, []int{502, 502}) || !got.OmitEntityIDs {
		t.Errorf("faults %+v", got)
	}
	emutest.WantStatus(t, e.Post(tok, batch(rec("a", "upsert"))), 502)

	// GET shows the state; durations are strings.
	raw := admin(http.MethodGet, "/emulator/faults", "")
	if !strings.Contains(string(raw), `"retryAfter":"4s"`) || !strings.Contains(string(raw), `"failNext":[502]`) {
		t.Errorf("GET faults %s", raw)
	}

	// clear, then a storm.
	got = emutest.DecodeJSON[core.FaultsJSON](t, admin(http.MethodPost, "/emulator/faults", `{"clear":true,"storm429":true}`))
	if !got.Storm429 || len(got.FailNext) != 0 || got.OmitEntityIDs || got.RetryAfter != 0 {
		t.Errorf("faults %+v", got)
	}
	w := e.Post(tok, batch(rec("a", "upsert")))
	emutest.WantStatus(t, w, 429)
	if w.Header().Get("Retry-After") != "1" {
		t.Errorf("default Retry-After %q", w.Header().Get("Retry-After"))
	}

	got = emutest.DecodeJSON[core.FaultsJSON](t, admin(http.MethodDelete, "/emulator/faults", ""))
	if got.Storm429 {
		t.Errorf("DELETE left faults on: %+v", got)
	}
	emutest.WantStatus(t, e.Post(tok, batch(rec("a", "upsert"))), 200)

	// Revocation.
	admin(http.MethodPost, "/emulator/faults", `{"revokeTokens":true}`)
	emutest.WantStatus(t, e.Post(tok, batch(rec("a", "upsert"))), 401)

	for _, bad := range []string{
		`{"dwon":true}`,
		`{"latency":"soon"}`,
		`{"latency":5}`,
		`{"errorRatio":3}`,
		`{"failNext":{"count":1,"status":200}}`,
		`{"down":true} {}`,
		`not json`,
	} {
		w := e.Do(http.MethodPost, "/emulator/faults", bad, nil)
		emutest.WantStatus(t, w, 400)
		if eb := emutest.ErrBody(t, w); eb.Code != "bad.request" {
			t.Errorf("%s: code %q", bad, eb.Code)
		}
	}
	if e.Srv.Faults().Down {
		t.Error("a rejected patch was applied")
	}
}

func TestAdminInspection(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.Token()
	emutest.WantStatus(t, e.Post(tok, batch(rec("a", "upsert"))), 200)
	emutest.WantStatus(t, e.Post(tok, batch(rec("a", "createOnly"))), 409)
	emutest.WantStatus(t, e.API(http.MethodDelete, "/api/v2/customobjects/accounts/records/zz", tok, ""), 404)

	w := e.Do(http.MethodGet, "/emulator/stats", "", nil)
	emutest.WantStatus(t, w, 200)
	st := emutest.DecodeJSON[core.Stats](t, w.Body.Bytes())
	want := core.Stats{
		Requests:          4,
		ByKind:            map[string]int{core.KindToken: 1, customobjects.KindUpsert: 2, customobjects.KindDelete: 1},
		ByStatus:          map[int]int{200: 2, 409: 1, 404: 1},
		TokensIssued:      1,
		MaxWindowRequests: 3,
	}
	if fmt.Sprint(st) != fmt.Sprint(want) {
		t.Errorf("stats\n got %+v\nwant %+v", st, want)
	}

	w = e.Do(http.MethodGet, "/emulator/records/accounts", "", nil)
	emutest.WantStatus(t, w, 200)
	recs := emutest.DecodeJSON[map[string]map[string]any](t, w.Body.Bytes())
	if len(recs) != 1 || recs["a"]["name"] != "n-a" || recs["a"]["id"] != "a" {
		t.Errorf("records %v", recs)
	}
	w = e.Do(http.MethodGet, "/emulator/records/nope", "", nil)
	emutest.WantStatus(t, w, 404)
	emutest.ErrBody(t, w)

	w = e.Do(http.MethodGet, "/emulator/health", "", nil)
	emutest.WantStatus(t, w, 200)

	// Admin requests are not counted.
	if got := e.Srv.Stats().Requests; got != 4 {
		t.Errorf("Requests = %d after admin calls", got)
	}

	w = e.Do(http.MethodPost, "/emulator/reset", "", nil)
	emutest.WantStatus(t, w, 204)
	if len(e.co.Records(testSchema)) != 0 || e.Srv.Stats().Requests != 0 {
		t.Error("reset did not clear")
	}

	w = e.Do(http.MethodGet, "/emulator/nothing", "", nil)
	emutest.WantStatus(t, w, 404)
	emutest.ErrBody(t, w)
	w = e.Do(http.MethodPut, "/emulator/faults", "{}", nil)
	emutest.WantStatus(t, w, 405)
	emutest.ErrBody(t, w)
	if allow := w.Header().Get("Allow"); !strings.Contains(allow, "POST") || !strings.Contains(allow, "GET") {
		t.Errorf("Allow %q", allow)
	}
}

// TestServe runs the emulator on a real listener and shuts it down.
func TestServe(t *testing.T) {
	s, err := core.New(core.Config{Clients: map[string]string{emutest.Client: emutest.Secret}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()

	base := "http://" + ln.Addr().String()
	req, _ := http.NewRequest(http.MethodPost, base+"/oauth/token",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.SetBasicAuth(emutest.Client, emutest.Secret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("ININ-Correlation-Id") == "" || !strings.Contains(string(body), "access_token") {
		t.Fatalf("token over TCP: %d %s", resp.StatusCode, body)
	}

	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if _, err := http.Get(base + "/emulator/health"); err == nil {
		t.Error("still serving after shutdown")
	}
}

func TestListenAndServeBadAddress(t *testing.T) {
	s, err := core.New(core.Config{Clients: map[string]string{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := s.ListenAndServe(ctx, "not-an-address:xyz"); err == nil {
		t.Fatal("ListenAndServe with a bad address returned nil")
	}
}
