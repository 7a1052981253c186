//go:build unix

package guard

import (
	"syscall"
	"time"
)

// processCPU is the CPU time the test process has used so far. The
// benchmarks report it besides wall time: on a machine shared with other
// work it varies less.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
