package e2e

// Supervisor mode end to end: `tend -c FILE` (and `-c FILE -- CMD`) as
// real PID 1, supervising real processes, checked through tend's own
// JSON log. Each test checks one rule of SPEC's "Program states",
// "Signals to tend in supervisor mode" or "Exit codes of tend itself":
// what happened, in what order, and with what exit code, waiting on
// log lines (never on sleeps), each wait bounded by the harness's
// deadline. Every test ends with finish(): tend has exited and no
// process it started, nor any of theirs, is left.
//
// Timing checks use the time the test read each line (time.Now, so
// monotonic and finer than the log's own seconds), and only as lower
// bounds, which are facts, with generous upper bounds that catch a
// hang and nothing finer.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// ---- harness: tend's JSON log, as a watcher's events (watch_test.go) ----

// is reports whether e is program's change to state.
func (e event) is(program, state string) bool {
	return e.Message == "state" && e.Program == program && e.State == state
}

func (e event) code() int {
	if e.ExitCode == nil {
		return -1
	}
	return *e.ExitCode
}

// waitState waits for program's first change to state.
func (w *watcher) waitState(program, state string) event {
	w.t.Helper()
	return w.waitFrom(0, program+" "+state, func(e event) bool { return e.is(program, state) })
}

// waitAfter waits for program's first change to state after e.
func (w *watcher) waitAfter(e event, program, state string) event {
	w.t.Helper()
	return w.waitFrom(e.i+1, fmt.Sprintf("%s %s after %v", program, state, e), func(e event) bool { return e.is(program, state) })
}

// waitMessage waits for a line about program whose message contains msg.
func (w *watcher) waitMessage(program, msg string) event {
	w.t.Helper()
	return w.waitFrom(0, fmt.Sprintf("%q about %s", msg, program), func(e event) bool {
		return e.Program == program && strings.Contains(e.Message, msg)
	})
}

// states is every state change of program so far, in order.
func (w *watcher) states(program string) []event {
	var out []event
	for _, e := range w.events() {
		if e.Message == "state" && e.Program == program {
			out = append(out, e)
		}
	}
	return out
}

// first is program's first change to state, if there was one.
func (w *watcher) first(program, state string) (event, bool) {
	for _, e := range w.events() {
		if e.is(program, state) {
			return e, true
		}
	}
	return event{}, false
}

// stateNames is the list of states of evs.
func stateNames(evs []event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.State
	}
	return out
}

// inOrder fails unless evs came in this order in the log.
func inOrder(t *testing.T, what string, evs ...event) {
	t.Helper()
	for k := 1; k < len(evs); k++ {
		if evs[k-1].i >= evs[k].i {
			t.Errorf("%s: out of order:\n  %v\nshould come before\n  %v", what, evs[k-1], evs[k])
		}
	}
}

// mustFirst is program's first change to state, which must be there.
func (w *watcher) mustFirst(program, state string) event {
	w.t.Helper()
	e, ok := w.first(program, state)
	if !ok {
		w.t.Fatalf("no %s %s in %s", program, state, w.name)
	}
	return e
}

// ---- harness: running tend in supervisor mode ----

// markerEnv is set, to a value unique to one tend, in tend's environment
// and so in that of everything it starts: after tend exits, a process
// whose environment holds it was left behind.
const markerEnv = "TEND_E2E_RUN"

var svSeq atomic.Int64

// svRun is one tend in supervisor mode.
type svRun struct {
	*run
	tl     *watcher // tend's log
	marker string   // markerEnv=value, as it appears in /proc/PID/environ
}

type svOptions struct {
	host  bool     // on the host as a subreaper, not as PID 1
	flags []string // more of tend's flags, after --log-format json -c FILE
	main  []string // the main program, after --
	raw   []string // tend's whole argument list instead
	// around runs first, with tend's argv (cg-exec, say); bin, when set,
	// is a tend binary other than the one under test.
	around []string
	bin    string
	env    []string // added to tend's environment
}

// startSv runs tend with config file cfg and its log followed.
func startSv(t *testing.T, cfg string, o svOptions) *svRun {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &svRun{tl: newWatcher(t, "tend's log"), marker: fmt.Sprintf("%s=%d-%d", markerEnv, os.Getpid(), svSeq.Add(1))}
	// Registered before startWith's, so this runs after it has killed a
	// tend the test left running: a test that failed half-way leaves no
	// program behind on the host either.
	t.Cleanup(func() {
		for _, p := range s.leftBehind() {
			syscall.Kill(p.pid, syscall.SIGKILL)
		}
		if t.Failed() {
			t.Logf("--- tend's stderr ---\n%s", s.tl)
		}
	})
	args := o.raw
	if args == nil {
		args = append([]string{"--log-format", "json", "-c", cfg}, o.flags...)
		if o.main != nil {
			args = append(append(args, "--"), o.main...)
		}
	}
	around := append(slices.Clip(o.around), helper("stderr-fd3")...)
	if o.bin != "" {
		around = append(around, helper("exec-instead", o.bin)...)
	}
	s.run = startWith(t, options{
		hostMode: o.host,
		env:      append([]string{s.marker}, o.env...),
		around:   around,
		extra:    pw,
		raw:      args,
	}, nil)
	pw.Close()
	go func() {
		defer pr.Close()
		// Until EOF: the moment the last process holding tend's stderr
		// is gone.
		s.tl.follow(pr)
	}()
	return s
}

// finish waits for tend to exit, checks that nothing it started is left,
// and returns its exit code. As PID 1 the kernel takes the namespace down
// with tend; on the host, tend itself must have seen to it.
func (s *svRun) finish() int {
	s.t.Helper()
	code := s.wait()
	if left := s.leftBehind(); len(left) > 0 {
		s.t.Errorf("left behind after tend exited: %v", left)
		for _, p := range left {
			syscall.Kill(p.pid, syscall.SIGKILL)
		}
	}
	if !s.tl.waitEnd() {
		s.t.Fatalf("tend's stderr still open %v after it exited: something it started lives on", deadline)
	}
	return code
}

type proc struct {
	pid     int
	cmdline string
}

func (p proc) String() string { return fmt.Sprintf("%d %q", p.pid, p.cmdline) }

// leftBehind lists the live processes whose environment holds s.marker.
func (s *svRun) leftBehind() []proc {
	var out []proc
	ents, _ := os.ReadDir("/proc")
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil || !slices.ContainsFunc(bytes.Split(env, []byte{0}), func(kv []byte) bool { return string(kv) == s.marker }) {
			continue
		}
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		out = append(out, proc{pid, string(bytes.ReplaceAll(bytes.TrimRight(cmd, "\x00"), []byte{0}, []byte{' '}))})
	}
	return out
}

// svConfig writes a config file into a new directory and returns its
// path and the directory. The file starts with `[tend]` and `socket =
// ""`: lines of body before its first table are more [tend] keys. In
// body, {self} is the test binary as a TOML string (for helper
// programs) and {dir} the directory, for use inside strings.
func svConfig(t *testing.T, body string) (path, dir string) {
	t.Helper()
	dir = t.TempDir()
	for _, s := range []string{self, dir} {
		if strings.ContainsAny(s, "\"\\$'\n") {
			t.Fatalf("path %q needs quoting this test does not do", s)
		}
	}
	body = strings.NewReplacer("{self}", `"`+self+`"`, "{dir}", dir).Replace(body)
	path = filepath.Join(dir, "tend.toml")
	if err := os.WriteFile(path, []byte("[tend]\nsocket = \"\"\n"+body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, dir
}

// ---- the rules ----

// TestSupervisorBackoff: a program that never lasts startsecs is retried
// after initial*factor^(n-1) (±10%), 1+startretries starts in all, then
// FATAL, and never started again.
func TestSupervisorBackoff(t *testing.T) {
	t.Parallel()
	cfg, _ := svConfig(t, `
[programs.fail]
command = "exit 1"
startsecs = 1
startretries = 3
backoff = { initial = "100ms", factor = 2.0, max = "1s" }

# tick fails its start every 250 ms, for ever: a clock in tend's log.
[programs.tick]
command = "exit 0"
startsecs = 1
startretries = 1000
backoff = { initial = "250ms", factor = 1.0, max = "250ms" }
`)
	s := startSv(t, cfg, svOptions{})
	fatal := s.tl.waitState("fail", "FATAL")
	// The longest wait fail could still be in is max plus 10% jitter,
	// 1.1 s. A tick logged 1.3 s after FATAL comes after any start that
	// was due; tend logs in the order it acts.
	s.tl.waitFrom(fatal.i+1, "a tick 1.3s after FATAL", func(e event) bool {
		return e.is("tick", "STARTING") && e.at.Sub(fatal.at) >= 1300*time.Millisecond
	})
	s.signal(syscall.SIGTERM)
	if code := s.finish(); code != 0 {
		t.Errorf("tend exited %d, want 0", code)
	}

	evs := s.tl.states("fail")
	want := []string{"STARTING", "BACKOFF", "STARTING", "BACKOFF", "STARTING", "BACKOFF", "STARTING", "FATAL"}
	if got := stateNames(evs); !slices.Equal(got, want) {
		t.Fatalf("fail went through %v, want %v (4 starts = 1 + startretries, then FATAL for good)", got, want)
	}
	for k := range 3 {
		backoff, next := evs[2*k+1], evs[2*k+2]
		expect := 100 * time.Millisecond << k
		if backoff.Failures != k+1 || backoff.code() != 1 || backoff.From != "STARTING" {
			t.Errorf("failed start %d: %v, want failures=%d exit_code=1 from STARTING", k+1, backoff, k+1)
		}
		retry, err := time.ParseDuration(backoff.RetryIn)
		lo, hi := expect*9/10-time.Millisecond, expect*11/10+time.Millisecond
		if err != nil || retry < lo || retry > hi {
			t.Errorf("failed start %d: retry_in %q, want %v ±10%%", k+1, backoff.RetryIn, expect)
		}
		gap := next.at.Sub(backoff.at)
		if gap < expect*9/10 || gap > expect+time.Second {
			t.Errorf("failed start %d: next start %v later, want %v ±10%% (at most %v)", k+1, gap, expect, expect+time.Second)
		}
	}
	if f := evs[7]; f.Failures != 4 || f.code() != 1 {
		t.Errorf("FATAL line %v, want failures=4 exit_code=1", f)
	}
}

// TestSupervisorExitcodes: a program that was RUNNING and exits is
// restarted per autorestart. on-failure restarts an exit code outside
// exitcodes and any death by signal, even one whose 128+N is listed;
// always restarts exit 0; never restarts nothing.
func TestSupervisorExitcodes(t *testing.T) {
	t.Parallel()
	// once: the first run ends after 1.2 s (past startsecs 1) as given;
	// a second run, if there is one, stays up until the shutdown.
	once := func(name, end string) string {
		return fmt.Sprintf("if [ -e {dir}/%[1]s.ran ]; then exec sleep 60; fi; touch {dir}/%[1]s.ran; sleep 1.2; %s", name, end)
	}
	cfg, _ := svConfig(t, fmt.Sprintf(`
[programs.expected]
command = %q
exitcodes = [0, 3]
startsecs = 1

[programs.unexpected]
command = %q
exitcodes = [0, 3]
startsecs = 1

[programs.signal]
command = %q
exitcodes = [0, 143]
startsecs = 1

[programs.always]
command = %q
autorestart = "always"
startsecs = 1

[programs.never]
command = %q
autorestart = "never"
startsecs = 1
`, once("expected", "exit 3"), once("unexpected", "exit 4"), once("signal", "kill -TERM $$$$"),
		once("always", "exit 0"), once("never", "exit 1")))
	s := startSv(t, cfg, svOptions{})
	type want struct {
		program string
		code    int
		signal  string
		restart bool
	}
	cases := []want{
		{"expected", 3, "", false},
		{"unexpected", 4, "", true},
		{"signal", 143, "TERM", true},
		{"always", 0, "", true},
		{"never", 1, "", false},
	}
	for _, c := range cases {
		ex := s.tl.waitState(c.program, "EXITED")
		if ex.From != "RUNNING" || ex.code() != c.code || ex.Signal != c.signal {
			t.Errorf("%s: %v, want from RUNNING, exit_code %d, signal %q", c.program, ex, c.code, c.signal)
		}
		if c.restart {
			s.tl.waitAfter(ex, c.program, "STARTING")
		}
	}
	s.signal(syscall.SIGTERM)
	if code := s.finish(); code != 0 {
		t.Errorf("tend exited %d, want 0", code)
	}
	// A restart follows its EXITED line at once, on the same turn of
	// tend's loop; the shutdown came later. So the whole log shows every
	// restart there was.
	for _, c := range cases {
		got := stateNames(s.tl.states(c.program))
		w := []string{"STARTING", "RUNNING", "EXITED"}
		if c.restart {
			w = append(w, "STARTING", "STOPPING", "STOPPED")
			// The second run may or may not have lasted startsecs
			// before the shutdown: that is up to the machine's speed.
			if len(got) > 4 && got[4] == "RUNNING" {
				got = slices.Delete(got, 4, 5)
			}
		}
		if !slices.Equal(got, w) {
			t.Errorf("%s went through %v, want %v", c.program, stateNames(s.tl.states(c.program)), w)
		}
	}
}

// TestSupervisorStartsecs: a run shorter than startsecs is a failed
// start whatever its exit code (BACKOFF, never RUNNING); one that lasts
// startsecs was RUNNING; and such a run resets the failure count and the
// backoff.
func TestSupervisorStartsecs(t *testing.T) {
	t.Parallel()
	cfg, _ := svConfig(t, `
[programs.short]
command = "sleep 0.2; exit 0"
startsecs = 1
startretries = 1
backoff = { initial = "100ms" }

[programs.long]
command = "sleep 1.2; exit 0"
startsecs = 1
autorestart = "never"

# Runs 1, 2 and 4 fail at once, run 3 lasts 1.2 s, run 5 stays up.
[programs.flappy]
command = "n=$(cat {dir}/n 2>/dev/null || echo 0); n=$((n+1)); echo $n >{dir}/n; case $n in 3) sleep 1.2;; 5) exec sleep 60;; esac; exit 1"
startsecs = 1
startretries = 5
backoff = { initial = "100ms", factor = 2.0, max = "1s" }
`)
	s := startSv(t, cfg, svOptions{})
	s.tl.waitState("short", "FATAL")
	s.tl.waitState("long", "EXITED")
	var fifth event
	for n, e := 0, (event{i: -1}); n < 5; n++ {
		e = s.tl.waitAfter(e, "flappy", "STARTING")
		fifth = e
	}
	s.signal(syscall.SIGTERM)
	if code := s.finish(); code != 0 {
		t.Errorf("tend exited %d, want 0", code)
	}

	short := s.tl.states("short")
	if got, w := stateNames(short), []string{"STARTING", "BACKOFF", "STARTING", "FATAL"}; !slices.Equal(got, w) {
		t.Errorf("short (0.2 s, exit 0) went through %v, want %v", got, w)
	} else if b := short[1]; b.From != "STARTING" || b.code() != 0 || b.Failures != 1 {
		t.Errorf("short's failed start: %v, want from STARTING, exit_code 0, failures 1", b)
	}

	long := s.tl.states("long")
	if got, w := stateNames(long), []string{"STARTING", "RUNNING", "EXITED"}; !slices.Equal(got, w) {
		t.Fatalf("long (1.2 s) went through %v, want %v", got, w)
	}
	if up := long[1].at.Sub(long[0].at); up < 900*time.Millisecond {
		t.Errorf("long was RUNNING %v after it started, before startsecs (1s)", up)
	}
	if e := long[2]; e.From != "RUNNING" || e.code() != 0 {
		t.Errorf("long's exit: %v, want from RUNNING, exit_code 0", e)
	}

	flappy := s.tl.states("flappy")
	var got []string
	for _, e := range flappy {
		if e.i <= fifth.i {
			got = append(got, e.State)
		}
	}
	w := []string{"STARTING", "BACKOFF", "STARTING", "BACKOFF", "STARTING", "RUNNING", "EXITED", "STARTING", "BACKOFF", "STARTING"}
	if !slices.Equal(got, w) {
		t.Fatalf("flappy went through %v, want %v", got, w)
	}
	// The run that lasted startsecs reset the count: the next failed
	// start is the first again, with the first backoff.
	b := flappy[8]
	retry, err := time.ParseDuration(b.RetryIn)
	if b.Failures != 1 || err != nil || retry < 89*time.Millisecond || retry > 111*time.Millisecond {
		t.Errorf("failed start after a good run: %v, want failures=1 and retry_in 100ms ±10%%", b)
	}
}

// TestSupervisorDependsOrder: programs start when their dependencies are
// met (a oneshot's when it COMPLETED), independent ones in parallel;
// the shutdown stops them in exactly the reverse order, each after its
// dependents are STOPPED, and independent ones in parallel.
func TestSupervisorDependsOrder(t *testing.T) {
	t.Parallel()
	for _, mode := range []struct {
		name string
		host bool
	}{{"pid1", false}, {"host", true}} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			cfg, _ := svConfig(t, `
[programs.migrate]
type = "oneshot"
command = "sleep 0.3"

[programs.c]
command = ["sleep", "60"]
startsecs = 0.2
depends_on = ["migrate"]

[programs.b]
command = ["sleep", "60"]
startsecs = 0.2
depends_on = ["c"]

[programs.a]
command = ["sleep", "60"]
startsecs = 0.2
depends_on = { b = "running" }

[programs.x]
command = ["sleep", "60"]
startsecs = 0.2

[programs.y]
command = ["sleep", "60"]
startsecs = 0.2
`)
			s := startSv(t, cfg, svOptions{host: mode.host})
			for _, p := range []string{"a", "x", "y"} {
				s.tl.waitState(p, "RUNNING")
			}
			s.signal(syscall.SIGTERM)
			if code := s.finish(); code != 0 {
				t.Errorf("tend exited %d, want 0", code)
			}
			l := s.tl
			first := l.mustFirst
			inOrder(t, "start order",
				first("migrate", "RUNNING"), first("migrate", "COMPLETED"),
				first("c", "STARTING"), first("c", "RUNNING"),
				first("b", "STARTING"), first("b", "RUNNING"),
				first("a", "STARTING"), first("a", "RUNNING"))
			// Independent: x and y start with migrate, not after anything.
			inOrder(t, "x and y start at once", first("x", "STARTING"), first("migrate", "COMPLETED"))
			inOrder(t, "x and y start at once", first("y", "STARTING"), first("migrate", "COMPLETED"))
			inOrder(t, "stop order",
				first("a", "STOPPING"), first("a", "STOPPED"),
				first("b", "STOPPING"), first("b", "STOPPED"),
				first("c", "STOPPING"), first("c", "STOPPED"))
			for _, p := range []string{"x", "y"} {
				for _, q := range []string{"x", "y"} {
					inOrder(t, "x and y stop in parallel", first(p, "STOPPING"), first(q, "STOPPED"))
				}
			}
			for _, p := range []string{"a", "b", "c", "x", "y"} {
				if got := stateNames(l.states(p)); !slices.Equal(got, []string{"STARTING", "RUNNING", "STOPPING", "STOPPED"}) {
					t.Errorf("%s went through %v", p, got)
				}
			}
			if got := stateNames(l.states("migrate")); !slices.Equal(got, []string{"RUNNING", "COMPLETED"}) {
				t.Errorf("migrate went through %v, want RUNNING COMPLETED and no stop", got)
			}
		})
	}
}

// TestSupervisorStopWait: stopsignal, then stopwaitsecs, then SIGKILL to
// the group, and tend exits 1 when it had to; 0 when every program
// stopped on its signal.
func TestSupervisorStopWait(t *testing.T) {
	t.Parallel()
	for _, mode := range []struct {
		name string
		host bool
	}{{"pid1", false}, {"host", true}} {
		t.Run("Kill/"+mode.name, func(t *testing.T) {
			t.Parallel()
			cfg, _ := svConfig(t, `
[programs.stubborn]
command = [{self}, "sv-prog", "-name", "stubborn", "-term", "ignore"]
startsecs = 0
stopwaitsecs = 0.3
`)
			s := startSv(t, cfg, svOptions{host: mode.host})
			s.expect("stubborn ready")
			s.signal(syscall.SIGTERM)
			if code := s.finish(); code != 1 {
				t.Errorf("tend exited %d, want 1: a program needed SIGKILL", code)
			}
			stopping := s.tl.mustFirst("stubborn", "STOPPING")
			warn := s.tl.waitMessage("stubborn", "SIGKILL")
			stopped := s.tl.mustFirst("stubborn", "STOPPED")
			inOrder(t, "TERM, then SIGKILL", stopping, warn, stopped)
			if stopping.Signal != "TERM" || stopped.Signal != "KILL" || stopped.code() != 137 {
				t.Errorf("stop by %s, end by %s (%d), want TERM, then KILL (137)", stopping.Signal, stopped.Signal, stopped.code())
			}
			if d := stopped.at.Sub(stopping.at); d < 270*time.Millisecond || d > 2300*time.Millisecond {
				t.Errorf("SIGKILL %v after TERM, want stopwaitsecs 0.3s", d)
			}
		})
	}
	t.Run("Graceful", func(t *testing.T) {
		t.Parallel()
		cfg, _ := svConfig(t, `
[programs.polite]
command = [{self}, "sv-prog", "-name", "polite", "-term", "exit:0"]
startsecs = 0
stopwaitsecs = 5
`)
		s := startSv(t, cfg, svOptions{})
		s.expect("polite ready")
		s.signal(syscall.SIGTERM)
		s.expect("polite got TERM")
		if code := s.finish(); code != 0 {
			t.Errorf("tend exited %d, want 0", code)
		}
		if e := s.tl.mustFirst("polite", "STOPPED"); e.code() != 0 || e.Signal != "" {
			t.Errorf("polite: %v, want exit_code 0", e)
		}
		for _, e := range s.tl.events() {
			if strings.Contains(e.Message, "SIGKILL") {
				t.Errorf("SIGKILL for a program that stopped on TERM: %v", e)
			}
		}
	})
}

// TestSupervisorShutdownTimeout: shutdown_timeout bounds the whole
// shutdown: a program that ignores its stop signal is SIGKILLed when it
// is over, long before its own stopwaitsecs, its end is logged, and tend
// exits 1.
func TestSupervisorShutdownTimeout(t *testing.T) {
	t.Parallel()
	for _, mode := range []struct {
		name string
		host bool
	}{{"pid1", false}, {"host", true}} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			cfg, _ := svConfig(t, `shutdown_timeout = "500ms"

[programs.stubborn]
command = [{self}, "sv-prog", "-name", "stubborn", "-term", "ignore"]
startsecs = 0
stopwaitsecs = 30
`)
			s := startSv(t, cfg, svOptions{host: mode.host})
			s.expect("stubborn ready")
			s.signal(syscall.SIGTERM)
			if code := s.finish(); code != 1 {
				t.Errorf("tend exited %d, want 1", code)
			}
			s.tl.waitMessage("", "shutdown took too long")
			stopping, stopped := s.tl.mustFirst("stubborn", "STOPPING"), s.tl.mustFirst("stubborn", "STOPPED")
			if d := stopped.at.Sub(stopping.at); d < 450*time.Millisecond || d > 5*time.Second {
				t.Errorf("SIGKILL %v after TERM, want shutdown_timeout 500ms, well before stopwaitsecs 30s", d)
			}
			if stopped.Signal != "KILL" {
				t.Errorf("%v, want a death by KILL", stopped)
			}
		})
	}
}

// TestSupervisorMainProgram: with -- CMD, the main program starts once
// the sidecars are up, its exit code is tend's after the sidecars are
// stopped, forwarded signals reach it alone, and a shutdown stops it
// first.
func TestSupervisorMainProgram(t *testing.T) {
	t.Parallel()
	t.Run("ExitCode", func(t *testing.T) {
		t.Parallel()
		cfg, _ := svConfig(t, `
[programs.db]
command = ["sleep", "60"]
startsecs = 0.3

[programs.cache]
command = ["sleep", "60"]
startsecs = 0.3
depends_on = ["db"]
`)
		// -v: the main program's state lines are debug lines.
		s := startSv(t, cfg, svOptions{flags: []string{"-v"}, main: []string{"sh", "-c", "exit 7"}})
		if code := s.finish(); code != 7 {
			t.Errorf("tend exited %d, want the main program's 7", code)
		}
		l := s.tl
		mainUp := l.mustFirst("main", "RUNNING")
		inOrder(t, "main after the sidecars", l.mustFirst("db", "RUNNING"), l.mustFirst("cache", "RUNNING"), mainUp)
		if e := l.mustFirst("main", "EXITED"); e.code() != 7 {
			t.Errorf("main: %v, want exit_code 7", e)
		}
		inOrder(t, "sidecars stopped after main, in order", l.mustFirst("main", "EXITED"),
			l.mustFirst("cache", "STOPPING"), l.mustFirst("cache", "STOPPED"),
			l.mustFirst("db", "STOPPING"), l.mustFirst("db", "STOPPED"))
	})
	t.Run("Signals", func(t *testing.T) {
		t.Parallel()
		cfg, _ := svConfig(t, `
[programs.side]
command = [{self}, "sv-prog", "-name", "side", "-term", "exit:0"]
startsecs = 0.3
`)
		s := startSv(t, cfg, svOptions{flags: []string{"-v"}, main: helper("sv-prog", "-name", "main", "-term", "exit:0")})
		s.expect("main ready")
		inOrder(t, "main after its sidecar", s.tl.mustFirst("side", "RUNNING"), s.tl.mustFirst("main", "RUNNING"))
		s.signal(syscall.SIGUSR1)
		s.expect("main got USR1")
		s.signal(syscall.SIGTERM)
		s.expect("main got TERM")
		if code := s.finish(); code != 0 {
			t.Errorf("tend exited %d, want the main program's 0", code)
		}
		if slices.Contains(s.output(), "side got USR1") {
			t.Errorf("USR1 reached the sidecar; it is for the main program alone")
		}
		l := s.tl
		inOrder(t, "shutdown: main, then the sidecar", l.mustFirst("main", "STOPPING"), l.mustFirst("main", "EXITED"),
			l.mustFirst("side", "STOPPING"), l.mustFirst("side", "STOPPED"))
		if e := l.mustFirst("side", "STOPPED"); e.code() != 0 {
			t.Errorf("side: %v, want exit_code 0", e)
		}
	})
}

// TestSupervisorCritical: a critical program's final failure stops
// everything, and tend exits with its code: its exit code when it never
// got started, 128+N when signal N ended it for good.
func TestSupervisorCritical(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, prog, state string
		want              int
	}{
		{"Fatal", `
[programs.web]
command = "exit 3"
critical = true
startsecs = 1
startretries = 1
backoff = { initial = "50ms" }
depends_on = ["db"]
`, "FATAL", 3},
		{"Killed", `
[programs.web]
command = "sleep 0.4; kill -9 $$$$"
critical = true
autorestart = "never"
startsecs = 0.1
depends_on = ["db"]
`, "EXITED", 137},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg, _ := svConfig(t, c.prog+`
[programs.db]
command = ["sleep", "60"]
startsecs = 0.1
`)
			s := startSv(t, cfg, svOptions{})
			if code := s.finish(); code != c.want {
				t.Errorf("tend exited %d, want %d", code, c.want)
			}
			l := s.tl
			end := l.mustFirst("web", c.state)
			if end.code() != c.want {
				t.Errorf("web: %v, want exit_code %d", end, c.want)
			}
			down := l.waitMessage("", "shutting down")
			if !strings.Contains(down.Reason, "critical") || !strings.Contains(down.Reason, "web") {
				t.Errorf("shutdown reason %q, want it to name critical program web", down.Reason)
			}
			inOrder(t, "web's end stops the rest", end, down, l.mustFirst("db", "STOPPING"), l.mustFirst("db", "STOPPED"))
		})
	}
}

// TestSupervisorOneshot: a oneshot's dependents wait for it to COMPLETE
// (plain list or "completed"); one that FAILS keeps its dependents, and
// theirs, from starting, and tend's log says so; a oneshot is not
// retried by default.
func TestSupervisorOneshot(t *testing.T) {
	t.Parallel()
	cfg, _ := svConfig(t, `
[programs.migrate]
type = "oneshot"
command = "sleep 0.3; touch {dir}/schema"

# Each of these fails to start if the schema is not there yet.
[programs.web]
command = "test -e {dir}/schema && exec sleep 60"
startsecs = 0.2
depends_on = ["migrate"]

[programs.api]
command = "test -e {dir}/schema && exec sleep 60"
startsecs = 0.2
depends_on = { migrate = "completed" }

[programs.seed]
type = "oneshot"
command = "exit 5"

[programs.app]
command = "touch {dir}/app.ran; exec sleep 60"
depends_on = ["seed"]

[programs.app2]
command = "touch {dir}/app2.ran; exec sleep 60"
depends_on = ["app"]
`)
	s := startSv(t, cfg, svOptions{})
	s.tl.waitState("web", "RUNNING")
	s.tl.waitState("api", "RUNNING")
	failed := s.tl.waitState("seed", "FAILED")
	appWait := s.tl.waitMessage("app", "not starting")
	app2Wait := s.tl.waitMessage("app2", "not starting")
	s.signal(syscall.SIGTERM)
	if code := s.finish(); code != 0 {
		t.Errorf("tend exited %d, want 0", code)
	}
	l := s.tl
	done := l.mustFirst("migrate", "COMPLETED")
	inOrder(t, "web after migrate", done, l.mustFirst("web", "STARTING"))
	inOrder(t, "api after migrate", done, l.mustFirst("api", "STARTING"))
	for _, p := range []string{"web", "api"} {
		if got := stateNames(l.states(p)); !slices.Equal(got, []string{"STARTING", "RUNNING", "STOPPING", "STOPPED"}) {
			t.Errorf("%s went through %v: it started before the schema was there", p, got)
		}
	}
	if failed.code() != 5 {
		t.Errorf("seed: %v, want exit_code 5", failed)
	}
	if got := stateNames(l.states("seed")); !slices.Equal(got, []string{"RUNNING", "FAILED"}) {
		t.Errorf("seed went through %v; a oneshot is not retried by default", got)
	}
	if !strings.Contains(appWait.Reason, "seed") || !strings.Contains(appWait.Reason, "FAILED") {
		t.Errorf("app's wait: %v, want a reason naming seed, FAILED", appWait)
	}
	if !strings.Contains(app2Wait.Reason, "app") {
		t.Errorf("app2's wait: %v, want a reason naming app", app2Wait)
	}
	inOrder(t, "the warning follows the failure", failed, appWait)
	for _, p := range []string{"app", "app2"} {
		if evs := l.states(p); len(evs) > 0 {
			t.Errorf("%s changed state behind a failed dependency: %v", p, evs)
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(cfg), p+".ran")); err == nil {
			t.Errorf("%s ran behind a failed dependency", p)
		}
	}
}

// TestSupervisorOneshotRetries: a failed oneshot is retried when
// autorestart = "on-failure", like a failed start: startretries times,
// with backoff, then FAILED for good.
func TestSupervisorOneshotRetries(t *testing.T) {
	t.Parallel()
	cfg, _ := svConfig(t, `
[programs.flaky]
type = "oneshot"
command = "exit 1"
autorestart = "on-failure"
startretries = 1
backoff = { initial = "50ms" }
`)
	s := startSv(t, cfg, svOptions{})
	starts := 0
	end := s.tl.waitFrom(0, "flaky FAILED, or a third start", func(e event) bool {
		if e.Program == "flaky" && e.From == "BACKOFF" {
			starts++
		}
		return e.is("flaky", "FAILED") || starts >= 2
	})
	s.signal(syscall.SIGTERM)
	if code := s.finish(); code != 0 {
		t.Errorf("tend exited %d, want 0", code)
	}
	if got, want := stateNames(s.tl.states("flaky")), []string{"RUNNING", "BACKOFF", "RUNNING", "FAILED"}; !slices.Equal(got, want) {
		t.Errorf("flaky (oneshot, on-failure, startretries 1) went through %v..., want %v; stopped looking at %v", got[:min(len(got), 8)], want, end)
	}
}

// TestSupervisorBadConfig: an invalid file starts nothing, and tend (and
// tend check) exit 2 with every error as FILE:LINE: KEY: message.
func TestSupervisorBadConfig(t *testing.T) {
	t.Parallel()
	cfg, dir := svConfig(t, `
[programs.marker]
type = "oneshot"
command = "touch {dir}/marker"

[programs.web]
command = ["sleep", "60"]
stopsignal = "SIGFOO"
depends_on = ["nope"]
autostart = "yes"
startsecs = -1
`)
	// One error per key, at the key's line in the file as written.
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for n, l := range strings.Split(string(b), "\n") {
		for _, key := range []string{"stopsignal", "depends_on", "autostart", "startsecs"} {
			if strings.HasPrefix(l, key+" =") {
				want = append(want, fmt.Sprintf("%s:%d: programs.web.%s: ", cfg, n+1, key))
			}
		}
	}
	errLine := regexp.MustCompile(`^` + regexp.QuoteMeta(cfg) + `:(\d+): [a-z_.]+: \S`)
	for _, run := range []struct {
		name string
		o    svOptions
	}{
		{"run", svOptions{}},
		{"run on the host", svOptions{host: true}},
		{"check", svOptions{host: true, raw: []string{"check", "-c", cfg}}},
	} {
		s := startSv(t, cfg, run.o)
		if code := s.finish(); code != 2 {
			t.Errorf("%s: tend exited %d, want 2", run.name, code)
		}
		var errs []string
		last := 0
		for l := range strings.SplitSeq(s.tl.String(), "\n") {
			m := errLine.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			errs = append(errs, l)
			if n, _ := strconv.Atoi(m[1]); n < last {
				t.Errorf("%s: errors not sorted by line: %q", run.name, l)
			} else {
				last = n
			}
		}
		if len(errs) != len(want) {
			t.Errorf("%s: %d FILE:LINE: KEY: message lines, want %d:\n%s", run.name, len(errs), len(want), s.tl.String())
		}
		for _, w := range want {
			if !slices.ContainsFunc(errs, func(l string) bool { return strings.HasPrefix(l, w) }) {
				t.Errorf("%s: no line starting %q in:\n%s", run.name, w, s.tl.String())
			}
		}
		if evs := s.tl.events(); len(evs) > 0 {
			t.Errorf("%s: tend logged %v with an invalid config", run.name, evs)
		}
		if _, err := os.Stat(filepath.Join(dir, "marker")); err == nil {
			t.Fatalf("%s: a program ran from an invalid config", run.name)
		}
	}
}
