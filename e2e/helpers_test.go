package e2e

// The helper programs tend runs in these tests. Each prints what it sees
// on stdout, one fact per line, and the tests read those lines. Helpers
// are ordinary programs from tend's point of view: they may wait for
// their own children, as any program does.

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func runHelper(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "helper: no name")
		return 2
	}
	name, args := args[0], args[1:]
	switch name {
	case "sigrecv":
		return sigrecv()
	case "term-save":
		return termSave(args[0])
	case "orphans":
		return orphans(atoi(args[0]))
	case "spawn-n":
		return spawnN(atoi(args[0]))
	case "twins":
		return twins()
	case "adopt":
		return adopt()
	case "report-ppid":
		return reportPpid(atoi(args[0]))
	case "group-pair":
		return groupPair()
	case "group-member":
		return groupMember()
	case "tty-check":
		return ttyCheck()
	case "sigconf-exec":
		return sigconfExec(args)
	case "term-ignore-child":
		return termIgnoreChild()
	case "sv-prog":
		return svProg(args)
	case "stderr-fd3":
		return stderrFd3(args)
	}
	if h, ok := moreHelpers[name]; ok {
		return h(args)
	}
	fmt.Fprintln(os.Stderr, "helper: unknown", name)
	return 2
}

// moreHelpers lets other test files add helper programs from an init
// func of their own, without touching the switch above.
var moreHelpers = map[string]func(args []string) int{}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}

// receivable lists the signals a Go program can observe with Notify:
// all but KILL, STOP, URG (the runtime's own, which it sends itself all
// the time) and PROF, and the real-time ones from 35.
func receivable() []os.Signal {
	var out []os.Signal
	for s := syscall.Signal(1); s <= 64; s++ {
		switch {
		case s == unix.SIGKILL, s == unix.SIGSTOP, s == unix.SIGURG, s == unix.SIGPROF:
		case s >= 32 && s <= 34:
		default:
			out = append(out, s)
		}
	}
	return out
}

// sigrecv prints "got N" for every signal it receives, and exits once
// it has had SIGRTMAX (64), the tests' last word.
func sigrecv() int {
	c := make(chan os.Signal, 256)
	signal.Notify(c, receivable()...)
	fmt.Println("ready", os.Getpid())
	for s := range c {
		fmt.Println("got", int(s.(syscall.Signal)))
		if s == syscall.Signal(64) {
			return 0
		}
	}
	return 1
}

// termSave is a server that needs 100 ms to save its state on SIGTERM.
func termSave(path string) int {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM)
	fmt.Println("ready")
	<-c
	time.Sleep(100 * time.Millisecond) // the work being protected, not a wait for a condition
	if err := os.WriteFile(path, []byte("saved\n"), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// orphans makes n processes that end up as orphans of tend: a middle
// process starts them without waiting and exits. Then it waits until
// no zombie is left in the namespace and says how long that took.
func orphans(n int) int {
	mid := exec.Command(os.Args[0], "spawn-n", strconv.Itoa(n))
	mid.Stderr = os.Stderr
	if err := mid.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "middle:", err)
		return 1
	}
	// Polling /proc here is the helper observing, not tend: tend gets
	// no hint from it. The deadline turns a leak into a failure.
	for end := time.Now().Add(80 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		z, live := census()
		if z == 0 && live == 0 {
			fmt.Println("zombies 0")
			return 0
		}
	}
	z, live := census()
	fmt.Println("zombies", z, "live", live)
	return 1
}

// census counts zombies, and live processes other than PID 1 and this
// one, in the namespace's /proc.
func census() (zombies, live int) {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == 1 || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if f[0] == "Z" {
			zombies++
		} else {
			live++
		}
	}
	return
}

// spawnN forks n children that exit at once, and exits without waiting
// for any. It forks with a raw clone and the child calls exit_group
// straight away: it runs no Go code, so the runtime not being there
// does not matter, and 10,000 forks take a fraction of 10,000 execs.
func spawnN(n int) int {
	for i := 0; i < n; i++ {
		pid, _, errno := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
		if errno != 0 {
			fmt.Fprintln(os.Stderr, "clone", i, errno)
			return 1
		}
		if pid == 0 {
			syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
		}
	}
	return 0
}

// twins starts two children that block on one pipe, then closes it and
// exits 127 at once: both children die at the same instant, as orphans,
// while tend is handling the main program's exit (catatonit once hung
// on this).
func twins() int {
	r, w, err := os.Pipe()
	if err != nil {
		return 1
	}
	for i := 0; i < 2; i++ {
		c := exec.Command("/bin/sh", "-c", "read x")
		c.Stdin = r
		if err := c.Start(); err != nil {
			return 1
		}
	}
	r.Close()
	fmt.Println("ready")
	w.Close()
	return 127
}

// adopt starts a middle process that starts a grandchild and exits. The
// grandchild, once its parent is dead, reports who adopted it.
func adopt() int {
	r, w, err := os.Pipe()
	if err != nil {
		return 1
	}
	mid := exec.Command("/bin/sh", "-c", shq(os.Args[0], "report-ppid")+" $$ >&3 & exit 0")
	mid.ExtraFiles = []*os.File{w}
	if err := mid.Run(); err != nil {
		return 1
	}
	w.Close()
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		fmt.Fprintln(os.Stderr, "adopt:", err)
		return 1
	}
	fmt.Print("grandchild ", line)
	return 0
}

// reportPpid waits until its parent, pid mid, has exited, then prints
// its new parent. The loop is the helper watching the kernel reparent
// it; tend is not involved until it is the answer.
func reportPpid(mid int) int {
	for os.Getppid() == mid {
		time.Sleep(time.Millisecond)
	}
	fmt.Printf("ppid %d\n", os.Getppid())
	return 0
}

// groupPair runs a second process in its own process group, the
// member, and passes on the member's lines. It prints a line for every
// USR1 it gets; the member does the same. On TERM it closes the member's
// stdin, which makes the member print how many USR1s it had and exit;
// then groupPair prints both counts and exits.
func groupPair() int {
	c := make(chan os.Signal, 8)
	signal.Notify(c, syscall.SIGUSR1, syscall.SIGTERM)
	member := exec.Command(os.Args[0], "group-member")
	in, _ := member.StdinPipe()
	out, _ := member.StdoutPipe()
	if err := member.Start(); err != nil {
		return 1
	}
	br := bufio.NewReader(out)
	br.ReadString('\n') // the member's "ready": its handler is in place
	report := make(chan string, 1)
	go func() {
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				close(report)
				return
			}
			if strings.HasPrefix(line, "usr1=") {
				report <- line
				continue
			}
			fmt.Print(line)
		}
	}()
	fmt.Println("ready")
	n := 0
	for s := range c {
		if s == syscall.SIGUSR1 {
			n++
			fmt.Println("main got USR1")
			continue
		}
		in.Close()
		line := <-report
		member.Wait()
		fmt.Printf("main usr1=%d member %s", n, line)
		return 0
	}
	return 1
}

func groupMember() int {
	c := make(chan os.Signal, 8)
	signal.Notify(c, syscall.SIGUSR1)
	// The TERM that ends the pair reaches the member too in group mode;
	// it reports when its stdin closes instead.
	signal.Ignore(syscall.SIGTERM)
	fmt.Println("ready")
	eof := make(chan struct{})
	go func() {
		os.Stdin.Read(make([]byte, 1))
		close(eof)
	}()
	n := 0
	for {
		select {
		case <-c:
			n++
			fmt.Println("member got USR1")
		case <-eof:
			fmt.Printf("usr1=%d\n", n)
			return 0
		}
	}
}

// ttyCheck says whether its group holds the terminal's foreground, then
// waits for the Ctrl-C that should kill it.
func ttyCheck() int {
	fg, err := unix.IoctlGetInt(0, unix.TIOCGPGRP)
	fmt.Printf("foreground=%v\n", err == nil && fg == unix.Getpgrp())
	// Not select{}: with no other goroutine the runtime would call that
	// a deadlock and exit 2 before the Ctrl-C comes.
	time.Sleep(time.Hour)
	return 0
}

// sigconfExec sets up what tini's sigconf test does (some signals
// ignored, some blocked) and execs the rest of its argv, tend, which
// must hand exactly that to its child.
func sigconfExec(argv []string) int {
	for _, s := range []syscall.Signal{unix.SIGTTOU, unix.SIGSEGV, unix.SIGINT} {
		// Raw rt_sigaction: os/signal cannot set SIG_IGN on SIGSEGV. This
		// process execs right after, so the runtime losing its handler
		// does not matter.
		act := [4]uintptr{1 /* SIG_IGN */, 0, 0, 0}
		if _, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(s), uintptr(unsafe.Pointer(&act[0])), 0, 8, 0, 0); e != 0 {
			fmt.Fprintln(os.Stderr, "sigaction", s, e)
			return 1
		}
	}
	runtime.LockOSThread() // exec keeps the mask of the thread that calls it
	var set unix.Sigset_t
	for _, s := range []syscall.Signal{unix.SIGTTIN, unix.SIGILL, unix.SIGTERM, unix.SIGWINCH, 40} {
		set.Val[(s-1)/64] |= 1 << ((uint(s) - 1) % 64)
	}
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &set, nil); err != nil {
		fmt.Fprintln(os.Stderr, "sigmask", err)
		return 1
	}
	err := syscall.Exec(argv[0], argv, os.Environ())
	fmt.Fprintln(os.Stderr, "exec:", err)
	return 1
}

// termIgnoreChild starts a grandchild that ignores SIGTERM and keeps
// running, waits until the grandchild says its trap is set (before that
// a TERM would still kill it), tells its pid, and exits 0.
func termIgnoreChild() int {
	c := exec.Command("/bin/sh", "-c", "trap '' TERM; echo armed; exec sleep 60")
	out, err := c.StdoutPipe()
	if err != nil {
		return 1
	}
	if err := c.Start(); err != nil {
		return 1
	}
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "armed\n" {
		fmt.Fprintln(os.Stderr, "grandchild:", line, err)
		return 1
	}
	fmt.Println("ready", c.Process.Pid)
	return 0
}

// forwarderBuilt says whether tend under test forwards signals in its
// own handler: built for amd64 or arm64 without -tags purego (the build
// constraint of signals/handlers.go). Elsewhere the loop forwards every
// signal itself.
func forwarderBuilt() bool {
	return !pureGo && (runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64")
}
