//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// 7. Events produced by kcat, an independent client (librdkafka), and the
// outbound topics read back with kcat: the formats work beyond kafka-go.
func TestKcatFormats(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatal("kcat is not installed (Debian package kcat)")
	}
	s := newScenario(t, "7 kcat in and out", 3, tuning{})
	o := mixed(5_000, "kcat", 7)
	o.Invalid, o.Deletes = 0.02, 0.02
	ds := newDataset(o)
	// One kcat producer per partition, so each event lands in its key's
	// partition in order; an empty value is sent as a tombstone (-Z).
	for p := range ds.Partitions {
		var in bytes.Buffer
		for _, ev := range ds.Events {
			if ev.Partition != p {
				continue
			}
			if bytes.ContainsAny(ev.Key, "\t\n") || bytes.ContainsAny(ev.Value, "\t\n") {
				t.Fatalf("event %q cannot be written as a kcat line", ev.Key)
			}
			in.Write(ev.Key)
			in.WriteByte('\t')
			in.Write(ev.Value)
			in.WriteByte('\n')
		}
		cmd := exec.Command(kcat, "-P", "-b", strings.Join(suite.brokers, ","), "-t", s.topics.Input,
			"-p", strconv.Itoa(p), "-K", "\t", "-Z", "-X", "acks=all")
		cmd.Stdin = &in
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kcat produce to partition %d: %v\n%s", p, err, out)
		}
	}
	s.mapOffsets(ds)
	w := s.startWorker("kcat")
	s.startMirror("0")
	s.waitDone(2 * time.Minute)
	s.stop(w)
	out := outbound{
		Audit: readKcat(t, kcat, s.topics.Audit),
		Sync:  readKcat(t, kcat, s.topics.Sync),
		Dead:  readKcat(t, kcat, s.topics.DeadLetter),
	}
	tombstones := 0
	for _, ev := range ds.Events {
		if ev.Value == nil {
			tombstones++
		}
	}
	s.finish(out, "-", fmt.Sprintf("produced with kcat (%d tombstones), outbound topics read with kcat: %d audit, %d sync, %d dead-letter events",
		tombstones, len(out.Audit), len(out.Sync), len(out.Dead)))
}

// readKcat reads a whole topic with kcat's JSON envelope (-J).
func readKcat(t *testing.T, kcat, topic string) []outMsg {
	t.Helper()
	cmd := exec.Command(kcat, "-C", "-b", strings.Join(suite.brokers, ","), "-t", topic, "-o", "beginning", "-e", "-J", "-q")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat consume %s: %v\n%s", topic, err, stderr.String())
	}
	var out []outMsg
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var m struct {
			Key     *string  `json:"key"`
			Payload *string  `json:"payload"`
			Headers []string `json:"headers"`
		}
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("kcat output for %s is not its JSON envelope: %v: %s", topic, err, line)
		}
		if len(m.Headers)%2 != 0 {
			t.Fatalf("kcat headers of %s: odd list %v", topic, m.Headers)
		}
		msg := outMsg{Headers: map[string]string{}}
		if m.Key != nil {
			msg.Key = []byte(*m.Key)
		}
		if m.Payload != nil {
			msg.Value = []byte(*m.Payload)
		}
		for i := 0; i < len(m.Headers); i += 2 {
			msg.Headers[m.Headers[i]] = m.Headers[i+1]
		}
		out = append(out, msg)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
