package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// Result is one scenario's figures. Optional figures are nil where they do
// not apply to the scenario.
type Result struct {
	Scenario string `json:"scenario"`
	// Note says what was measured and how, in a few words.
	Note           string   `json:"note"`
	Events         int      `json:"events"`
	Seconds        float64  `json:"seconds"`
	EventsPerSec   float64  `json:"eventsPerSecond"`
	CPUPerMillion  *float64 `json:"cpuSecondsPer1MEvents,omitempty"`
	AllocsPerEvent *float64 `json:"allocsPerEvent,omitempty"`
	PeakRSSMB      *float64 `json:"peakRssMB,omitempty"`
	TooMany        *int     `json:"tooManyRequests,omitempty"`
	// BudgetUsed is API requests over the token budget of the run's span.
	BudgetUsed *float64 `json:"budgetUsed,omitempty"`
	// RatioToBaseline is events/s over the sequential baseline's on the
	// same emulator.
	RatioToBaseline *float64 `json:"ratioToBaseline,omitempty"`
	// Extra holds scenario-specific figures.
	Extra map[string]any `json:"extra,omitempty"`
}

func fp(v float64) *float64 { return &v }
func ip(v int) *int         { return &v }

// Report is what a bench run writes as JSON.
type Report struct {
	Time      time.Time `json:"time"`
	GoVersion string    `json:"goVersion"`
	CPUs      int       `json:"cpus"`
	Commit    string    `json:"commit,omitempty"`
	Results   []Result  `json:"results"`
}

// PrintTable writes the results as an aligned table.
func PrintTable(w io.Writer, rs []Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tevents\tseconds\tevents/s\tCPU s/1M\tallocs/event\tpeak RSS MB\t429s\tbudget used\tvs baseline\t")
	opt := func(p *float64, format string) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprintf(format, *p)
	}
	for _, r := range rs {
		tm := "-"
		if r.TooMany != nil {
			tm = fmt.Sprint(*r.TooMany)
		}
		budget := "-"
		if r.BudgetUsed != nil {
			budget = fmt.Sprintf("%.1f%%", *r.BudgetUsed*100)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Scenario, r.Events, r.Seconds, r.EventsPerSec,
			opt(r.CPUPerMillion, "%.1f"), opt(r.AllocsPerEvent, "%.0f"), opt(r.PeakRSSMB, "%.0f"), tm, budget, opt(r.RatioToBaseline, "%.2fx"))
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, r := range rs {
		fmt.Fprintf(w, "%-22s %s", r.Scenario, r.Note)
		if len(r.Extra) > 0 {
			b, _ := json.Marshal(r.Extra)
			fmt.Fprintf(w, " %s", b)
		}
		fmt.Fprintln(w)
	}
}

// WriteJSON writes the report to path.
func WriteJSON(path string, rep Report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

func trimNote(s string) string { return strings.TrimSpace(s) }
