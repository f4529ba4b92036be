package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"tend/api"
)

// envOf is an env lookup backed by a map.
func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// testEnv is the environment of every test Parse.
var testEnv = envOf(map[string]string{"HOME": "/home/t", "PORT": "9000", "EMPTY": ""})

func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	c, err := Parse("tend.toml", []byte(src), testEnv)
	if err != nil {
		t.Fatalf("Parse:\n%v", err)
	}
	return c
}

// here is a path relative to the test's working directory, where Parse
// resolves relative paths of "tend.toml".
func here(t *testing.T, rel string) string {
	t.Helper()
	abs, err := filepath.Abs(rel)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func TestDefaults(t *testing.T) {
	c := mustParse(t, `
[programs.svc]
command = ["svc"]
[programs.job]
command = ["job"]
type = "oneshot"
`)
	if want := defaultTend(); c.Tend != want {
		t.Errorf("Tend = %+v, want %+v", c.Tend, want)
	}
	want := []*Program{{
		Name: "job", Group: "job", Order: 1, Command: []string{"job"}, Type: Oneshot,
		Environment: map[string]string{}, Autostart: true, Autorestart: RestartNever,
		ExitCodes: []int{0}, StartSecs: 0, StartRetries: 3,
		Backoff:    Backoff{Initial: time.Second, Max: 30 * time.Second, Factor: 2, Reset: 30 * time.Second},
		StopSignal: syscall.SIGTERM, StopWaitSecs: 10 * time.Second, HookTimeout: 10 * time.Second,
		Stdout: Output{Mode: Inherit}, Stderr: Output{Mode: Inherit}, Ready: Ready{Kind: ReadyStarted},
	}, {
		Name: "svc", Group: "svc", Command: []string{"svc"}, Type: Longrun,
		Environment: map[string]string{}, Autostart: true, Autorestart: RestartOnFailure,
		ExitCodes: []int{0}, StartSecs: time.Second, StartRetries: 3,
		Backoff:    Backoff{Initial: time.Second, Max: 30 * time.Second, Factor: 2, Reset: 30 * time.Second},
		StopSignal: syscall.SIGTERM, StopWaitSecs: 10 * time.Second, HookTimeout: 10 * time.Second,
		Stdout: Output{Mode: Inherit}, Stderr: Output{Mode: Inherit}, Ready: Ready{Kind: ReadyStarted},
	}}
	if !reflect.DeepEqual(c.Programs, want) {
		for i := range max(len(want), len(c.Programs)) {
			if i < len(want) && i < len(c.Programs) {
				t.Errorf("program %d:\n got %+v\nwant %+v", i, *c.Programs[i], *want[i])
			}
		}
		t.Fatal("programs differ")
	}
	if c.File != "tend.toml" || c.Dir != here(t, ".") {
		t.Errorf("File, Dir = %q, %q", c.File, c.Dir)
	}
}

func TestEmpty(t *testing.T) {
	c := mustParse(t, "")
	if len(c.Programs) != 0 || c.Tend != defaultTend() {
		t.Errorf("empty file gave %+v", c)
	}
}

func TestFull(t *testing.T) {
	data, err := os.ReadFile("testdata/full.toml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse("testdata/full.toml", data, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := here(t, "testdata")
	wantTend := Tend{
		ShutdownTimeout: 45 * time.Second, Socket: filepath.Join(dir, "run/tend.sock"),
		SocketMode: 0o660, SocketGroup: "tend", LogFormat: "json", Metrics: "127.0.0.1:9090", Cgroups: "required",
		StartTimeout: time.Minute, OnStartTimeout: StartFail,
	}
	if c.Tend != wantTend {
		t.Errorf("Tend = %+v, want %+v", c.Tend, wantTend)
	}
	var names []string
	for _, p := range c.Programs {
		names = append(names, p.Name)
	}
	if want := []string{"db", "migrate", "web:0", "web:1", "web:2"}; !slices.Equal(names, want) {
		t.Fatalf("names = %q, want %q", names, want)
	}
	umask := os.FileMode(0o027)
	oom, nice := 500, 5
	wantDB := &Program{
		Name: "db", Group: "db", Order: 1,
		Command: []string{"redis-server", "--save", "60", "1"}, Type: Longrun,
		Directory: "/data", User: &User{Spec: "999:999", UID: 999, GID: 999},
		Environment: map[string]string{"MAXMEM": "64mb", "PORT": "6379", "DEBUG": "false"},
		Umask:       &umask, Autostart: false, Autorestart: RestartAlways,
		ExitCodes: []int{0, 2}, StartSecs: 2500 * time.Millisecond, StartRetries: 5,
		Backoff:      Backoff{Initial: 250 * time.Millisecond, Max: time.Minute, Factor: 1.5, Reset: 5 * time.Minute},
		RestartLimit: &RestartLimit{Count: 10, Window: 2 * time.Minute},
		StopSignal:   syscall.SIGINT, StopWaitSecs: 30 * time.Second, HookTimeout: 10 * time.Second,
		DependsOn: []Dep{{"migrate", CondDefault, false}}, Critical: true,
		Stdout: Output{Mode: Prefix},
		Stderr: Output{Mode: File, Path: "/var/log/db.err", MaxBytes: 1 << 20, Backups: 2},
		Healthcheck: &Healthcheck{
			Kind: ProbeExec, Exec: []string{"/bin/sh", "-c", "redis-cli ping | grep -q PONG"}, Shell: true,
			Interval: 10 * time.Second, Timeout: time.Second, Retries: 5,
			StartPeriod: 30 * time.Second, OnUnhealthy: UnhealthyIgnore,
		},
		Rlimits: []Rlimit{
			{"core", unix.RLIMIT_CORE, 0, 0}, {"nofile", unix.RLIMIT_NOFILE, 65536, 65536}, {"nproc", unix.RLIMIT_NPROC, 512, 1024}},
		NoNewPrivs: true, Capabilities: []Capability{unix.CAP_NET_BIND_SERVICE}, OOMScoreAdj: &oom, Nice: &nice,
		MemoryMax: 512 << 20, CPUs: 0.5, PidsMax: 256,
		Ready: Ready{Kind: ReadyNotify}, ReadyTimeout: 2 * time.Minute, Watchdog: 20 * time.Second,
		Readiness: &Healthcheck{Kind: ProbeTCP, TCP: "127.0.0.1:6379", Interval: time.Second, Timeout: 2 * time.Second,
			Retries: 3, OnUnhealthy: UnhealthyIgnore},
	}
	if got := c.Lookup("db"); !reflect.DeepEqual(got, wantDB) {
		t.Errorf("db:\n got %+v\nwant %+v", got, wantDB)
	}
	mig := c.Lookup("migrate")
	if !mig.Shell || !slices.Equal(mig.Command, []string{"/bin/sh", "-c", "exec ./migrate --up"}) ||
		mig.Autorestart != RestartNever || mig.StartSecs != 500*time.Millisecond {
		t.Errorf("migrate = %+v", mig)
	}
	for i, name := range []string{"web:0", "web:1", "web:2"} {
		w := c.Lookup(name)
		if w == nil || w.Group != "web" || w.Instance != i {
			t.Fatalf("%s = %+v", name, w)
		}
		if want := []string{"web", "--port", "8080"}; !slices.Equal(w.Command, want) {
			t.Errorf("%s command = %q, want %q", name, w.Command, want)
		}
		if want := (&User{Spec: "www-data", Name: "www-data", UID: -1, GID: -1}); !reflect.DeepEqual(w.User, want) {
			t.Errorf("%s user = %+v", name, w.User)
		}
		wantOut := Output{Mode: File, Path: filepath.Join(dir, "logs/web.log"), MaxBytes: 10 << 20, Backups: 5}
		if w.Stdout != wantOut {
			t.Errorf("%s stdout = %+v, want %+v", name, w.Stdout, wantOut)
		}
		wantDeps := []Dep{{"db", CondHealthy, true}, {"migrate", CondCompleted, false}}
		if !slices.Equal(w.DependsOn, wantDeps) {
			t.Errorf("%s deps = %v, want %v", name, w.DependsOn, wantDeps)
		}
		if r := w.Ready; r.Kind != ReadyLog || r.Log != `listening on :\d+` || r.Pattern == nil || w.ReadyTimeout != DefaultReadyTimeout {
			t.Errorf("%s ready = %+v, ready_timeout %s", name, r, w.ReadyTimeout)
		}
		if h := w.Healthcheck; h == nil || h.Kind != ProbeHTTP || h.HTTP != "http://127.0.0.1:8080/health" || h.Interval != 5*time.Second {
			t.Errorf("%s healthcheck = %+v", name, h)
		}
	}
}

// TestKeys checks each key's accepted spellings, one at a time.
func TestKeys(t *testing.T) {
	umask := func(m os.FileMode) *os.FileMode { return &m }
	tests := []struct {
		name string
		src  string // appended to [programs.p] and, unless it sets it, command
		get  func(p *Program) any
		want any
	}{
		{"command string", `command = "echo $HOME ${HOME}"`, func(p *Program) any { return p.Command },
			[]string{"/bin/sh", "-c", "echo $HOME /home/t"}},
		{"command array", `command = ["a", "${PORT}", "$$x"]`, func(p *Program) any { return p.Command },
			[]string{"a", "9000", "$x"}},
		{"command multiline", "command = [\n  \"a\",\n  \"b\",\n]", func(p *Program) any { return p.Command }, []string{"a", "b"}},
		{"type oneshot", `type = "oneshot"`, func(p *Program) any { return p.Type }, Oneshot},
		{"directory relative", `directory = "srv"`, func(p *Program) any { return p.Directory }, "REL:srv"},
		{"directory absolute", `directory = "/srv/../srv/"`, func(p *Program) any { return p.Directory }, "/srv"},
		{"directory empty", `directory = "${NOPE}"`, func(p *Program) any { return p.Directory }, ""},
		{"user name", `user = "redis"`, func(p *Program) any { return *p.User },
			User{Spec: "redis", Name: "redis", UID: -1, GID: -1}},
		{"user uid", `user = "0"`, func(p *Program) any { return *p.User }, User{Spec: "0", UID: 0, GID: -1}},
		{"user uid:gid", `user = "1000:100"`, func(p *Program) any { return *p.User },
			User{Spec: "1000:100", UID: 1000, GID: 100}},
		{"user name:group", `user = "redis:adm"`, func(p *Program) any { return *p.User },
			User{Spec: "redis:adm", Name: "redis", UID: -1, Group: "adm", GID: -1}},
		{"user empty", `user = ""`, func(p *Program) any { return p.User }, (*User)(nil)},
		{"environment", `environment = { A = "x", B = 1, C = 1.5, D = true, E = "${HOME}" }`,
			func(p *Program) any { return p.Environment },
			map[string]string{"A": "x", "B": "1", "C": "1.5", "D": "true", "E": "/home/t"}},
		{"umask string", `umask = "022"`, func(p *Program) any { return p.Umask }, umask(0o22)},
		{"umask 0o string", `umask = "0o077"`, func(p *Program) any { return p.Umask }, umask(0o77)},
		{"umask integer", `umask = 0o022`, func(p *Program) any { return p.Umask }, umask(0o22)},
		{"umask zero", `umask = 0`, func(p *Program) any { return p.Umask }, umask(0)},
		{"autostart", `autostart = false`, func(p *Program) any { return p.Autostart }, false},
		{"autorestart", `autorestart = "never"`, func(p *Program) any { return p.Autorestart }, RestartNever},
		{"oneshot on-failure", "type = \"oneshot\"\nautorestart = \"on-failure\"",
			func(p *Program) any { return p.Autorestart }, RestartOnFailure},
		{"exitcodes", `exitcodes = [0, 1, 255]`, func(p *Program) any { return p.ExitCodes }, []int{0, 1, 255}},
		{"exitcodes integer", `exitcodes = 3`, func(p *Program) any { return p.ExitCodes }, []int{3}},
		{"exitcodes empty", `exitcodes = []`, func(p *Program) any { return p.ExitCodes }, []int{}},
		{"startsecs int", `startsecs = 3`, func(p *Program) any { return p.StartSecs }, 3 * time.Second},
		{"startsecs zero", `startsecs = 0`, func(p *Program) any { return p.StartSecs }, time.Duration(0)},
		{"oneshot startsecs", "type = \"oneshot\"\nstartsecs = 2", func(p *Program) any { return p.StartSecs }, 2 * time.Second},
		{"startretries", `startretries = 0`, func(p *Program) any { return p.StartRetries }, 0},
		{"backoff partial", `backoff = { max = "5s" }`, func(p *Program) any { return p.Backoff },
			Backoff{Initial: time.Second, Max: 5 * time.Second, Factor: 2, Reset: 5 * time.Second}},
		{"backoff table", "[programs.p.backoff]\ninitial = 0.1\nfactor = 1", func(p *Program) any { return p.Backoff },
			Backoff{Initial: 100 * time.Millisecond, Max: 30 * time.Second, Factor: 1, Reset: 30 * time.Second}},
		{"backoff reset", `backoff = { max = "5s", reset = "1m" }`, func(p *Program) any { return p.Backoff },
			Backoff{Initial: time.Second, Max: 5 * time.Second, Factor: 2, Reset: time.Minute}},
		{"backoff reset zero", `backoff = { reset = 0 }`, func(p *Program) any { return p.Backoff },
			Backoff{Initial: time.Second, Max: 30 * time.Second, Factor: 2, Reset: 0}},
		{"no restart_limit", ``, func(p *Program) any { return p.RestartLimit }, (*RestartLimit)(nil)},
		{"restart_limit", `restart_limit = { count = 5, window = "30s" }`, func(p *Program) any { return *p.RestartLimit },
			RestartLimit{Count: 5, Window: 30 * time.Second}},
		{"restart_limit window default", "[programs.p.restart_limit]\ncount = 0", func(p *Program) any { return *p.RestartLimit },
			RestartLimit{Count: 0, Window: time.Minute}},
		{"stopsignal name", `stopsignal = "quit"`, func(p *Program) any { return p.StopSignal }, syscall.SIGQUIT},
		{"stopsignal number", `stopsignal = 2`, func(p *Program) any { return p.StopSignal }, syscall.SIGINT},
		{"stopsignal env", `stopsignal = "${SIG:-SIGKILL}"`, func(p *Program) any { return p.StopSignal }, syscall.SIGKILL},
		{"stopwaitsecs", `stopwaitsecs = "1m30s"`, func(p *Program) any { return p.StopWaitSecs }, 90 * time.Second},
		{"critical", `critical = true`, func(p *Program) any { return p.Critical }, true},
		{"stdout prefix", `stdout = "prefix"`, func(p *Program) any { return p.Stdout }, Output{Mode: Prefix}},
		{"stdout json", `stdout = "json"`, func(p *Program) any { return p.Stdout }, Output{Mode: JSON}},
		{"stderr json", `stderr = "json"`, func(p *Program) any { return p.Stderr }, Output{Mode: JSON}},
		{"a file named json", `stdout = "./json"`, func(p *Program) any { return p.Stdout.Mode }, File},
		{"stdout file", "stdout = \"/l/out\"\nstdout_maxbytes = 1024\nstdout_backups = 0",
			func(p *Program) any { return p.Stdout }, Output{Mode: File, Path: "/l/out", MaxBytes: 1024, Backups: 0}},
		{"stderr file sizes", "stderr = \"/l/err\"\nstderr_maxbytes = \"10MiB\"",
			func(p *Program) any { return p.Stderr }, Output{Mode: File, Path: "/l/err", MaxBytes: 10 << 20, Backups: 5}},
		{"maxbytes ignored unless file", "stderr_maxbytes = \"1GB\"\nstderr_backups = 9",
			func(p *Program) any { return p.Stderr }, Output{Mode: Inherit}},
		{"healthcheck tcp", "[programs.p.healthcheck]\ntcp = \"127.0.0.1:6379\"",
			func(p *Program) any { return p.Healthcheck.TCP }, "127.0.0.1:6379"},
		{"healthcheck exec array", "healthcheck = { exec = [\"true\"], retries = 1, interval = 0.5 }",
			func(p *Program) any { return *p.Healthcheck }, Healthcheck{
				Kind: ProbeExec, Exec: []string{"true"}, Interval: 500 * time.Millisecond, Timeout: 2 * time.Second,
				Retries: 1, OnUnhealthy: UnhealthyRestart}},
		// The key that is set decides the kind, whatever else the table holds.
		{"healthcheck kind exec string", "healthcheck = { exec = \"true\", timeout = 1 }",
			func(p *Program) any { return p.Healthcheck.Kind }, ProbeExec},
		{"healthcheck kind http", "healthcheck = { http = \"http://h/\", retries = 2 }",
			func(p *Program) any { return p.Healthcheck.Kind }, ProbeHTTP},
		{"healthcheck kind tcp", "[programs.p.healthcheck]\ntcp = \"h:1\"\non_unhealthy = \"ignore\"",
			func(p *Program) any { return p.Healthcheck.Kind }, ProbeTCP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			head := "[programs.p]\ncommand = [\"p\"]\n"
			if strings.HasPrefix(tt.src, "command") {
				head = "[programs.p]\n"
			}
			c := mustParse(t, head+tt.src+"\n")
			want := tt.want
			if s, ok := want.(string); ok && strings.HasPrefix(s, "REL:") {
				want = here(t, s[4:])
			}
			if got := tt.get(c.Programs[0]); !reflect.DeepEqual(got, want) {
				t.Errorf("got %#v, want %#v", got, want)
			}
		})
	}
}

func TestDurations(t *testing.T) {
	tests := []struct {
		val  string
		want time.Duration
		err  string
	}{
		{"1", time.Second, ""},
		{"1.5", 1500 * time.Millisecond, ""},
		{"0", 0, ""},
		{"0.001", time.Millisecond, ""},
		{`"1.5s"`, 1500 * time.Millisecond, ""},
		{`"250ms"`, 250 * time.Millisecond, ""},
		{`"2"`, 2 * time.Second, ""},
		{`"0.25"`, 250 * time.Millisecond, ""},
		{`"1h2m"`, time.Hour + 2*time.Minute, ""},
		{`"${T:-3s}"`, 3 * time.Second, ""},
		{"-1", 0, "must not be negative, not -1"},
		{"-0.5", 0, "must not be negative, not -0.5"},
		{`"-1s"`, 0, "must not be negative, not -1s"},
		{`"soon"`, 0, `bad duration "soon": want seconds or a duration like "1.5s" or "250ms"`},
		{`"5 s"`, 0, `bad duration "5 s": want seconds or a duration like "1.5s" or "250ms"`},
		{`""`, 0, `bad duration "": want seconds or a duration like "1.5s" or "250ms"`},
		{"nan", 0, "bad duration NaN"},
		{"inf", 0, "bad duration +Inf"},
		{`"inf"`, 0, "bad duration +Inf"},
		{"1e10", 0, "duration 1e+10 seconds is too long (the most is 9000000000)"},
		{"true", 0, `expected a duration (seconds, or a string like "1.5s"), got boolean true`},
		{"[1]", 0, `expected a duration (seconds, or a string like "1.5s"), got array`},
	}
	for _, tt := range tests {
		t.Run(tt.val, func(t *testing.T) {
			c, err := Parse("t.toml", []byte("[programs.p]\ncommand = \"x\"\nstopwaitsecs = "+tt.val), nil)
			if tt.err != "" {
				if want := "t.toml:3: programs.p.stopwaitsecs: " + tt.err; err == nil || err.Error() != want {
					t.Errorf("err = %v, want %s", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Programs[0].StopWaitSecs; got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSizes(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"512", 512, true}, {"512B", 512, true},
		{"10KB", 10 << 10, true}, {"10kib", 10 << 10, true}, {"10K", 10 << 10, true},
		{"10MB", 10 << 20, true}, {"10MiB", 10 << 20, true}, {"10 MB", 10 << 20, true},
		{"2GB", 2 << 30, true}, {"1GiB", 1 << 30, true},
		{"", 0, false}, {"MB", 0, false}, {"1.5MB", 0, false}, {"10TB", 0, false},
		{"-1", 0, false}, {"99999999999GB", 0, false},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, ok %t", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestInstancesAndDeps(t *testing.T) {
	c := mustParse(t, `
[programs.db]
command = "db"
instances = 2
[programs.web]
command = "web"
instances = 11
depends_on = ["db", "cache"]
[programs.cache]
command = "cache"
[programs.one]
command = "one"
depends_on = { "web:10" = "running" }
`)
	var names []string
	for _, p := range c.Programs {
		names = append(names, p.Name)
	}
	want := []string{"cache", "db:0", "db:1", "one"}
	for i := range 11 {
		want = append(want, "web:"+strconv.Itoa(i))
	}
	if !slices.Equal(names, want) {
		t.Fatalf("names = %q\nwant %q", names, want)
	}
	wantDeps := []Dep{{"cache", CondDefault, false}, {"db:0", CondDefault, false}, {"db:1", CondDefault, false}}
	for _, p := range c.Programs {
		if p.Group == "web" && !slices.Equal(p.DependsOn, wantDeps) {
			t.Errorf("%s deps = %v, want %v", p.Name, p.DependsOn, wantDeps)
		}
	}
	if got := c.Lookup("one").DependsOn; !slices.Equal(got, []Dep{{"web:10", CondRunning, false}}) {
		t.Errorf("one deps = %v", got)
	}
	if c.Lookup("web:3").Instance != 3 || c.Lookup("web") != nil {
		t.Error("Lookup by instance name")
	}
}

func TestLoadMissing(t *testing.T) {
	_, err := Load("testdata/does-not-exist.toml")
	var es *Errors
	if !errors.Is(err, os.ErrNotExist) || errors.As(err, &es) {
		t.Errorf("err = %v, want a wrapped ErrNotExist", err)
	}
}

func TestSpecExample(t *testing.T) {
	// The example in SPEC.md is valid but for its dependency on a
	// "migrate" program it leaves out.
	_, err := Load("testdata/spec.toml")
	want := `testdata/spec.toml:22: programs.db.depends_on: unknown program "migrate"`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
	data, err := os.ReadFile("testdata/spec.toml")
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, "\n[programs.migrate]\ncommand = [\"migrate\"]\ntype = \"oneshot\"\n"...)
	c, err := Parse("spec.toml", data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if db := c.Lookup("db"); db.Healthcheck == nil || db.User.Name != "redis" || db.Environment["MAXMEM"] != "64mb" {
		t.Errorf("db = %+v", db)
	}
}

func TestTendKeys(t *testing.T) {
	tests := []struct {
		src  string
		want Tend
	}{
		{`socket = ""`, Tend{ShutdownTimeout: 30 * time.Second, SocketMode: 0o600, LogFormat: "console", Cgroups: "auto", OnStartTimeout: StartContinue}},
		{"socket = \"tend.sock\"\nsocket_mode = 0o660\nsocket_group = \"100\"",
			Tend{ShutdownTimeout: 30 * time.Second, Socket: "REL:tend.sock", SocketMode: 0o660, SocketGroup: "100", LogFormat: "console", Cgroups: "auto", OnStartTimeout: StartContinue}},
		{"shutdown_timeout = \"1m\"\nmetrics = \"[::1]:9090\"\nlog_format = \"json\"",
			Tend{ShutdownTimeout: time.Minute, Socket: api.DefaultSocket, SocketMode: 0o600, LogFormat: "json", Cgroups: "auto", OnStartTimeout: StartContinue, Metrics: "[::1]:9090"}},
		{"drain = \"5s\"\nshutdown_timeout = \"20s\"", Tend{ShutdownTimeout: 20 * time.Second, Drain: 5 * time.Second, Socket: api.DefaultSocket, SocketMode: 0o600, LogFormat: "console", Cgroups: "auto", OnStartTimeout: StartContinue}},
		{`metrics = ":9090"`, Tend{ShutdownTimeout: 30 * time.Second, Socket: api.DefaultSocket, SocketMode: 0o600, LogFormat: "console", Cgroups: "auto", OnStartTimeout: StartContinue, Metrics: ":9090"}},
		{`metrics = "127.0.0.1:0"`, Tend{ShutdownTimeout: 30 * time.Second, Socket: api.DefaultSocket, SocketMode: 0o600, LogFormat: "console", Cgroups: "auto", OnStartTimeout: StartContinue, Metrics: "127.0.0.1:0"}},
		{`cgroups = "required"`, Tend{ShutdownTimeout: 30 * time.Second, Socket: api.DefaultSocket, SocketMode: 0o600, LogFormat: "console", Cgroups: "required", OnStartTimeout: StartContinue}},
		{`cgroups = "off"`, Tend{ShutdownTimeout: 30 * time.Second, Socket: api.DefaultSocket, SocketMode: 0o600, LogFormat: "console", Cgroups: "off", OnStartTimeout: StartContinue}},
	}
	for _, tt := range tests {
		want := tt.want
		if rel, ok := strings.CutPrefix(want.Socket, "REL:"); ok {
			want.Socket = here(t, rel)
		}
		if got := mustParse(t, "[tend]\n"+tt.src).Tend; got != want {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.src, got, want)
		}
	}
}

func TestDependencyConditions(t *testing.T) {
	c := mustParse(t, `
[programs.app]
command = "app"
instances = 1
depends_on = { plain = "healthy", job = "completed", probed = "healthy" }
[programs.after]
command = "after"
depends_on = ["job", "plain", "job"]
[programs.plain]
command = "plain"
[programs.probed]
command = "probed"
healthcheck = { tcp = "127.0.0.1:1" }
readiness = { exec = "true" }
[programs.tied]
command = "tied"
ready = { fd = 4 }
depends_on = { plain = "ready", job = { restart = true }, probed = { condition = "healthy", restart = true } }
[programs.job]
command = "job"
type = "oneshot"
`)
	want := []Dep{{"job", CondCompleted, false}, {"plain", CondHealthy, false}, {"probed", CondHealthy, false}}
	if got := c.Lookup("app").DependsOn; !slices.Equal(got, want) {
		t.Errorf("app deps = %v, want %v", got, want)
	}
	want = []Dep{{"job", CondDefault, false}, {"plain", CondDefault, false}}
	if got := c.Lookup("after").DependsOn; !slices.Equal(got, want) {
		t.Errorf("after deps = %v, want %v", got, want)
	}
	want = []Dep{{"job", CondDefault, true}, {"plain", CondReady, false}, {"probed", CondHealthy, true}}
	if got := c.Lookup("tied").DependsOn; !slices.Equal(got, want) {
		t.Errorf("tied deps = %v, want %v", got, want)
	}
	if c.Lookup("plain").Gated() || !c.Lookup("probed").Gated() || !c.Lookup("tied").Gated() {
		t.Errorf("Gated: plain %v, probed %v, tied %v", c.Lookup("plain").Gated(), c.Lookup("probed").Gated(), c.Lookup("tied").Gated())
	}
}

// TestTendTags: every field of Tend names its key, one the decoder
// reads, and says whether a reload can change it. A new [tend] key
// without reload:"start" or "live" fails here, so that reload cannot
// silently pretend to have applied it (Tend.StartOnly).
func TestTendTags(t *testing.T) {
	typ := reflect.TypeFor[Tend]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		key := f.Tag.Get("key")
		if r := f.Tag.Get("reload"); key == "" || (r != "start" && r != "live") {
			t.Errorf("Tend.%s: tags %q, want key:\"KEY\" and reload:\"start\" or reload:\"live\"", f.Name, f.Tag)
			continue
		}
		// A value of the wrong type: the decoder says so, rather than
		// that it does not know the key.
		_, err := Parse("t.toml", []byte("[tend]\n"+key+" = {}\n"), nil)
		if err == nil || strings.Contains(err.Error(), "unknown key") {
			t.Errorf("Tend.%s: [tend] %s = {} gives %v; the decoder does not read the key", f.Name, key, err)
		}
	}
}

// TestSchedule: schedule and every give a timetable whose Next is the
// cron line's next time, or every later.
func TestScheduleKeys(t *testing.T) {
	c := mustParse(t, `
[programs.a]
command = "a"
type = "oneshot"
schedule = "*/5 * * * *"
[programs.b]
command = "b"
type = "oneshot"
every = "90s"
[programs.c]
command = "c"
`)
	at := time.Date(2026, 12, 7, 12, 3, 10, 0, time.UTC)
	if got, want := c.Lookup("a").Schedule.Next(at), time.Date(2026, 12, 7, 12, 5, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("a: next after %v = %v, want %v", at, got, want)
	}
	if got, want := c.Lookup("b").Schedule.Next(at), at.Add(90*time.Second); !got.Equal(want) {
		t.Errorf("b: next after %v = %v, want %v", at, got, want)
	}
	if c.Lookup("c").Schedule != nil {
		t.Errorf("c has a schedule")
	}
}

// TestReadyDeepEqual: a reload finds changed programs with
// reflect.DeepEqual; the same file read twice must compare equal, its
// compiled log pattern included, and a changed pattern must not.
func TestReadyDeepEqual(t *testing.T) {
	const src = "[programs.p]\ncommand = \"p\"\nstdout = \"prefix\"\nready = { log = '(?i)^listening on :\\d+$' }\n"
	a, b := mustParse(t, src), mustParse(t, src)
	if !reflect.DeepEqual(*a.Programs[0], *b.Programs[0]) {
		t.Error("the same program read twice differs")
	}
	c := mustParse(t, strings.Replace(src, `\d+`, `\d*`, 1))
	if reflect.DeepEqual(*a.Programs[0], *c.Programs[0]) {
		t.Error("a changed pattern compares equal")
	}
}
