package e2e

// The harness of the control and health tests (ctl_*_test.go,
// health_test.go, freeze_test.go, load_test.go): a tend as PID 1 with
// its control socket, driven by the real `tend ctl` binary (or by the
// control package's client, in process, where a test needs a thousand
// requests or a stream it reads as it goes), and checked through what
// ctl prints, its exit code, tend's JSON log, the events stream and
// /proc.
//
// Waits are on events (a line, a log entry, an event, an exit) with the
// harness's deadline. The few real sleeps are the subject of their test:
// how long a cgroup stays frozen, or a window in which nothing may
// happen.

import (
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
	"testing"
	"time"

	"tend/api"
	tendctl "tend/ctl"
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
func ctlStatus(t *testing.T, sock, name string) api.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	ps, err := tendctl.NewClient(sock).Status(ctx, []string{name})
	if err != nil || len(ps) != 1 {
		t.Fatalf("status %s: %v %v", name, ps, err)
	}
	return ps[0]
}

// statusTable parses `tend ctl status` into rows by name; each row is
// the line's fields: NAME STATE IN-STATE PID UPTIME HEALTH EXIT, and NEXT
// RUN when the header has it.
func statusTable(t *testing.T, out string) map[string][]string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	head := []string{"NAME", "STATE", "IN", "STATE", "PID", "UPTIME", "HEALTH", "READY", "EXIT", "CPU", "MEM"}
	got := strings.Fields(lines[0])
	cols := 10 // IN STATE is one column
	if len(got) > len(head) && got[len(head)] == "NEXT" {
		head = append(head, "NEXT", "RUN")
		cols++
	}
	text := len(got) > len(head) && got[len(head)] == "STATUS" // what programs said: any number of words
	if text {
		got = got[:len(head)]
	}
	if !slices.Equal(got, head) {
		t.Fatalf("status header %q, want NAME STATE IN STATE PID UPTIME HEALTH READY EXIT CPU MEM [NEXT RUN] [STATUS]", lines[0])
	}
	rows := map[string][]string{}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != cols && !(text && len(f) > cols) {
			t.Fatalf("status row %q: want %d columns", l, cols)
		}
		rows[f[0]] = f
	}
	return rows
}

// ---- harness: the events stream, in process ----

// watchEvents opens the events stream of the programs matching names,
// its events a watcher's lines, one JSON object each. Once it returns,
// tend has registered the subscriber: no later change is missed.
func watchEvents(t *testing.T, sock string, names ...string) *watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	// Only the opening is bounded: the stream lives as long as the test.
	timer := time.AfterFunc(deadline, cancel)
	stream, err := tendctl.NewClient(sock).Events(ctx, names)
	if !timer.Stop() || err != nil {
		cancel()
		t.Fatalf("events: %v", err)
	}
	w := newWatcher(t, "the events stream")
	go func() {
		defer w.end()
		for {
			ev, err := stream.Next()
			if err != nil {
				return
			}
			b, err := json.Marshal(ev)
			if err != nil {
				panic(err) // an Event is plain data
			}
			w.Write(append(b, '\n'))
		}
	}()
	t.Cleanup(func() {
		cancel()
		stream.Close()
		if t.Failed() {
			t.Logf("--- events ---\n%s", w)
		}
	})
	return w
}

// state waits for program's next change to state on the events stream
// (an event that is not a change of health).
func (w *watcher) state(program, state string) event {
	w.t.Helper()
	return w.next(program+" "+state, func(e event) bool {
		return e.Program == program && e.State == state && e.Health == ""
	})
}

// health waits for program's next change of health to h on the events
// stream.
func (w *watcher) health(program, h string) event {
	w.t.Helper()
	return w.next(program+" health "+h, func(e event) bool { return e.Program == program && e.Health == h })
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
	for _, e := range s.tl.events() {
		if e.Message == "health" && e.Program == program {
			out = append(out, e.Health)
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

// atoiDefault is s as a number, or def.
func atoiDefault(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return def
}
