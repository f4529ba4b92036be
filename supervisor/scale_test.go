package supervisor

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"tend/api"
	"tend/config"
	"tend/signals"
)

// scaleLoop is a ctlLoop whose spawns are recorded with the instance
// they were for (TEND_PROGRAM).
type scaleLoop struct {
	*ctlLoop
	mu      sync.Mutex
	spawned []string // "TEND_PROGRAM TEND_INSTANCE"
	killed  []int    // the pids sent TERM, in order
}

func startScaleLoop(t *testing.T, toml string, scripts map[string]script) *scaleLoop {
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
	l := &scaleLoop{ctlLoop: &ctlLoop{loop: &loop{t: t, f: f, sigs: make(chan os.Signal, 8), code: make(chan int, 1)},
		reqs: make(chan api.Request), file: file}}
	s := New(Options{Config: cfg, Grace: time.Second, Log: zerolog.New(zerolog.NewTestWriter(t)), Requests: l.reqs},
		signals.Subscription{Child: f.chld, Other: l.sigs})
	s.os, s.init, s.rand = f.ops(), false, func() float64 { return 0 }
	spawn := s.os.spawn
	s.os.spawn = func(c Command) (int, error) {
		var prog, inst string
		for _, kv := range c.Env {
			if v, ok := strings.CutPrefix(kv, "TEND_PROGRAM="); ok {
				prog = v
			}
			if v, ok := strings.CutPrefix(kv, "TEND_INSTANCE="); ok {
				inst = v
			}
		}
		l.mu.Lock()
		l.spawned = append(l.spawned, strings.TrimSpace(prog+" "+inst))
		l.mu.Unlock()
		return spawn(c)
	}
	kill := s.os.kill
	s.os.kill = func(pid int, sig syscall.Signal) error {
		if sig == syscall.SIGTERM {
			l.mu.Lock()
			l.killed = append(l.killed, max(pid, -pid))
			l.mu.Unlock()
		}
		return kill(pid, sig)
	}
	go func() { l.code <- s.Run() }()
	return l
}

func (l *scaleLoop) scale(name string, n int) api.Reply {
	r := api.Request{Verb: api.VerbScale, Names: []string{name}, Instances: n, Reply: make(chan api.Reply, 1)}
	l.reqs <- r
	return <-r.Reply
}

// names are the programs' names and states, as status lists them.
func (l *scaleLoop) names() string {
	var out []string
	for _, p := range l.do(api.VerbStatus).Programs {
		out = append(out, p.Name+"="+string(p.State))
	}
	return strings.Join(out, " ")
}

// of is the status of the program named name (status by a program's
// name gives all its instances).
func (l *scaleLoop) of(name string) api.Status {
	l.t.Helper()
	for _, p := range l.do(api.VerbStatus).Programs {
		if p.Name == name {
			return p
		}
	}
	l.t.Errorf("no program %s", name)
	return api.Status{}
}

func (l *scaleLoop) spawns() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.spawned)
}

func acted(r api.Reply) string {
	var out []string
	for _, p := range r.Programs {
		out = append(out, p.Name+"="+string(p.State))
	}
	return strings.Join(out, " ")
}

// TestScale: scale starts new instances (NAME:I, TEND_INSTANCE=I) after
// the program's others, stops the surplus highest first and forgets them
// once down, brings back one still stopping, and a reload gives back the
// file's instances, leaving the file's own alone.
func TestScale(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startScaleLoop(t, noSocket+`
[programs.web]
command = ["web"]
instances = 2
startsecs = 0
[programs.worker]
command = ["worker"]
startsecs = 0
stopwaitsecs = 5
[programs.zz]
command = ["zz"]
`, map[string]script{"web": forever, "worker": {runFor: -1, onTerm: 2 * time.Second}, "zz": forever})
		time.Sleep(2 * time.Second)
		workerPid := l.of("worker").Pid

		// One instance in the file, named "worker": it keeps its name.
		if got := acted(l.scale("worker", 3)); got != "worker=RUNNING worker:1=RUNNING worker:2=RUNNING" {
			t.Errorf("scale worker 3 acted on %s", got)
		}
		if got := l.names(); got != "web:0=RUNNING web:1=RUNNING worker=RUNNING worker:1=RUNNING worker:2=RUNNING zz=RUNNING" {
			t.Errorf("after scale up: %s", got)
		}
		if got := l.spawns()[4:]; !slices.Equal(got, []string{"worker:1 1", "worker:2 2"}) {
			t.Errorf("spawned %q", got)
		}
		if st := l.of("worker"); st.Pid != workerPid {
			t.Errorf("worker was touched: %+v", st)
		}

		// Down to 1: worker:2, then worker:1, get TERM; gone once down.
		if got := acted(l.scale("worker", 1)); got != "worker=RUNNING worker:1=STOPPING worker:2=STOPPING" {
			t.Errorf("scale worker 1 acted on %s", got)
		}
		l.mu.Lock()
		killed := slices.Clone(l.killed)
		l.mu.Unlock()
		if want := []int{l.of("worker:2").Pid, l.of("worker:1").Pid}; !slices.Equal(killed, want) {
			t.Errorf("TERM to %v, want %v: highest first", killed, want)
		}
		// Back to 2 while worker:1 is still stopping: it comes back up.
		time.Sleep(time.Second)
		if got := acted(l.scale("worker", 2)); got != "worker=RUNNING worker:1=STOPPING worker:2=STOPPING" {
			t.Errorf("scale worker 2 acted on %s", got)
		}
		time.Sleep(2 * time.Second)
		if got := l.names(); got != "web:0=RUNNING web:1=RUNNING worker=RUNNING worker:1=RUNNING zz=RUNNING" {
			t.Errorf("after scale down and up: %s", got)
		}

		// A group of several: web:2 is a copy of web:0 numbered 2.
		if got := acted(l.scale("web", 3)); got != "web:0=RUNNING web:1=RUNNING web:2=RUNNING" {
			t.Errorf("scale web 3 acted on %s", got)
		}
		// A reload gives back the file's instances; web:0, web:1 and
		// worker are the file's and stay as they are.
		webPid := l.of("web:0").Pid
		if r := l.do(api.VerbReload); r.Err != "" {
			t.Fatal(r.Err)
		}
		time.Sleep(3 * time.Second)
		if got := l.names(); got != "web:0=RUNNING web:1=RUNNING worker=RUNNING zz=RUNNING" {
			t.Errorf("after reload: %s", got)
		}
		if st := l.of("web:0"); st.Pid != webPid {
			t.Errorf("reload restarted web:0")
		}

		// Scale down to where the file has instances, then up: they are
		// the file's again, and a reload finds them unchanged.
		l.scale("web", 1)
		time.Sleep(time.Second)
		l.scale("web", 2)
		time.Sleep(time.Second)
		web1 := l.of("web:1").Pid
		l.do(api.VerbReload)
		time.Sleep(time.Second)
		if st := l.of("web:1"); st.Pid != web1 || st.State != api.Running {
			t.Errorf("web:1 after a reload: %+v, pid was %d", st, web1)
		}

		for _, c := range []struct {
			name string
			n    int
			want string
		}{
			{"nope", 2, `no program matches "nope"`},
			{"web:0", 2, "scale takes a program's name, web, not an instance's: web:0"},
			{"web", 0, "want 1 to 1000"},
		} {
			if r := l.scale(c.name, c.n); !strings.Contains(r.Err, c.want) {
				t.Errorf("scale %s %d: %q, want %q", c.name, c.n, r.Err, c.want)
			}
		}
		l.stop()
	})
}

// TestScaleDependents: a program waiting for an instance that scale took
// away starts all the same; a new instance waits for its own depends_on.
func TestScaleDependents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startScaleLoop(t, noSocket+`
[programs.db]
command = ["db"]
instances = 2
startsecs = 0
[programs.app]
command = ["app"]
startsecs = 0
depends_on = ["db"]
autostart = false
[programs.worker]
command = ["worker"]
startsecs = 0
depends_on = { app = "running" }
`, map[string]script{"db": forever, "app": forever, "worker": forever})
		time.Sleep(time.Second)
		if got := l.names(); got != "app=STOPPED db:0=RUNNING db:1=RUNNING worker=STOPPED" {
			t.Fatalf("at start: %s", got)
		}
		// worker:1 waits for app, as worker does.
		l.scale("worker", 2)
		time.Sleep(time.Second)
		if got := l.names(); got != "app=STOPPED db:0=RUNNING db:1=RUNNING worker=STOPPED worker:1=STOPPED" {
			t.Errorf("worker:1 did not wait for app: %s", got)
		}
		// app waits for db:0 and db:1; db:1 goes away; app starts.
		l.scale("db", 1)
		time.Sleep(time.Second)
		l.do(api.VerbStart, "app")
		time.Sleep(time.Second)
		if got := l.names(); got != "app=RUNNING db:0=RUNNING worker=RUNNING worker:1=RUNNING" {
			t.Errorf("after app's start: %s", got)
		}
		l.stop()
	})
}

// TestStatusStarted: Started is when the process started; a pause and a
// resume move Since, not Started.
func TestStatusStarted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startCtlLoop(t, twoPrograms, map[string]script{"web": forever, "db": forever})
		t0 := time.Now()
		time.Sleep(5 * time.Second)
		st := l.state("db")
		if !st.Started.Equal(t0) {
			t.Errorf("started %v, want %v", st.Started, t0)
		}
		l.do(api.VerbPause, "db")
		time.Sleep(time.Second)
		l.do(api.VerbResume, "db")
		st = l.state("db")
		if !st.Started.Equal(t0) || !st.Since.Equal(t0.Add(6*time.Second)) {
			t.Errorf("after pause and resume: started %v, since %v; want %v, %v", st.Started, st.Since, t0, t0.Add(6*time.Second))
		}
		l.do(api.VerbStop, "db")
		time.Sleep(time.Second)
		if st := l.state("db"); !st.Started.IsZero() {
			t.Errorf("a stopped program has started %v", st.Started)
		}
		l.stop()
	})
}

// TestLogsInherited: logs of programs whose output is inherited is
// refused, naming a few of them; logs of one that keeps its lines is a
// reader.
func TestLogsInherited(t *testing.T) {
	var toml strings.Builder
	toml.WriteString(noSocket)
	for i := range 8 {
		fmt.Fprintf(&toml, "[programs.p%d]\ncommand = [\"p\"]\n", i)
	}
	toml.WriteString("[programs.kept]\ncommand = [\"p\"]\nstderr = \"prefix\"\n")
	synctest.Test(t, func(t *testing.T) {
		l := startCtlLoop(t, toml.String(), map[string]script{"p": forever})
		for _, c := range []struct {
			names []string
			want  string
		}{
			{[]string{"p0"}, `logs: p0's output is inherited by tend's stdout and stderr (stdout = "inherit"); nothing kept`},
			{[]string{"p0", "p1"}, "logs: the output of p0, p1 is inherited"},
			{[]string{"p*"}, "logs: the output of p0, p1, p2, p3, p4 and 3 more is inherited"},
		} {
			if r := l.do(api.VerbLogs, c.names...); !strings.HasPrefix(r.Err, c.want) || r.Logs != nil {
				t.Errorf("logs %v: %+v, want %q", c.names, r, c.want)
			}
		}
		if r := l.do(api.VerbLogs, "kept"); r.Err != "" || r.Logs == nil {
			t.Errorf("logs kept: %+v", r)
		}
		if r := l.do(api.VerbLogs); r.Err != "" || r.Logs == nil {
			t.Errorf("logs of all: %+v", r)
		}
		l.stop()
	})
}
