package supervisor

import (
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"
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
