// Package e2e drives the built tend binary as a real PID 1, in a fresh PID
// namespace (`unshare --pid --fork --mount-proc`), and as a subreaper on
// the host. The test binary doubles as every helper program tend runs
// (see helpers_test.go): TestMain dispatches on TEND_E2E_HELPER.
//
// Tests wait on events (a line a helper prints, an exit) and never on
// sleeps; every wait has a deadline so a hang fails instead of stalling.
package e2e

import (
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var (
	// tendBin is the tend binary under test, built by TestMain.
	tendBin string
	// self is this test binary, which plays the helper programs.
	self string
)

const helperEnv = "TEND_E2E_HELPER"

// defaultIgnoredSignals undoes a SIG_IGN of HUP or INT the tests were
// started with (nohup ignores HUP; a shell ignores INT for a job it runs
// in the background), which every tend and helper would inherit and the
// signal tests would read as tend's doing (the Go runtime keeps those two
// ignored; it takes the others over at start). A signal subscribed to
// here has a handler, so exec gives the child SIG_DFL for it; this
// process goes on ignoring it, as it did.
func defaultIgnoredSignals() {
	for _, sig := range []os.Signal{syscall.SIGHUP, syscall.SIGINT} {
		if signal.Ignored(sig) {
			signal.Notify(make(chan os.Signal, 1), sig)
		}
	}
}

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(runHelper(os.Args[1:]))
	}
	// Whatever started the tests may have left fds open without
	// close-on-exec (a CI shell often does); they would pass through tend
	// as inherited fds and blur what tend itself opens.
	closeInheritedFds()
	defaultIgnoredSignals()
	dir, err := os.MkdirTemp("", "tend-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tendBin = filepath.Join(dir, "tend")
	args := []string{"build", "-o", tendBin}
	if raceEnabled {
		args = append(args, "-race")
	}
	if pureGo {
		args = append(args, "-tags", "purego")
	}
	build := exec.Command("go", append(args, "tend")...)
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building tend:", err)
		os.Exit(1)
	}
	self, err = os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if raceEnabled {
		// The helpers stand in for user programs and need no race
		// detector; built with it they start slowly and fork slower still
		// (10,000 forks of a race binary take minutes). tend itself keeps
		// the race detector.
		self = filepath.Join(dir, "helpers.test")
		build := exec.Command("go", "test", "-c", "-o", self, "tend/e2e")
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building helpers:", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func closeInheritedFds() {
	ents, _ := os.ReadDir("/proc/self/fd")
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
}

// helper is the argv that runs helper program name with args.
func helper(name string, args ...string) []string {
	return append([]string{self, name}, args...)
}

// shq quotes argv for sh -c.
func shq(argv ...string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// run is one tend process under test.
type run struct {
	t    *testing.T
	cmd  *exec.Cmd
	pid1 bool
	out  *watcher // the programs' stdout; expect reads on from its cursor
	log  *watcher // tend's stderr and the programs'
	done chan struct{}
	code int
}

// options for starting tend.
type options struct {
	hostMode bool     // run on the host (subreaper), not as PID 1
	stdin    *os.File // defaults to none (/dev/null)
	stdout   *os.File // replaces the line pipe (for a pty)
	env      []string // added to the environment
	// around runs tend under another program first (argv prefix).
	around []string
	// extra is passed to tend as fd 3.
	extra *os.File
	// raw, when set, is tend's whole argument list: flags and child are
	// not used.
	raw []string
}

// start runs `tend FLAGS -- CHILD...` as PID 1 of a new PID namespace.
func start(t *testing.T, flags []string, child ...string) *run {
	return startWith(t, options{}, flags, child...)
}

func startWith(t *testing.T, o options, flags []string, child ...string) *run {
	t.Helper()
	argv := append([]string{tendBin}, flags...)
	argv = append(append(argv, "--"), child...)
	if o.raw != nil {
		argv = append([]string{tendBin}, o.raw...)
	}
	argv = append(slices.Clip(o.around), argv...)
	r := &run{t: t, out: newWatcher(t, "the programs' stdout"), log: newWatcher(t, "tend's stderr"), done: make(chan struct{}), pid1: !o.hostMode}
	if r.pid1 {
		ns := []string{"unshare", "--pid", "--fork", "--mount-proc", "--kill-child"}
		if os.Geteuid() != 0 {
			ns = append(ns[:1], append([]string{"--user", "--map-root-user"}, ns[1:]...)...)
		}
		argv = append(ns, argv...)
	}
	r.cmd = exec.Command(argv[0], argv[1:]...)
	// A race-built tend sleeps a second on exit by default; every test
	// here waits for tend to exit.
	gorace := "GORACE=" + strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0")
	r.cmd.Env = append(append(os.Environ(), helperEnv+"=1", gorace), o.env...)
	r.cmd.Stderr = r.log
	// A helper orphaned by a failed test may hold the pipes open; do not
	// let that hang the harness once tend itself is gone.
	r.cmd.WaitDelay = 2 * time.Second
	if o.extra != nil {
		r.cmd.ExtraFiles = []*os.File{o.extra}
	}
	if o.stdin != nil {
		r.cmd.Stdin = o.stdin
	}
	var pr io.ReadCloser
	if o.stdout != nil {
		r.cmd.Stdout = o.stdout
		r.cmd.Stderr = o.stdout
		r.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	} else {
		var pw *os.File
		var err error
		pr, pw, err = os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		r.cmd.Stdout = pw
		defer pw.Close()
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", argv, err)
	}
	if pr != nil {
		go func() {
			defer pr.Close()
			r.out.follow(pr)
		}()
	} else {
		r.out.end()
	}
	go func() {
		r.cmd.Wait()
		r.log.end() // Wait has copied all there was of it
		r.code = r.cmd.ProcessState.ExitCode()
		if ws, ok := r.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.code = 128 + int(ws.Signal())
		}
		close(r.done)
	}()
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			r.cmd.Process.Kill()
			<-r.done
		}
		if t.Failed() {
			t.Logf("tend %v\n--- output ---\n%s\n--- log ---\n%s", argv, strings.Join(r.output(), "\n"), r.log.String())
		}
	})
	return r
}

func (r *run) output() []string { return r.out.texts() }

// deadline bounds every wait: long enough for a loaded CI machine, short
// enough that a hang fails the test in reasonable time.
const deadline = 20 * time.Second

// expect waits for the next line that starts with prefix, skipping
// others, and returns it.
func (r *run) expect(prefix string) string {
	r.t.Helper()
	return r.out.next(fmt.Sprintf("line starting %q", prefix), func(e event) bool { return strings.HasPrefix(e.line, prefix) }).line
}

// expectEach waits until a line starting with each prefix has come, in
// any order.
func (r *run) expectEach(prefixes ...string) {
	r.t.Helper()
	missing := map[string]bool{}
	for _, p := range prefixes {
		missing[p] = true
	}
	e, why := r.out.await(r.out.pos, func(e event) bool {
		for p := range missing {
			if strings.HasPrefix(e.line, p) {
				delete(missing, p)
			}
		}
		return len(missing) == 0
	})
	if why != "" {
		r.t.Fatalf("no lines starting %q in %s: %s", slices.Collect(maps.Keys(missing)), r.out.name, why)
	}
	r.out.pos = e.i + 1
}

// rest returns every line still to come, once the output ends.
func (r *run) rest() []string {
	r.t.Helper()
	return r.out.rest()
}

// wait returns tend's exit code (through unshare, which passes it on).
func (r *run) wait() int {
	r.t.Helper()
	select {
	case <-r.done:
		return r.code
	case <-time.After(deadline):
		r.t.Fatalf("tend did not exit within %v", deadline)
	}
	return -1
}

// tendPid is tend's pid as the host sees it: the child of unshare, or
// the process itself in host mode. Only call it once tend runs (after a
// helper printed its first line), so the child exists.
func (r *run) tendPid() int {
	r.t.Helper()
	if !r.pid1 {
		return r.cmd.Process.Pid
	}
	p := r.cmd.Process.Pid
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", p, p))
	if err != nil {
		r.t.Fatal(err)
	}
	f := strings.Fields(string(b))
	if len(f) != 1 {
		r.t.Fatalf("unshare %d has children %q, want exactly one", p, f)
	}
	pid, _ := strconv.Atoi(f[0])
	return pid
}

// signal sends sig to tend.
func (r *run) signal(sig syscall.Signal) {
	r.t.Helper()
	if err := syscall.Kill(r.tendPid(), sig); err != nil {
		r.t.Fatalf("kill %v: %v", sig, err)
	}
}
