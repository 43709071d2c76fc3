package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gcupsert/gcupsert/internal/app/demo"
)

func cmdDemo(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o demo.Options
	fs.StringVar(&o.Target, "target", "customobjects", "target: customobjects, datatables or externalcontacts")
	fs.IntVar(&o.Events, "events", 0, "events to produce (default 10,000; 4,000 for datatables, 6,000 for externalcontacts)")
	fs.IntVar(&o.Partitions, "partitions", 3, "partitions of the input topic (of each, for externalcontacts)")
	fs.Float64Var(&o.InvalidRatio, "invalid", 0.02, "share of events made invalid on purpose")
	fs.Float64Var(&o.FaultRatio, "faults", 0.01, "share of API requests the emulator fails with a 5xx (negative: none)")
	seed := fs.Uint64("seed", 1, "seed of the generated stream")
	fs.DurationVar(&o.Timeout, "timeout", 3*time.Minute, "give up after this long")
	level := fs.String("log-level", "warn", "log level of the worker: debug, info, warn, error")
	fs.StringVar(&o.MetricsAddr, "metrics-addr", "127.0.0.1:9464", "serve /metrics, /healthz and /readyz here while the demo runs (empty: off)")
	fs.DurationVar(&o.Hold, "hold", 0, "keep the worker and its endpoints up this long after the topic is drained")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.Seed = *seed
	o.Logger = newLogger(stderr, *level, "auto")
	ctx, stop := signalContext(o.Logger)
	defer stop()
	events := o.Events
	if events == 0 {
		events = map[string]int{"datatables": 4_000, "externalcontacts": 6_000}[o.Target]
		if events == 0 {
			events = 10_000
		}
	}
	fmt.Fprintf(stdout, "gcupsert demo: embedded broker + Genesys emulator (%s), %d events on %d partitions, about %.0f%% invalid\n\n",
		o.Target, events, o.Partitions, o.InvalidRatio*100)
	if o.MetricsAddr != "" {
		o.Started = func() {
			fmt.Fprintf(stdout, "worker running; metrics at http://%s/metrics (also /healthz, /readyz)\n\n", o.MetricsAddr)
		}
	}
	s, err := demo.Run(ctx, o)
	if err != nil {
		return err
	}
	printSummary(stdout, s)
	if p := s.Problems(); len(p) > 0 {
		return errors.New("guarantees broken:\n  " + strings.Join(p, "\n  "))
	}
	fmt.Fprintln(stdout, "\nOK: every event has exactly one outcome, offsets are committed to the end, the emulator holds exactly the valid distinct keys, and the mirror equals it.")
	return nil
}

func printSummary(w io.Writer, s demo.Summary) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	row := func(k string, v any) { fmt.Fprintf(tw, "%s\t%v\n", k, v) }
	row("produced", s.Produced)
	row("upserted", fmt.Sprintf("%d (created %d, updated %d, deleted %d)", s.Upserted(), s.Created, s.Updated, s.Deleted))
	row("collapsed duplicates", fmt.Sprintf("%d (older events of a key superseded inside a batch)", s.Collapsed))
	row("dead-lettered", s.DeadLettered)
	for _, r := range sortedKeys(s.DeadByReason) {
		row("  "+r, s.DeadByReason[r])
	}
	row("check", fmt.Sprintf("produced %d = upserted %d + collapsed %d + dead-lettered %d", s.Produced, s.Upserted(), s.Collapsed, s.DeadLettered))
	row("invalid on purpose", s.InvalidByKind)
	row("batches", fmt.Sprintf("%d (%d retried after their retry budget ran out)", s.Batches, s.BatchRetries))
	row("audit events", s.AuditEvents)
	row("sync events", s.SyncEvents)
	parts := make([]int, 0, len(s.End))
	for p := range s.End {
		parts = append(parts, p)
	}
	sort.Ints(parts)
	for _, p := range parts {
		row(fmt.Sprintf("partition %d", p), fmt.Sprintf("committed %d / end %d", s.Committed[p], s.End[p]))
	}
	for _, topic := range sortedKeys(s.TopicEnd) {
		for p := 0; p < len(s.TopicEnd[topic]); p++ {
			row(fmt.Sprintf("%s[%d]", topic, p), fmt.Sprintf("committed %d / end %d", s.TopicCommitted[topic][p], s.TopicEnd[topic][p]))
		}
	}
	row("upsert latency", fmt.Sprintf("p50 %s  p95 %s  p99 %s", s.LatencyP50.Round(time.Microsecond), s.LatencyP95.Round(time.Microsecond), s.LatencyP99.Round(time.Microsecond)))
	row("API requests", fmt.Sprintf("%d by status %v", s.APIRequests, s.APIStatus))
	row("emulator records", fmt.Sprintf("%d (valid distinct keys expected: %d)", s.EmulatorRecords, s.ExpectedKeys))
	if s.Target == "externalcontacts" {
		row("fields and links", fmt.Sprintf("%d records differ from their key's last valid event", len(s.Mismatches)))
	}
	if s.MirrorRan {
		check := "equal to the emulator, field by field"
		if len(s.MirrorDiffs) > 0 {
			check = fmt.Sprintf("%d differences from the emulator", len(s.MirrorDiffs))
		}
		row("mirror (SQLite)", fmt.Sprintf("%d rows, %s", s.MirrorRows, check))
	}
	if s.TooManyRequests > 0 || s.Target == "datatables" {
		row("429 responses", s.TooManyRequests)
	}
	row("elapsed", s.Elapsed.Round(time.Millisecond))
	tw.Flush()
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
