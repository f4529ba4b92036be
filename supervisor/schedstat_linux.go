package supervisor

import (
	"bytes"
	"os"
	"strconv"
	"time"
)

// runDelay is the time tend's threads have spent runnable but waiting
// for a CPU, summed over /proc/self/task/*/schedstat (its second field).
// A host stall grows it; a freeze (the cgroup freezer, `docker pause`)
// does not: a frozen task is asleep, not waiting for a CPU. ok is false
// where the kernel keeps no schedstat.
func runDelay() (d time.Duration, ok bool) {
	dir, err := os.Open("/proc/self/task")
	if err != nil {
		return 0, false
	}
	names, err := dir.Readdirnames(-1)
	dir.Close()
	if err != nil {
		return 0, false
	}
	var sum int64
	for _, n := range names {
		b, err := os.ReadFile("/proc/self/task/" + n + "/schedstat")
		if err != nil {
			continue // the thread is gone
		}
		f := bytes.Fields(b)
		if len(f) < 2 {
			return 0, false
		}
		v, err := strconv.ParseInt(string(f[1]), 10, 64)
		if err != nil {
			return 0, false
		}
		sum += v
		ok = true
	}
	return time.Duration(sum), ok
}
