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
	// The resident set now, split: anonymous memory (heaps, stacks) and
	// pages of mapped files (the binary, a memory-mapped database), which
	// the kernel can drop and read again.
	RSSAnon, RSSFile int64
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// ReadUsage reads process pid's CPU time and memory from /proc.
func ReadUsage(pid int) (Usage, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Usage{}, fmt.Errorf("read the CPU time of process %d: %w", pid, err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Usage{}, fmt.Errorf("read the memory of process %d: %w", pid, err)
	}
	cpu, err := ParseStat(stat)
	if err != nil {
		return Usage{}, err
	}
	m, err := ParseStatus(status)
	if err != nil {
		return Usage{}, err
	}
	return Usage{CPUSeconds: cpu, PeakRSS: m["VmHWM"], RSS: m["VmRSS"], RSSAnon: m["RssAnon"], RSSFile: m["RssFile"]}, nil
}

// ResetPeak starts process pid's VmHWM again from its current resident
// set (writing 5 to /proc/<pid>/clear_refs), so that the next ReadUsage's
// PeakRSS is the peak since now.
func ResetPeak(pid int) error {
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		return fmt.Errorf("reset the peak memory of process %d: %w", pid, err)
	}
	return nil
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

// statusFields are the memory figures ParseStatus reads.
var statusFields = map[string]bool{"VmHWM": true, "VmRSS": true, "RssAnon": true, "RssFile": true}

// ParseStatus returns the memory figures of /proc/<pid>/status (VmHWM,
// VmRSS, RssAnon, RssFile) in bytes. VmHWM and VmRSS must be there.
func ParseStatus(b []byte) (map[string]int64, error) {
	m := map[string]int64{}
	for line := range strings.Lines(string(b)) {
		name, value, ok := strings.Cut(line, ":")
		if !ok || !statusFields[name] {
			continue
		}
		f := strings.Fields(value)
		if len(f) != 2 || f[1] != "kB" {
			return nil, fmt.Errorf("proc status: %s is %q, want a number of kB", name, strings.TrimSpace(value))
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || n < 0 || n > 1<<40 {
			return nil, fmt.Errorf("proc status: %s is %q, want a number of kB", name, f[0])
		}
		m[name] = n << 10
	}
	if _, ok := m["VmHWM"]; !ok {
		return nil, errors.New("proc status: no VmHWM (not a Linux process status?)")
	}
	if _, ok := m["VmRSS"]; !ok {
		return nil, errors.New("proc status: no VmRSS (not a Linux process status?)")
	}
	return m, nil
}
