//go:build !unix

package guard

import "time"

func processCPU() (time.Duration, bool) { return 0, false }
