package upsert

import (
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/gcupsert/gcupsert/internal/retry"
)

func TestRegionURLs(t *testing.T) {
	tests := []struct{ region, api, login string }{
		{"us_east_1", "https://api.mypurecloud.com", "https://login.mypurecloud.com"},
		{"us_east_2", "https://api.use2.us-gov-pure.cloud", "https://login.use2.us-gov-pure.cloud"},
		{"us_west_2", "https://api.usw2.pure.cloud", "https://login.usw2.pure.cloud"},
		{"ca_central_1", "https://api.cac1.pure.cloud", "https://login.cac1.pure.cloud"},
		{"sa_east_1", "https://api.sae1.pure.cloud", "https://login.sae1.pure.cloud"},
		{"mx_central_1", "https://api.mxc1.pure.cloud", "https://login.mxc1.pure.cloud"},
		{"eu_west_1", "https://api.mypurecloud.ie", "https://login.mypurecloud.ie"},
		{"eu_west_2", "https://api.euw2.pure.cloud", "https://login.euw2.pure.cloud"},
		{"eu_central_1", "https://api.mypurecloud.de", "https://login.mypurecloud.de"},
		{"eu_central_2", "https://api.euc2.pure.cloud", "https://login.euc2.pure.cloud"},
		{"me_central_1", "https://api.mec1.pure.cloud", "https://login.mec1.pure.cloud"},
		{"ap_south_1", "https://api.aps1.pure.cloud", "https://login.aps1.pure.cloud"},
		{"ap_northeast_1", "https://api.mypurecloud.jp", "https://login.mypurecloud.jp"},
		{"ap_northeast_2", "https://api.apne2.pure.cloud", "https://login.apne2.pure.cloud"},
		{"ap_northeast_3", "https://api.apne3.pure.cloud", "https://login.apne3.pure.cloud"},
		{"ap_southeast_1", "https://api.apse1.pure.cloud", "https://login.apse1.pure.cloud"},
		{"ap_southeast_2", "https://api.mypurecloud.com.au", "https://login.mypurecloud.com.au"},
		{"EU-West-1", "https://api.mypurecloud.ie", "https://login.mypurecloud.ie"},
	}
	for _, tt := range tests {
		api, login, ok := RegionURLs(tt.region)
		if !ok || api != tt.api || login != tt.login {
			t.Errorf("RegionURLs(%q) = %q, %q, %v; want %q, %q", tt.region, api, login, ok, tt.api, tt.login)
		}
		c, err := NewClient(ClientConfig{Region: tt.region, ClientID: "a", ClientSecret: "b"})
		if err != nil {
			t.Fatalf("NewClient(region %q): %v", tt.region, err)
		}
		if c.apiBase != tt.api || c.tokens.cfg.TokenURL != tt.login+"/oauth/token" {
			t.Errorf("region %q: api %q token URL %q", tt.region, c.apiBase, c.tokens.cfg.TokenURL)
		}
	}
	if got := len(Regions()); got != 17 {
		t.Errorf("Regions() has %d entries, want 17", got)
	}
	if _, _, ok := RegionURLs("mars_north_1"); ok {
		t.Error("unknown region accepted")
	}
}

func TestNewClientConfig(t *testing.T) {
	c, err := NewClient(ClientConfig{BaseURL: "http://127.0.0.1:8080/", ClientID: "a", ClientSecret: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if c.apiBase != "http://127.0.0.1:8080" || c.tokens.cfg.TokenURL != "http://127.0.0.1:8080/oauth/token" {
		t.Errorf("base %q token URL %q", c.apiBase, c.tokens.cfg.TokenURL)
	}
	if c.retry != (retry.Policy{Initial: 500 * time.Millisecond, Max: 30 * time.Second, Multiplier: 2.0, Jitter: 0.5, MaxElapsed: 2 * time.Minute, MaxRetryAfter: 3 * time.Minute}) {
		t.Errorf("default retry policy %+v", c.retry)
	}
	if c.timeout != 30*time.Second {
		t.Errorf("default timeout %s", c.timeout)
	}
	c, err = NewClient(ClientConfig{Region: "eu_west_1", BaseURL: "http://api.local", LoginURL: "http://login.local", ClientID: "a", ClientSecret: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if c.apiBase != "http://api.local" || c.tokens.cfg.TokenURL != "http://login.local/oauth/token" {
		t.Errorf("overrides: base %q token URL %q", c.apiBase, c.tokens.cfg.TokenURL)
	}
	bad := []ClientConfig{
		{Region: "us_east_1"},
		{ClientID: "a", ClientSecret: "b"},
		{Region: "nowhere", ClientID: "a", ClientSecret: "b"},
		{BaseURL: "ftp://x", ClientID: "a", ClientSecret: "b"},
		{BaseURL: "http://x", ClientID: "a", ClientSecret: "b", Timeout: -1},
		{BaseURL: "http://x", ClientID: "a", ClientSecret: "b", Retry: retry.Policy{Jitter: 2}},
		{BaseURL: "http://x", ClientID: "a", ClientSecret: "b", Limiter: rate.NewLimiter(1, 0)},
	}
	for i, cfg := range bad {
		if _, err := NewClient(cfg); err == nil {
			t.Errorf("config %d accepted", i)
		}
	}
}
