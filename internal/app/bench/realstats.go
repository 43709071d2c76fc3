package bench

import (
	"math"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"
)

// requestSpan is the start of the first API request and the end of the
// last.
func requestSpan(reqs []apiRequest) (first, last time.Time) {
	for _, r := range reqs {
		if first.IsZero() || r.start.Before(first) {
			first = r.start
		}
		if r.end.After(last) {
			last = r.end
		}
	}
	return first, last
}

// partitionGaps splits the writes of a hash-partitioned topic by the
// partition of their first record's key and sums, per partition, the time
// its requests were open and the time between one request's end and the
// next one's start: what the worker spent between requests. It returns the
// mean gap and the busiest partition's sums.
func partitionGaps(reqs []apiRequest, partitions int) (map[string]any, map[string]any) {
	by := make([][]apiRequest, partitions)
	for _, q := range reqs {
		if q.firstID != "" {
			p := partitionOf(q.firstID, partitions)
			by[p] = append(by[p], q)
		}
	}
	var gapSum time.Duration
	gaps := 0
	busiest := map[string]any{}
	var most time.Duration
	for p, qs := range by {
		if len(qs) == 0 {
			continue
		}
		sort.Slice(qs, func(i, j int) bool { return qs[i].start.Before(qs[j].start) })
		var open, between time.Duration
		for i, q := range qs {
			open += q.end.Sub(q.start)
			if i > 0 {
				if g := q.start.Sub(qs[i-1].end); g > 0 {
					between += g
					gapSum += g
					gaps++
				}
			}
		}
		if span := qs[len(qs)-1].end.Sub(qs[0].start); span > most {
			most = span
			busiest = map[string]any{"partition": p, "requests": len(qs), "seconds": round(span.Seconds()),
				"requestSeconds": round(open.Seconds()), "betweenRequestsSeconds": round(between.Seconds())}
		}
	}
	out := map[string]any{}
	if gaps > 0 {
		out["betweenRequestsMsMean"] = round(float64(gapSum) / float64(gaps) / float64(time.Millisecond))
	}
	return out, busiest
}

// windowCounts counts the requests of each rate window they fell into, as
// the emulator opens them for one token: a window starts at the first
// request after the previous one ended.
func windowCounts(reqs []apiRequest, window time.Duration) []int {
	starts := make([]time.Time, 0, len(reqs))
	for _, r := range reqs {
		starts = append(starts, r.start)
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i].Before(starts[j]) })
	var counts []int
	var open time.Time
	for _, s := range starts {
		if len(counts) == 0 || !s.Before(open.Add(window)) {
			counts = append(counts, 0)
			open = s
		}
		counts[len(counts)-1]++
	}
	return counts
}

// writeRequests counts the API requests that write records.
func writeRequests(reqs []apiRequest) int {
	n := 0
	for _, r := range reqs {
		if r.method != http.MethodGet {
			n++
		}
	}
	return n
}

// loadAvg is the first three fields of /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
