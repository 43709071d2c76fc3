package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestJSONDurationsAreStringsAndErrorsOneKey(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, "info", FormatJSON).With("component", "consumer")
	log.Info("batch done", "latency", 1500*time.Millisecond, "err", errors.New("boom"), "wait", 2*time.Second)
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("not JSON: %s", buf.Bytes())
	}
	for k, want := range map[string]any{"latency": "1.5s", "wait": "2s", "error": "boom", "component": "consumer"} {
		if rec[k] != want {
			t.Errorf("%s = %#v, want %#v (line %s)", k, rec[k], want, buf.Bytes())
		}
	}
	if _, ok := rec["err"]; ok {
		t.Errorf("key err still present: %s", buf.Bytes())
	}
}

func TestAutoIsJSONOffATerminal(t *testing.T) {
	var buf bytes.Buffer
	New(&buf, "nonsense", FormatAuto).Info("x")
	if !json.Valid(bytes.TrimSpace(buf.Bytes())) {
		t.Errorf("auto on a buffer wrote %q, want JSON", buf.Bytes())
	}
}
