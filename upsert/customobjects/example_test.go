package customobjects_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/upsert"
	"github.com/gcupsert/gcupsert/upsert/customobjects"
)

func ExampleTarget_Upsert() {
	// A stand-in API: a token endpoint and a records endpoint that creates
	// every record it is sent.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ININ-Correlation-Id", "corr-1")
		switch r.URL.Path {
		case "/oauth/token":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"access_token":"t","token_type":"bearer","expires_in":3600}`)
		case "/api/v2/customobjects/accounts/records":
			io.WriteString(w, `{"results":[{"id":"acc-001","status":"created","record":{"id":"acc-001","customerName":"Acme"}}]}`)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()

	client, err := upsert.NewClient(upsert.ClientConfig{BaseURL: srv.URL, ClientID: "id", ClientSecret: "secret"})
	if err != nil {
		fmt.Println(err)
		return
	}
	target, err := customobjects.New(client, customobjects.Config{
		Schema:     "accounts",
		SchemaJSON: []byte(`{"type":"object","required":["customerName"],"properties":{"customerName":{"type":"string"}}}`),
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	var items []change.Item
	for _, rec := range []change.Record{
		{Key: "acc-001", Op: change.OpUpsert, Data: map[string]any{"customerName": "Acme"}},
		{Key: "acc-002", Op: change.OpUpsert, Data: map[string]any{"customerName": 42}},
	} {
		item, rerr := target.Prepare(rec)
		if rerr != nil {
			fmt.Println("rejected before sending:", rec.Key, rerr.Code, rerr.Fields[0].Field)
			continue
		}
		items = append(items, item)
	}
	fmt.Println("body bytes:", target.Limits().BodySize(len(items), items[0].Size()))

	res, err := target.Upsert(context.Background(), items)
	if err != nil {
		fmt.Println("retry the batch later:", upsert.IsRetryable(err))
		return
	}
	for i, o := range res.Outcomes {
		fmt.Println(items[i].Record.Key, o.Status, o.Record()["customerName"], o.Attempts)
	}
	fmt.Println(res.CorrelationIDs)
	// Output:
	// rejected before sending: acc-002 schema.violation customerName
	// body bytes: 82
	// acc-001 created Acme 1
	// [corr-1]
}
