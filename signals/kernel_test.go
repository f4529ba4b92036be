package signals

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The tests here send real signals, to the test process and to a helper
// process: the test binary itself, run with TEND_SIGNALS_HELPER=1.
func TestMain(m *testing.M) {
	if os.Getenv("TEND_SIGNALS_HELPER") == "1" {
		reportSignals()
		return
	}
	os.Exit(m.Run())
}

// helperSignals are what the helper reports; TERM ends it.
var helperSignals = []os.Signal{unix.SIGUSR1, unix.SIGUSR2, syscall.Signal(40), unix.SIGTERM}

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
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "TEND_SIGNALS_HELPER=1")
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
		cmd.Process.Signal(unix.SIGTERM)
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

func receive(t *testing.T, c <-chan os.Signal, want syscall.Signal) {
	t.Helper()
	select {
	case got := <-c:
		if got != want {
			t.Fatalf("os/signal delivered %v, want %v", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("os/signal did not deliver %v: the handler did not chain to the runtime's", want)
	}
}

// TestForwarder: with a target set, a signal to this process reaches the
// target, once, straight from the handler, and os/signal still delivers it
// here; with none, it reaches only os/signal.
func TestForwarder(t *testing.T) {
	if !ForwarderBuilt {
		t.Skip("no forwarding handler on this architecture: every signal goes through os/signal")
	}
	h := startHelper(t)
	own := make(chan os.Signal, 16)
	sigs := []syscall.Signal{unix.SIGUSR1, syscall.Signal(40), unix.SIGUSR2}
	for _, s := range sigs {
		signal.Notify(own, s)
	}
	defer signal.Stop(own)

	installed, err := InstallForwarder(sigs)
	if err != nil || len(installed) != len(sigs) {
		t.Fatalf("InstallForwarder = %v, %v; want all of %v", installed, err, sigs)
	}
	for _, s := range sigs {
		if act, _ := getAction(s); act[0] != forwardHandlerAddr() {
			t.Errorf("%s: handler %#x, want the forwarder's %#x", Name(s), act[0], forwardHandlerAddr())
		}
	}
	// Installing again changes nothing: the runtime's handler stays the
	// one chained to.
	chain := fwdChain
	if again, err := InstallForwarder(sigs); err != nil || len(again) != len(sigs) || fwdChain != chain {
		t.Fatalf("second InstallForwarder = %v, %v, chain changed: %v", again, err, fwdChain != chain)
	}

	ForwardTo(h.cmd.Process.Pid)
	for round := 0; round < 3; round++ {
		for _, s := range sigs {
			if err := unix.Kill(os.Getpid(), s); err != nil {
				t.Fatal(err)
			}
			h.expect(s)
			receive(t, own, s)
			if n := Forwarded(s); n != 1 {
				t.Errorf("Forwarded(%s) = %d after one signal, want 1", Name(s), n)
			}
		}
	}

	ForwardTo(0)
	if err := unix.Kill(os.Getpid(), unix.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	receive(t, own, unix.SIGUSR1)
	if n := Forwarded(unix.SIGUSR1); n != 0 {
		t.Errorf("Forwarded(USR1) = %d with no target, want 0", n)
	}
	// Had the handler sent USR1 on, the helper would report it before
	// this USR2 (its os/signal hands pending signals over lowest first).
	if err := h.cmd.Process.Signal(unix.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	h.expect(unix.SIGUSR2)
}

// TestForwarderRefusesFaults: the signals of a faulting instruction stay
// with the runtime alone.
func TestForwarderRefusesFaults(t *testing.T) {
	refused := []syscall.Signal{unix.SIGSEGV, unix.SIGBUS, unix.SIGFPE, unix.SIGILL, unix.SIGTRAP, unix.SIGSYS, unix.SIGSTKFLT, unix.SIGCHLD + 1000}
	if !ForwarderBuilt {
		refused = nil // InstallForwarder installs nothing, and says nothing
	}
	for _, s := range refused {
		if got, err := InstallForwarder([]syscall.Signal{s}); err == nil || len(got) != 0 {
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
// is back as it was, and the first exit mutes SIGCHLD by itself and still
// reaches os/signal.
func TestMuteChild(t *testing.T) {
	own := make(chan os.Signal, 1)
	signal.Notify(own, unix.SIGCHLD)
	defer signal.Stop(own)
	saveChildHandler()
	// An exit since the last test (a helper's) may have muted SIGCHLD,
	// with no loop here to unmute it.
	if goChild.saved {
		UnmuteChild()
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

	for round := 0; round < 3; round++ {
		if err := UnmuteChild(); err != nil {
			t.Fatal(err)
		}
		if after, _ := getAction(unix.SIGCHLD); after != before {
			t.Fatalf("unmuted: action %#x, want %#x back", after, before)
		}
		select { // drop a SIGCHLD from before, if any
		case <-own:
		default:
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
