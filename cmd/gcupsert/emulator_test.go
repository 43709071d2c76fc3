package main

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

// The emulator's environment variables go through the same parsers as its
// flags: a bad value, or a variable the command does not read, is an error
// naming the variable instead of being ignored.
func TestEmulatorEnvironmentIsChecked(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{[]string{"GCUPSERT_EMULATOR_RATE_WINDOW=10"}, `GCUPSERT_EMULATOR_RATE_WINDOW="10": want a duration such as 500ms, 30s or 1m`},
		{[]string{"GCUPSERT_EMULATOR_IMPORT_TIME=soon"}, `GCUPSERT_EMULATOR_IMPORT_TIME="soon": want a duration`},
		{[]string{"GCUPSERT_EMULATOR_DELETE_STATUS=ok"}, `GCUPSERT_EMULATOR_DELETE_STATUS="ok": want a whole number`},
		{[]string{"GCUPSERT_EMULATOR_LISTEN=:9090"}, "GCUPSERT_EMULATOR_LISTEN is not a variable gcupsert emulator reads"},
		{[]string{"GCUPSERT_EMULATOR_CLIENTS=id:secret,nosecret"}, `GCUPSERT_EMULATOR_CLIENTS="nosecret": want ID:SECRET`},
		{[]string{"GCUPSERT_EMULATOR_SCHEMAS=accounts"}, `GCUPSERT_EMULATOR_SCHEMAS="accounts": want NAME=FILE`},
		{[]string{"GCUPSERT_EMULATOR_RATE_WINDOW=-1s"}, `GCUPSERT_EMULATOR_RATE_WINDOW="-1s": want a positive duration`},
		{[]string{"GCUPSERT_EMULATOR_POST_EXISTING=401"}, `GCUPSERT_EMULATOR_POST_EXISTING="401": emulator: invalid variant: postExisting must be "409" or "400"`},
		{[]string{"GCUPSERT_EMULATOR_DELETE_STATUS=202"}, `GCUPSERT_EMULATOR_DELETE_STATUS="202": emulator: invalid variant`},
		{[]string{"GCUPSERT_EMULATOR_EC_MAX_ENRICH=ten"}, `GCUPSERT_EMULATOR_EC_MAX_ENRICH="ten": want a whole number`},
		{[]string{"GCUPSERT_EMULATOR_EC_MAX_BULK=0"}, `GCUPSERT_EMULATOR_EC_MAX_BULK="0": want a positive whole number`},
		{[]string{"GCUPSERT_EMULATOR_EC_RETRYABLE_SHARE=lots"}, `GCUPSERT_EMULATOR_EC_RETRYABLE_SHARE="lots": want a number such as 0.1`},
		{[]string{"GCUPSERT_EMULATOR_EC_RETRYABLE_SHARE=1.5"}, `GCUPSERT_EMULATOR_EC_RETRYABLE_SHARE="1.5": want a share from 0 to 1`},
		{[]string{"GCUPSERT_EMULATOR_EC_SOURCE=crm"}, "GCUPSERT_EMULATOR_EC_SOURCE is not a variable gcupsert emulator reads"},
	} {
		env := append([]string{"GCUPSERT_EMULATOR_CLIENTS=id:secret"}, tc.env...)
		f, err := parseEmulatorFlags(nil, env, io.Discard)
		if err == nil {
			_, err = f.config(io.Discard)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.env, err, tc.want)
		}
	}
	var out, errb bytes.Buffer
	t.Setenv("GCUPSERT_EMULATOR_RATE_WINDOW", "10")
	if code := run([]string{"emulator"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "GCUPSERT_EMULATOR_RATE_WINDOW") {
		t.Errorf("gcupsert emulator: code %d, stderr %q", code, errb.String())
	}
}

// A flag given on the command line wins over its variable; a repeatable
// flag's variable is a comma-separated list; a variant from the command
// line is named by its flag.
func TestEmulatorFlagsWinOverTheEnvironment(t *testing.T) {
	env := []string{"GCUPSERT_EMULATOR_RATE_WINDOW=10", "GCUPSERT_EMULATOR_CLIENTS=a:1, b:2", "GCUPSERT_EMULATOR_ADDR=:9999"}
	f, err := parseEmulatorFlags([]string{"--rate-window", "2s", "--addr", ":7777"}, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := f.config(io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RateWindow != 2*time.Second || f.addr != ":7777" || !slices.Equal(f.clients, listFlag{"a:1", "b:2"}) || cfg.Clients["b"] != "2" {
		t.Errorf("rate window %s, addr %s, clients %v", cfg.RateWindow, f.addr, f.clients)
	}
	f, err = parseEmulatorFlags([]string{"--client", "a:1", "--put-missing", "maybe"}, []string{"GCUPSERT_EMULATOR_PUT_MISSING=create"}, io.Discard)
	if err == nil {
		_, err = f.config(io.Discard)
	}
	if err == nil || !strings.Contains(err.Error(), `--put-missing "maybe": emulator: invalid variant`) {
		t.Errorf("error %v", err)
	}
}

// The External Contacts settings come from their flags or variables; the
// sources are comma-separated lists, also when repeated.
func TestEmulatorExternalContactsFlags(t *testing.T) {
	env := []string{"GCUPSERT_EMULATOR_CLIENTS=a:1", "GCUPSERT_EMULATOR_EC_SOURCES=crm, billing", "GCUPSERT_EMULATOR_EC_MAX_ENRICH=5",
		"GCUPSERT_EMULATOR_EC_MAX_BULK=50", "GCUPSERT_EMULATOR_EC_RETRYABLE_SHARE=0.25"}
	f, err := parseEmulatorFlags(nil, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := f.config(io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.ECSources, []string{"crm", "billing"}) || cfg.ECMaxEnrich != 5 || cfg.ECMaxBulk != 50 || cfg.ECRetryableShare != 0.25 {
		t.Errorf("from the environment: %v %d %d %v", cfg.ECSources, cfg.ECMaxEnrich, cfg.ECMaxBulk, cfg.ECRetryableShare)
	}
	f, err = parseEmulatorFlags([]string{"--ec-sources", "a,b", "--ec-sources", "c", "--ec-retryable-share", "1", "--ec-max-enrich", "3"}, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err = f.config(io.Discard); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.ECSources, []string{"a", "b", "c"}) || cfg.ECRetryableShare != 1 || cfg.ECMaxEnrich != 3 || cfg.ECMaxBulk != 50 {
		t.Errorf("flags over the environment: %v %v %d %d", cfg.ECSources, cfg.ECRetryableShare, cfg.ECMaxEnrich, cfg.ECMaxBulk)
	}
	f, err = parseEmulatorFlags([]string{"--client", "a:1", "--ec-retryable-share", "-0.5"}, nil, io.Discard)
	if err == nil {
		_, err = f.config(io.Discard)
	}
	if err == nil || !strings.Contains(err.Error(), `--ec-retryable-share "-0.5": want a share from 0 to 1`) {
		t.Errorf("error %v", err)
	}
	f, _ = parseEmulatorFlags([]string{"--client", "a:1"}, nil, io.Discard)
	if cfg, err = f.config(io.Discard); err != nil || cfg.ECMaxEnrich != 10 || cfg.ECMaxBulk != 100 || cfg.ECRetryableShare != 0 || cfg.ECSources != nil {
		t.Errorf("defaults: %v %d %d %v %v", err, cfg.ECMaxEnrich, cfg.ECMaxBulk, cfg.ECRetryableShare, cfg.ECSources)
	}
}
