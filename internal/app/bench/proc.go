package bench

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// usage is a process's resource use at one moment.
type usage struct {
	cpu     time.Duration // user + system
	mallocs uint64        // heap objects allocated since start
}

// selfUsage reads this process's CPU time and allocation count.
func selfUsage() usage {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return usage{
		cpu:     time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		mallocs: ms.Mallocs,
	}
}

// perEvent is the CPU seconds per million events and the allocations per
// event from before to u, over n events.
func (u usage) perEvent(before usage, n int) (cpuPerMillion, allocsPerEvent *float64) {
	return fp((u.cpu - before.cpu).Seconds() / float64(n) * 1e6), fp(float64(u.mallocs-before.mallocs) / float64(n))
}

// resetPeakRSS resets this process's VmHWM to its current RSS (Linux).
func resetPeakRSS() {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// peakRSS returns VmHWM of pid ("self" for this process) in bytes.
func peakRSS(pid string) (int64, error) {
	f, err := os.Open("/proc/" + pid + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			fields := strings.Fields(rest)
			if len(fields) < 1 {
				break
			}
			kb, err := strconv.ParseInt(fields[0], 10, 64)
			if err != nil {
				return 0, err
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%s/status", pid)
}

// statFields returns the fields of /proc/pid/stat after the command name:
// f[0] is field 3 (state).
func statFields(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	// The command name may hold spaces; fields start after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 15 {
		return nil, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	return f, nil
}

// ticksOf sums the clock-tick fields i and i+1 of f as a duration.
func ticksOf(f []string, i int) (time.Duration, error) {
	a, err1 := strconv.ParseInt(f[i], 10, 64)
	b, err2 := strconv.ParseInt(f[i+1], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("unexpected /proc stat fields %q %q", f[i], f[i+1])
	}
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(a+b) * time.Second / ticks, nil
}

// procCPU returns utime+stime of pid (fields 14 and 15).
func procCPU(pid int) (time.Duration, error) {
	f, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	return ticksOf(f, 11)
}

// procChildCPU returns cutime+cstime of pid (fields 16 and 17): the CPU
// of its children that have exited and been waited for.
func procChildCPU(pid int) (time.Duration, error) {
	f, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	return ticksOf(f, 13)
}

// procPPID returns the parent of pid (field 4).
func procPPID(pid int) (int, error) {
	f, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(f[1])
}

// scrape reads one unlabelled sample from a Prometheus text endpoint.
func scrape(url, name string) (float64, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(rest), 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s: no sample %s", url, name)
}
