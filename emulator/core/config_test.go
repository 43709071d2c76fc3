package core

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gcupsert/gcupsert/internal/clock"
)

func TestConfigValidate(t *testing.T) {
	good := map[string]string{"a": "b"}
	tests := []struct {
		field string
		cfg   Config
		want  string // in the message
	}{
		{"Clients (empty id)", Config{Clients: map[string]string{"": "x"}}, "client id"},
		{"Clients (colon in id)", Config{Clients: map[string]string{"a:b": "x"}}, "client id"},
		{"Clients (empty secret)", Config{Clients: map[string]string{"a": ""}}, "empty secret"},
		{"RateWindow", Config{Clients: good, RateWindow: -time.Second}, "RateWindow"},
		{"TokenLifetime", Config{Clients: good, TokenLifetime: -time.Second}, "token lifetime"},
		{"MaxBodyBytes", Config{Clients: good, MaxBodyBytes: -1}, "MaxBodyBytes"},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			err := tt.cfg.Validate()
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v; want ErrInvalidConfig naming %q", err, tt.want)
			}
			tt.cfg.setDefaults()
			if err2 := tt.cfg.Validate(); err2 == nil || err2.Error() != err.Error() {
				t.Errorf("after setDefaults, Validate() = %v; want %v", err2, err)
			}
		})
	}
	for _, cfg := range []Config{{}, {Clients: good, RateLimitPerMinute: -1, DisableRateLimit: true}} {
		if err := cfg.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", cfg, err)
		}
	}
}

func TestConfigSetDefaults(t *testing.T) {
	var c Config
	c.setDefaults()
	if c.TokenLifetime != DefaultTokenLifetime || c.RateLimitPerMinute != DefaultRateLimitPerMinute ||
		c.DisableRateLimit || c.RateWindow != DefaultRateWindow || c.MaxBodyBytes != DefaultMaxBodyBytes ||
		c.Clock != clock.Real || c.Logger == nil {
		t.Errorf("defaults: %+v", c)
	}
	again := c
	again.setDefaults()
	if again.Seed != c.Seed || again.TokenLifetime != c.TokenLifetime || again.RateLimitPerMinute != c.RateLimitPerMinute {
		t.Errorf("setDefaults is not idempotent: %+v, then %+v", c, again)
	}

	neg := Config{RateLimitPerMinute: -1}
	neg.setDefaults()
	if !neg.DisableRateLimit || neg.RateLimitPerMinute != DefaultRateLimitPerMinute {
		t.Errorf("negative rate limit: %+v", neg)
	}

	clk := clock.NewFake(time.Unix(0, 0))
	set := Config{TokenLifetime: time.Minute, RateLimitPerMinute: 7, RateWindow: time.Second, MaxBodyBytes: 9, Clock: clk, Seed: 3}
	want := set
	set.setDefaults()
	if set.TokenLifetime != want.TokenLifetime || set.RateLimitPerMinute != 7 || set.RateWindow != time.Second ||
		set.MaxBodyBytes != 9 || set.Clock != clk || set.Seed != 3 {
		t.Errorf("setDefaults changed set fields: %+v", set)
	}
}

func TestFaultsValidate(t *testing.T) {
	tests := []struct {
		field string
		f     Faults
	}{
		{"Latency", Faults{Latency: -1}},
		{"LatencyMedian", Faults{LatencyMedian: -1}},
		{"LatencyP99", Faults{LatencyP99: -1}},
		{"RetryAfter", Faults{RetryAfter: -1}},
		{"ErrorRatio (negative)", Faults{ErrorRatio: -0.1}},
		{"ErrorRatio (over 1)", Faults{ErrorRatio: 1.1}},
		{"ErrorRatio (NaN)", Faults{ErrorRatio: math.NaN()}},
		{"ErrorStatus", Faults{ErrorStatus: 404}},
		{"FailNext (status)", Faults{FailNext: []int{503, 302}}},
		{"FailNext (length)", Faults{FailNext: make([]int, maxFailNext+1)}},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			if err := tt.f.Validate(); !errors.Is(err, ErrInvalidFault) {
				t.Errorf("Validate() = %v; want ErrInvalidFault", err)
			}
		})
	}
	ok := Faults{ErrorRatio: 1, ErrorStatus: 599, FailNext: []int{400, 599}, RetryAfter: time.Second}
	for _, f := range []Faults{{}, ok} {
		if err := f.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", f, err)
		}
	}
}
