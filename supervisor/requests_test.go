package supervisor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"tend/api"
	"tend/config"
	"tend/signals"
)

// Control requests through the loop's request channel, under fake time.

// ctlLoop is a loop with a request channel and a config file on disk (for
// reload).
type ctlLoop struct {
	*loop
	reqs chan api.Request
	file string
}

func startCtlLoop(t *testing.T, toml string, scripts map[string]script) *ctlLoop {
	t.Helper()
	file := filepath.Join(t.TempDir(), "tend.toml")
	if err := os.WriteFile(file, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	f := newFakeOS(scripts)
	l := &ctlLoop{loop: &loop{t: t, f: f, sigs: make(chan os.Signal, 8), code: make(chan int, 1)},
		reqs: make(chan api.Request), file: file}
	s := New(Options{Config: cfg, Grace: time.Second, Log: zerolog.New(zerolog.NewTestWriter(t)), Requests: l.reqs},
		signals.Subscription{Child: f.chld, Other: l.sigs})
	s.os, s.init, s.rand = f.ops(), false, func() float64 { return 0 }
	go func() { l.code <- s.Run() }()
	return l
}

func (l *ctlLoop) do(verb api.Verb, names ...string) api.Reply {
	r := api.Request{Verb: verb, Names: names, Reply: make(chan api.Reply, 1), Peer: api.Peer{UID: 42}}
	l.reqs <- r
	return <-r.Reply
}

func (l *ctlLoop) state(name string) api.Status {
	l.t.Helper()
	r := l.do(api.VerbStatus, name)
	if r.Err != "" || len(r.Programs) != 1 {
		l.t.Fatalf("status %s: %+v", name, r)
	}
	return r.Programs[0]
}

const twoPrograms = noSocket + `
[programs.web]
command = ["web"]
instances = 2
[programs.db]
command = ["db"]
`

// TestPauseResume: pause sends SIGSTOP to the group and makes the program
// PAUSED; a PAUSED program is not restarted when it dies; resume sends
// SIGCONT.
func TestPauseResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// web exits 1 ms after its TERM: with 0 its exit could race the
		// CONT tend sends right after the TERM.
		web := script{runFor: -1, onTerm: time.Millisecond}
		l := startCtlLoop(t, twoPrograms, map[string]script{"web": web, "db": forever})
		time.Sleep(2 * time.Second)
		if r := l.do(api.VerbPause, "web:*"); r.Err != "" || len(r.Programs) != 2 {
			t.Fatalf("pause: %+v", r)
		}
		l.want("2s kill web STOP", "2s kill web STOP")
		if st := l.state("web:0"); st.State != api.Paused {
			t.Errorf("web:0 is %+v, want PAUSED", st)
		}
		if r := l.do(api.VerbPause, "web:0"); !strings.Contains(r.Err, "not RUNNING") {
			t.Errorf("pausing twice: %+v", r)
		}
		if r := l.do(api.VerbResume, "web:0"); r.Err != "" {
			t.Fatalf("resume: %+v", r)
		}
		l.want("2s kill web CONT")
		if st := l.state("web:0"); st.State != "RUNNING" {
			t.Errorf("web:0 is %s after resume", st.State)
		}
		if r := l.do(api.VerbResume, "db"); !strings.Contains(r.Err, "not PAUSED") {
			t.Errorf("resuming a running program: %+v", r)
		}
		if r := l.do(api.VerbStart, "web:1"); !strings.Contains(r.Err, "PAUSED: resume it") {
			t.Errorf("starting a paused program: %+v", r)
		}
		l.stop()
		// web:1 was still PAUSED at shutdown: TERM, then CONT so it acts.
		l.want("2s kill web TERM", "2s kill web CONT")
	})
}

// TestStopStartRestart: stop keeps a program down (no autorestart), start
// brings it back, restart does both; each start is counted.
func TestStopStartRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startCtlLoop(t, twoPrograms, map[string]script{"web": forever, "db": forever})
		time.Sleep(2 * time.Second)
		l.do(api.VerbStop, "db")
		time.Sleep(time.Second)
		if st := l.state("db"); st.State != "STOPPED" || st.Pid != 0 {
			t.Errorf("db after stop: %+v", st)
		}
		l.do(api.VerbStart, "db")
		time.Sleep(2 * time.Second)
		// start while it is still stopping: it comes back once down.
		l.f.mu.Lock()
		l.f.scripts["db"] = script{runFor: -1, onTerm: 500 * time.Millisecond}
		l.f.mu.Unlock()
		l.do(api.VerbStop, "db")
		l.do(api.VerbStart, "db")
		time.Sleep(3 * time.Second)
		if st := l.state("db"); st.State != "RUNNING" || st.Restarts != 2 {
			t.Errorf("db after start during stop: %+v", st)
		}
		pid := l.state("db").Pid
		l.do(api.VerbRestart, "db")
		time.Sleep(2 * time.Second)
		if st := l.state("db"); st.State != "RUNNING" || st.Pid == pid || st.Restarts != 3 {
			t.Errorf("db after restart: %+v (old pid %d)", st, pid)
		}
		if r := l.do(api.VerbStop, "nope"); !strings.Contains(r.Err, `no program matches "nope"`) {
			t.Errorf("stop nope: %+v", r)
		}
		if r := l.do(api.VerbStop); r.Err == "" {
			t.Errorf("stop with no name: %+v", r)
		}
		l.stop()
	})
}

// TestSignalAndHealth: signal reaches the group; health is the critical
// programs' (or everyone's) RUNNING-and-healthy.
func TestSignalAndHealth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startCtlLoop(t, twoPrograms+"critical = true\n", map[string]script{"web": forever, "db": forever})
		time.Sleep(500 * time.Millisecond)
		if r := l.do(api.VerbHealth); r.Healthy || r.Reason != "db is STARTING" {
			t.Errorf("health while db starts: %+v", r)
		}
		time.Sleep(time.Second)
		if r := l.do(api.VerbHealth); !r.Healthy {
			t.Errorf("health: %+v", r)
		}
		// A critical program stopped on purpose still makes tend
		// unhealthy (here db is critical); see TestHealthWithoutCritical.
		l.do(api.VerbStop, "db")
		time.Sleep(100 * time.Millisecond)
		if r := l.do(api.VerbHealth); r.Healthy || r.Reason != "db is STOPPED" {
			t.Errorf("health with critical db stopped by ctl stop: %+v", r)
		}
		l.do(api.VerbStart, "db")
		r := api.Request{Verb: api.VerbSignal, Names: []string{"web:1"}, Signal: "USR1", Reply: make(chan api.Reply, 1)}
		l.reqs <- r
		if rep := <-r.Reply; rep.Err != "" {
			t.Fatalf("signal: %+v", rep)
		}
		l.want("1.6s kill web USR1")
		r = api.Request{Verb: api.VerbSignal, Names: []string{"web:1"}, Signal: "NOPE", Reply: make(chan api.Reply, 1)}
		l.reqs <- r
		if rep := <-r.Reply; !strings.Contains(rep.Err, "unknown signal") {
			t.Errorf("bad signal: %+v", rep)
		}
		l.stop()
	})
}

// TestHealthWithoutCritical: with nothing critical every program counts,
// except one that is down on purpose.
func TestHealthWithoutCritical(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startCtlLoop(t, twoPrograms+"[programs.batch]\ncommand = [\"batch\"]\nautostart = false\n",
			map[string]script{"web": forever, "db": {runFor: -1, onTerm: 0}, "batch": forever})
		time.Sleep(2 * time.Second)
		if r := l.do(api.VerbHealth); !r.Healthy {
			t.Errorf("health with batch never started (autostart = false): %+v", r)
		}
		l.do(api.VerbStop, "web:0")
		time.Sleep(100 * time.Millisecond)
		if r := l.do(api.VerbHealth); !r.Healthy {
			t.Errorf("health with web:0 stopped by ctl stop: %+v", r)
		}
		l.do(api.VerbSignal, "db") // no signal: an error, nothing changes
		l.f.mu.Lock()
		l.f.scripts["db"] = script{runFor: 0, code: 1}
		l.f.mu.Unlock()
		l.do(api.VerbRestart, "db") // now it crash-loops
		time.Sleep(500 * time.Millisecond)
		if r := l.do(api.VerbHealth); r.Healthy {
			t.Errorf("health with db failing: %+v", r)
		}
		l.stop()
	})
}

// TestEventsSubscriber: a subscriber gets every change; one that does not
// read is dropped (its channel closed) and the loop goes on.
func TestEventsSubscriber(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startCtlLoop(t, twoPrograms, map[string]script{"web": forever, "db": {runFor: 100 * time.Millisecond, code: 1}})
		events := make(chan api.Event, 4)
		r := api.Request{Verb: api.VerbEvents, Reply: make(chan api.Reply, 1), Events: events, Done: make(chan struct{})}
		l.reqs <- r
		<-r.Reply
		time.Sleep(time.Minute) // db crash-loops: far more than 4 changes
		n := 0
		for range events {
			n++
		}
		if n != 4 {
			t.Errorf("a stalled subscriber got %d events, want its capacity 4, then dropped", n)
		}
		if code := l.stop(); code != 0 {
			t.Errorf("exit code %d", code)
		}
	})
}

// TestReload: unchanged programs keep their pid, changed ones restart
// with the new config, removed ones stop and go, added ones start; an
// invalid file changes nothing.
func TestReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startCtlLoop(t, twoPrograms, map[string]script{"web": forever, "db": forever, "cache": forever})
		time.Sleep(2 * time.Second)
		webPid, dbPid := l.state("web:0").Pid, l.state("db").Pid

		os.WriteFile(l.file, []byte(noSocket+"[programs.web]\ncommand = 42\n"), 0o644)
		if r := l.do(api.VerbReload); !strings.Contains(r.Err, "programs.web.command") {
			t.Errorf("invalid reload: %+v", r)
		}
		if st := l.state("db"); st.Pid != dbPid {
			t.Errorf("an invalid reload touched db")
		}

		os.WriteFile(l.file, []byte(noSocket+`
[programs.web]
command = ["web"]
instances = 2
stopwaitsecs = 3
[programs.cache]
command = ["cache"]
`), 0o644)
		if r := l.do(api.VerbReload); r.Err != "" {
			t.Fatalf("reload: %+v", r)
		}
		time.Sleep(3 * time.Second)
		if st := l.state("web:0"); st.Pid == webPid || st.State != "RUNNING" {
			t.Errorf("web changed (stopwaitsecs) but was not restarted: %+v", st)
		}
		if st := l.state("cache"); st.State != "RUNNING" {
			t.Errorf("cache was added but is %s", st.State)
		}
		if r := l.do(api.VerbStatus, "db"); r.Err == "" {
			t.Errorf("db was removed but still has a status: %+v", r)
		}
		l.want("2s kill db TERM")

		os.WriteFile(l.file, []byte(noSocket+`
[programs.web]
command = ["web"]
instances = 2
stopwaitsecs = 3
[programs.cache]
command = ["cache"]
`), 0o644)
		cachePid := l.state("cache").Pid
		l.sigs <- unix.SIGHUP // the same reload, by signal
		time.Sleep(time.Second)
		if st := l.state("cache"); st.Pid != cachePid {
			t.Errorf("an unchanged program was restarted by reload")
		}
		l.stop()
	})
}

// TestStartOnly: a reload names the [tend] keys it changed that only take
// effect at tend's next start, and no others.
func TestStartOnly(t *testing.T) {
	base := config.Tend{ShutdownTimeout: time.Second, Socket: "/run/tend.sock", SocketMode: 0o600, LogFormat: "console"}
	for _, c := range []struct {
		change func(*config.Tend)
		want   string
	}{
		{func(*config.Tend) {}, ""},
		{func(t *config.Tend) { t.ShutdownTimeout = time.Minute }, ""},
		{func(t *config.Tend) { t.Metrics = ":9090" }, "metrics"},
		{func(t *config.Tend) { t.Socket, t.SocketMode = "", 0o660 }, "socket socket_mode"},
		{func(t *config.Tend) { t.SocketGroup, t.LogFormat = "tend", "json" }, "socket_group log_format"},
	} {
		next := base
		c.change(&next)
		if got := strings.Join(base.StartOnly(next), " "); got != c.want {
			t.Errorf("%+v -> %+v: %q, want %q", base, next, got, c.want)
		}
	}
}

// TestStopCallsOffRestart: `ctl stop` of a program that is stopping to
// be restarted (here by ctl restart) keeps it down, and does not send it
// its stop signal a second time (the soak found both).
func TestStopCallsOffRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startCtlLoop(t, noSocket+"[programs.p]\ncommand = [\"p\"]\nstartsecs = 0\n",
			map[string]script{"p": {runFor: -1, onTerm: time.Second}})
		time.Sleep(time.Second)
		l.do(api.VerbRestart, "p")
		time.Sleep(100 * time.Millisecond)
		l.do(api.VerbStop, "p")
		time.Sleep(3 * time.Second)
		if n := l.count("spawn p"); n != 1 {
			t.Errorf("p started %d times, want once: the stop did not call the restart off\n%s", n, strings.Join(l.f.log(), "\n"))
		}
		if n := l.count("kill p TERM"); n != 1 {
			t.Errorf("p sent TERM %d times, want once", n)
		}
		if st := l.state("p"); st.State != "STOPPED" {
			t.Errorf("p is %s, want STOPPED", st.State)
		}
		l.stop()
	})
}
