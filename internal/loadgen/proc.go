package loadgen

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Usage is what a process has used so far, from /proc (Linux).
type Usage struct {
	CPUSeconds float64 // user + system time
	PeakRSS    int64   // bytes: the resident set's high-water mark (VmHWM)
	RSS        int64   // bytes: the resident set now (VmRSS)
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// ReadUsage reads process pid's CPU time and memory from /proc.
func ReadUsage(pid int) (Usage, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Usage{}, fmt.Errorf("read the server's CPU time: %w", err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Usage{}, fmt.Errorf("read the server's memory: %w", err)
	}
	cpu, err := ParseStat(stat)
	if err != nil {
		return Usage{}, err
	}
	peak, rss, err := ParseStatus(status)
	if err != nil {
		return Usage{}, err
	}
	return Usage{CPUSeconds: cpu, PeakRSS: peak, RSS: rss}, nil
}

// ParseStat returns the user + system CPU seconds in a /proc/<pid>/stat
// line. The command name (field 2) is in parentheses and may itself hold
// spaces and parentheses, so fields are counted after its last ')'.
func ParseStat(b []byte) (float64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("proc stat: no command name")
	}
	// After ")": state is field 3; utime and stime are fields 14 and 15.
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("proc stat: %d fields after the command name, want at least 13", len(f))
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("proc stat: CPU times: %w", err)
	}
	return float64(utime+stime) / clockTicks, nil
}

// ParseStatus returns VmHWM and VmRSS (in bytes) from /proc/<pid>/status.
func ParseStatus(b []byte) (peak, rss int64, err error) {
	found := 0
	for line := range strings.Lines(string(b)) {
		name, value, ok := strings.Cut(line, ":")
		if !ok || (name != "VmHWM" && name != "VmRSS") {
			continue
		}
		f := strings.Fields(value)
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("proc status: %s is %q, want a number of kB", name, strings.TrimSpace(value))
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || n < 0 || n > 1<<40 {
			return 0, 0, fmt.Errorf("proc status: %s is %q, want a number of kB", name, f[0])
		}
		if name == "VmHWM" {
			peak = n << 10
		} else {
			rss = n << 10
		}
		found++
	}
	if found < 2 {
		return 0, 0, errors.New("proc status: no VmHWM and VmRSS (not a Linux process status?)")
	}
	return peak, rss, nil
}
