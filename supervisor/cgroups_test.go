package supervisor

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"tend/api"
	"tend/cgroup"
	"tend/config"
	"tend/signals"
)

// Per-program cgroups in the loop, under fake time, against fake
// cgroups that know which fake processes are in them: a script named
// "NAME.d" gives NAME a daemon, a process in its cgroup but in a process
// group of its own, that a kill(-pgid) misses.

// fakeCgroups is the cgroup side of the fake kernel. Its state is
// guarded by the fakeOS's mutex.
type fakeCgroups struct {
	f *fakeOS
	// setupErr is why there are no cgroups; nil: there are.
	setupErr error
	// lacking are the keys whose controller the programs' cgroups
	// lack.
	lacking   []string
	noFreezer bool
	noMemory  bool // no OOM count of a program's cgroup
	// container is the container's OOM count; noContainer: none.
	container   uint64
	noContainer bool
	refuse      func(cgroup.Limits) error
	// waitFor is how long a pause's wait for the freeze takes, and
	// waitErr what it ends with.
	waitFor time.Duration
	waitErr error

	setups  []string // the arguments of each cgroups call
	groups  map[string]*fakeGroup
	member  map[int]*fakeGroup
	waits   int
	usageOf map[int]cgroup.Usage // process group usage, by pgid
}

type fakeGroup struct {
	cg     *fakeCgroups
	name   string
	limits []cgroup.Limits // every write
	frozen bool
	oom    uint64
}

func (cg *fakeCgroups) setup(setup, force, pid1 bool) (cgroupTree, oomCount, error) {
	cg.f.mu.Lock()
	defer cg.f.mu.Unlock()
	cg.setups = append(cg.setups, strings.Join([]string{fmtBool("setup", setup), fmtBool("force", force), fmtBool("pid1", pid1)}, " "))
	var oom oomCount
	if !cg.noContainer {
		oom = func() (uint64, bool) {
			cg.f.mu.Lock()
			defer cg.f.mu.Unlock()
			return cg.container, true
		}
	}
	if !setup || cg.setupErr != nil {
		return nil, oom, cg.setupErr
	}
	return cg, oom, nil
}

func fmtBool(name string, b bool) string {
	if b {
		return name
	}
	return "!" + name
}

func (cg *fakeCgroups) group(name string) (cgroupGroup, error) {
	cg.f.mu.Lock()
	defer cg.f.mu.Unlock()
	g := cg.groups[name]
	if g == nil {
		g = &fakeGroup{cg: cg, name: name}
		cg.groups[name] = g
	}
	return g, nil
}

func (cg *fakeCgroups) missing(l cgroup.Limits) []string {
	var out []string
	for _, k := range l.Keys() {
		if slices.Contains(cg.lacking, k) {
			out = append(out, k)
		}
	}
	return out
}

func (cg *fakeCgroups) canFreeze() bool { return !cg.noFreezer }
func (cg *fakeCgroups) dir() string     { return "/fake/cgroup" }

// members are the live processes of g; f.mu held.
func (g *fakeGroup) members() []int {
	var out []int
	for pid, m := range g.cg.member {
		if m == g && g.cg.f.alive[pid] {
			out = append(out, pid)
		}
	}
	slices.Sort(out)
	return out
}

func (g *fakeGroup) Start(_ *syscall.SysProcAttr, fork func() (int, error)) (int, error) {
	return fork() // the fake spawn does not call it: it reads Command.Cgroup
}

func (g *fakeGroup) setLimits(l cgroup.Limits) error {
	g.cg.f.mu.Lock()
	defer g.cg.f.mu.Unlock()
	if g.cg.refuse != nil {
		if err := g.cg.refuse(l); err != nil {
			return err
		}
	}
	g.limits = append(g.limits, l)
	g.cg.f.record("limits " + g.name)
	return nil
}

func (g *fakeGroup) populated() (bool, error) {
	g.cg.f.mu.Lock()
	defer g.cg.f.mu.Unlock()
	return len(g.members()) > 0, nil
}

func (g *fakeGroup) kill() error {
	g.cg.f.mu.Lock()
	defer g.cg.f.mu.Unlock()
	g.cg.f.record("cgkill " + g.name)
	for _, pid := range g.members() {
		g.cg.f.signal(pid, unix.SIGKILL)
	}
	return nil
}

func (g *fakeGroup) signalOutside(pgid int, sig syscall.Signal) error {
	g.cg.f.mu.Lock()
	defer g.cg.f.mu.Unlock()
	for _, pid := range g.members() {
		if g.cg.f.group[pid] != pgid {
			g.cg.f.signal(pid, sig)
		}
	}
	return nil
}

func (g *fakeGroup) setFrozen(on bool, what string) error {
	g.cg.f.mu.Lock()
	defer g.cg.f.mu.Unlock()
	g.frozen = on
	g.cg.f.record(what + " " + g.name)
	return nil
}

func (g *fakeGroup) freeze() error { return g.setFrozen(true, "freeze") }
func (g *fakeGroup) thaw() error   { return g.setFrozen(false, "thaw") }

func (g *fakeGroup) usage() (cgroup.Usage, error) {
	return cgroup.Usage{CPU: 1500 * time.Millisecond, Memory: 3 << 20}, nil
}

func (g *fakeGroup) oomKills() (uint64, bool) {
	g.cg.f.mu.Lock()
	defer g.cg.f.mu.Unlock()
	return g.oom, !g.cg.noMemory
}

func (g *fakeGroup) remove() error {
	g.cg.f.mu.Lock()
	defer g.cg.f.mu.Unlock()
	if len(g.members()) > 0 {
		return cgroup.ErrBusy
	}
	g.cg.f.record("rmdir " + g.name)
	return nil
}

// oomKill is the kernel's OOM killer taking the main process of
// program name: the OOM counts of its cgroup (own) and of the
// container go up, and the process gets SIGKILL.
func (cg *fakeCgroups) oomKill(name string, own, container bool) {
	f := cg.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if g := cg.groups[name]; g != nil && own {
		g.oom++
	}
	if container {
		cg.container++
	}
	for pid, n := range f.names {
		if n == name && f.alive[pid] && f.group[pid] == pid {
			f.signal(pid, unix.SIGKILL)
		}
	}
}

// cgLoop is a ctlLoop whose programs get cg's cgroups, and whose log
// is kept.
type cgLoop struct {
	*ctlLoop
	cg  *fakeCgroups
	log *lockedBuffer
}

func startCgLoop(t *testing.T, toml string, scripts map[string]script, cg *fakeCgroups) *cgLoop {
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
	cg.f, cg.groups, cg.member = f, map[string]*fakeGroup{}, map[int]*fakeGroup{}
	log := &lockedBuffer{}
	l := &cgLoop{ctlLoop: &ctlLoop{loop: &loop{t: t, f: f, sigs: make(chan os.Signal, 8), code: make(chan int, 1)},
		reqs: make(chan api.Request), file: file}, cg: cg, log: log}
	s := New(Options{Config: cfg, Grace: time.Second, Log: zerolog.New(log), Requests: l.reqs},
		signals.Subscription{Child: f.chld, Other: l.sigs})
	ops := f.ops()
	spawn := ops.spawn
	ops.spawn = func(c Command) (int, error) {
		pid, err := spawn(c)
		g, _ := c.Cgroup.(*fakeGroup)
		if err != nil || g == nil {
			return pid, err
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		for q, pg := range f.group {
			if pg == pid {
				cg.member[q] = g // the process and its workers
			}
		}
		name := f.names[pid]
		if d, ok := f.scripts[name+".d"]; ok && (!d.firstOnly || f.spawns[name] == 1) {
			f.nextPid++
			q := f.nextPid
			f.names[q], f.alive[q], f.group[q] = name+".d", true, q
			cg.member[q] = g
		}
		return pid, nil
	}
	ops.cgroups = cg.setup
	ops.groupUsage = func(pgids ...int) (map[int]cgroup.Usage, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		out := map[int]cgroup.Usage{}
		for _, p := range pgids {
			out[p] = cg.usageOf[p]
		}
		return out, nil
	}
	ops.waitFrozen = func(time.Time, []cgroupGroup) error {
		f.mu.Lock()
		cg.waits++
		d, err := cg.waitFor, cg.waitErr
		f.mu.Unlock()
		time.Sleep(d) // the kernel freezing the group
		return err
	}
	s.os, s.init, s.rand = ops, true, func() float64 { return 0 }
	go func() { l.code <- s.Run() }()
	return l
}

// group is the fake cgroup of program name, nil if it has none.
func (l *cgLoop) group(name string) *fakeGroup {
	l.f.mu.Lock()
	defer l.f.mu.Unlock()
	return l.cg.groups[name]
}

// commands are the Commands spawned as name.
func (l *cgLoop) commands(name string) []Command {
	l.f.mu.Lock()
	defer l.f.mu.Unlock()
	return slices.Clone(l.f.cmds[name])
}

// rewrite replaces the config file (for a reload).
func (l *cgLoop) rewrite(toml string) {
	l.t.Helper()
	if err := os.WriteFile(l.file, []byte(toml), 0o644); err != nil {
		l.t.Fatal(err)
	}
}

// TestCgroupLimitsAndPlacement: a program's limits are written to its
// cgroup once, not at every restart; every process of the program, its
// exec health checks too, starts in it; a reload that changes a limit
// writes the new one before the restart.
func TestCgroupLimitsAndPlacement(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		conf := noSocket + `
[programs.p]
command = ["p"]
startsecs = 0
autorestart = "always"
memory_max = "64MiB"
cpus = 0.5
pids_max = 64
[programs.p.healthcheck]
exec = ["check"]
interval = "1s"
`
		l := startCgLoop(t, conf, map[string]script{"p": {runFor: 2500 * time.Millisecond, code: 1}, "check": {runFor: 0}}, &fakeCgroups{})
		time.Sleep(3 * time.Second)
		g := l.group("p")
		if g == nil {
			t.Fatal("p has no cgroup")
		}
		want := cgroup.Limits{MemoryMax: 64 << 20, CPUs: 0.5, PidsMax: 64}
		l.f.mu.Lock()
		limits := slices.Clone(g.limits)
		l.f.mu.Unlock()
		if !slices.Equal(limits, []cgroup.Limits{want}) {
			t.Errorf("limits written %+v, want %+v once", limits, want)
		}
		progs, checks := l.commands("p"), l.commands("check")
		if len(progs) != 2 || len(checks) == 0 {
			t.Fatalf("%d starts of p, %d of its check", len(progs), len(checks))
		}
		for _, c := range append(progs, checks...) {
			if c.Cgroup != placer(g) {
				t.Errorf("%q started in %v, not in p's cgroup", c.Argv, c.Cgroup)
			}
		}

		l.rewrite(strings.Replace(conf, `"64MiB"`, `"32MiB"`, 1))
		if r := l.do(api.VerbReload); r.Err != "" {
			t.Fatal(r.Err)
		}
		time.Sleep(time.Second)
		want.MemoryMax = 32 << 20
		l.f.mu.Lock()
		limits = slices.Clone(g.limits)
		l.f.mu.Unlock()
		if len(limits) != 2 || limits[1] != want {
			t.Errorf("after the reload, limits written %+v, want the new %+v last", limits, want)
		}
		// Written before the restart, not after.
		ev := l.f.log()
		last := -1
		for i, e := range ev {
			if strings.HasSuffix(e, " spawn p") {
				last = i
			}
		}
		if last < 1 || !strings.HasSuffix(ev[last-1], " limits p") {
			t.Errorf("the new limits are not written right before the restart:\n%s", strings.Join(ev, "\n"))
		}
		l.stop()
	})
}

// TestCgroupLimitRefused: a limit the kernel refuses fails the start,
// with the key in the reason.
func TestCgroupLimitRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cg := &fakeCgroups{refuse: func(l cgroup.Limits) error {
			if l.PidsMax == 5 {
				return errors.New("pids_max = 5: write /fake/cgroup/p/pids.max: invalid argument")
			}
			return nil
		}}
		l := startCgLoop(t, noSocket+`
[programs.p]
command = ["p"]
pids_max = 5
startretries = 0
`, map[string]script{"p": forever}, cg)
		time.Sleep(time.Second)
		st := l.state("p")
		if st.State != api.Fatal || !strings.Contains(st.Reason, "spawn failed: pids_max = 5: ") {
			t.Errorf("p is %s: %q, want FATAL, spawn failed naming pids_max", st.State, st.Reason)
		}
		if n := l.count("spawn p"); n != 0 {
			t.Errorf("p was spawned %d times", n)
		}
		l.stop()
	})
}

// TestCgroupStopReachesDaemon: stopping a program whose daemon left its
// process group (and ignores TERM): the stop signal goes to the process
// group and to the daemon, the program stays STOPPING after its main
// process exits while the daemon is in its cgroup, and at stopwaitsecs
// the cgroup is killed: then it is STOPPED.
func TestCgroupStopReachesDaemon(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startCgLoop(t, noSocket+`
[programs.p]
command = ["p"]
startsecs = 0
stopwaitsecs = 2
`, map[string]script{"p": forever, "p.d": {onTerm: -1}}, &fakeCgroups{})
		time.Sleep(time.Second)
		l.do(api.VerbStop, "p")
		time.Sleep(time.Second)
		if st := l.state("p"); st.State != api.Stopping {
			t.Errorf("p's main process exited on TERM, its daemon is in its cgroup: p is %s, want STOPPING", st.State)
		}
		time.Sleep(2 * time.Second)
		if st := l.state("p"); st.State != api.Stopped {
			t.Errorf("after stopwaitsecs, p is %s: %q", st.State, st.Reason)
		}
		l.want("1s kill p TERM", "1s kill p.d TERM", "1s exit p 143", "3s cgkill p", "3s kill p.d KILL", "3s exit p.d 137")
		l.stop()
	})
}

// TestCgroupExitWaitsForDaemon: the program as a unit, with a cgroup:
// its main process exits by itself, a daemon it left is still in its
// cgroup: the daemon gets the stop signal, and the restart waits until
// it is gone.
func TestCgroupExitWaitsForDaemon(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startCgLoop(t, noSocket+`
[programs.p]
command = ["p"]
startsecs = 0
autorestart = "always"
`, map[string]script{"p": {runFor: time.Second, code: 0, onTerm: 0}, "p.d": {onTerm: 100 * time.Millisecond, firstOnly: true}}, &fakeCgroups{})
		time.Sleep(2 * time.Second)
		l.want("0s spawn p", "1s exit p 0", "1s kill p.d TERM", "1.1s exit p.d 143", "1.1s spawn p")
		l.stop()
	})
}

// TestCgroupOOM: a SIGKILL tend did not send, while an OOM kill count
// went up, is oom-killed: the program's cgroup's count, or the
// container's (also without cgroups). Without a count going up, or when
// tend sent the SIGKILL, it is a SIGKILL like any other.
func TestCgroupOOM(t *testing.T) {
	const conf = noSocket + `
[programs.p]
command = ["p"]
startsecs = 0
autorestart = "never"
stopwaitsecs = 1
`
	tests := []struct {
		name           string
		cg             fakeCgroups
		own, container bool
		stopFirst      bool // ctl stop first: tend SIGKILLs it at stopwaitsecs
		want           string
	}{
		{name: "its cgroup's count", own: true, want: oomReason},
		{name: "the container's count", cg: fakeCgroups{noMemory: true}, container: true, want: oomReason},
		{name: "the container's, without cgroups", cg: fakeCgroups{setupErr: errors.New("read-only")}, container: true, want: oomReason},
		{name: "no count went up", own: false, want: "killed by signal KILL"},
		{name: "another program's, in the container's count", container: true, want: "killed by signal KILL"},
		{name: "no count to read", cg: fakeCgroups{noMemory: true, noContainer: true}, own: true, container: true, want: "killed by signal KILL"},
		{name: "tend's own SIGKILL", stopFirst: true, want: "killed by signal KILL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sc := script{runFor: -1, onTerm: 0}
				if tt.stopFirst {
					sc.onTerm = -1
				}
				l := startCgLoop(t, conf, map[string]script{"p": sc}, &tt.cg)
				time.Sleep(time.Second)
				if tt.stopFirst {
					l.do(api.VerbStop, "p")
					time.Sleep(500 * time.Millisecond)
					l.f.mu.Lock()
					l.cg.groups["p"].oom++ // a worker, say, OOM-killed meanwhile
					l.f.mu.Unlock()
					time.Sleep(time.Second)
				} else {
					l.cg.oomKill("p", tt.own, tt.container)
					time.Sleep(time.Second)
				}
				st := l.state("p")
				if !strings.HasPrefix(st.Reason, tt.want) {
					t.Errorf("p is %s: %q, want the reason %q", st.State, st.Reason, tt.want)
				}
				if wantN := map[bool]int{true: 1}[tt.want == oomReason]; st.OOMKills != wantN {
					t.Errorf("oom_kills %d, want %d", st.OOMKills, wantN)
				}
				if tt.want == oomReason {
					var found bool
					for _, e := range states(t, l.log.String(), "p") {
						found = found || e.State == string(api.Exited) && e.Reason == oomReason
					}
					if !found {
						t.Errorf("no EXITED line with reason %s in the log:\n%s", oomReason, l.log.String())
					}
				}
				l.stop()
			})
		})
	}
}

// TestCgroupPause: with the freezer, pause freezes the program's
// cgroup and answers once it is frozen, with no SIGSTOP; resume thaws
// it, with no SIGCONT; a paused program stopped is thawed first.
// Without the freezer, SIGSTOP and SIGCONT.
func TestCgroupPause(t *testing.T) {
	const conf = noSocket + `
[programs.p]
command = ["p"]
startsecs = 0
`
	synctest.Test(t, func(t *testing.T) {
		// p exits 1 ms after its TERM: with 0 its exit could race the
		// CONT tend sends right after the TERM.
		p := script{runFor: -1, onTerm: time.Millisecond}
		l := startCgLoop(t, conf, map[string]script{"p": p}, &fakeCgroups{waitFor: 200 * time.Millisecond})
		time.Sleep(time.Second)
		began := time.Now()
		if r := l.do(api.VerbPause, "p"); r.Err != "" || r.Programs[0].State != api.Paused {
			t.Fatalf("pause: %+v", r)
		}
		if took := time.Since(began); took != 200*time.Millisecond {
			t.Errorf("pause answered after %v, want once frozen (200ms)", took)
		}
		g := l.group("p")
		l.f.mu.Lock()
		if !g.frozen || l.cg.waits != 1 {
			t.Errorf("frozen %v, waits %d", g.frozen, l.cg.waits)
		}
		l.f.mu.Unlock()
		time.Sleep(time.Second)
		if r := l.do(api.VerbResume, "p"); r.Err != "" || r.Programs[0].State != api.Running {
			t.Fatalf("resume: %+v", r)
		}
		l.do(api.VerbPause, "p")
		l.do(api.VerbStop, "p")
		time.Sleep(time.Second)
		l.want("1s freeze p", "2.2s thaw p", "2.2s freeze p", "2.4s thaw p", "2.4s kill p TERM")
		if n := l.count("kill p STOP"); n != 0 {
			t.Errorf("%d SIGSTOPs with the freezer", n)
		}
		if n := l.count("kill p CONT"); n != 1 {
			t.Errorf("%d SIGCONTs with the freezer, want the one after the stop signal", n)
		}
		l.stop()
	})
	synctest.Test(t, func(t *testing.T) {
		l := startCgLoop(t, conf, map[string]script{"p": forever}, &fakeCgroups{waitFor: time.Hour, waitErr: errors.New("frozen 1: not yet in p")})
		time.Sleep(time.Second)
		if r := l.do(api.VerbPause, "p"); !strings.Contains(r.Err, "paused, not frozen yet: frozen 1: not yet in p") || r.Programs[0].State != api.Paused {
			t.Errorf("pause not frozen in time: %+v", r)
		}
		l.stop()
	})
	synctest.Test(t, func(t *testing.T) {
		l := startCgLoop(t, conf, map[string]script{"p": forever}, &fakeCgroups{noFreezer: true})
		time.Sleep(time.Second)
		l.do(api.VerbPause, "p")
		l.do(api.VerbResume, "p")
		l.want("1s kill p STOP", "1s kill p CONT")
		l.f.mu.Lock()
		waits := l.cg.waits
		l.f.mu.Unlock()
		if n := l.count("freeze p"); n != 0 || waits != 0 {
			t.Errorf("without the freezer: %d freezes, %d waits", n, waits)
		}
		l.stop()
	})
}

// TestCgroupSetup: what tend does at start with each [tend] cgroups,
// whether or not it can have cgroups, and keys it cannot honour.
func TestCgroupSetup(t *testing.T) {
	tests := []struct {
		name, mode, keys string
		cg               fakeCgroups
		setup            string // the arguments tend asked for cgroups with
		code             int    // tend's exit code, 2: refused to start
		warn             string // the warning, "" for none
		placed           bool   // p started in a cgroup
	}{
		{name: "auto, none", mode: "auto", keys: `memory_max = "1GiB"`, cg: fakeCgroups{setupErr: errors.New("read-only")},
			setup: "setup !force pid1", warn: `no cgroup per program: these keys are not honoured`},
		{name: "auto, none, no keys", mode: "auto", cg: fakeCgroups{setupErr: errors.New("read-only")}, setup: "setup !force pid1"},
		{name: "auto", mode: "auto", keys: "cpus = 1\npids_max = 9", setup: "setup !force pid1", placed: true},
		{name: "auto, a controller lacking", mode: "auto", keys: "cpus = 1\npids_max = 9", cg: fakeCgroups{lacking: []string{"cpus"}},
			setup: "setup !force pid1", warn: "lack the controllers of these keys", placed: true},
		{name: "required, none", mode: "required", cg: fakeCgroups{setupErr: errors.New("read-only")}, setup: "setup force pid1", code: 2},
		{name: "required, a controller lacking", mode: "required", keys: "cpus = 1", cg: fakeCgroups{lacking: []string{"cpus"}},
			setup: "setup force pid1", code: 2},
		{name: "required", mode: "required", keys: "cpus = 1", setup: "setup force pid1", placed: true},
		{name: "off", mode: "off", keys: "pids_max = 9", setup: "!setup !force pid1", warn: `[tend] cgroups = \"off\"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := startCgLoop(t, "[tend]\nsocket = \"\"\ncgroups = \""+tt.mode+"\"\n[programs.p]\ncommand = [\"p\"]\n"+tt.keys+"\n",
					map[string]script{"p": forever}, &tt.cg)
				time.Sleep(time.Second)
				code := 0
				if tt.code != 0 {
					select {
					case code = <-l.code:
					default:
						t.Fatal("tend is still running")
					}
				} else {
					code = l.stop()
				}
				if code != tt.code {
					t.Errorf("exit code %d, want %d", code, tt.code)
				}
				if !slices.Equal(l.cg.setups, []string{tt.setup}) {
					t.Errorf("cgroups asked for with %q, want %q", l.cg.setups, tt.setup)
				}
				out := l.log.String()
				warnings := 0
				for line := range strings.Lines(out) {
					if strings.Contains(line, `"level":"warn"`) {
						warnings++
						if tt.warn == "" || !strings.Contains(line, tt.warn) || !strings.Contains(line, `"programs":["p"]`) {
							t.Errorf("warning %s", line)
						}
						if !strings.Contains(line, `"keys":[`) {
							t.Errorf("the warning names no keys: %s", line)
						}
					}
				}
				if tt.warn != "" && warnings != 1 {
					t.Errorf("%d warnings, want 1:\n%s", warnings, out)
				}
				if tt.code == 2 {
					if n := l.count("spawn p"); n != 0 || !strings.Contains(out, `"level":"error"`) {
						t.Errorf("refused to start, yet %d spawns, or no error line:\n%s", n, out)
					}
					return
				}
				cmds := l.commands("p")
				if len(cmds) == 0 || (cmds[0].Cgroup != nil) != tt.placed {
					t.Errorf("p's start %+v: in a cgroup %v, want %v", cmds, len(cmds) > 0 && cmds[0].Cgroup != nil, tt.placed)
				}
			})
		})
	}
}

// TestCgroupUsage: status reads CPU time and memory of the programs
// that have processes: from their cgroups, or from their process
// groups without; none for a program that is down.
func TestCgroupUsage(t *testing.T) {
	const conf = noSocket + `
[programs.p]
command = ["p"]
startsecs = 0
[programs.q]
command = ["q"]
autostart = false
`
	for _, cg := range []*fakeCgroups{{}, {setupErr: errors.New("none")}} {
		synctest.Test(t, func(t *testing.T) {
			cg.usageOf = map[int]cgroup.Usage{101: {CPU: 250 * time.Millisecond, Memory: 1 << 20}}
			l := startCgLoop(t, conf, map[string]script{"p": forever}, cg)
			time.Sleep(time.Second)
			r := l.do(api.VerbStatus)
			want := map[bool][2]float64{true: {1.5, 3 << 20}, false: {0.25, 1 << 20}}[cg.setupErr == nil]
			for _, st := range r.Programs {
				switch st.Name {
				case "p":
					if st.CPUSeconds == nil || st.MemoryBytes == nil || *st.CPUSeconds != want[0] || float64(*st.MemoryBytes) != want[1] {
						t.Errorf("cgroups %v: p's usage %v, %v; want %v", cg.setupErr == nil, st.CPUSeconds, st.MemoryBytes, want)
					}
				case "q":
					if st.CPUSeconds != nil || st.MemoryBytes != nil {
						t.Errorf("q, down, has usage %v, %v", *st.CPUSeconds, *st.MemoryBytes)
					}
				}
			}
			if r := l.do(api.VerbStop, "p"); r.Programs[0].CPUSeconds != nil {
				t.Error("an action's answer read usage")
			}
			l.stop()
		})
	}
}

// TestCgroupRemoved: a program a reload removes has its cgroup removed
// once it is down; at tend's end, every program's is.
func TestCgroupRemoved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := noSocket + `
[programs.q]
command = ["q"]
startsecs = 0
`
		l := startCgLoop(t, q+`
[programs.p]
command = ["p"]
startsecs = 0
`, map[string]script{"p": forever, "q": forever, "p.d": {onTerm: 500 * time.Millisecond}}, &fakeCgroups{})
		time.Sleep(time.Second)
		l.rewrite(q)
		l.do(api.VerbReload)
		time.Sleep(time.Second)
		l.want("1s kill p TERM", "1s exit p 143", "1.5s exit p.d 143", "1.5s rmdir p")
		l.stop()
		l.want("2s exit q 143", "2s rmdir q")
	})
}
