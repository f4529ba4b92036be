package supervisor

import (
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/sys/unix"

	"tend/api"
	"tend/notify"
)

// Readiness under fake time: programs that say they are ready (notify,
// fd), readiness checks that gate, ready_timeout, the watchdog.

// TestReadyNotifyGatesDependents: a dependent of a program with ready =
// "notify" starts when it says READY=1, not after startsecs; the program
// is RUNNING from then on.
func TestReadyNotifyGatesDependents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startCtlLoop(t, noSocket+`
[programs.db]
command = ["db"]
ready = "notify"
startsecs = 1
[programs.web]
command = ["web"]
depends_on = ["db"]
startsecs = 0
[programs.job]
command = ["job"]
depends_on = { db = "running" }
startsecs = 0
`, map[string]script{"db": {runFor: -1, ready: 300 * time.Millisecond}, "web": forever, "job": forever})
		time.Sleep(200 * time.Millisecond)
		if st := l.state("db"); st.State != Starting || st.Ready {
			t.Errorf("db before READY=1: %s ready=%v, want STARTING, not ready", st.State, st.Ready)
		}
		time.Sleep(time.Second)
		l.want("0s spawn db", "300ms spawn web")
		l.want("300ms spawn job") // "running": RUNNING is at READY=1 too
		if st := l.state("db"); st.State != Running || !st.Ready || !strings.Contains(st.Reason, "READY=1") {
			t.Errorf("db: %+v, want RUNNING, ready, because of READY=1", st)
		}
		if r := l.do(api.VerbHealth); !r.Healthy {
			t.Errorf("health: %+v", r)
		}
		l.stop()
	})
}

// TestReadyTimeout: a program that never says it is ready is stopped at
// ready_timeout, and that is a failed start: BACKOFF, then FATAL once
// startretries are spent.
func TestReadyTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startCtlLoop(t, noSocket+`
[programs.db]
command = ["db"]
ready = "notify"
ready_timeout = "2s"
startretries = 1
backoff = { initial = "1s", max = "1s" }
`, map[string]script{"db": {runFor: -1, ready: -1}})
		time.Sleep(time.Minute)
		// 1 ms: the reap coalescing gap of a ctlLoop.
		l.want("0s spawn db", "2s kill db TERM", "2s exit db 143", "3.001s spawn db", "5.001s kill db TERM", "5.001s exit db 143")
		if n := l.count("spawn db"); n != 2 {
			t.Errorf("%d starts, want 2", n)
		}
		st := l.state("db")
		if st.State != Fatal || !strings.Contains(st.Reason, "not ready within ready_timeout (2s)") {
			t.Errorf("db: %s %q, want FATAL, not ready within ready_timeout", st.State, st.Reason)
		}
		if r := l.do(api.VerbHealth); r.Healthy || r.Reason != "db is FATAL" {
			t.Errorf("health: %+v", r)
		}
		l.stop()
	})
}

// TestReadyThenExitBeforeStartsecs: ready, then gone before startsecs:
// a failed start (BACKOFF), not a crash restarted at once; a run that
// was ready and lasts startsecs resets the count.
func TestReadyThenExitBeforeStartsecs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startCtlLoop(t, noSocket+`
[programs.db]
command = ["db"]
ready = "notify"
startsecs = 1
startretries = 5
backoff = { initial = "1s", max = "1s" }
`, map[string]script{"db": {lives: []time.Duration{500 * time.Millisecond, 2 * time.Second, -1}, code: 1, ready: 100 * time.Millisecond}})
		time.Sleep(1200 * time.Millisecond)
		st := l.state("db")
		if st.State != Backoff || !strings.Contains(st.Reason, "before startsecs") {
			t.Errorf("db: %s %q, want BACKOFF before startsecs", st.State, st.Reason)
		}
		time.Sleep(5 * time.Second)
		// 0.5 s run, 1 s backoff; a 2 s run (confirmed at 2.5 s), whose
		// exit is a crash restarted at once.
		l.want("0s spawn db", "500ms exit db 1", "1.5s spawn db", "3.5s exit db 1", "3.5s spawn db")
		l.stop()
	})
}

// TestReadyFd: ready = { fd = 3 }: RUNNING at the newline.
func TestReadyFd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startCtlLoop(t, noSocket+`
[programs.db]
command = ["db"]
ready = { fd = 3 }
[programs.web]
command = ["web"]
depends_on = ["db"]
`, map[string]script{"db": {runFor: -1, ready: 700 * time.Millisecond}, "web": forever})
		time.Sleep(3 * time.Second)
		l.want("0s spawn db", "700ms spawn web")
		if st := l.state("db"); st.State != Running || !strings.Contains(st.Reason, "fd 3") {
			t.Errorf("db: %+v", st)
		}
		l.stop()
	})
}

// TestReadyHealthy: ready = "healthy": RUNNING at the first passing
// probe.
func TestReadyHealthy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startCtlLoop(t, noSocket+`
[programs.db]
command = ["db"]
ready = "healthy"
[programs.db.healthcheck]
exec = ["check"]
interval = "1s"
[programs.web]
command = ["web"]
depends_on = ["db"]
`, map[string]script{"db": forever, "web": forever, "check": {runFor: 200 * time.Millisecond, codes: []int{1, 0}}})
		time.Sleep(5 * time.Second)
		l.want("0s spawn db", "1s spawn check", "1.2s exit check 1", "2s spawn check", "2.2s exit check 0", "2.2s spawn web")
		l.stop()
	})
}

// TestReadinessGates: a readiness check decides ready and not ready
// while the program runs, never restarts it, and holds its dependents
// and health. (TestThawRunsProbes: it runs at once after a thaw.)
func TestReadinessGates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startCtlLoop(t, noSocket+`
[programs.db]
command = ["db"]
startsecs = 0
[programs.db.readiness]
exec = ["ready?"]
interval = "1s"
retries = 2
[programs.web]
command = ["web"]
depends_on = ["db"]
`, map[string]script{"db": forever, "web": forever,
			"ready?": {runFor: 100 * time.Millisecond, codes: []int{1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 0}}})
		time.Sleep(2500 * time.Millisecond)
		if st := l.state("db"); st.State != Running || st.Ready {
			t.Errorf("db after two failed readiness probes: %s ready=%v, want RUNNING, not ready", st.State, st.Ready)
		}
		if r := l.do(api.VerbHealth); r.Healthy || r.Reason != "db is not ready" {
			t.Errorf("health: %+v, want db is not ready", r)
		}
		time.Sleep(time.Second) // the third passes, at 3.1 s
		l.want("3s spawn ready?", "3.1s exit ready? 0", "3.1s spawn web")
		time.Sleep(3 * time.Second) // fails at 5.1, 6.1: not ready again
		if st := l.state("db"); st.Ready {
			t.Errorf("db still ready after two failures")
		}
		if n := l.count("kill db TERM"); n != 0 {
			t.Errorf("a readiness check restarted db")
		}
		l.stop()
	})
}

// TestWatchdog: a program with a watchdog that stops sending WATCHDOG=1
// is stopped and restarted, reason "watchdog"; WATCHDOG=trigger does the
// same at once.
func TestWatchdog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startCtlLoop(t, noSocket+`
[programs.db]
command = ["db"]
ready = "notify"
watchdog = "2s"
`, map[string]script{"db": {runFor: -1, keepAlive: time.Second, keepFor: 5 * time.Second}})
		events := l.subscribe()
		time.Sleep(6900 * time.Millisecond)
		if n := l.count("kill db TERM"); n != 0 {
			t.Errorf("stopped while its keep-alive still came (last at 5 s, watchdog 2 s)\n%s", strings.Join(l.f.log(), "\n"))
		}
		time.Sleep(200 * time.Millisecond)
		l.want("0s spawn db", "7s kill db TERM", "7s exit db 143", "7.001s spawn db") // restarted at once
		if st := l.state("db"); st.Restarts != 1 || st.State != Running {
			t.Errorf("db: %+v", st)
		}
		if e := l.find(events, Exited); !strings.HasPrefix(e.Reason, "watchdog: no WATCHDOG=1 for 2s; killed by signal TERM") {
			t.Errorf("the exit's reason: %q", e.Reason)
		}
		l.stop()
	})
	synctest.Test(t, func(t *testing.T) {
		l := startCtlLoop(t, noSocket+`
[programs.db]
command = ["db"]
ready = "notify"
watchdog = "1m"
`, map[string]script{"db": {runFor: -1, trigger: 3 * time.Second}})
		time.Sleep(3500 * time.Millisecond)
		l.want("0s spawn db", "3s kill db TERM", "3s exit db 143", "3s spawn db")
		l.stop()
	})
	synctest.Test(t, func(t *testing.T) {
		// WATCHDOG=trigger from a run not yet ready: stopped, and
		// counted as the failed start it was.
		l := startCtlLoop(t, noSocket+`
[programs.db]
command = ["db"]
ready = "notify"
watchdog = "1m"
`, map[string]script{"db": {runFor: -1, ready: -1, trigger: 3 * time.Second}})
		events := l.subscribe()
		time.Sleep(3500 * time.Millisecond)
		l.want("0s spawn db", "3s kill db TERM", "3s exit db 143")
		if st := l.state("db"); st.State != Backoff {
			t.Errorf("db: %+v, want BACKOFF", st)
		}
		if e := l.find(events, Backoff); !strings.HasPrefix(e.Reason, "watchdog: the program sent WATCHDOG=trigger") || e.Failures != 1 {
			t.Errorf("the exit: %+v, want the trigger named and 1 failed start", e)
		}
		l.stop()
	})
}

// TestNotifyPhases: RELOADING=1 and STOPPING=1 make a program not
// ready, READY=1 ready again; STATUS= shows in status; news from
// another process group is not the program's.
func TestNotifyPhases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startCtlLoop(t, noSocket+`
[programs.db]
command = ["db"]
ready = "notify"
`, map[string]script{"db": {runFor: -1}})
		time.Sleep(time.Second)
		st := l.state("db")
		if !st.Ready {
			t.Fatalf("db: %+v", st)
		}
		n := l.f.notify
		path, pid := "/notify/db", st.Pid
		n.send(path, pid, notify.Update{Phase: notify.Reloading, Status: "reloading the cache", StatusSet: true})
		time.Sleep(time.Millisecond)
		if st := l.state("db"); st.Ready || st.State != Running || st.StatusText != "reloading the cache" {
			t.Errorf("after RELOADING=1: %+v, want RUNNING, not ready, the status shown", st)
		}
		n.mu.Lock()
		n.socks[path].pgid = pid + 1 // as if another group's datagram got through
		n.mu.Unlock()
		n.send(path, pid+1, notify.Update{ReadySeen: true, Phase: notify.Ready})
		time.Sleep(time.Millisecond)
		if st := l.state("db"); st.Ready {
			t.Errorf("ready on another group's READY=1")
		}
		n.mu.Lock()
		n.socks[path].pgid = pid
		n.mu.Unlock()
		n.send(path, pid, notify.Update{ReadySeen: true, Phase: notify.Ready})
		time.Sleep(time.Millisecond)
		if st := l.state("db"); !st.Ready {
			t.Errorf("not ready after READY=1")
		}
		n.send(path, pid, notify.Update{Phase: notify.Stopping})
		time.Sleep(time.Millisecond)
		if st := l.state("db"); st.Ready {
			t.Errorf("ready after STOPPING=1")
		}
		l.stop()
	})
}

// TestReadinessEvents: a change of readiness is an event of its own
// (State == From, ready set), and state changes carry readiness too.
func TestReadinessEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startCtlLoop(t, noSocket+`
[programs.db]
command = ["db"]
ready = "notify"
`, map[string]script{"db": {runFor: -1, ready: time.Second}})
		events := l.subscribe()
		time.Sleep(2 * time.Second)
		st := l.state("db")
		l.f.notify.send("/notify/db", st.Pid, notify.Update{Phase: notify.Reloading})
		time.Sleep(time.Millisecond)
		var got []string
		for len(events) > 0 {
			e := <-events
			got = append(got, string(e.From)+">"+string(e.State)+" ready="+map[bool]string{true: "yes", false: "no"}[e.Ready])
		}
		want := []string{"STARTING>RUNNING ready=yes", "RUNNING>RUNNING ready=no"}
		if strings.Join(got, ", ") != strings.Join(want, ", ") {
			t.Errorf("events %q, want %q", got, want)
		}
		l.stop()
	})
}

// subscribe is an events stream of the loop's.
func (l *ctlLoop) subscribe() chan api.Event {
	events := make(chan api.Event, 64)
	r := api.Request{Verb: api.VerbEvents, Events: events, Done: make(chan struct{}), Reply: make(chan api.Reply, 1)}
	l.reqs <- r
	<-r.Reply
	return events
}

// find is the first event so far that changes to state.
func (l *ctlLoop) find(events chan api.Event, state api.State) api.Event {
	l.t.Helper()
	for len(events) > 0 {
		if e := <-events; e.State == state && e.From != state {
			return e
		}
	}
	l.t.Errorf("no change to %s", state)
	return api.Event{}
}

// TestMainWaitsForReady: the main program starts once the sidecars are
// ready, not when they are RUNNING.
func TestMainWaitsForReady(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, noSocket+`
[programs.db]
command = ["db"]
ready = "notify"
startsecs = 0
[programs.db.readiness]
exec = ["ready?"]
interval = "1s"
`, []string{"main"}, map[string]script{"db": {runFor: -1, ready: 200 * time.Millisecond}, "main": forever,
			"ready?": {runFor: 0, codes: []int{1, 0}}})
		time.Sleep(5 * time.Second)
		l.want("0s spawn db", "1s spawn ready?", "2s spawn ready?", "2s spawn main")
		l.stop()
	})
}

// TestStartTimeout: start_timeout bounds the main program's wait;
// "continue" starts it all the same, "fail" stops everything and exits 1.
func TestStartTimeout(t *testing.T) {
	const cfg = `[tend]
socket = ""
start_timeout = "3s"
on_start_timeout = %q
[programs.db]
command = ["db"]
ready = "notify"
[programs.cache]
command = ["cache"]
startsecs = 0
`
	scripts := map[string]script{"db": {runFor: -1, ready: -1}, "cache": forever, "main": forever}
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, fmt.Sprintf(cfg, "continue"), []string{"main"}, scripts)
		time.Sleep(2900 * time.Millisecond)
		if n := l.count("spawn main"); n != 0 {
			t.Fatalf("main started before start_timeout")
		}
		time.Sleep(time.Second)
		l.want("0s spawn db", "3s spawn main")
		l.sigs <- unix.SIGTERM
		<-l.code
	})
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, fmt.Sprintf(cfg, "fail"), []string{"main"}, scripts)
		select {
		case code := <-l.code:
			if code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
		case <-time.After(time.Minute):
			t.Fatal("tend did not exit at start_timeout")
		}
		l.want("3s kill db TERM")
		l.want("3s kill cache TERM")
		if n := l.count("spawn main"); n != 0 {
			t.Errorf("main started")
		}
	})
}

// TestRestartTied: a dependent with depends_on restart = true is stopped
// when its dependency restarts, and started again once the dependency
// is ready again; an untied dependent runs on.
func TestRestartTied(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startCtlLoop(t, noSocket+`
[programs.db]
command = ["db"]
ready = "notify"
[programs.web]
command = ["web"]
startsecs = 0
depends_on = { db = { condition = "ready", restart = true } }
[programs.cron]
command = ["cron"]
startsecs = 0
depends_on = ["db"]
`, map[string]script{"db": {lives: []time.Duration{2 * time.Second, -1}, code: 1, ready: 500 * time.Millisecond},
			"web": forever, "cron": forever})
		time.Sleep(5 * time.Second)
		l.want("0s spawn db", "500ms spawn web", "2s exit db 1", "2s kill web TERM", "2s exit web 143")
		l.want("2s exit db 1", "2s spawn db", "2.5s spawn web")
		if n := l.count("spawn cron"); n != 1 {
			t.Errorf("cron started %d times, want once: it is not tied", n)
		}
		if st := l.state("web"); st.State != Running || st.Restarts != 1 {
			t.Errorf("web: %+v", st)
		}
		// ctl restart db: web goes down with it, and comes back after.
		l.do(api.VerbRestart, "db")
		time.Sleep(2 * time.Second)
		if n := l.count("spawn web"); n != 3 {
			t.Errorf("web started %d times, want 3\n%s", n, strings.Join(l.f.log(), "\n"))
		}
		l.stop()
	})
}
