package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
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
	// Goals are the targets the scenario's figures are held to.
	Goals []Goal `json:"goals,omitempty"`
}

// Goal is a bound on one of a scenario's figures and how the run did.
type Goal struct {
	// What names the figure; Bound is the goal, e.g. "<= 0.030 s".
	What  string `json:"what"`
	Bound string `json:"bound"`
	// Figure is the measured value, Met whether it keeps the bound, and By
	// how far it is from it: the excess when missed, the margin when met.
	Figure string `json:"figure"`
	Met    bool   `json:"met"`
	By     string `json:"by"`
}

// atMost is the goal figure <= bound, atLeast figure >= bound and below
// figure < bound. The figures are printed with prec decimals and unit.
func atMost(what string, figure, bound float64, unit string, prec int) Goal {
	return newGoal(what, "<=", figure, bound, figure <= bound, unit, prec)
}

func atLeast(what string, figure, bound float64, unit string, prec int) Goal {
	return newGoal(what, ">=", figure, bound, figure >= bound, unit, prec)
}

func below(what string, figure, bound float64, unit string, prec int) Goal {
	return newGoal(what, "<", figure, bound, figure < bound, unit, prec)
}

func newGoal(what, op string, figure, bound float64, met bool, unit string, prec int) Goal {
	num := func(v float64) string {
		s := strconv.FormatFloat(v, 'f', prec, 64)
		if unit != "" {
			s += " " + unit
		}
		return s
	}
	by := num(math.Abs(figure - bound))
	if bound != 0 {
		by += fmt.Sprintf(" (%.0f%%)", math.Abs(figure-bound)/bound*100)
	}
	return Goal{What: what, Bound: op + " " + num(bound), Figure: num(figure), Met: met, By: by}
}

// String is the goal as the table's notes print it.
func (g Goal) String() string {
	if g.Met {
		return fmt.Sprintf("goal %s %s: %s, met (by %s)", g.What, g.Bound, g.Figure, g.By)
	}
	return fmt.Sprintf("goal %s %s: %s, missed by %s", g.What, g.Bound, g.Figure, g.By)
}

// goalsCell is the table's summary of a row's goals.
func goalsCell(gs []Goal) string {
	if len(gs) == 0 {
		return "-"
	}
	missed := 0
	for _, g := range gs {
		if !g.Met {
			missed++
		}
	}
	if missed == 0 {
		return "met"
	}
	return fmt.Sprintf("missed %d/%d", missed, len(gs))
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
	fmt.Fprintln(tw, "scenario\tevents\tseconds\tevents/s\tCPU s/1M\tallocs/event\tpeak RSS MB\t429s\tbudget used\tvs baseline\tgoals\t")
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
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Scenario, r.Events, r.Seconds, r.EventsPerSec,
			opt(r.CPUPerMillion, "%.1f"), opt(r.AllocsPerEvent, "%.0f"), opt(r.PeakRSSMB, "%.0f"), tm, budget, opt(r.RatioToBaseline, "%.2fx"),
			goalsCell(r.Goals))
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
	var goals bool
	for _, r := range rs {
		goals = goals || len(r.Goals) > 0
	}
	if !goals {
		return
	}
	fmt.Fprintln(w)
	for _, r := range rs {
		for _, g := range r.Goals {
			fmt.Fprintf(w, "%-22s %s\n", r.Scenario, g)
		}
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
