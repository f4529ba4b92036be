package ctl

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"tend/api"
)

func TestCtlStatusTable(t *testing.T) {
	e := newEnv(t)
	out, _ := e.mustCtl(0, "status")
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if got := lines[0]; !regexp.MustCompile(`^NAME +STATE +IN STATE +PID +UPTIME +HEALTH +READY +EXIT +CPU +MEM +NEXT RUN$`).MatchString(got) {
		t.Fatalf("header %q", lines[0])
	}
	if len(lines) != 7 {
		t.Fatalf("want header and 6 rows:\n%s", out)
	}
	// IN STATE is time in the state, UPTIME the process's: web:1 was
	// paused and resumed two hours ago, and has run for five.
	want := []*regexp.Regexp{
		regexp.MustCompile(`^web:0 +RUNNING +3m0[0-9]s +101 +3m0[0-9]s +healthy +yes +- +1\.25s +48M +-$`),
		regexp.MustCompile(`^web:1 +RUNNING +2h00m +102 +5h00m +healthy +yes +- +1\.25s +48M +-$`),
		regexp.MustCompile(`^db +RUNNING +5[0-9]s +103 +5[0-9]s +healthy +yes +- +1\.25s +48M +-$`),
		regexp.MustCompile(`^migrate +COMPLETED +1h00m +- +- +- +- +0 +- +- +(9m5[0-9]s|10m00s)$`),
		regexp.MustCompile(`^stuck +STOPPED +- +- +- +- +- +- +- +- +-$`),
	}
	for i, re := range want {
		if !re.MatchString(lines[i+1]) {
			t.Errorf("row %d: %q does not match %s", i+1, lines[i+1], re)
		}
	}
	// Columns are aligned: every row's STATE starts where the header's does.
	col := strings.Index(lines[0], "STATE")
	for _, l := range lines[1:] {
		if l[col-1] != ' ' || l[col] == ' ' {
			t.Errorf("row %q not aligned on STATE at %d", l, col)
		}
	}
}

func TestCtlStatusNamesAndJSON(t *testing.T) {
	e := newEnv(t)
	out, _ := e.mustCtl(0, "--json", "status", "web:*", "db")
	var progs []api.Status
	if err := json.Unmarshal([]byte(out), &progs); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	var names []string
	for _, p := range progs {
		names = append(names, p.Name)
	}
	if !slices.Equal(names, []string{"web:0", "web:1", "db"}) {
		t.Fatalf("names %v", names)
	}
	if progs[0].Pid != 101 || progs[0].State != "RUNNING" || !progs[0].Critical || progs[0].Since.IsZero() {
		t.Errorf("web:0: %+v", progs[0])
	}
	// Flags may follow the verb.
	out, _ = e.mustCtl(0, "status", "db", "--json")
	if !strings.Contains(out, `"name": "db"`) {
		t.Errorf("status db --json: %s", out)
	}
	_, errOut := e.mustCtl(1, "status", "nope")
	if !strings.Contains(errOut, "no program matches nope\nprograms: web:0, web:1, db, migrate, stuck, crashy\n") {
		t.Errorf("status nope: stderr %q", errOut)
	}
	// Only the first 20 names.
	e.mustCtl(0, "scale", "web", "30")
	if _, errOut := e.mustCtl(1, "status", "nope"); !strings.Contains(errOut, "programs: web:0, web:1, web:2,") ||
		!strings.Contains(errOut, ", web:19 …and 14 more\n") {
		t.Errorf("status nope, 36 programs: stderr %q", errOut)
	}
}

// TestCtlStatusNoNextRun: without a scheduled program, no NEXT RUN.
func TestCtlStatusNoNextRun(t *testing.T) {
	e := newEnv(t)
	out, _ := e.mustCtl(0, "status", "web:*")
	if head, _, _ := strings.Cut(out, "\n"); strings.Contains(head, "NEXT") {
		t.Errorf("header %q", head)
	}
}

func TestCtlLogs(t *testing.T) {
	e := newEnv(t)
	out, errOut := e.mustCtl(0, "logs", "web:0")
	if out != "web0 line 1\nweb0 line 2\nweb0 line 3\n" || errOut != "" {
		t.Errorf("logs web:0: %q, %q", out, errOut)
	}
	out, _ = e.mustCtl(0, "logs", "-n", "1", "web:0")
	if out != "web0 line 3\n" {
		t.Errorf("logs -n 1 web:0: %q", out)
	}
	// Several programs: each line behind its program; stderr to stderr.
	out, errOut = e.mustCtl(0, "logs", "web:0", "db")
	if out != "web:0 | web0 line 1\nweb:0 | web0 line 2\nweb:0 | web0 line 3\n" || errOut != "db | db oops\n" {
		t.Errorf("logs web:0 db: %q, %q", out, errOut)
	}
	out, _ = e.mustCtl(0, "--json", "logs", "-n", "2", "web:0", "db")
	var got []api.LogLine
	for l := range strings.Lines(out) {
		var ll api.LogLine
		if err := json.Unmarshal([]byte(l), &ll); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		got = append(got, ll)
	}
	if len(got) != 2 || got[0].Program != "web:0" || got[0].Line != "web0 line 3" || got[1].Program != "db" ||
		got[1].Stream != "stderr" || got[1].Time.Before(got[0].Time) {
		t.Errorf("--json logs -n 2: %+v", got)
	}
	if req, _ := e.loop.Last(api.VerbLogs); req.Lines != 2 || req.Follow {
		t.Errorf("request %+v", req)
	}
	_, errOut = e.mustCtl(1, "logs", "stuck")
	if !strings.Contains(errOut, "stuck's output is inherited") {
		t.Errorf("logs stuck: %q", errOut)
	}
	_, errOut = e.mustCtl(1, "logs", "nope")
	if !strings.Contains(errOut, "no program matches nope\nprograms: web:0,") {
		t.Errorf("logs nope: %q", errOut)
	}
	e.mustCtl(2, "logs", "-n", "-3", "web:0")
	e.mustCtl(2, "status", "-f")
}

// TestCtlLogsFollow: -f prints the last lines, then each new one as it
// comes, until interrupted (exit 0).
func TestCtlLogsFollow(t *testing.T) {
	e := newEnv(t)
	r, w := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	code := make(chan int, 1)
	go func() {
		code <- runMain(ctx, []string{"--socket", e.sock, "logs", "-f", "-n", "1", "web:0"}, func(string) string { return "" }, w, io.Discard)
		w.Close()
	}()
	lines := bufio.NewScanner(r)
	next := func() string {
		if !lines.Scan() {
			t.Fatalf("no line: %v", lines.Err())
		}
		return lines.Text()
	}
	if l := next(); l != "web0 line 3" {
		t.Fatalf("first line %q", l)
	}
	e.loop.Output <- "web:0 new one"
	e.loop.Output <- "web:1 not followed"
	e.loop.Output <- "web:0 new two"
	if l := next(); l != "new one" {
		t.Fatalf("followed %q", l)
	}
	if l := next(); l != "new two" {
		t.Fatalf("followed %q", l)
	}
	cancel()
	go io.Copy(io.Discard, r)
	if c := <-code; c != 0 {
		t.Errorf("exit %d after an interrupt", c)
	}
}

func TestCtlScale(t *testing.T) {
	e := newEnv(t)
	out, _ := e.mustCtl(0, "scale", "web", "3")
	if !regexp.MustCompile(`^web:0 +RUNNING\nweb:1 +RUNNING\nweb:2 +STARTING\n$`).MatchString(out) {
		t.Errorf("scale web 3: %q", out)
	}
	if req, _ := e.loop.Last(api.VerbScale); !slices.Equal(req.Names, []string{"web"}) || req.Instances != 3 {
		t.Errorf("request %+v", req)
	}
	out, _ = e.mustCtl(0, "scale", "web", "1")
	if !regexp.MustCompile(`^web:0 +RUNNING\nweb:1 +STOPPING\nweb:2 +STOPPING\n$`).MatchString(out) {
		t.Errorf("scale web 1: %q", out)
	}
	_, errOut := e.mustCtl(1, "scale", "db", "2")
	if !strings.Contains(errOut, "no program matches db") {
		t.Errorf("scale db 2: %q", errOut)
	}
	e.mustCtl(2, "scale", "web")
	e.mustCtl(2, "scale", "web", "0")
	e.mustCtl(2, "scale", "web", "two")
}

func TestCtlActions(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		args   []string
		code   int
		out    string   // in stdout
		errOut string   // in stderr
		verb   api.Verb // what the loop saw
		names  []string
		signal string
	}{
		{args: []string{"start", "stuck"}, out: "stuck  STARTING", verb: "start", names: []string{"stuck"}},
		{args: []string{"stop", "db"}, out: "db  STOPPING", verb: "stop", names: []string{"db"}},
		{args: []string{"restart", "web:*"}, out: "web:1  STOPPING", verb: "restart", names: []string{"web:*"}},
		{args: []string{"signal", "HUP", "web:0", "db"}, out: "web:0", verb: "signal", names: []string{"web:0", "db"}, signal: "HUP"},
		{args: []string{"signal", "BOGUS", "web:0"}, code: 1, errOut: "tend ctl: signal: bad signal BOGUS", verb: "signal", names: []string{"web:0"}, signal: "BOGUS"},
		{args: []string{"stop", "nope"}, code: 1, errOut: "no program matches nope", verb: "stop", names: []string{"nope"}},
		{args: []string{"reload"}, out: "reloaded", verb: "reload"},
		{args: []string{"shutdown"}, out: "tend is shutting down", verb: "shutdown"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errOut := e.ctl(tc.args...)
			if code != tc.code || !strings.Contains(out, tc.out) || !strings.Contains(errOut, tc.errOut) {
				t.Fatalf("exit %d, want %d\nstdout (want %q):\n%s\nstderr (want %q):\n%s", code, tc.code, tc.out, out, tc.errOut, errOut)
			}
			req, ok := e.loop.Last(tc.verb)
			if !ok || !slices.Equal(req.Names, tc.names) || req.Signal != tc.signal {
				t.Fatalf("loop saw %+v, want verb %s names %v signal %q", req, tc.verb, tc.names, tc.signal)
			}
		})
	}
}

func TestCtlPauseResume(t *testing.T) {
	e := newEnv(t)
	out, _ := e.mustCtl(0, "pause", "db")
	if !strings.Contains(out, "db  PAUSED") {
		t.Errorf("pause: %q", out)
	}
	if s := e.statusOf("db"); s.State != api.Paused {
		t.Errorf("after pause: %+v", s)
	}
	out, _ = e.mustCtl(0, "resume", "db")
	if !strings.Contains(out, "db  RUNNING") {
		t.Errorf("resume: %q", out)
	}
}

func TestCtlHealth(t *testing.T) {
	e := newEnv(t)
	out, _ := e.mustCtl(0, "health")
	if out != "healthy\n" {
		t.Errorf("healthy: stdout %q", out)
	}
	e.mustCtl(0, "stop", "--wait", "web:0")
	out, _ = e.mustCtl(1, "health")
	if out != "unhealthy: web:0 is STOPPED\n" {
		t.Errorf("unhealthy: stdout %q", out)
	}
	out, _ = e.mustCtl(1, "health", "--json")
	var h struct {
		Healthy *bool
		Reason  string
	}
	if err := json.Unmarshal([]byte(out), &h); err != nil || h.Healthy == nil || *h.Healthy || h.Reason != "web:0 is STOPPED" {
		t.Errorf("health --json: %q (%v)", out, err)
	}
}

func TestCtlUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"bogus"},
		{"start"},
		{"pause"},
		{"signal", "HUP"},
		{"signal", "H U P", "web"},
		{"status", "web:["},
		{"status", ""},
		{"--wait", "status"},
		{"pause", "--wait", "db"},
		{"--timeout", "0", "status"},
		{"--timeout", "soon", "status"},
		{"reload", "web"},
		{"health", "x"},
		{"--bogus", "status"},
	} {
		var out, errOut bytes.Buffer
		if code := Main(append([]string{"--socket", "/nonexistent"}, args...), &out, &errOut); code != 2 {
			t.Errorf("tend ctl %q: exit %d, want 2; stderr %s", args, code, errOut.String())
		}
		if !strings.Contains(errOut.String(), "usage: tend ctl") {
			t.Errorf("tend ctl %q: no usage on stderr: %q", args, errOut.String())
		}
	}
	for _, h := range []string{"-h", "--help"} {
		var out, errOut bytes.Buffer
		if code := Main([]string{h}, &out, &errOut); code != 0 || !strings.HasPrefix(out.String(), "usage: tend ctl") || errOut.Len() != 0 {
			t.Errorf("tend ctl %s: exit %d, stdout %q, stderr %q", h, code, out.String(), errOut.String())
		}
	}
	// "--" ends the flags: a name may then start with a dash.
	a, err := parse([]string{"stop", "--", "--odd"}, func(string) string { return "" })
	if err != nil || a.verb != "stop" || !slices.Equal(a.args, []string{"--odd"}) || a.socket != api.DefaultSocket {
		t.Errorf("parse stop -- --odd: %+v %v", a, err)
	}
	a, err = parse([]string{"status"}, func(k string) string { return map[string]string{"TEND_SOCKET": "/x.sock"}[k] })
	if err != nil || a.socket != "/x.sock" {
		t.Errorf("TEND_SOCKET: %+v %v", a, err)
	}
}

func TestCtlWaitReached(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		args []string
		out  []string
	}{
		{[]string{"stop", "--wait", "db"}, []string{"db  STOPPED"}},
		{[]string{"start", "--wait", "db"}, []string{"db  RUNNING"}},
		{[]string{"restart", "--wait", "web:*"}, []string{"web:0  RUNNING", "web:1  RUNNING"}},
		{[]string{"--wait", "start", "migrate"}, []string{"migrate  RUNNING"}}, // or COMPLETED: both are reached
		{[]string{"start", "--wait", "db"}, []string{"db  RUNNING"}},           // already there
	} {
		out, _ := e.mustCtl(0, tc.args...)
		for _, w := range tc.out {
			if !strings.Contains(out, w) {
				t.Errorf("%q: stdout %q, want %q", tc.args, out, w)
			}
		}
	}
	// --json after --wait prints the programs as they are now.
	out, _ := e.mustCtl(0, "--json", "--wait", "stop", "web:0")
	var progs []api.Status
	if err := json.Unmarshal([]byte(out), &progs); err != nil || len(progs) != 1 || progs[0].State != "STOPPED" {
		t.Errorf("--json --wait: %s (%v)", out, err)
	}
}

func TestCtlWaitFails(t *testing.T) {
	e := newEnv(t)
	start := time.Now()
	_, errOut := e.mustCtl(1, "start", "--wait", "--timeout", "300ms", "stuck")
	if !strings.Contains(errOut, "timed out after 300ms: stuck is STARTING, want RUNNING") {
		t.Errorf("stderr %q", errOut)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	// A program that goes FATAL fails the wait at once, not at the timeout.
	start = time.Now()
	_, errOut = e.mustCtl(1, "start", "--wait", "--timeout", "20s", "crashy")
	if !strings.Contains(errOut, "tend ctl: start: failed: crashy is FATAL") {
		t.Errorf("stderr %q", errOut)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("crashy took %v", d)
	}
}

func TestCtlUnreachable(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.sock")
	// A socket file nobody listens on: connection refused.
	stale := filepath.Join(dir, "stale.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	for _, args := range [][]string{
		{"--socket", missing, "status"},
		{"--socket", missing, "health"},
		{"--socket", missing, "events"},
		{"--socket", missing, "start", "--wait", "web"},
		{"--socket", stale, "stop", "web"},
	} {
		var out, errOut bytes.Buffer
		if code := Main(args, &out, &errOut); code != 3 || !strings.Contains(errOut.String(), "cannot reach tend at ") {
			t.Errorf("tend ctl %q: exit %d, want 3; stderr %q", args, code, errOut.String())
		}
	}
	t.Setenv("TEND_SOCKET", missing)
	var out, errOut bytes.Buffer
	if code := Main([]string{"status"}, &out, &errOut); code != 3 || !strings.Contains(errOut.String(), missing) {
		t.Errorf("TEND_SOCKET: exit %d, stderr %q", code, errOut.String())
	}
}

// TestUsageColumns: the CPU and MEM columns' formats.
func TestUsageColumns(t *testing.T) {
	for _, c := range []struct {
		cpu  float64
		want string
	}{{0, "0.00s"}, {0.421, "0.42s"}, {12.34, "12.3s"}, {187, "3m07s"}, {5*3600 + 120, "5h02m"}} {
		if got := cpuTime(c.cpu); got != c.want {
			t.Errorf("cpuTime(%v) = %q, want %q", c.cpu, got, c.want)
		}
	}
	for _, c := range []struct {
		n    uint64
		want string
	}{{0, "0B"}, {1023, "1023B"}, {512 << 10, "512K"}, {3 << 20, "3.0M"}, {48<<20 + 200<<10, "48M"}, {3 << 29, "1.5G"}, {1 << 62, "4.0E"}} {
		if got := bytesIEC(c.n); got != c.want {
			t.Errorf("bytesIEC(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}

// TestStatusText: a program's STATUS= text is the table's last column,
// there only when some program has one.
func TestStatusText(t *testing.T) {
	var b bytes.Buffer
	now := time.Now()
	printStatus(&b, []api.Status{
		{Name: "db", State: api.Running, Pid: 7, Since: now, Ready: true, StatusText: "3 clients connected"},
		{Name: "web", State: api.Starting, Pid: 8, Since: now},
	}, now)
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	want := []*regexp.Regexp{
		regexp.MustCompile(`^NAME +STATE +IN STATE +PID +UPTIME +HEALTH +READY +EXIT +CPU +MEM +STATUS$`),
		regexp.MustCompile(`^db +RUNNING +0s +7 +- +- +yes +- +- +- +3 clients connected$`),
		regexp.MustCompile(`^web +STARTING +0s +8 +- +- +no +- +- +- +$`),
	}
	for i, re := range want {
		if i >= len(lines) || !re.MatchString(lines[i]) {
			t.Errorf("line %d: %q does not match %s", i, lines[min(i, len(lines)-1)], re)
		}
	}
}
