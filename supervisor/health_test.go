package supervisor

import (
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"tend/api"
)

// Health checks under fake time, with exec probes (fake processes that
// pass or fail). http and tcp probes meet real servers in e2e.

const probed = noSocket + `
[programs.p]
command = ["p"]
startsecs = 0
[programs.p.healthcheck]
exec = ["check"]
interval = "1s"
timeout = "500ms"
retries = 2
`

// TestUnhealthyRestarts: two failed probes in a row make p unhealthy, and
// on_unhealthy = "restart" (the default) stops it and starts it again.
func TestUnhealthyRestarts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, probed, nil, map[string]script{"p": forever, "check": {runFor: 100 * time.Millisecond, code: 1}})
		time.Sleep(2500 * time.Millisecond)
		l.want("0s spawn p", "1s spawn check", "1.1s exit check 1", "2s spawn check", "2.1s exit check 1",
			"2.1s kill p TERM", "2.1s exit p 143", "2.1s spawn p")
		l.stop()
	})
}

// TestProbeTimeout: a probe that hangs is killed at its timeout and
// counts as a failure; probes run start to start.
func TestProbeTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, probed, nil, map[string]script{"p": forever, "check": {runFor: -1, onTerm: 0}})
		time.Sleep(2600 * time.Millisecond)
		l.want("1s spawn check", "1.5s kill check KILL", "2s spawn check", "2.5s kill check KILL", "2.5s kill p TERM")
		l.stop()
	})
}

// TestHealthyDependency: a dependent that asks for "healthy" waits for
// the first passing probe, not for RUNNING.
func TestHealthyDependency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, probed+`
[programs.q]
command = ["q"]
depends_on = { p = "healthy" }
`, nil, map[string]script{"p": forever, "q": forever, "check": {runFor: 200 * time.Millisecond, code: 0}})
		time.Sleep(3 * time.Second)
		l.want("0s spawn p", "1s spawn check", "1.2s exit check 0", "1.2s spawn q")
		if l.count("kill p TERM") != 0 {
			t.Errorf("a healthy program was stopped:\n%s", strings.Join(l.f.log(), "\n"))
		}
		l.stop()
	})
}

// TestStartPeriod: failures during start_period do not count.
func TestStartPeriod(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, probed+`start_period = "2500ms"
`, nil, map[string]script{"p": forever, "check": {runFor: 0, code: 1}})
		time.Sleep(3500 * time.Millisecond)
		// Probes at 1 s and 2 s fail inside the start period; 3 s is the
		// first that counts, so p is not yet unhealthy (retries = 2).
		if n := l.count("kill p TERM"); n != 0 {
			t.Errorf("restarted during start_period:\n%s", strings.Join(l.f.log(), "\n"))
		}
		time.Sleep(time.Second)
		l.want("4s spawn check", "4s kill p TERM")
		l.stop()
	})
}

// TestThawRunsProbes: after a freeze of the container, every health
// check runs at once, not at its next interval; after a stall of the
// host (tend's threads waited for a CPU), they keep their intervals.
func TestThawRunsProbes(t *testing.T) {
	const cfg = noSocket + `
[programs.p]
command = ["p"]
startsecs = 0
healthcheck = { exec = ["cp"], interval = "10s" }
[programs.q]
command = ["q"]
startsecs = 0
healthcheck = { exec = ["cq"], interval = "60s" }
readiness = { exec = ["rq"], interval = "60s" }
`
	scripts := map[string]script{"p": forever, "q": forever, "cp": {runFor: 0}, "cq": {runFor: 0}, "rq": {runFor: 0}}
	synctest.Test(t, func(t *testing.T) {
		var log lockedBuffer
		reqs := make(chan api.Request)
		l := startLoopOpts(t, Options{Log: zerolog.New(&log), Requests: reqs}, cfg, nil, scripts)
		events := make(chan api.Event, 16)
		sub := api.Request{Verb: api.VerbEvents, Reply: make(chan api.Reply, 1), Events: events, Done: make(chan struct{})}
		reqs <- sub
		<-sub.Reply
		time.Sleep(5 * time.Second)
		l.f.freeze(20 * time.Second)
		time.Sleep(6 * time.Second)
		l.want("10s spawn cp", "10s spawn cq")
		l.want("10s spawn rq")
		if !strings.Contains(log.String(), "the container was frozen for 20s") {
			t.Errorf("no line for the freeze:\n%s", log.String())
		}
		thaws := 0
		for len(events) > 0 {
			if ev := <-events; ev.Kind == api.EventThaw {
				thaws++
				if ev.FrozenS != 20 {
					t.Errorf("thaw event says frozen %vs, want 20", ev.FrozenS)
				}
			}
		}
		if thaws != 1 {
			t.Errorf("%d thaw events, want 1", thaws)
		}
		st := api.Request{Verb: api.VerbStatus, Reply: make(chan api.Reply, 1)}
		reqs <- st
		if r := <-st.Reply; r.Freezes != 1 || r.FrozenSeconds != 20 {
			t.Errorf("status says %d freezes, %vs, want 1, 20s", r.Freezes, r.FrozenSeconds)
		}
		l.stop()
	})
	synctest.Test(t, func(t *testing.T) {
		var log lockedBuffer
		l := startLoopLog(t, zerolog.New(&log), cfg, nil, scripts)
		time.Sleep(5 * time.Second)
		l.f.stall(20 * time.Second)
		time.Sleep(6 * time.Second)
		if n := l.count("spawn cq"); n != 0 {
			t.Errorf("cq ran after a host stall, before its interval:\n%s", strings.Join(l.f.log(), "\n"))
		}
		if s := log.String(); !strings.Contains(s, "tend did not run for 20s") || strings.Contains(s, "frozen") {
			t.Errorf("a stall must read as one, not as a freeze:\n%s", s)
		}
		l.stop()
	})
}

// TestProbeRunsAsItsProgram: an exec probe runs with its program's user,
// directory, environment, umask, limits and privileges: a probe with
// more than its program would be a way up.
func TestProbeRunsAsItsProgram(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, noSocket+`
[programs.p]
command = ["p"]
startsecs = 0
user = "0:0"
directory = "/tmp"
umask = "027"
environment = { A = "1" }
rlimits = { nofile = 1024, core = 0 }
no_new_privs = true
capabilities = ["NET_BIND_SERVICE"]
oom_score_adj = 500
nice = 5
[programs.p.healthcheck]
exec = ["check", "arg"]
interval = "1s"
`, nil, map[string]script{"p": forever, "check": {runFor: 0, code: 0}})
		time.Sleep(1500 * time.Millisecond)
		l.f.mu.Lock()
		prog, probe := l.f.cmds["p"], l.f.cmds["check"]
		l.f.mu.Unlock()
		if len(prog) != 1 || len(probe) != 1 {
			t.Fatalf("%d spawns of p and %d of check, want 1 each", len(prog), len(probe))
		}
		p, c := prog[0], probe[0]
		if !p.Privileges.set() || p.Privileges.Nice == nil || *p.Privileges.Nice != 5 || !p.Privileges.NoNewPrivs {
			t.Errorf("p starts with privileges %+v, want the config's", p.Privileges)
		}
		if !reflect.DeepEqual(c.Privileges, p.Privileges) {
			t.Errorf("the probe's privileges %+v differ from its program's %+v", c.Privileges, p.Privileges)
		}
		if !reflect.DeepEqual(c.Cred, p.Cred) || c.Dir != p.Dir || c.Umask != p.Umask || !reflect.DeepEqual(c.Env, p.Env) {
			t.Errorf("the probe runs as %+v, its program as %+v", c, p)
		}
		if want := []string{"check", "arg"}; !reflect.DeepEqual(c.Argv, want) || c.Stdout == nil || c.Stdout != c.Stderr {
			t.Errorf("the probe's argv %q, output %v/%v; want %q to /dev/null", c.Argv, c.Stdout, c.Stderr, want)
		}
		l.stop()
	})
}

// TestStartInterval: until a probe of the run has passed, probes come
// start_interval apart, interval after; a program whose readiness is
// its check is ready at the first pass.
func TestStartInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, noSocket+`
[programs.p]
command = ["p"]
startsecs = 0
ready = "healthy"
healthcheck = { exec = ["check"], interval = "10s", start_interval = "100ms" }
`, nil, map[string]script{"p": forever, "check": {runFor: 0, code: 0}})
		time.Sleep(15 * time.Second)
		l.want("0s spawn p", "100ms spawn check", "10.1s spawn check")
		if n := l.count("spawn check"); n != 2 {
			t.Errorf("%d probes in 15s, want 2 (start_interval, then interval):\n%s", n, strings.Join(l.f.log(), "\n"))
		}
		l.stop()
	})
	// A failing first probe is retried at start_interval.
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, noSocket+`
[programs.p]
command = ["p"]
startsecs = 0
healthcheck = { exec = ["check"], interval = "10s", start_interval = "100ms", retries = 100 }
`, nil, map[string]script{"p": forever, "check": {runFor: 0, code: 1}})
		time.Sleep(time.Second)
		if n := l.count("spawn check"); n < 9 {
			t.Errorf("%d failing probes in 1s, want ~10 at start_interval", n)
		}
		l.stop()
	})
}
