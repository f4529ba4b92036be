package signals

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The tests here send real signals, to the test process and to a helper
// process: the test binary itself, run with TEND_SIGNALS_HELPER=1.
func TestMain(m *testing.M) {
	switch os.Getenv("TEND_SIGNALS_HELPER") {
	case "1":
		reportSignals()
		return
	case "subscribe":
		subscriber()
		return
	case "blocked-subscribe":
		blockedExec()
		return
	case "facts":
		runtimeFacts()
		return
	}
	os.Exit(m.Run())
}

// helperSignals are what the helper reports; TERM ends it.
var helperSignals = []os.Signal{unix.SIGUSR1, unix.SIGUSR2, unix.SIGPIPE, syscall.Signal(40), unix.SIGTERM}

// reportSignals is the helper: it prints "ready", then the number of each
// signal it receives, one a line.
func reportSignals() {
	c := make(chan os.Signal, 64)
	signal.Notify(c, helperSignals...)
	fmt.Println("ready")
	for s := range c {
		fmt.Println(int(s.(syscall.Signal)))
		if s == unix.SIGTERM {
			os.Exit(0)
		}
	}
}

type helper struct {
	t     *testing.T
	cmd   *exec.Cmd
	lines chan string
}

func startHelper(t *testing.T) *helper {
	t.Helper()
	return startHelperEnv(t, "1")
}

// startHelperEnv starts the helper kind, with env added.
func startHelperEnv(t *testing.T, kind string, env ...string) *helper {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), "TEND_SIGNALS_HELPER="+kind), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &helper{t: t, cmd: cmd, lines: make(chan string, 64)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			h.lines <- sc.Text()
		}
		close(h.lines)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill() // a helper that forwards TERM quietly lives on after one
		cmd.Wait()
	})
	if l := h.next(); l != "ready" {
		t.Fatalf("helper said %q, want ready", l)
	}
	return h
}

// next is the helper's next line. The bound is only against a hang: the
// helper answers in microseconds.
func (h *helper) next() string {
	h.t.Helper()
	select {
	case l, ok := <-h.lines:
		if !ok {
			h.t.Fatal("helper exited")
		}
		return l
	case <-time.After(10 * time.Second):
		h.t.Fatal("helper said nothing for 10 s")
	}
	return ""
}

func (h *helper) expect(sig syscall.Signal) {
	h.t.Helper()
	if l := h.next(); l != strconv.Itoa(int(sig)) {
		h.t.Fatalf("helper received signal %s, want %d (%s)", l, sig, Name(sig))
	}
}

func (h *helper) expectLine(want string) {
	h.t.Helper()
	if l := h.next(); l != want {
		h.t.Fatalf("helper said %q, want %q", l, want)
	}
}

func (h *helper) signal(sig syscall.Signal) {
	h.t.Helper()
	if err := h.cmd.Process.Signal(sig); err != nil {
		h.t.Fatalf("signal %s: %v", Name(sig), err)
	}
}

func receive(t *testing.T, c <-chan os.Signal, want syscall.Signal) {
	t.Helper()
	select {
	case got := <-c:
		if got != want {
			t.Fatalf("delivered %v, want %v", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%v not delivered in 10 s", want)
	}
}

// subscriber is the other helper: it subscribes as tend does, forwards
// the signals in TEND_SIGNALS_FORWARD to the pid in TEND_SIGNALS_TARGET,
// prints "ready", then for each signal the subscription delivers its
// number and the forwarder's count ("10 1"). TERM ends it. With
// TEND_SIGNALS_QUIET=1 it forwards quietly, but for those in
// TEND_SIGNALS_LOUD (installed by a second call); with TEND_SIGNALS_FOREIGN=1
// it makes its handlers take it for a forked child.
func subscriber() {
	sub := Subscribe()
	var fwd []syscall.Signal
	for _, f := range strings.Fields(os.Getenv("TEND_SIGNALS_FORWARD")) {
		s, _ := Parse(f)
		fwd = append(fwd, s)
	}
	if got, err := InstallForwarder(fwd, os.Getenv("TEND_SIGNALS_QUIET") == "1"); err != nil || len(got) != len(fwd) {
		fmt.Printf("InstallForwarder(%v) = %v, %v\n", fwd, got, err)
		os.Exit(1)
	}
	var loud []syscall.Signal
	for _, f := range strings.Fields(os.Getenv("TEND_SIGNALS_LOUD")) {
		s, _ := Parse(f)
		loud = append(loud, s)
	}
	if got, err := InstallForwarder(loud, false); err != nil || len(got) != len(loud) {
		fmt.Printf("InstallForwarder(%v) = %v, %v\n", loud, got, err)
		os.Exit(1)
	}
	for _, s := range Catchable() {
		act, _ := getAction(s)
		want := notifyHandlerAddr()
		switch s {
		case unix.SIGCHLD:
			want = childHandlerAddr()
		case unix.SIGPIPE:
			want = pipeHandlerAddr()
		}
		if (act[0] == want) == Synchronous(s) {
			fmt.Printf("%s: handler %#x (tend's: %#x)\n", Name(s), act[0], want)
			os.Exit(1)
		}
	}
	if t, err := strconv.Atoi(os.Getenv("TEND_SIGNALS_TARGET")); err == nil {
		ForwardTo(t)
	}
	if os.Getenv("TEND_SIGNALS_FOREIGN") == "1" {
		atomic.StoreInt64(&selfPID, 1)
	}
	fmt.Println("ready")
	for {
		var s os.Signal
		select {
		case s = <-sub.Child:
		case s = <-sub.Other:
		}
		sig := s.(syscall.Signal)
		if sig == unix.SIGALRM && os.Getenv("TEND_SIGNALS_EPIPE") == "1" {
			// Write to a pipe nobody reads: the kernel raises SIGPIPE
			// at this process.
			r, w, _ := os.Pipe()
			r.Close()
			_, err := w.Write([]byte("x"))
			w.Close()
			fmt.Println("pipe:", err)
			continue
		}
		if sig == unix.SIGWINCH && os.Getenv("TEND_SIGNALS_STOPS") == "1" {
			// What the handler noted of a stop signal it sent, and
			// whether that was in the last 10 s.
			target, ns, ok := StopForwarded()
			var now unix.Timespec
			_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &now)
			age := time.Duration(now.Nano() - ns)
			fmt.Println("stop", target, ok, ok && age >= 0 && age < 10*time.Second)
			continue
		}
		fmt.Println(int(sig), Forwarded(sig))
		if sig == unix.SIGTERM {
			os.Exit(0)
		}
	}
}

// TestDelivery: each signal sent to a subscribed process is delivered by
// tend's handlers exactly once (the lines come one per signal, in order),
// SIGCHLD and a sent PIPE included; and the fault signals, left to
// os/signal, still arrive.
func TestDelivery(t *testing.T) {
	if !handlersBuilt {
		t.Skip("no handlers on this architecture: os/signal delivers every signal")
	}
	h := startHelperEnv(t, "subscribe")
	for _, s := range []syscall.Signal{unix.SIGUSR1, unix.SIGHUP, unix.SIGWINCH, unix.SIGTSTP, unix.SIGTTIN, unix.SIGCHLD, 35, 40, 62, unix.SIGSEGV, unix.SIGPIPE, unix.SIGUSR1} {
		h.signal(s)
		h.expectLine(fmt.Sprintf("%d 0", s))
	}
}

// TestForwarder: with a target set, a signal the handler forwards reaches
// the target once, straight from the handler, and is still delivered,
// counted once; with no target it is only delivered. A signal the
// handler does not forward is only delivered.
func TestForwarder(t *testing.T) {
	if !handlersBuilt {
		t.Skip("no forwarding handler on this architecture: the loop forwards every signal")
	}
	target := startHelper(t)
	sigs := []syscall.Signal{unix.SIGUSR1, 40, unix.SIGUSR2}
	h := startHelperEnv(t, "subscribe", "TEND_SIGNALS_FORWARD=USR1 40 USR2",
		"TEND_SIGNALS_TARGET="+strconv.Itoa(target.cmd.Process.Pid))
	for round := 0; round < 3; round++ {
		for _, s := range sigs {
			h.signal(s)
			target.expect(s)
			h.expectLine(fmt.Sprintf("%d 1", s))
		}
	}
	h.signal(unix.SIGHUP) // delivered, not forwarded
	h.expectLine(fmt.Sprintf("%d 0", unix.SIGHUP))
	// Had HUP been forwarded, it would have ended the target (no handler
	// there): USR2, sent to the target directly, shows it lives on.
	if err := target.cmd.Process.Signal(unix.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	target.expect(unix.SIGUSR2)

	h = startHelperEnv(t, "subscribe", "TEND_SIGNALS_FORWARD=USR1")
	h.signal(unix.SIGUSR1)
	h.expectLine(fmt.Sprintf("%d 0", unix.SIGUSR1))
}

// TestForwarderQuiet: forwarding quietly, a signal the handler sends
// reaches the target once and is neither delivered nor counted; one the
// kill fails for, its target gone, is delivered, and not counted as sent.
func TestForwarderQuiet(t *testing.T) {
	if !handlersBuilt {
		t.Skip("no forwarding handler on this architecture: the loop forwards every signal")
	}
	target := startHelper(t)
	h := startHelperEnv(t, "subscribe", "TEND_SIGNALS_FORWARD=USR1 40", "TEND_SIGNALS_QUIET=1",
		"TEND_SIGNALS_TARGET="+strconv.Itoa(target.cmd.Process.Pid))
	for round := 0; round < 3; round++ {
		for _, s := range []syscall.Signal{unix.SIGUSR1, 40} {
			h.signal(s)
			target.expect(s)
		}
	}
	// Not forwarded, so delivered. The handler delivers marks lowest
	// first, and 41 comes after every 40 the target has seen: had a 40
	// been marked too, its line would come first.
	h.signal(41)
	h.expectLine("41 0")

	// Quiet is per signal: USR2, installed by a second call not quietly,
	// is forwarded and delivered, counted; USR1 still only forwarded
	// (its line would come before USR2's: marks go lowest first).
	h = startHelperEnv(t, "subscribe", "TEND_SIGNALS_FORWARD=USR1", "TEND_SIGNALS_QUIET=1", "TEND_SIGNALS_LOUD=USR2",
		"TEND_SIGNALS_TARGET="+strconv.Itoa(target.cmd.Process.Pid))
	for round := 0; round < 3; round++ {
		h.signal(unix.SIGUSR1)
		target.expect(unix.SIGUSR1)
		h.signal(unix.SIGUSR2)
		target.expect(unix.SIGUSR2)
		h.expectLine(fmt.Sprintf("%d 1", unix.SIGUSR2))
	}

	// No process has pid 1<<30: the kernel's pids stop at 1<<22
	// (PID_MAX_LIMIT). A reaped child's pid could be another's by now.
	h = startHelperEnv(t, "subscribe", "TEND_SIGNALS_FORWARD=40", "TEND_SIGNALS_QUIET=1",
		"TEND_SIGNALS_TARGET="+strconv.Itoa(1<<30))
	h.signal(40)
	h.expectLine("40 0")
}

// TestStopStamp: the handler notes the first stop signal it forwards,
// quietly too: whom to, and when; once taken the note is gone. Another
// signal leaves none. (With TEND_SIGNALS_STOPS=1, a WINCH has the
// helper print the note.)
func TestStopStamp(t *testing.T) {
	if !handlersBuilt {
		t.Skip("no forwarding handler on this architecture: the loop forwards every signal")
	}
	target := startHelper(t)
	pid := target.cmd.Process.Pid
	h := startHelperEnv(t, "subscribe", "TEND_SIGNALS_FORWARD=USR1 TERM", "TEND_SIGNALS_QUIET=1", "TEND_SIGNALS_STOPS=1",
		"TEND_SIGNALS_TARGET="+strconv.Itoa(pid))
	h.signal(unix.SIGUSR1)
	target.expect(unix.SIGUSR1)
	h.signal(unix.SIGWINCH)
	h.expectLine("stop 0 false false")
	h.signal(unix.SIGTERM) // not delivered (quiet): the helper lives on
	target.expect(unix.SIGTERM)
	h.signal(unix.SIGWINCH)
	h.expectLine(fmt.Sprintf("stop %d true true", pid))
	// Taken once it has its time. Taken while the handler was still
	// between its kill and its clock (preempted, say, by the target it
	// woke), the note says "sent now" and stays for the handler's time:
	// then it comes again, and goes.
	for n := 0; ; n++ {
		h.signal(unix.SIGWINCH)
		l := h.next()
		if l == "stop 0 false false" {
			break
		}
		if l != fmt.Sprintf("stop %d true true", pid) || n == 100 {
			t.Fatalf("helper said %q after the note was taken %d times, want it gone", l, n+1)
		}
	}
}

// TestPipeSentOrRaised: a SIGPIPE sent with kill is forwarded and
// delivered, like any other; the SIGPIPE the kernel raises when the
// process writes to a pipe nobody reads is neither, and does not kill it
// (pipeHandler). A write to tend's closed stdout is e2e's
// TestClosedStdout.
func TestPipeSentOrRaised(t *testing.T) {
	if !handlersBuilt {
		t.Skip("no forwarding handler on this architecture: a SIGPIPE is dropped")
	}
	target := startHelper(t)
	h := startHelperEnv(t, "subscribe", "TEND_SIGNALS_FORWARD=PIPE USR1", "TEND_SIGNALS_EPIPE=1",
		"TEND_SIGNALS_TARGET="+strconv.Itoa(target.cmd.Process.Pid))
	for round := 0; round < 3; round++ {
		h.signal(unix.SIGPIPE)
		target.expect(unix.SIGPIPE)
		h.expectLine(fmt.Sprintf("%d 1", unix.SIGPIPE))

		h.signal(unix.SIGALRM) // the helper writes to a closed pipe
		h.expectLine("pipe: write |1: broken pipe")
		// Had the raised SIGPIPE been forwarded, the target would say
		// 13 before 10; had it been delivered, the helper would.
		h.signal(unix.SIGUSR1)
		target.expect(unix.SIGUSR1)
		h.expectLine(fmt.Sprintf("%d 1", unix.SIGUSR1))
	}
}

// TestForeignHandler: a handler of tend's that runs in another process
// (a child between fork and exec) does what the kernel would have done
// without it: the default action, here death by the signal.
func TestForeignHandler(t *testing.T) {
	if !handlersBuilt {
		t.Skip("no handlers on this architecture")
	}
	for _, s := range []syscall.Signal{unix.SIGUSR1, 40} {
		h := startHelperEnv(t, "subscribe", "TEND_SIGNALS_FOREIGN=1")
		h.signal(s)
		done := make(chan error, 1)
		go func() { done <- h.cmd.Wait() }()
		var err error
		select {
		case err = <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("after %s the helper lives on", Name(s))
		}
		for l := range h.lines {
			t.Errorf("after %s the helper said %q", Name(s), l)
		}
		ws, ok := h.cmd.ProcessState.Sys().(syscall.WaitStatus)
		if !ok || !ws.Signaled() || ws.Signal() != s {
			t.Errorf("after %s: %v, want death by %s", Name(s), err, Name(s))
		}
	}
}

// TestStartedBlocked: a signal tend was started with blocked, which the
// runtime leaves blocked on its threads, is still caught and delivered.
func TestStartedBlocked(t *testing.T) {
	if !handlersBuilt {
		t.Skip("no handlers on this architecture")
	}
	h := startHelperEnv(t, "blocked-subscribe")
	for _, s := range []syscall.Signal{unix.SIGWINCH, 40, unix.SIGUSR1} {
		h.signal(s)
		h.expectLine(fmt.Sprintf("%d 0", s))
	}
}

// blockedExec blocks WINCH, 40 and USR1 and execs the subscriber.
func blockedExec() {
	runtime.LockOSThread() // exec keeps the mask of the thread that calls it
	var set unix.Sigset_t
	for _, s := range []syscall.Signal{unix.SIGWINCH, 40, unix.SIGUSR1} {
		set.Val[(s-1)/64] |= 1 << ((uint(s) - 1) % 64)
	}
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &set, nil); err != nil {
		fmt.Println("sigmask:", err)
		os.Exit(1)
	}
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "TEND_SIGNALS_HELPER=") {
			env = append(env, e)
		}
	}
	env = append(env, "TEND_SIGNALS_HELPER=subscribe")
	err := syscall.Exec(os.Args[0], []string{os.Args[0], "-test.run=^$"}, env)
	fmt.Println("exec:", err)
	os.Exit(1)
}

// TestForwarderRefusesFaults: the signals of a faulting instruction stay
// with the runtime alone, and SIGCHLD is tend's own.
func TestForwarderRefusesFaults(t *testing.T) {
	refused := []syscall.Signal{unix.SIGSEGV, unix.SIGBUS, unix.SIGFPE, unix.SIGILL, unix.SIGTRAP, unix.SIGSYS, unix.SIGSTKFLT, unix.SIGCHLD, unix.SIGCHLD + 1000}
	if !handlersBuilt {
		refused = nil // InstallForwarder turns on nothing, and says nothing
	}
	for _, s := range refused {
		if got, err := InstallForwarder([]syscall.Signal{s}, false); err == nil || len(got) != 0 {
			t.Errorf("InstallForwarder(%d) = %v, %v; want an error and nothing installed", s, got, err)
		}
	}
	// A nil dereference still reaches the runtime as a panic.
	defer func() {
		if recover() == nil {
			t.Error("no panic from a nil dereference")
		}
	}()
	var p *int
	*p = 1
}

// TestMuteChild: muted, SIGCHLD is SIG_DFL, so exits raise nothing but
// children still wait as zombies with their status; unmuted, the handler
// is back as it was, and the first exit mutes SIGCHLD by itself and is
// still delivered. It runs in this process, with tend's delivery of
// SIGCHLD alone.
func TestMuteChild(t *testing.T) {
	own := make(chan os.Signal, 1)
	if handlersBuilt {
		if err := deliverOwn([]syscall.Signal{unix.SIGCHLD}, own, nil); err != nil {
			t.Fatal(err)
		}
	} else {
		signal.Notify(own, unix.SIGCHLD)
		defer signal.Stop(own)
		act, _ := getAction(unix.SIGCHLD)
		saveChild(act)
	}
	before, _ := getAction(unix.SIGCHLD)
	if !goChild.saved || before[0] == sigDfl || before != goChild.act {
		t.Fatalf("SIGCHLD handler %#x, saved %v %#x", before[0], goChild.saved, goChild.act[0])
	}
	if handlersBuilt && before[0] != childHandlerAddr() {
		t.Fatalf("SIGCHLD handler %#x, want childHandler's %#x", before[0], childHandlerAddr())
	}

	if err := MuteChild(); err != nil {
		t.Fatal(err)
	}
	if act, _ := getAction(unix.SIGCHLD); act[0] != sigDfl {
		t.Fatalf("muted: handler %#x, want SIG_DFL", act[0])
	}
	pid := startExit(t, 7)
	// waitid with WNOWAIT blocks until the child has exited, and leaves it
	// a zombie: under SIG_IGN the kernel would have reaped it already.
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil); err != nil {
		t.Fatalf("waitid: %v", err)
	}
	if code := reapOne(t, pid); code != 7 {
		t.Errorf("muted child's exit code %d, want 7", code)
	}
	select {
	case <-own:
		t.Fatal("a SIGCHLD was delivered while muted")
	default:
	}

	for round := 0; round < 3; round++ {
		if err := UnmuteChild(); err != nil {
			t.Fatal(err)
		}
		if after, _ := getAction(unix.SIGCHLD); after != before {
			t.Fatalf("unmuted: action %#x, want %#x back", after, before)
		}
		pid = startExit(t, 3)
		receive(t, own, unix.SIGCHLD)
		if code := reapOne(t, pid); code != 3 {
			t.Errorf("child's exit code %d, want 3", code)
		}
		if act, _ := getAction(unix.SIGCHLD); handlersBuilt && act[0] != sigDfl {
			t.Errorf("after a SIGCHLD: handler %#x, want SIG_DFL (muted by childHandler)", act[0])
		}
	}
	if err := UnmuteChild(); err != nil {
		t.Fatal(err)
	}
}

func startExit(t *testing.T, code int) int {
	t.Helper()
	pid, err := syscall.ForkExec("/bin/sh", []string{"sh", "-c", "exit " + strconv.Itoa(code)}, &syscall.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func reapOne(t *testing.T, pid int) int {
	t.Helper()
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil {
		t.Fatalf("wait4(%d): %v", pid, err)
	}
	return ws.ExitStatus()
}
