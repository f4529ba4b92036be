// Command benchchild is the program every init runs as its child in the
// benchmarks (bench/cmd/initbench). It is started as
// `INIT -- benchchild MODE [ARG]`, so it is the init's direct child, in
// the process group each init gives it.
//
// Every mode first prints one line to stdout,
//
//	ready pid=P ppid=Q pgid=G sid=S [key=value...]
//
// (ids as seen inside the PID namespace), and then exits 0 when stdin
// reaches EOF: the driver ends a run by closing the pipe, the same way for
// every init, with no signal the init would have to forward.
//
// Modes:
//
//	idle              sleep in read(stdin): the child for RSS and idle
//	                  wake-ups.
//	signals           print the CLOCK_MONOTONIC time of every SIGUSR1 and
//	                  SIGTERM, one line of nanoseconds each: the
//	                  forwarding-latency probe (a TERM does not end it).
//	orphans N live    leave N live processes reparented to the init; on
//	                  the line "release" from stdin they all exit at once.
//	orphans N zombie  leave N zombies under a middle process; on "release"
//	                  it exits and the N zombies pass to the init at once.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchchild idle|signals|orphans N live|zombie")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "idle":
		ready()
		err = waitEOF()
	case "signals":
		err = signals()
	case "orphans":
		err = orphans(count(os.Args), len(os.Args) > 3 && os.Args[3] == "zombie")
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchchild %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func count(args []string) int {
	if len(args) < 3 {
		return 0
	}
	n, _ := strconv.Atoi(args[2])
	return n
}

// ready tells the driver the child runs, and where: the driver checks
// that ppid is 1 and pgid is pid.
func ready(extra ...string) {
	pgid, _ := unix.Getpgid(0)
	sid, _ := unix.Getsid(0)
	line := fmt.Sprintf("ready pid=%d ppid=%d pgid=%d sid=%d", os.Getpid(), os.Getppid(), pgid, sid)
	for _, e := range extra {
		line += " " + e
	}
	fmt.Println(line)
}

func waitEOF() error {
	_, err := io.Copy(io.Discard, os.Stdin)
	return err
}

// monotonic is CLOCK_MONOTONIC in nanoseconds, comparable across
// processes (time.Now's monotonic reading is relative to process start).
func monotonic() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// signals reports when each SIGUSR1 or SIGTERM arrives. To time the
// arrival of SIGUSR1 itself, not the Go runtime's handler → channel →
// goroutine hand-off, it is blocked in every thread and read from a
// signalfd by a thread asleep in read(2). The Go runtime starts each
// thread with the mask the process was exec'd with, so the child blocks
// the signal and execs itself once. SIGTERM cannot be read so: the
// runtime unblocks it in every thread it starts (it must be able to die
// of it). It comes through os/signal, hand-off included; that is the same
// for every init, so their difference is the init's. A TERM does not end
// the child.
func signals() error {
	var set unix.Sigset_t
	set.Val[(unix.SIGUSR1-1)/64] |= 1 << ((uint(unix.SIGUSR1) - 1) % 64)
	runtime.LockOSThread()
	var cur unix.Sigset_t
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, nil, &cur); err != nil {
		return err
	}
	if cur.Val[0]&set.Val[0] == 0 {
		if err := unix.PthreadSigmask(unix.SIG_BLOCK, &set, nil); err != nil {
			return err
		}
		// Same pid, same parent, same process group: still the init's
		// direct child.
		return syscall.Exec("/proc/self/exe", os.Args, os.Environ())
	}
	fd, err := unix.Signalfd(-1, &set, unix.SFD_CLOEXEC)
	if err != nil {
		return fmt.Errorf("signalfd: %w", err)
	}
	go func() {
		_ = waitEOF()
		os.Exit(0)
	}()
	var mu sync.Mutex
	report := func(t int64, out []byte) error {
		out = strconv.AppendInt(out[:0], t, 10)
		out = append(out, '\n')
		mu.Lock()
		defer mu.Unlock()
		_, err := os.Stdout.Write(out)
		return err
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, unix.SIGTERM)
	go func() {
		out := make([]byte, 0, 32)
		for range term {
			if report(monotonic(), out) != nil {
				os.Exit(1)
			}
		}
	}()
	ready()
	var info [128]byte // struct signalfd_siginfo
	out := make([]byte, 0, 32)
	for {
		_, err := unix.Read(fd, info[:])
		t := monotonic()
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read signalfd: %w", err)
		}
		if err := report(t, out); err != nil {
			return err
		}
	}
}

// orphans makes n processes that end up as the init's children: a middle
// process forks them without waiting and exits, and the kernel reparents
// them to PID 1. The line "release" on stdin sets them off:
//
//   - live: the middle exits at once, and the n orphans sleep in read(2)
//     on a pipe whose only writer is this process; the release closes it,
//     and they all wake up and exit at the same time.
//   - zombie: the n children exit at once, and the middle keeps them as
//     zombies, asleep in read(2) on that pipe; on the release it exits,
//     and the init inherits n zombies in one go.
func orphans(n int, zombie bool) error {
	if n <= 0 {
		return errors.New("want a count > 0")
	}
	release, hold, err := os.Pipe()
	if err != nil {
		return err
	}
	forked, note, err := os.Pipe()
	if err != nil {
		return err
	}
	// Fd puts the pipe in blocking mode, which the processes that read it
	// share: they must sleep in read, not get EAGAIN.
	mid, errno := forkOrphans(n, zombie, release.Fd(), note.Fd())
	if errno != 0 {
		return fmt.Errorf("fork: %w", errno)
	}
	release.Close()
	note.Close()
	// One byte once the middle has forked all n; EOF if it failed.
	if _, err := io.ReadFull(forked, make([]byte, 1)); err != nil {
		return fmt.Errorf("the middle process did not fork %d processes", n)
	}
	if !zombie {
		if err := waitMiddle(mid); err != nil {
			return err
		}
	}
	ready("orphans=" + strconv.Itoa(n))
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() == "release" {
			hold.Close()
			if zombie {
				if err := waitMiddle(mid); err != nil {
					return err
				}
			}
		}
	}
	return in.Err()
}

func waitMiddle(pid int) error {
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil {
		return fmt.Errorf("wait for the middle process: %w", err)
	}
	if !ws.Exited() || ws.ExitStatus() != 0 {
		return fmt.Errorf("middle process failed: %v", ws)
	}
	return nil
}

// forkOrphans forks the middle process and returns its pid. The middle
// moves release to fd 0 and note to fd 1 and closes every other fd (so
// that only this process holds the pipe's write end, and no orphan holds
// the driver's pipes), blocks every signal, forks n children, writes a
// byte to note and exits 0 (live) or waits for EOF on release first
// (zombie). It exits 1 if a fork fails. A live child waits for EOF on
// release, a zombie child does not; then each exits 0.
//
// The middle and its children are copies of a multi-threaded Go process
// with a single thread, so they must not touch the Go runtime: they run
// raw system calls in this nosplit frame only, as
// syscall.forkAndExecInChild does before exec, and block every signal so
// that no Go handler (which fork copied) ever runs in them. Not going
// through the runtime also keeps the forks cheap: the middle writes one
// stack page, not a Go heap that every fork would write-protect again.
//
//go:nosplit
//go:norace
func forkOrphans(n int, zombie bool, release, note uintptr) (int, syscall.Errno) {
	var b [1]byte
	all := ^uint64(0)
	pid, _, errno := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
	if errno != 0 || pid != 0 {
		return int(pid), errno
	}
	// The middle process. release and note are at least 3: os.Pipe never
	// returns 0, 1 or 2 while stdin, stdout and stderr are open.
	syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&all)), 0, 8, 0, 0)
	syscall.RawSyscall(syscall.SYS_DUP3, release, 0, 0)
	syscall.RawSyscall(syscall.SYS_DUP3, note, 1, 0)
	syscall.RawSyscall(unix.SYS_CLOSE_RANGE, 2, uintptr(^uint32(0)), 0)
	for range n {
		c, _, e := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
		if e != 0 {
			syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 1, 0, 0)
		}
		if c == 0 {
			if !zombie {
				syscall.RawSyscall(syscall.SYS_READ, 0, uintptr(unsafe.Pointer(&b[0])), 1)
			}
			syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
		}
	}
	syscall.RawSyscall(syscall.SYS_WRITE, 1, uintptr(unsafe.Pointer(&b[0])), 1)
	if zombie {
		syscall.RawSyscall(syscall.SYS_READ, 0, uintptr(unsafe.Pointer(&b[0])), 1)
	}
	syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
	return 0, 0 // not reached
}
