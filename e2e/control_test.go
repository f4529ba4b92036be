package e2e

// `tend ctl` and health checks end to end: the real tend as PID 1 with
// its control socket, driven by the real `tend ctl` binary (or by the
// control package's client, in process, where a test needs a thousand
// requests or a stream it reads as it goes), and checked through what
// ctl prints, its exit code, tend's JSON log, the events stream and
// /proc. Freeze tests put tend in a freezer cgroup and freeze it, as
// `docker pause` does.
//
// Waits are on events (a line, a log entry, an event, an exit) with the
// harness's deadline. The few real sleeps are the subject of their test:
// how long a cgroup stays frozen, or a window in which nothing may
// happen.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"tend/control"
)

// ---- harness: a tend with a control socket ----

// nobodyID is the uid and gid of the unprivileged peer.
const nobodyID = 65534

// ctlConfig writes a config whose [tend] table opens a control socket in
// a new directory, and returns the file, the directory and the socket.
// Lines of body before its first table are more [tend] keys. In body,
// {self} is the test binary as a TOML string, {dir} the directory and
// {sock} the socket, for use inside strings. With open, the directory
// (and its parent) can be entered by anyone, so that only the socket's
// own mode stands between another user and tend.
func ctlConfig(t *testing.T, body string, open bool) (cfg, dir, sock string) {
	t.Helper()
	dir = t.TempDir()
	if open {
		for _, d := range []string{dir, filepath.Dir(dir)} {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	sock = filepath.Join(dir, "tend.sock")
	for _, s := range []string{self, dir} {
		if strings.ContainsAny(s, "\"\\$'\n") {
			t.Fatalf("path %q needs quoting this test does not do", s)
		}
	}
	body = strings.NewReplacer("{self}", `"`+self+`"`, "{dir}", dir, "{sock}", sock).Replace(body)
	cfg = filepath.Join(dir, "tend.toml")
	putFile(t, cfg, "[tend]\nsocket = \""+sock+"\"\n"+body)
	return cfg, dir, sock
}

func putFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// startCtl runs tend -v --log-format json -c cfg as PID 1 with its log
// followed, as startSv does, and waits until the control socket listens.
func startCtl(t *testing.T, cfg string) *svRun {
	t.Helper()
	return startCtlWith(t, cfg, ctlRun{})
}

// ctlRun says how to run tend.
type ctlRun struct {
	around []string // run first, with tend's argv (cg-exec, say)
	bin    string   // a tend binary other than the one under test
}

func startCtlWith(t *testing.T, cfg string, o ctlRun) *svRun {
	t.Helper()
	s := startSv(t, cfg, svOptions{raw: []string{"-v", "--log-format", "json", "-c", cfg}, around: o.around, bin: o.bin})
	// tend opens the socket before it starts any program.
	s.tl.waitMessage("", "control socket listening")
	return s
}

// ctlOut is what one `tend ctl` printed, and its exit code.
type ctlOut struct {
	args           []string // the command line
	stdout, stderr string
	code           int
}

func (o ctlOut) String() string {
	return fmt.Sprintf("%q: exit %d\nstdout: %s\nstderr: %s", o.args, o.code, o.stdout, o.stderr)
}

// noExitSleep keeps a race-enabled tend ctl, run here rather than through
// the harness (which does the same for tend), from sleeping a second
// before it exits (the race runtime's atexit_sleep_ms, default 1000).
var noExitSleep = "GORACE=" + strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0")

// ctl runs `tend ctl --socket sock ARGS` and returns what it did.
func ctl(t *testing.T, sock string, args ...string) ctlOut {
	t.Helper()
	return runCtl(t, append([]string{tendBin, "ctl", "--socket", sock}, args...))
}

// ctlAsNobody runs `tend ctl --socket sock ARGS` as uid and gid 65534.
func ctlAsNobody(t *testing.T, sock string, args ...string) ctlOut {
	t.Helper()
	needRoot(t)
	return runCtl(t, helper("ctl-as", append([]string{strconv.Itoa(nobodyID), strconv.Itoa(nobodyID), "--socket", sock}, args...)...))
}

// needRoot fails a test that acts as another user when it cannot: the
// tests run as root (README), and a skip would read as a pass.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("acting as another user needs root")
	}
}

func runCtl(t *testing.T, argv []string) ctlOut {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), helperEnv+"=1", noExitSleep)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if _, ok := errors.AsType[*exec.ExitError](err); err != nil && !ok {
		t.Fatalf("%q: %v", argv, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("%q did not finish within %v", argv, deadline)
	}
	return ctlOut{args: argv, stdout: out.String(), stderr: errb.String(), code: cmd.ProcessState.ExitCode()}
}

// must fails the test unless o exited with code; it returns o.
func (o ctlOut) must(t *testing.T, code int) ctlOut {
	t.Helper()
	if o.code != code {
		t.Fatalf("want exit %d: %v", code, o)
	}
	return o
}

// ctlStatus asks tend for one program's status, in process.
func ctlStatus(t *testing.T, sock, name string) control.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	ps, err := control.NewClient(sock).Status(ctx, []string{name})
	if err != nil || len(ps) != 1 {
		t.Fatalf("status %s: %v %v", name, ps, err)
	}
	return ps[0]
}

// statusTable parses `tend ctl status` into rows by name; each row is
// the line's fields.
func statusTable(t *testing.T, out string) map[string][]string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if got := strings.Fields(lines[0]); !slices.Equal(got, []string{"NAME", "STATE", "PID", "UPTIME", "HEALTH", "EXIT"}) {
		t.Fatalf("status header %q, want NAME STATE PID UPTIME HEALTH EXIT", lines[0])
	}
	rows := map[string][]string{}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != 6 {
			t.Fatalf("status row %q: want 6 columns", l)
		}
		rows[f[0]] = f
	}
	return rows
}

// ---- harness: the events stream, in process ----

// evWatch follows tend's events stream as it comes.
type evWatch struct {
	t       *testing.T
	mu      sync.Mutex
	evs     []control.Event // guarded by mu: every event so far
	ended   bool            // guarded by mu
	changed chan struct{}
	pos     int // next's cursor; the test's goroutine only
}

// watchEvents opens the events stream of the programs matching names. Once it
// returns, tend has registered the subscriber: no later change is missed.
func watchEvents(t *testing.T, sock string, names ...string) *evWatch {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	// Only the opening is bounded: the stream lives as long as the test.
	timer := time.AfterFunc(deadline, cancel)
	stream, err := control.NewClient(sock).Events(ctx, names)
	if !timer.Stop() || err != nil {
		cancel()
		t.Fatalf("events: %v", err)
	}
	w := &evWatch{t: t, changed: make(chan struct{}, 1)}
	go func() {
		for {
			ev, err := stream.Next()
			w.mu.Lock()
			if err == nil {
				w.evs = append(w.evs, ev)
			}
			w.ended = err != nil
			w.mu.Unlock()
			select {
			case w.changed <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		stream.Close()
	})
	return w
}

// find returns the first event at position from or later that matches,
// and its position, waiting for it until the deadline.
func (w *evWatch) find(from int, what string, match func(control.Event) bool) (control.Event, int) {
	w.t.Helper()
	timeout := time.NewTimer(deadline)
	defer timeout.Stop()
	for {
		w.mu.Lock()
		for ; from < len(w.evs); from++ {
			if e := w.evs[from]; match(e) {
				w.mu.Unlock()
				return e, from
			}
		}
		ended := w.ended
		w.mu.Unlock()
		if ended {
			w.t.Fatalf("events stream ended before %s; seen: %s", what, w)
		}
		select {
		case <-w.changed:
		case <-timeout.C:
			w.t.Fatalf("no event %s within %v; seen: %s", what, deadline, w)
		}
	}
}

// next returns the first event after the last one next returned that
// matches.
func (w *evWatch) next(what string, match func(control.Event) bool) control.Event {
	w.t.Helper()
	e, i := w.find(w.pos, what, match)
	w.pos = i + 1
	return e
}

// state waits for program's next change to state.
func (w *evWatch) state(program, state string) control.Event {
	w.t.Helper()
	return w.next(program+" "+state, func(e control.Event) bool {
		return e.Program == program && e.State == state && e.Health == ""
	})
}

// health waits for program's next change of health to h.
func (w *evWatch) health(program, h string) control.Event {
	w.t.Helper()
	return w.next(program+" health "+h, func(e control.Event) bool { return e.Program == program && e.Health == h })
}

// quiet fails if an event comes after the last one next returned, within
// d from now.
func (w *evWatch) quiet(d time.Duration, why string) {
	w.t.Helper()
	time.Sleep(d) // a window in which nothing may happen: the subject of the check
	if evs := w.all(); len(evs) > w.pos {
		w.t.Fatalf("%s, but got event %+v", why, evs[w.pos])
	}
}

func (w *evWatch) all() []control.Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.evs)
}

func (w *evWatch) String() string {
	var b strings.Builder
	for _, e := range w.all() {
		fmt.Fprintf(&b, "\n  %s %s→%s pid=%d health=%q reason=%q", e.Program, e.From, e.State, e.Pid, e.Health, e.Reason)
	}
	return b.String()
}

// ---- harness: tend's log ----

// auditLine is a "control request" line of tend's log.
type auditLine struct {
	Verb    string   `json:"verb"`
	Names   []string `json:"names"`
	PeerUID *uint32  `json:"peer_uid"`
	PeerPID *int32   `json:"peer_pid"`
}

func (s *svRun) waitAudit(from int, verb string) (event, auditLine) {
	s.t.Helper()
	var a auditLine
	e := s.tl.waitFrom(from, "control request "+verb, func(e event) bool {
		a = auditLine{}
		return e.Message == "control request" && json.Unmarshal([]byte(e.line), &a) == nil && a.Verb == verb
	})
	return e, a
}

// healthLines is every "health" line of tend's log about program, as
// its health values.
func (s *svRun) healthLines(program string) []string {
	var out []string
	for _, e := range s.tl.all() {
		var h struct {
			Health string `json:"health"`
		}
		if e.Message == "health" && e.Program == program && json.Unmarshal([]byte(e.line), &h) == nil {
			out = append(out, h.Health)
		}
	}
	return out
}

// ---- harness: /proc ----

// procStat is a process's state letter and process group, as the host
// sees them.
func procStat(pid int) (state byte, pgrp int, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	pgrp, err = strconv.Atoi(f[2])
	return f[0][0], pgrp, err
}

// hostPidOf is the host's pid of the process that is nsPid in tend's pid
// namespace (tend's host pid is tendPid).
func hostPidOf(t *testing.T, tendPid, nsPid int) int {
	t.Helper()
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", tendPid))
	if err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid)); err != nil || l != ns {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		for l := range strings.SplitSeq(string(b), "\n") {
			if f := strings.Fields(l); len(f) > 1 && f[0] == "NSpid:" && f[len(f)-1] == strconv.Itoa(nsPid) {
				return pid
			}
		}
	}
	t.Fatalf("no process is pid %d in tend's namespace", nsPid)
	return 0
}

// pgroupMembers lists the processes of process group pgid (host numbering).
func pgroupMembers(pgid int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if _, pg, err := procStat(pid); err == nil && pg == pgid {
			out = append(out, pid)
		}
	}
	return out
}

// waitProcStates waits until every pid's state letter satisfies ok: a
// signal is delivered when its target next runs, after kill returned.
// The loop watches the kernel; tend is not involved any more.
func waitProcStates(t *testing.T, pids []int, what string, ok func(byte) bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for {
		var bad []string
		for _, p := range pids {
			if st, _, err := procStat(p); err != nil || !ok(st) {
				bad = append(bad, fmt.Sprintf("%d:%c(%v)", p, st, err))
			}
		}
		if len(bad) == 0 {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("processes not %s within %v: %v", what, deadline, bad)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// drainLines drops the lines r's programs printed so far: the next expect
// sees only new ones.
func drainLines(r *run) {
	for {
		select {
		case <-r.lines:
		default:
			return
		}
	}
}

// unusedPort is a TCP port on 127.0.0.1 nobody listens on (now).
func unusedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// ---- the verbs ----

// TestCtlUsage: `tend ctl` without a tend to talk to: exit 3 when the
// socket is missing or nobody listens on it, 2 for a bad command line.
func TestCtlUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.sock")
	if o := ctl(t, missing, "status").must(t, 3); !strings.Contains(o.stderr, "cannot reach tend") {
		t.Errorf("missing socket: %v, want it to say it cannot reach tend", o)
	}
	// A socket file left behind, nobody listening: connection refused.
	stale := filepath.Join(dir, "stale.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	ctl(t, stale, "health").must(t, 3)
	ctl(t, stale, "stop", "--wait", "x").must(t, 3)
	for _, args := range [][]string{
		{},                              // no verb
		{"frobnicate"},                  // unknown verb
		{"start"},                       // no name
		{"signal", "HUP"},               // no name
		{"signal", "HUP!", "web"},       // malformed signal
		{"reload", "web"},               // takes no arguments
		{"status", "--wait"},            // --wait is for start, stop, restart
		{"--timeout", "-1s", "status"},  // timeout must be positive
		{"--bogus", "status"},           // unknown flag
		{"status", "web[", "--timeout"}, // flag without value
	} {
		if o := ctl(t, missing, args...); o.code != 2 || !strings.Contains(o.stderr, "usage:") {
			t.Errorf("want exit 2 with the usage: %v", o)
		}
	}
	if o := ctl(t, missing, "--help").must(t, 0); !strings.Contains(o.stdout, "usage:") {
		t.Errorf("--help: %v", o)
	}
}

// TestCtlVerbs drives every verb against one running tend: status (table,
// --json, globs), health, start/stop/restart with --wait (and a --wait
// that times out), signal, pause and resume (processes in state T),
// events (the `tend ctl events` process), and shutdown.
func TestCtlVerbs(t *testing.T) {
	t.Parallel()
	cfg, _, sock := ctlConfig(t, `
# Two processes in each group: the shell's background sleep and the
# sleep it execs into.
[programs.web]
command = "sleep 600 & exec sleep 601"
instances = 2
startsecs = 0.2
stopwaitsecs = 5

[programs.sig]
command = [{self}, "sigrecv"]
startsecs = 0
stopsignal = "RTMAX"   # sigrecv's last word: it exits 0

[programs.slow]
command = ["sleep", "600"]
autostart = false
startsecs = 30
`, false)
	s := startCtl(t, cfg)
	sigPid := atoi(strings.Fields(s.expect("ready "))[1])
	s.tl.waitState("web:0", "RUNNING")
	s.tl.waitState("web:1", "RUNNING")

	t.Run("Status", func(t *testing.T) {
		rows := statusTable(t, ctl(t, sock, "status").must(t, 0).stdout)
		if len(rows) != 4 {
			t.Errorf("status lists %d programs, want web:0 web:1 sig slow: %v", len(rows), rows)
		}
		for _, name := range []string{"web:0", "web:1", "sig"} {
			r := rows[name]
			if r == nil || r[1] != "RUNNING" || atoiDefault(r[2], 0) <= 0 || !strings.HasSuffix(r[3], "s") || r[4] != "-" || r[5] != "-" {
				t.Errorf("%s: row %q, want RUNNING, a pid, an uptime, no health, no exit", name, r)
			}
		}
		if r := rows["sig"]; r != nil && r[2] != strconv.Itoa(sigPid) {
			t.Errorf("sig: pid %s, want %d, the pid sigrecv says it has", r[2], sigPid)
		}
		if r := rows["slow"]; !slices.Equal(r, []string{"slow", "STOPPED", "-", "-", "-", "-"}) {
			t.Errorf("slow: row %q, want STOPPED and dashes", r)
		}

		var progs []control.Status
		o := ctl(t, sock, "status", "--json").must(t, 0)
		if err := json.Unmarshal([]byte(o.stdout), &progs); err != nil {
			t.Fatalf("status --json: %v\n%v", err, o)
		}
		byName := map[string]control.Status{}
		for _, p := range progs {
			byName[p.Name] = p
		}
		if p := byName["sig"]; p.State != "RUNNING" || p.Pid != sigPid || p.Since.IsZero() || p.ExitCode != nil {
			t.Errorf("status --json: sig is %+v, want RUNNING, pid %d, since set, no exit code", p, sigPid)
		}
		if p := byName["slow"]; p.State != "STOPPED" || p.Pid != 0 {
			t.Errorf("status --json: slow is %+v, want STOPPED without a pid", p)
		}

		if rows := statusTable(t, ctl(t, sock, "status", "web:*").must(t, 0).stdout); len(rows) != 2 || rows["web:0"] == nil || rows["web:1"] == nil {
			t.Errorf("status 'web:*': %v, want web:0 and web:1 only", rows)
		}
		if o := ctl(t, sock, "status", "nosuch").must(t, 1); !strings.Contains(o.stderr, `no program matches "nosuch"`) {
			t.Errorf("status nosuch: %v", o)
		}
	})

	t.Run("Health", func(t *testing.T) {
		// No program is critical, so every program counts, except slow:
		// it is down on purpose (autostart = false).
		if o := ctl(t, sock, "health").must(t, 0); strings.TrimSpace(o.stdout) != "healthy" {
			t.Errorf("health: %v, want healthy (slow is down on purpose)", o)
		}
	})

	t.Run("StartStopRestart", func(t *testing.T) {
		web0, web1 := ctlStatus(t, sock, "web:0"), ctlStatus(t, sock, "web:1")
		ctl(t, sock, "stop", "--wait", "web:0").must(t, 0)
		if p := ctlStatus(t, sock, "web:0"); p.State != "STOPPED" || p.Pid != 0 {
			t.Errorf("after stop --wait: web:0 is %+v", p)
		}
		if p := ctlStatus(t, sock, "web:1"); p.State != "RUNNING" || p.Pid != web1.Pid {
			t.Errorf("stop web:0 touched web:1: %+v, was pid %d", p, web1.Pid)
		}
		ctl(t, sock, "start", "--wait", "web:0").must(t, 0)
		p0 := ctlStatus(t, sock, "web:0")
		if p0.State != "RUNNING" || p0.Pid == 0 || p0.Pid == web0.Pid {
			t.Errorf("after start --wait: web:0 is %+v, want RUNNING with a new pid (was %d)", p0, web0.Pid)
		}
		o := ctl(t, sock, "restart", "--wait", "web:*").must(t, 0)
		for _, old := range []control.Status{p0, web1} {
			if p := ctlStatus(t, sock, old.Name); p.State != "RUNNING" || p.Pid == old.Pid || p.Restarts <= old.Restarts {
				t.Errorf("after restart --wait 'web:*': %+v, want RUNNING with a new pid (was %+v)\n%v", p, old, o)
			}
		}
		// The wait times out: slow needs 30 s to be RUNNING.
		o = ctl(t, sock, "start", "--wait", "--timeout", "1s", "slow").must(t, 1)
		if !strings.Contains(o.stderr, "timed out") || !strings.Contains(o.stderr, "slow is STARTING") {
			t.Errorf("start --wait --timeout 1s slow: %v, want a timeout with slow STARTING", o)
		}
		ctl(t, sock, "stop", "--wait", "slow").must(t, 0)
		if o := ctl(t, sock, "start", "--wait", "nosuch").must(t, 1); !strings.Contains(o.stderr, "no program matches") {
			t.Errorf("start nosuch: %v", o)
		}
	})

	t.Run("Signal", func(t *testing.T) {
		ctl(t, sock, "signal", "USR2", "sig").must(t, 0)
		s.expect("got 12")
		ctl(t, sock, "signal", "1", "sig").must(t, 0)
		s.expect("got 1")
		ctl(t, sock, "signal", "SIGWINCH", "s*").must(t, 1) // slow is STOPPED: no process
		s.expect("got 28")                                  // sig got it all the same
		if o := ctl(t, sock, "signal", "HUP", "slow").must(t, 1); !strings.Contains(o.stderr, "no process") {
			t.Errorf("signal HUP slow (STOPPED): %v", o)
		}
		// Well-formed, so ctl sends it; tend does not know it.
		if o := ctl(t, sock, "signal", "SIGFOO", "sig").must(t, 1); !strings.Contains(o.stderr, "SIGFOO") {
			t.Errorf("signal SIGFOO sig: %v", o)
		}
	})

	t.Run("PauseResume", func(t *testing.T) {
		web := ctlStatus(t, sock, "web:0")
		members := pgroupMembers(hostPidOf(t, s.tendPid(), web.Pid))
		if len(members) != 2 {
			t.Fatalf("web:0's group: %v, want 2 processes", members)
		}
		if o := ctl(t, sock, "pause", "web:0").must(t, 0); !strings.Contains(o.stdout, "PAUSED") {
			t.Errorf("pause: %v", o)
		}
		waitProcStates(t, members, "stopped (T)", func(st byte) bool { return st == 'T' })
		if p := ctlStatus(t, sock, "web:0"); p.State != "PAUSED" || p.Pid != web.Pid {
			t.Errorf("paused: %+v, want PAUSED, pid %d", p, web.Pid)
		}
		if r := statusTable(t, ctl(t, sock, "status", "web:0").must(t, 0).stdout)["web:0"]; r == nil || r[1] != "PAUSED" {
			t.Errorf("status table of a paused program: %q", r)
		}
		if o := ctl(t, sock, "pause", "web:0").must(t, 1); !strings.Contains(o.stderr, "not RUNNING") {
			t.Errorf("pause twice: %v", o)
		}
		ctl(t, sock, "resume", "web:0").must(t, 0)
		waitProcStates(t, members, "running again", func(st byte) bool { return st != 'T' })
		if p := ctlStatus(t, sock, "web:0"); p.State != "RUNNING" || p.Pid != web.Pid {
			t.Errorf("resumed: %+v, want RUNNING, pid %d", p, web.Pid)
		}
		if o := ctl(t, sock, "resume", "web:0").must(t, 1); !strings.Contains(o.stderr, "not PAUSED") {
			t.Errorf("resume twice: %v", o)
		}

		// Stopping a paused program: TERM, then CONT so it can act on
		// it. It dies of TERM at once, not of SIGKILL 5 s later.
		ctl(t, sock, "pause", "web:0").must(t, 0)
		waitProcStates(t, members, "stopped (T)", func(st byte) bool { return st == 'T' })
		from := len(s.tl.all())
		ctl(t, sock, "stop", "--wait", "web:0").must(t, 0)
		stopping := s.tl.waitFrom(from, "web:0 STOPPING", func(e event) bool { return e.is("web:0", "STOPPING") })
		stopped := s.tl.waitAfter(stopping, "web:0", "STOPPED")
		if stopping.From != "PAUSED" || stopped.Signal != "TERM" || stopped.code() != 143 {
			t.Errorf("stop of a paused program: %v then %v, want PAUSED→STOPPING, killed by TERM (143)", stopping, stopped)
		}
		if d := stopped.at.Sub(stopping.at); d > 3*time.Second {
			t.Errorf("a paused program took %v to stop on TERM", d)
		}
		ctl(t, sock, "start", "--wait", "web:0").must(t, 0)
	})

	t.Run("Events", func(t *testing.T) {
		cmd := exec.Command(tendBin, "ctl", "--socket", sock, "events", "web:*")
		cmd.Env = append(os.Environ(), noExitSleep)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var errb syncBuffer
		cmd.Stderr = &errb
		from := len(s.tl.all())
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan int, 1)
		lines := make(chan string, 256)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
			cmd.Wait()
			exited <- cmd.ProcessState.ExitCode()
		}()
		t.Cleanup(func() { cmd.Process.Kill() })
		// tend logs the subscription (at debug) once it is registered.
		s.waitAudit(from, "events")

		old := ctlStatus(t, sock, "web:1")
		ctl(t, sock, "signal", "USR1", "sig").must(t, 0) // not a state change, and not web
		ctl(t, sock, "restart", "--wait", "web:1").must(t, 0)
		want := [][2]string{{"RUNNING", "STOPPING"}, {"STOPPING", "STOPPED"}, {"STOPPED", "STARTING"}, {"STARTING", "RUNNING"}}
		for i, w := range want {
			var l string
			select {
			case l = <-lines:
			case <-time.After(deadline):
				t.Fatalf("events: no line %d within %v; stderr %s", i, deadline, errb.String())
			}
			var ev map[string]any
			if err := json.Unmarshal([]byte(l), &ev); err != nil {
				t.Fatalf("events: line %q: %v", l, err)
			}
			for _, k := range []string{"program", "state", "from", "pid", "time"} {
				if _, ok := ev[k]; !ok {
					t.Errorf("events: line %q has no %q", l, k)
				}
			}
			if ev["program"] != "web:1" || ev["from"] != w[0] || ev["state"] != w[1] {
				t.Errorf("events: line %d %q, want web:1 %s→%s", i, l, w[0], w[1])
			}
			if at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(ev["time"])); err != nil || time.Since(at) > time.Minute || time.Since(at) < -time.Minute {
				t.Errorf("events: line %q: time is not now", l)
			}
			pid := int(ev["pid"].(float64))
			if (i < 2 && pid != old.Pid) || (i >= 2 && (pid == old.Pid || pid == 0)) {
				t.Errorf("events: line %q: pid %d (old process %d)", l, pid, old.Pid)
			}
		}

		// Shutdown: tend exits 0 and ends the stream; ctl events exits 0.
		from = len(s.tl.all())
		if o := ctl(t, sock, "shutdown").must(t, 0); !strings.Contains(o.stdout, "shutting down") {
			t.Errorf("shutdown: %v", o)
		}
		if _, a := s.waitAudit(from, "shutdown"); a.PeerUID == nil || *a.PeerUID != 0 {
			t.Errorf("shutdown audit line: %+v", a)
		}
		if code := s.finish(); code != 0 {
			t.Errorf("tend exited %d after ctl shutdown, want 0", code)
		}
		select {
		case code := <-exited:
			if code != 0 {
				t.Errorf("ctl events exited %d when tend ended the stream, want 0; stderr %s", code, errb.String())
			}
		case <-time.After(deadline):
			t.Errorf("ctl events still running %v after tend exited", deadline)
		}
		if e := s.tl.mustFirst("web:0", "STOPPING"); !strings.Contains(e.Reason, "uid 0") {
			t.Errorf("web:0's first stop %v: want a reason naming uid 0", e)
		}
		// tend is gone; its socket file is left, nobody answers.
		ctl(t, sock, "status").must(t, 3)
	})
}

// atoiDefault is s as a number, or def.
func atoiDefault(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return def
}

// TestCtlHealth: health is 0 when every critical program is RUNNING and
// healthy (non-critical ones do not count when one is critical), else 1
// with the reason, in a line or as JSON.
func TestCtlHealth(t *testing.T) {
	t.Parallel()
	cfg, _, sock := ctlConfig(t, `
[programs.db]
command = ["sleep", "600"]
startsecs = 0
critical = true

[programs.batch]
command = ["sleep", "600"]
autostart = false
`, false)
	s := startCtl(t, cfg)
	s.tl.waitState("db", "RUNNING")
	if o := ctl(t, sock, "health").must(t, 0); strings.TrimSpace(o.stdout) != "healthy" {
		t.Errorf("health: %v, want 'healthy' (batch is not critical)", o)
	}
	var h struct {
		Healthy bool   `json:"healthy"`
		Reason  string `json:"reason"`
	}
	if err := json.Unmarshal([]byte(ctl(t, sock, "health", "--json").must(t, 0).stdout), &h); err != nil || !h.Healthy {
		t.Errorf("health --json: %+v %v", h, err)
	}
	ctl(t, sock, "stop", "--wait", "db").must(t, 0)
	if o := ctl(t, sock, "health").must(t, 1); strings.TrimSpace(o.stdout) != "unhealthy: db is STOPPED" {
		t.Errorf("health with db stopped: %v, want 'unhealthy: db is STOPPED'", o)
	}
	h.Healthy = true
	if err := json.Unmarshal([]byte(ctl(t, sock, "health", "--json").must(t, 1).stdout), &h); err != nil || h.Healthy || h.Reason != "db is STOPPED" {
		t.Errorf("health --json with db stopped: %+v %v", h, err)
	}
	ctl(t, sock, "start", "--wait", "db").must(t, 0)
	ctl(t, sock, "health").must(t, 0)
	s.signal(syscall.SIGTERM)
	if code := s.finish(); code != 0 {
		t.Errorf("tend exited %d, want 0", code)
	}
}

// TestCtlReload: reload re-reads the file: an added program starts, a
// removed one stops and goes, a changed one restarts with its new
// config, an unchanged one keeps its process. An invalid file changes
// nothing, and ctl says why, with file and line. SIGHUP reloads too.
func TestCtlReload(t *testing.T) {
	t.Parallel()
	prog := func(name, arg string) string {
		return fmt.Sprintf("\n[programs.%s]\ncommand = [\"sleep\", \"%s\"]\nstartsecs = 0.1\n", name, arg)
	}
	cfg, _, sock := ctlConfig(t, prog("keep", "600")+prog("change", "600")+prog("remove", "600"), false)
	head, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	header := string(head[:bytes.Index(head, []byte("\n[programs."))])
	s := startCtl(t, cfg)
	for _, p := range []string{"keep", "change", "remove"} {
		s.tl.waitState(p, "RUNNING")
	}
	keep, change := ctlStatus(t, sock, "keep"), ctlStatus(t, sock, "change")
	cmdline := func(nsPid int) string {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", hostPidOf(t, s.tendPid(), nsPid)))
		return string(bytes.ReplaceAll(bytes.TrimRight(b, "\x00"), []byte{0}, []byte{' '}))
	}

	w := watchEvents(t, sock)
	putFile(t, cfg, header+prog("keep", "600")+prog("change", "601")+prog("add", "602"))
	if o := ctl(t, sock, "reload").must(t, 0); !strings.Contains(o.stdout, "reloaded") {
		t.Errorf("reload: %v", o)
	}
	// Programs change in parallel: look for each from the start.
	find := func(program, state string) control.Event {
		t.Helper()
		e, _ := w.find(0, program+" "+state, func(e control.Event) bool { return e.Program == program && e.State == state })
		return e
	}
	if e := find("change", "STOPPING"); !strings.Contains(e.Reason, "config changed") || e.Pid != change.Pid {
		t.Errorf("change: %+v, want its old process stopped because its config changed", e)
	}
	changed := find("change", "RUNNING")
	find("remove", "STOPPED")
	added := find("add", "RUNNING")
	if got := cmdline(changed.Pid); got != "sleep 601" {
		t.Errorf("change runs %q, want its new command, sleep 601", got)
	}
	if got := cmdline(added.Pid); got != "sleep 602" {
		t.Errorf("add runs %q, want sleep 602", got)
	}
	if p := ctlStatus(t, sock, "keep"); p.Pid != keep.Pid || p.State != "RUNNING" {
		t.Errorf("unchanged keep: %+v, want RUNNING with its pid %d", p, keep.Pid)
	}
	if o := ctl(t, sock, "status", "remove").must(t, 1); !strings.Contains(o.stderr, "no program matches") {
		t.Errorf("status remove after its removal: %v", o)
	}
	if e := s.tl.mustFirst("remove", "STOPPING"); !strings.Contains(e.Reason, "removed") {
		t.Errorf("remove's stop: %v, want a reason saying it was removed", e)
	}

	// Invalid: two errors; ctl prints both, each at its line.
	quiet := time.Now()
	before := ctl(t, sock, "status", "--json").must(t, 0).stdout
	bad := header + prog("keep", "600") + prog("change", "601") + prog("add", "602") +
		"\n[programs.broken]\ncommand = [\"sleep\", \"1\"]\nstartsecs = \"soon\"\nbogus = 1\n"
	putFile(t, cfg, bad)
	line := 1 + strings.Count(bad[:strings.Index(bad, "startsecs = \"soon\"")], "\n")
	o := ctl(t, sock, "reload").must(t, 1)
	for _, want := range []string{
		fmt.Sprintf("%s:%d: programs.broken.startsecs", cfg, line),
		fmt.Sprintf("%s:%d: programs.broken.bogus", cfg, line+1),
	} {
		if !strings.Contains(o.stderr, want) {
			t.Errorf("reload of an invalid file: %v\nwant the error at %s", o, want)
		}
	}
	if after := ctl(t, sock, "status", "--json").must(t, 0).stdout; after != before {
		t.Errorf("an invalid reload changed the programs:\nbefore %s\nafter %s", before, after)
	}
	logged := s.tl.waitMessage("", "reload: invalid config")
	if !strings.Contains(logged.line, fmt.Sprintf(":%d: programs.broken.bogus: unknown key", line+1)) {
		t.Errorf("tend's log of the invalid reload: %s, want every error", logged.line)
	}
	loud := time.Now()

	// SIGHUP reloads as ctl reload does.
	putFile(t, cfg, header+prog("keep", "600")+prog("change", "603")+prog("add", "602"))
	mark := len(w.all())
	s.signal(syscall.SIGHUP)
	stop, i := w.find(mark, "change STOPPING", func(e control.Event) bool { return e.Program == "change" && e.State == "STOPPING" })
	if !strings.Contains(stop.Reason, "HUP") {
		t.Errorf("change after SIGHUP: %+v, want a stop for the reload by signal HUP", stop)
	}
	up, _ := w.find(i, "change RUNNING", func(e control.Event) bool { return e.Program == "change" && e.State == "RUNNING" })
	if got := cmdline(up.Pid); got != "sleep 603" {
		t.Errorf("after SIGHUP change runs %q, want sleep 603", got)
	}
	if p := ctlStatus(t, sock, "keep"); p.Pid != keep.Pid {
		t.Errorf("keep's pid %d after SIGHUP, was %d", p.Pid, keep.Pid)
	}
	if got := stateNames(s.tl.states("keep")); !slices.Equal(got, []string{"STARTING", "RUNNING"}) {
		t.Errorf("keep, never changed, went through %v on reloads, want STARTING RUNNING only", got)
	}
	for _, e := range w.all() {
		if !e.Time.Before(quiet) && e.Time.Before(loud) {
			t.Errorf("a state change while the file was invalid: %+v", e)
		}
	}
	s.signal(syscall.SIGTERM)
	if code := s.finish(); code != 0 {
		t.Errorf("tend exited %d, want 0", code)
	}
}

// TestCtlSocketMode: the socket is 0600 by default, and a user other
// than tend's cannot connect (ctl exits 3); with socket_mode = "0660" and
// socket_group, that group's members can.
func TestCtlSocketMode(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, conf string
		perm       os.FileMode
		gid        uint32
		asNobody   int // ctl's exit code as uid and gid 65534
	}{
		{"Default", "", 0o600, 0, 3},
		{"Group0660", "socket_mode = \"0660\"\nsocket_group = \"65534\"\n", 0o660, nobodyID, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			needRoot(t)
			cfg, _, sock := ctlConfig(t, c.conf+`
[programs.web]
command = ["sleep", "600"]
startsecs = 0
`, true)
			s := startCtl(t, cfg)
			s.tl.waitState("web", "RUNNING")
			fi, err := os.Stat(sock)
			if err != nil {
				t.Fatal(err)
			}
			st := fi.Sys().(*syscall.Stat_t)
			if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != c.perm || st.Uid != 0 || st.Gid != c.gid {
				t.Errorf("socket %s: %v uid %d gid %d, want a socket %v owned by 0:%d", sock, fi.Mode(), st.Uid, st.Gid, c.perm, c.gid)
			}
			o := ctlAsNobody(t, sock, "status")
			if o.code != c.asNobody {
				t.Errorf("as uid %d: %v, want exit %d", nobodyID, o, c.asNobody)
			}
			if c.asNobody == 3 && !strings.Contains(o.stderr, "permission denied") {
				t.Errorf("as uid %d: %v, want permission denied", nobodyID, o)
			}
			// Another user, not in the group, is refused in any case.
			if o := runCtl(t, helper("ctl-as", "65533", "65533", "--socket", sock, "status")); o.code != 3 {
				t.Errorf("as uid 65533: %v, want exit 3", o)
			}
			ctl(t, sock, "status").must(t, 0)
			ctl(t, sock, "shutdown").must(t, 0)
			if code := s.finish(); code != 0 {
				t.Errorf("tend exited %d, want 0", code)
			}
		})
	}
}

// TestCtlAudit: every state-changing request is logged with the peer's
// uid and pid (SO_PEERCRED), and the state change it causes names the
// uid.
func TestCtlAudit(t *testing.T) {
	t.Parallel()
	needRoot(t)
	cfg, _, sock := ctlConfig(t, `socket_mode = "0660"
socket_group = "65534"

[programs.web]
command = ["sleep", "600"]
startsecs = 0.1

# Runs tend ctl inside tend's pid namespace, where its pid means
# something to tend: SO_PEERCRED gives 0 for a peer outside it.
[programs.stopper]
type = "oneshot"
command = [{self}, "ctl-in", "--socket", "{sock}", "stop", "web"]
depends_on = ["web"]
`, true)
	s := startCtl(t, cfg)
	ctlPid := atoi(strings.Fields(s.expect("ctl pid "))[2])
	req, a := s.waitAudit(0, "stop")
	if a.PeerUID == nil || *a.PeerUID != 0 || a.PeerPID == nil || int(*a.PeerPID) != ctlPid || !slices.Equal(a.Names, []string{"web"}) {
		t.Errorf("audit line %s: want peer_uid 0, peer_pid %d (the ctl process), names [web]", req.line, ctlPid)
	}
	if req.Level != "info" {
		t.Errorf("audit line %s: want level info", req.line)
	}
	stopping := s.tl.waitState("web", "STOPPING")
	if stopping.Reason != "ctl stop by uid 0" {
		t.Errorf("%v: want reason 'ctl stop by uid 0'", stopping)
	}
	s.tl.waitState("stopper", "COMPLETED")

	// Another user, through the group: its uid is in both lines.
	from := len(s.tl.all())
	ctlAsNobody(t, sock, "start", "--wait", "web").must(t, 0)
	ctlAsNobody(t, sock, "stop", "--wait", "web").must(t, 0)
	req, a = s.waitAudit(from, "stop")
	if a.PeerUID == nil || *a.PeerUID != nobodyID {
		t.Errorf("audit line %s: want peer_uid %d", req.line, nobodyID)
	}
	e := s.tl.waitFrom(from, "web STOPPING", func(e event) bool { return e.is("web", "STOPPING") })
	if e.Reason != fmt.Sprintf("ctl stop by uid %d", nobodyID) {
		t.Errorf("%v: want reason 'ctl stop by uid %d'", e, nobodyID)
	}
	// Reads are not state changes: logged at debug.
	from = len(s.tl.all())
	ctl(t, sock, "status").must(t, 0)
	if e, _ := s.waitAudit(from, "status"); e.Level != "debug" {
		t.Errorf("status audit line %s: want level debug", e.line)
	}
	s.signal(syscall.SIGTERM)
	if code := s.finish(); code != 0 {
		t.Errorf("tend exited %d, want 0", code)
	}
}

// ---- health ----

// TestHealthHTTP: an http check against the program itself, a server
// that answers 500 while a file exists. With on_unhealthy = "ignore" the
// program goes healthy → unhealthy → healthy and keeps its process, and
// a PAUSED program is not probed; with "restart" it is restarted.
func TestHealthHTTP(t *testing.T) {
	t.Parallel()
	conf := func(onUnhealthy string) (cfg, dir, sock string, port int) {
		port = unusedPort(t)
		cfg, dir, sock = ctlConfig(t, fmt.Sprintf(`
[programs.web]
command = [{self}, "flaky-http", "-addr", "127.0.0.1:%d", "-fail", "{dir}/fail"]
autostart = false
startsecs = 0

[programs.web.healthcheck]
http = "http://127.0.0.1:%d/health"
interval = "200ms"
timeout = "500ms"
retries = 2
on_unhealthy = %q
`, port, port, onUnhealthy), false)
		return
	}
	t.Run("Ignore", func(t *testing.T) {
		t.Parallel()
		cfg, dir, sock, _ := conf("ignore")
		s := startCtl(t, cfg)
		w := watchEvents(t, sock, "web")
		ctl(t, sock, "start", "web").must(t, 0)
		pid := w.state("web", "RUNNING").Pid
		w.health("web", "healthy")
		if r := statusTable(t, ctl(t, sock, "status", "web").must(t, 0).stdout)["web"]; r == nil || r[4] != "healthy" {
			t.Errorf("status: %q, want HEALTH healthy", r)
		}
		ctl(t, sock, "health").must(t, 0)

		putFile(t, filepath.Join(dir, "fail"), "")
		e := w.next("web unhealthy", func(e control.Event) bool { return e.Health != "" })
		if e.Health != "unhealthy" || !strings.Contains(e.Reason, "2 probes failed in a row") || !strings.Contains(e.Reason, "500") {
			t.Errorf("%+v, want unhealthy after 2 failed probes (500)", e)
		}
		if o := ctl(t, sock, "health").must(t, 1); strings.TrimSpace(o.stdout) != "unhealthy: web is unhealthy" {
			t.Errorf("health: %v", o)
		}
		if p := ctlStatus(t, sock, "web"); p.State != "RUNNING" || p.Pid != pid || p.Health != "unhealthy" {
			t.Errorf("unhealthy, ignored: %+v, want RUNNING, pid %d", p, pid)
		}
		if err := os.Remove(filepath.Join(dir, "fail")); err != nil {
			t.Fatal(err)
		}
		if e := w.next("web healthy again", func(e control.Event) bool { return e.Program == "web" }); e.Health != "healthy" {
			t.Errorf("%+v, want healthy again, and nothing in between", e)
		}
		ctl(t, sock, "health").must(t, 0)

		// Paused: the server cannot answer, and tend must not ask. Probed,
		// it would be unhealthy within 2 × (200ms + 500ms).
		ctl(t, sock, "pause", "web").must(t, 0)
		w.state("web", "PAUSED")
		w.quiet(2*time.Second, "a PAUSED program is not health-checked")
		if p := ctlStatus(t, sock, "web"); p.State != "PAUSED" || p.Pid != pid {
			t.Errorf("paused: %+v", p)
		}
		ctl(t, sock, "resume", "web").must(t, 0)
		w.state("web", "RUNNING")
		drainLines(s.run)
		s.expect("web served 200") // probing again
		if p := ctlStatus(t, sock, "web"); p.Pid != pid || p.Health != "healthy" {
			t.Errorf("resumed: %+v, want healthy, pid %d", p, pid)
		}
		if got := s.healthLines("web"); !slices.Equal(got, []string{"healthy", "unhealthy", "healthy"}) {
			t.Errorf("health lines in tend's log: %v, want healthy unhealthy healthy", got)
		}
		s.signal(syscall.SIGTERM)
		if code := s.finish(); code != 0 {
			t.Errorf("tend exited %d, want 0", code)
		}
	})
	t.Run("Restart", func(t *testing.T) {
		t.Parallel()
		cfg, dir, sock, _ := conf("restart")
		s := startCtl(t, cfg)
		w := watchEvents(t, sock, "web")
		ctl(t, sock, "start", "web").must(t, 0)
		old := w.state("web", "RUNNING").Pid
		w.health("web", "healthy")
		putFile(t, filepath.Join(dir, "fail"), "")
		w.health("web", "unhealthy")
		stop := w.next("web's restart", func(e control.Event) bool { return e.Health == "" })
		if stop.State != "STOPPING" || stop.Pid != old || stop.Reason != "unhealthy" {
			t.Errorf("%+v, want web's process %d STOPPING, reason unhealthy", stop, old)
		}
		if err := os.Remove(filepath.Join(dir, "fail")); err != nil {
			t.Fatal(err)
		}
		w.state("web", "STOPPED")
		if e := w.state("web", "RUNNING"); e.Pid == old || e.Pid == 0 {
			t.Errorf("restarted: %+v, want a new process", e)
		}
		w.health("web", "healthy")
		s.signal(syscall.SIGTERM)
		if code := s.finish(); code != 0 {
			t.Errorf("tend exited %d, want 0", code)
		}
	})
}

// TestHealthTCP: a tcp check against a port nobody listens on makes the
// program unhealthy, without a healthy moment first.
func TestHealthTCP(t *testing.T) {
	t.Parallel()
	cfg, _, sock := ctlConfig(t, fmt.Sprintf(`
[programs.db]
command = ["sleep", "600"]
autostart = false
startsecs = 0

[programs.db.healthcheck]
tcp = "127.0.0.1:%d"
interval = "200ms"
timeout = "500ms"
retries = 2
on_unhealthy = "ignore"
`, unusedPort(t)), false)
	s := startCtl(t, cfg)
	w := watchEvents(t, sock, "db")
	ctl(t, sock, "start", "db").must(t, 0)
	w.state("db", "RUNNING")
	if e := w.next("db's health", func(e control.Event) bool { return e.Health != "" }); e.Health != "unhealthy" || !strings.Contains(e.Reason, "refused") {
		t.Errorf("%+v, want unhealthy, connection refused", e)
	}
	if o := ctl(t, sock, "health").must(t, 1); strings.TrimSpace(o.stdout) != "unhealthy: db is unhealthy" {
		t.Errorf("health: %v", o)
	}
	if r := statusTable(t, ctl(t, sock, "status").must(t, 0).stdout)["db"]; r == nil || r[1] != "RUNNING" || r[4] != "unhealthy" {
		t.Errorf("status: %q, want RUNNING, unhealthy", r)
	}
	s.signal(syscall.SIGTERM)
	if code := s.finish(); code != 0 {
		t.Errorf("tend exited %d, want 0", code)
	}
}

// TestHealthDependsOn: depends_on = { web = "healthy" } starts app only
// after web's first passing probe, not when web is RUNNING: web takes
// 700 ms to listen.
func TestHealthDependsOn(t *testing.T) {
	t.Parallel()
	port := unusedPort(t)
	cfg, _, sock := ctlConfig(t, fmt.Sprintf(`
[programs.web]
command = [{self}, "flaky-http", "-addr", "127.0.0.1:%d", "-delay", "700ms"]
autostart = false
startsecs = 0

[programs.web.healthcheck]
http = "http://127.0.0.1:%d/"
interval = "100ms"
timeout = "500ms"
retries = 1000
on_unhealthy = "ignore"

[programs.app]
command = ["sleep", "600"]
autostart = false
startsecs = 0
depends_on = { web = "healthy" }
`, port, port), false)
	s := startCtl(t, cfg)
	w := watchEvents(t, sock)
	ctl(t, sock, "start", "web", "app").must(t, 0)
	app := w.state("app", "RUNNING")
	var webUp, webHealthy time.Time
	for _, e := range w.all() {
		switch {
		case e.Program == "web" && e.State == "RUNNING" && e.Health == "":
			webUp = e.Time
		case e.Program == "web" && e.Health == "healthy" && webHealthy.IsZero():
			webHealthy = e.Time
		case e.Program == "app" && e.Time.Before(app.Time):
			t.Errorf("app changed state before it started: %+v", e)
		}
	}
	if webUp.IsZero() || webHealthy.IsZero() {
		t.Fatalf("app RUNNING before web RUNNING and healthy; events: %s", w)
	}
	if d := app.Time.Sub(webUp); d < 600*time.Millisecond {
		t.Errorf("app started %v after web was RUNNING; web listens only after 700ms", d)
	}
	if app.Time.Before(webHealthy) {
		t.Errorf("app started at %v, before web's first passing probe at %v", app.Time, webHealthy)
	}
	s.signal(syscall.SIGTERM)
	if code := s.finish(); code != 0 {
		t.Errorf("tend exited %d, want 0", code)
	}
}

// ---- freeze ----

// freezer is a cgroup of its own with a freezer: v1's freezer.state, or
// v2's cgroup.freeze.
type freezer struct {
	t   *testing.T
	dir string
	v2  bool
}

var cgSeq atomic.Int64

// newFreezer makes a freezer cgroup, removed when the test ends. No
// freezer is a failure, not a skip: this is what `docker pause` uses.
func newFreezer(t *testing.T) *freezer {
	t.Helper()
	root, v2 := freezerRoot()
	if root == "" {
		t.Fatal("no cgroup freezer: neither a cgroup v1 hierarchy with the freezer nor cgroup v2 is mounted")
	}
	f := &freezer{t: t, dir: filepath.Join(root, fmt.Sprintf("tend-e2e-%d-%d", os.Getpid(), cgSeq.Add(1))), v2: v2}
	if err := os.Mkdir(f.dir, 0o755); err != nil {
		t.Fatalf("creating a freezer cgroup: %v", err)
	}
	t.Cleanup(f.remove)
	if v2 {
		if _, err := os.Stat(filepath.Join(f.dir, "cgroup.freeze")); err != nil {
			t.Fatalf("cgroup v2 without cgroup.freeze (kernel before 5.2?): %v", err)
		}
	}
	return f
}

// freezerRoot finds the v1 freezer hierarchy, else the cgroup v2 one.
func freezerRoot() (root string, v2 bool) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", false
	}
	var unified string
	for l := range strings.SplitSeq(string(b), "\n") {
		pre, post, ok := strings.Cut(l, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 3 {
			continue
		}
		switch {
		case g[0] == "cgroup" && slices.Contains(strings.Split(g[2], ","), "freezer"):
			return f[4], false
		case g[0] == "cgroup2" && unified == "":
			unified = f[4]
		}
	}
	return unified, unified != ""
}

// procs is the file a process writes to join the cgroup.
func (f *freezer) procs() string { return filepath.Join(f.dir, "cgroup.procs") }

func (f *freezer) set(frozen bool) error {
	file, val, done, want := "freezer.state", "THAWED", "freezer.state", "THAWED"
	if frozen {
		val, want = "FROZEN", "FROZEN"
	}
	if f.v2 {
		file, val, done, want = "cgroup.freeze", "0", "cgroup.events", "frozen 0"
		if frozen {
			val, want = "1", "frozen 1"
		}
	}
	if err := os.WriteFile(filepath.Join(f.dir, file), []byte(val), 0); err != nil {
		return err
	}
	// Freezing takes effect as each task next runs; the state says when
	// every one has stopped. The loop watches the kernel.
	for end := time.Now().Add(deadline); time.Now().Before(end); time.Sleep(time.Millisecond) {
		b, err := os.ReadFile(filepath.Join(f.dir, done))
		if err != nil {
			return err
		}
		if slices.Contains(strings.Split(string(b), "\n"), want) {
			return nil
		}
	}
	return fmt.Errorf("%s: not %q within %v", f.dir, want, deadline)
}

func (f *freezer) freeze() {
	f.t.Helper()
	if err := f.set(true); err != nil {
		f.t.Fatal(err)
	}
}

func (f *freezer) thaw() {
	f.t.Helper()
	if err := f.set(false); err != nil {
		f.t.Fatal(err)
	}
}

// contains reports whether pid is in the cgroup.
func (f *freezer) contains(pid int) bool {
	b, _ := os.ReadFile(f.procs())
	return slices.Contains(strings.Fields(string(b)), strconv.Itoa(pid))
}

// remove thaws the cgroup, kills what is left in it and removes it.
func (f *freezer) remove() {
	f.set(false)
	for end := time.Now().Add(deadline); ; time.Sleep(10 * time.Millisecond) {
		b, err := os.ReadFile(f.procs())
		if err != nil {
			break
		}
		pids := strings.Fields(string(b))
		for _, p := range pids {
			syscall.Kill(atoiDefault(p, 0), syscall.SIGKILL)
		}
		if len(pids) == 0 && os.Remove(f.dir) == nil {
			return
		}
		if time.Now().After(end) {
			break
		}
	}
	f.t.Errorf("cannot remove cgroup %s", f.dir)
}

// startFrozen starts tend inside f: a wrapper joins the cgroup and execs
// tend, so tend and all it starts are frozen together, as in a container.
func startFrozen(t *testing.T, f *freezer, cfg string) *svRun {
	t.Helper()
	s := startCtlWith(t, cfg, ctlRun{around: helper("cg-exec", f.procs())})
	// Runs first: a test that fails while frozen must thaw before the
	// harness kills what it started.
	t.Cleanup(func() { f.set(false) })
	if !f.contains(s.tendPid()) {
		t.Fatalf("tend (%d) is not in %s", s.tendPid(), f.dir)
	}
	return s
}

// TestFreeze: a freeze of the whole container (tend and its programs in
// one freezer cgroup, as `docker pause` does) is not time the programs
// had. SPEC: "a host-level freeze ... must not, on thaw, count as a
// failed health check or a too-short start"; stopwaitsecs likewise.
//
// Not parallel with other tests: the margins are a few hundred ms of
// tend time (tend's clock may be off by up to a 250 ms heartbeat), and
// the test is about a freeze, not CPU starvation. Its two cases sleep
// through their freezes side by side.
func TestFreeze(t *testing.T) {
	t.Run("Stopping", func(t *testing.T) {
		t.Parallel()
		freezeStopping(t)
	})
	t.Run("Probe", func(t *testing.T) {
		t.Parallel()
		freezeProbe(t)
	})
}

// freezeStopping: a program asked to stop needs 1.5 s of its own time,
// under a stopwaitsecs of 2 s. The container freezes 300 ms into that
// for 4 s. On thaw the program must get the rest of its time: it exits
// by itself, is not SIGKILLed, and tend exits 0.
func freezeStopping(t *testing.T) {
	f := newFreezer(t)
	cfg, _, _ := ctlConfig(t, `
[programs.slow]
command = [{self}, "slow-term", "-name", "slow", "-need", "1.5s"]
startsecs = 0
stopwaitsecs = 2
`, false)
	s := startFrozen(t, f, cfg)
	s.expect("slow ready")
	s.signal(syscall.SIGTERM)
	s.expect("slow got TERM")
	time.Sleep(300 * time.Millisecond) // into the program's shutdown: the subject of the test
	f.freeze()
	time.Sleep(4 * time.Second) // frozen: the subject of the test
	f.thaw()
	if code := s.finish(); code != 0 {
		t.Errorf("tend exited %d, want 0: nothing should have needed SIGKILL", code)
	}
	if !slices.Contains(s.rest(), "slow done") {
		t.Errorf("slow never said it was done")
	}
	stopping, stopped := s.tl.mustFirst("slow", "STOPPING"), s.tl.mustFirst("slow", "STOPPED")
	if stopped.code() != 0 || stopped.Signal != "" {
		t.Errorf("%v, want exit_code 0: the program exited by itself", stopped)
	}
	if d := stopped.at.Sub(stopping.at); d < 5*time.Second {
		t.Errorf("stopped %v after TERM; the freeze alone was 4s: did it freeze?", d)
	}
	for _, e := range s.tl.all() {
		if strings.Contains(e.Message, "SIGKILL") {
			t.Errorf("SIGKILL for a program that got its time: %v", e)
		}
	}
	s.tl.waitMessage("", "tend was not running")
}

// freezeProbe: an exec probe needs 0.5 s of its own time; timeout 1 s,
// retries 1, on_unhealthy = "restart". The container freezes during a
// probe for 3 s. On thaw the probe finishes and passes: no unhealthy
// event, no restart.
func freezeProbe(t *testing.T) {
	f := newFreezer(t)
	cfg, dir, _ := ctlConfig(t, `
[programs.web]
command = ["sleep", "600"]
startsecs = 0

[programs.web.healthcheck]
exec = [{self}, "slow-probe", "{dir}/probe.sock", "500ms"]
interval = "600ms"
timeout = "1s"
retries = 1
on_unhealthy = "restart"
`, false)
	// Each probe says when it starts and ends.
	ln, err := net.Listen("unix", filepath.Join(dir, "probe.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	said := make(chan string, 64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					said <- sc.Text()
				}
			}()
		}
	}()
	probe := func() string {
		t.Helper()
		select {
		case l := <-said:
			return l
		case <-time.After(deadline):
			t.Fatalf("no word from a probe within %v", deadline)
		}
		return ""
	}

	s := startFrozen(t, f, cfg)
	for _, want := range []string{"start", "done"} {
		if l := probe(); !strings.HasPrefix(l, want+" ") {
			t.Fatalf("the first probe said %q, want %s", l, want)
		}
	}
	s.tl.waitMessage("web", "health")
	started := probe()
	if !strings.HasPrefix(started, "start ") {
		t.Fatalf("probe said %q, want start", started)
	}
	time.Sleep(50 * time.Millisecond) // into the probe: the subject of the test
	f.freeze()
	time.Sleep(3 * time.Second) // frozen: the subject of the test
	f.thaw()
	// The frozen probe ends, and the next starts once tend has judged it.
	if l, want := probe(), "done "+strings.TrimPrefix(started, "start "); l != want {
		t.Errorf("after the thaw a probe said %q, want %q: tend killed the frozen probe (as timed out?)", l, want)
	} else if l := probe(); !strings.HasPrefix(l, "start ") {
		t.Errorf("then a probe said %q, want the next start", l)
	}
	s.tl.waitMessage("", "tend was not running")
	if got := s.healthLines("web"); !slices.Equal(got, []string{"healthy"}) {
		t.Errorf("web's health: %v, want healthy and nothing else: a frozen probe is not a failed one", got)
	}
	if e, ok := s.tl.first("web", "STOPPING"); ok {
		t.Errorf("web was restarted: %v", e)
	}
	s.signal(syscall.SIGTERM)
	if code := s.finish(); code != 0 {
		t.Errorf("tend exited %d, want 0", code)
	}
}

// ---- load ----

// procUsage is what tend holds: threads, open fds, resident memory.
type procUsage struct{ threads, fds, rssKiB int }

func procUsageOf(t *testing.T, pid int) procUsage {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	var u procUsage
	for l := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) >= 2 && f[0] == "Threads:":
			u.threads = atoi(f[1])
		case len(f) >= 2 && f[0] == "VmRSS:":
			u.rssKiB = atoi(f[1])
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	u.fds = len(fds)
	return u
}

// TestLoadStatus: 1,000 concurrent status requests while two programs
// crash-loop: every one is answered, and afterwards tend's threads, fds
// and memory come back to about what they were.
//
// Under -race, the load runs against the race-enabled tend (for the
// race detector's sake, and for threads and fds), and again against a
// tend built without it for memory: the race runtime's shadow memory
// grows with every goroutine that ever ran and is never given back.
func TestLoadStatus(t *testing.T) {
	t.Parallel()
	if !raceEnabled {
		loadStatus(t, "", true)
		return
	}
	t.Run("Race", func(t *testing.T) {
		t.Parallel()
		loadStatus(t, "", false)
	})
	t.Run("NoRace", func(t *testing.T) {
		t.Parallel()
		bin := filepath.Join(t.TempDir(), "tend")
		build := exec.Command("go", "build", "-o", bin, "tend")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("building tend without -race: %v\n%s", err, out)
		}
		loadStatus(t, bin, true)
	})
}

// statusBurst sends n status requests at once and returns the errors.
func statusBurst(n int, ask func() ([]control.Status, error)) []error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	gate := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-gate
			ps, err := ask()
			if err == nil && len(ps) != 2 {
				err = fmt.Errorf("status: %d programs, want 2", len(ps))
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	close(gate)
	wg.Wait()
	return errs
}

func loadStatus(t *testing.T, bin string, checkRSS bool) {
	cfg, _, sock := ctlConfig(t, `
[programs.crash1]
command = "sleep 0.05; exit 1"
autorestart = "always"
startsecs = 0.01

[programs.crash2]
command = "sleep 0.05; exit 1"
autorestart = "always"
startsecs = 0.01
`, false)
	s := startCtlWith(t, cfg, ctlRun{bin: bin})
	s.tl.waitState("crash1", "RUNNING")
	s.tl.waitState("crash2", "RUNNING")
	pid := s.tendPid()
	client := control.NewClient(sock)
	ask := func() ([]control.Status, error) {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		return client.Status(ctx, nil)
	}
	// Warm up: what the first requests allocate for good is not a leak.
	for range 50 {
		if _, err := ask(); err != nil {
			t.Fatal(err)
		}
	}
	base := procUsageOf(t, pid)
	before, _ := ask()

	// Waves of 1,000 at once, until the crash loop has gone round during
	// them (one wave, unless the machine is very busy).
	const n, waves = 1000, 5
	var errs []error
	var took time.Duration
	for wave := 1; ; wave++ {
		began := time.Now()
		errs = append(errs, statusBurst(n, ask)...)
		took += time.Since(began)
		after, err := ask()
		if err != nil {
			t.Fatal(err)
		}
		looped := true
		for i := range after {
			looped = looped && after[i].Restarts >= before[i].Restarts+2
		}
		if looped {
			break
		}
		if wave == waves {
			t.Errorf("the programs did not crash-loop during %d waves of %d requests: restarts %+v, then %+v", waves, n, before, after)
			break
		}
	}
	if len(errs) > 0 {
		t.Errorf("%d status requests failed; first: %v", len(errs), errs[0])
	}

	// Settling: connections close, their goroutines end. Go never ends
	// the threads it made (a busy machine makes it start a few more) and
	// keeps some of the heap it grew, so a few threads and some MiB more
	// are allowed: a leak of one per request would be hundreds. The fds
	// must all be closed (the crash loop may hold a pipe or two at any
	// moment).
	const threadMargin, fdMargin = 8, 2
	rssMargin := max(base.rssKiB/2, 16<<10)
	ok := func(u procUsage) bool {
		return u.threads <= base.threads+threadMargin && u.fds <= base.fds+fdMargin && (!checkRSS || u.rssKiB <= base.rssKiB+rssMargin)
	}
	var u procUsage
	for end := time.Now().Add(deadline); ; time.Sleep(100 * time.Millisecond) {
		if u = procUsageOf(t, pid); ok(u) {
			break
		}
		if time.Now().After(end) {
			t.Errorf("tend did not settle within %v after %d requests in %v: before %+v, now %+v (threads +%d, fds +%d, RSS +%d KiB allowed; RSS checked: %v)",
				deadline, n, took, base, u, threadMargin, fdMargin, rssMargin, checkRSS)
			break
		}
	}
	if testing.Verbose() {
		t.Logf("%d requests in %v; before %+v, after %+v", n, took, base, u)
	}
	ctl(t, sock, "shutdown").must(t, 0)
	if code := s.finish(); code != 0 {
		t.Errorf("tend exited %d, want 0", code)
	}
}
