package benchkit

import "golang.org/x/sys/unix"

// Monotonic is CLOCK_MONOTONIC in nanoseconds: the clock the benchmark
// children write their timestamps in, and the kernel's process events
// carry (time.Now's monotonic reading counts from process start).
func Monotonic() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}
