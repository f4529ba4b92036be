package e2e

// `tend ctl`'s verbs end to end, against the real tend as PID 1:
// usage errors, status, health, start/stop/restart, signal,
// pause/resume, events and shutdown.

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"tend/api"
)

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
			if r == nil || r[1] != "RUNNING" || !strings.HasSuffix(r[2], "s") || atoiDefault(r[3], 0) <= 0 || !strings.HasSuffix(r[4], "s") || r[5] != "-" || r[6] != "yes" || r[7] != "-" ||
				!strings.HasSuffix(r[8], "s") || !strings.HasSuffix(r[9], "M") && !strings.HasSuffix(r[9], "K") {
				t.Errorf("%s: row %q, want RUNNING, a time in it, a pid, an uptime, no health, ready, no exit, its CPU time and memory", name, r)
			}
		}
		if r := rows["sig"]; r != nil && r[3] != strconv.Itoa(sigPid) {
			t.Errorf("sig: pid %s, want %d, the pid sigrecv says it has", r[3], sigPid)
		}
		if r := rows["slow"]; !slices.Equal(r, []string{"slow", "STOPPED", "-", "-", "-", "-", "-", "-", "-", "-"}) {
			t.Errorf("slow: row %q, want STOPPED and dashes", r)
		}

		var progs []api.Status
		o := ctl(t, sock, "status", "--json").must(t, 0)
		if err := json.Unmarshal([]byte(o.stdout), &progs); err != nil {
			t.Fatalf("status --json: %v\n%v", err, o)
		}
		byName := map[string]api.Status{}
		for _, p := range progs {
			byName[p.Name] = p
		}
		if p := byName["sig"]; p.State != "RUNNING" || p.Pid != sigPid || p.Since.IsZero() || p.ExitCode != nil {
			t.Errorf("status --json: sig is %+v, want RUNNING, pid %d, since set, no exit code", p, sigPid)
		}
		// Usage from the process group, as no cgroup is tend's here: the
		// resident set of a live Go program is some MiB.
		if p := byName["sig"]; p.CPUSeconds == nil || p.MemoryBytes == nil || *p.MemoryBytes < 1<<20 {
			t.Errorf("status --json: sig's usage: cpu_seconds %v, memory_bytes %v", p.CPUSeconds, p.MemoryBytes)
		}
		if p := byName["slow"]; p.CPUSeconds != nil || p.MemoryBytes != nil {
			t.Errorf("status --json: slow, STOPPED, has usage: %+v", p)
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
		for _, old := range []api.Status{p0, web1} {
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
		from := s.tl.mark()
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
		errb := newWatcher(t, "ctl events' stderr")
		cmd.Stderr = errb
		from := s.tl.mark()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan int, 1)
		lines := newWatcher(t, "ctl events' output")
		go func() {
			lines.follow(out)
			cmd.Wait()
			exited <- cmd.ProcessState.ExitCode()
		}()
		t.Cleanup(func() {
			cmd.Process.Kill()
			if t.Failed() {
				t.Logf("ctl events' stderr: %s", errb)
			}
		})
		// tend logs the subscription (at debug) once it is registered.
		s.waitAudit(from, "events")

		old := ctlStatus(t, sock, "web:1")
		ctl(t, sock, "signal", "USR1", "sig").must(t, 0) // not a state change, and not web
		ctl(t, sock, "restart", "--wait", "web:1").must(t, 0)
		want := [][2]string{{"RUNNING", "STOPPING"}, {"STOPPING", "STOPPED"}, {"STOPPED", "STARTING"}, {"STARTING", "RUNNING"}}
		for i, w := range want {
			l := lines.next(fmt.Sprintf("line %d", i), func(event) bool { return true }).line
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
		from = s.tl.mark()
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
