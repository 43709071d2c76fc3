package emulator_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/gcupsert/gcupsert/emulator"
)

// Example runs the emulator in process: fetch a token, upsert a batch, then
// inspect what was stored and make the next request fail.
func Example() {
	em, err := emulator.New(emulator.Config{
		Clients: map[string]string{"demo-client": "demo-secret"},
		Schemas: map[string][]byte{
			"accounts": []byte(`{"type":"object","properties":{"customerName":{"type":"string"}},"required":["customerName"]}`),
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := httptest.NewServer(em.Handler())
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/oauth/token",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.SetBasicAuth("demo-client", "demo-secret")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()

	upsert := func() int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v2/customobjects/accounts/records",
			strings.NewReader(`{"records":[{"id":"acc-001","conflictResolution":"upsert","customerName":"Acme"}]}`))
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	fmt.Println(upsert())
	fmt.Println(em.Records("accounts")["acc-001"]["customerName"])

	_ = em.FailNext(1, http.StatusServiceUnavailable)
	fmt.Println(upsert(), upsert())
	// Output:
	// 200
	// Acme
	// 503 200
}
