// Command svchild is the program the supervisor benchmarks
// (bench/cmd/svbench) run under tend, supervisord and s6. Timestamps are
// CLOCK_MONOTONIC in nanoseconds, the clock the driver and the kernel's
// process events use.
//
//	svchild write BYTES FILE   write BYTES of 100-byte lines to stdout, in
//	                           writes of one prebuilt 65,500-byte block (655
//	                           lines), then append "write START END BYTES CPU"
//	                           to FILE: START just before the first write, END
//	                           just after the last one returned, CPU its own
//	                           user+system time in nanoseconds.
//	svchild crash FILE MS      append "start T PID" to FILE as the first thing
//	                           main does, sleep MS milliseconds (plus up to a
//	                           fifth more, at random, so that the three
//	                           supervisors run concurrently do not exit in
//	                           step), append "exit T PID", and exit 1.
//	svchild crashloop FILE MS  the same as crash, without the random fifth:
//	                           exit 1 exactly MS milliseconds after it started.
//	svchild once FILE          append "start T PID" to FILE and exit 0: the
//	                           floor, the driver starting svchild itself.
//	svchild ready FILE NAME MS [FD]
//	                           append "start:NAME T PID" to FILE, say it is
//	                           ready MS milliseconds after it started (a
//	                           newline on fd FD, s6's notification-fd; else
//	                           READY=1 on $NOTIFY_SOCKET, if set), append
//	                           "ready:NAME T PID", and sleep until a signal
//	                           ends it.
//
// Run as ./run in an s6 service directory (s6-run is a symlink to svchild
// there), it takes its arguments from the file ./svchild.args, one per
// line: s6-supervise gives ./run only the service directory's name, and a
// symlink keeps a shell out of the measurement.
package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	t := monotonic() // first: the crash and once modes report when they started
	args := os.Args[1:]
	if filepath.Base(os.Args[0]) == "run" {
		b, err := os.ReadFile("svchild.args")
		if err != nil {
			fail(err)
		}
		args = strings.Fields(string(b))
	}
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: svchild write BYTES FILE | crash FILE MS | crashloop FILE MS | once FILE | ready FILE NAME MS [FD]")
		os.Exit(2)
	}
	var err error
	switch args[0] {
	case "write":
		err = write(args[1:])
	case "crash":
		err = crash(t, args[1:], true)
	case "crashloop":
		err = crash(t, args[1:], false)
	case "once":
		err = record(args[1], "start", t)
	case "ready":
		err = ready(t, args[1:])
	default:
		err = fmt.Errorf("unknown mode %q", args[0])
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "svchild:", err)
	os.Exit(2)
}

// monotonic is CLOCK_MONOTONIC in nanoseconds, comparable across
// processes (time.Now's monotonic reading is relative to process start).
func monotonic() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// record appends "what T PID" to file in one write: O_APPEND keeps the
// lines of successive processes whole and in order.
func record(file, what string, t int64) error {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "%s %d %d\n", what, t, os.Getpid())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// crash records its start, runs MS milliseconds (plus up to a fifth at
// random when jitter is set), records its exit and exits 1.
func crash(start int64, args []string, jitter bool) error {
	if len(args) < 2 {
		return fmt.Errorf("crash wants FILE MS")
	}
	if err := record(args[0], "start", start); err != nil {
		return err
	}
	ms, err := strconv.Atoi(args[1])
	if err != nil {
		return err
	}
	d := time.Duration(ms) * time.Millisecond
	if jitter {
		d += rand.N(d/5 + 1)
	}
	time.Sleep(time.Duration(start+int64(d)-monotonic()) * time.Nanosecond) // MS from its first instruction
	if err := record(args[0], "exit", monotonic()); err != nil {
		return err
	}
	os.Exit(1)
	return nil
}

// ready records its start, says it is ready MS after it, records that,
// and sleeps.
func ready(start int64, args []string) error {
	if len(args) < 3 {
		return fmt.Errorf("ready wants FILE NAME MS [FD]")
	}
	file, name := args[0], args[1]
	if err := record(file, "start:"+name, start); err != nil {
		return err
	}
	ms, err := strconv.Atoi(args[2])
	if err != nil {
		return err
	}
	time.Sleep(time.Duration(start+int64(ms)*1e6-monotonic()) * time.Nanosecond) // MS from its first instruction
	switch {
	case len(args) > 3:
		fd, err := strconv.Atoi(args[3])
		if err != nil {
			return err
		}
		if _, err := unix.Write(fd, []byte("\n")); err != nil {
			return fmt.Errorf("fd %d: %w", fd, err)
		}
		unix.Close(fd)
	case os.Getenv("NOTIFY_SOCKET") != "":
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		if err := unix.Sendto(fd, []byte("READY=1"), 0, &unix.SockaddrUnix{Name: os.Getenv("NOTIFY_SOCKET")}); err != nil {
			return fmt.Errorf("notify: %w", err)
		}
		unix.Close(fd)
	}
	if err := record(file, "ready:"+name, monotonic()); err != nil {
		return err
	}
	for {
		time.Sleep(time.Hour) // until a signal ends it
	}
}

// lineLen and blockLines make the block one write: 655 lines of 100
// bytes, the most that fit in 64 KiB.
const (
	lineLen    = 100
	blockLines = 65536 / lineLen
)

func write(args []string) error {
	if len(args) < 2 {
		return fmt.Errorf("write wants BYTES FILE")
	}
	total, err := strconv.ParseInt(args[0], 10, 64)
	if err != nil {
		return err
	}
	var block bytes.Buffer
	for i := range blockLines {
		line := fmt.Sprintf("line %06d ", i)
		block.WriteString(line)
		block.Write(bytes.Repeat([]byte{'x'}, lineLen-len(line)-1))
		block.WriteByte('\n')
	}
	b := block.Bytes()
	var written int64
	t0 := monotonic()
	for written < total {
		// A signal (the Go runtime's preemption SIGURG, say) can cut a
		// pipe write short: write the rest of the block before the next.
		for p := b; len(p) > 0; {
			n, err := unix.Write(1, p)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return fmt.Errorf("write after %d bytes: %w", written, err)
			}
			p = p[n:]
			written += int64(n)
		}
	}
	t1 := monotonic()
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	cpu := ru.Utime.Nano() + ru.Stime.Nano()
	f, err := os.OpenFile(args[1], os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "write %d %d %d %d\n", t0, t1, written, cpu)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
