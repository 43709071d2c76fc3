package emulator_test

import (
	"encoding/json"
	"fmt"
	"io"
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

// Example_dataTables seeds a data table from fixtures, then reads a row
// whose key holds a slash through the API, path-escaped.
func Example_dataTables() {
	em, err := emulator.New(emulator.Config{
		Fixtures: []byte(`
clients: {demo-client: demo-secret}
tables:
  - name: Stores
    schema:
      type: object
      required: [key]
      additionalProperties: false
      properties:
        key: {type: string}
        open: {type: boolean, default: true}
        staff: {type: integer}
    rows:
      - {key: lyon/2, staff: 4}
`),
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

	id, _ := em.TableID("Stores")
	req, _ = http.NewRequest(http.MethodGet,
		srv.URL+"/api/v2/flows/datatables/"+id+"/rows/"+url.PathEscape("lyon/2")+"?showbrief=false", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(body))
	fmt.Println(em.Rows(id)["lyon/2"]["open"])
	// Output:
	// 200 {"key":"lyon/2","open":true,"staff":4}
	// true
}
