package e2e

// `tend ctl logs` and `stdout = "json"`, `tend ctl scale`, and what
// `tend ctl status` shows of them, against the real tend as PID 1.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"tend/api"
)

// TestCtlLogs: tend keeps each program's last lines, stdout's and
// stderr's, across its restarts, for prefix, json and file outputs, and
// nothing of an inherited one; `tend ctl logs` prints the last N, and
// with -f follows; `stdout = "json"` writes JSON lines on tend's stdout.
func TestCtlLogs(t *testing.T) {
	t.Parallel()
	cfg, dir, sock := ctlConfig(t, `
[programs.talk]
command = "for i in $(seq 1 150); do echo out $i; done; exec sleep 600"
stdout = "prefix"
startsecs = 0

[programs.echoer]
command = [{self}, "sv-prog", "-name", "echoer", "-term", "exit:0"]
stdout = "prefix"
stderr = "prefix"
startsecs = 0
stopwaitsecs = 5

[programs.js]
command = ['sh', '-c', 'printf "say \"hi\"\n\377bad\n"; echo oops >&2; exec sleep 600']
stdout = "json"
stderr = "json"
startsecs = 0

[programs.filed]
command = "echo to the file; exec sleep 600"
stdout = "{dir}/filed.log"
startsecs = 0

[programs.quiet]
command = ["sleep", "600"]
`, false)
	s := startCtl(t, cfg)
	s.expectEach("talk | out 150", "echoer | echoer ready")
	jsonLines := map[string]api.LogLine{}
	s.out.waitFrom(0, "3 JSON lines of js", func(e event) bool {
		if strings.HasPrefix(e.line, `{"time":`) {
			var l api.LogLine
			if err := json.Unmarshal([]byte(e.line), &l); err != nil || l.Program != "js" || time.Since(l.Time) > time.Minute {
				t.Errorf("tend's stdout: %q: %v", e.line, err)
			}
			jsonLines[l.Stream+" "+l.Line] = l
		}
		return len(jsonLines) == 3
	})
	for _, want := range []string{`stdout say "hi"`, "stdout \uFFFDbad", "stderr oops"} {
		if _, ok := jsonLines[want]; !ok {
			t.Errorf("no JSON line %q on tend's stdout: %v", want, jsonLines)
		}
	}
	s.tl.waitState("filed", "RUNNING")
	waitLine(t, dir+"/filed.log", "to the file")

	numbered := func(from, to int) string {
		var b strings.Builder
		for i := from; i <= to; i++ {
			fmt.Fprintf(&b, "out %d\n", i)
		}
		return b.String()
	}
	if o := ctl(t, sock, "logs", "talk").must(t, 0); o.stdout != numbered(51, 150) || o.stderr != "" {
		t.Errorf("logs talk: the last 100 lines, as written: %v", o)
	}
	if o := ctl(t, sock, "logs", "-n", "3", "talk").must(t, 0); o.stdout != numbered(148, 150) {
		t.Errorf("logs -n 3 talk: %v", o)
	}
	if o := ctl(t, sock, "logs", "talk", "--lines", "1000").must(t, 0); o.stdout != numbered(1, 150) {
		t.Errorf("logs talk --lines 1000: %v", o)
	}
	o := ctl(t, sock, "--json", "logs", "-n", "2", "talk").must(t, 0)
	var got []api.LogLine
	for l := range strings.Lines(o.stdout) {
		var ll api.LogLine
		if err := json.Unmarshal([]byte(l), &ll); err != nil {
			t.Fatalf("--json logs: %q: %v", l, err)
		}
		got = append(got, ll)
	}
	if len(got) != 2 || got[1].Program != "talk" || got[1].Stream != "stdout" || got[1].Line != "out 150" {
		t.Errorf("--json logs -n 2 talk: %+v", got)
	}
	if o := ctl(t, sock, "logs", "js").must(t, 0); o.stdout != "say \"hi\"\n\uFFFDbad\n" || o.stderr != "oops\n" {
		t.Errorf("logs js: stdout lines to stdout, stderr's to stderr: %v", o)
	}
	if o := ctl(t, sock, "logs", "filed").must(t, 0); o.stdout != "to the file\n" {
		t.Errorf("logs filed: %v", o)
	}
	// Two programs: -n counts lines of both, each line behind its name.
	if o := ctl(t, sock, "logs", "-n", "1000", "talk", "filed").must(t, 0); strings.Count(o.stdout, "\n") != 151 ||
		!strings.Contains(o.stdout, "talk | out 1\n") || !strings.Contains(o.stdout, "talk | out 150\n") ||
		!strings.Contains(o.stdout, "filed | to the file\n") {
		t.Errorf("logs of two programs: %v", o)
	}
	if o := ctl(t, sock, "logs", "-n", "1", "talk", "filed").must(t, 0); strings.Count(o.stdout, "\n") != 1 {
		t.Errorf("logs -n 1 of two programs: %v", o)
	}
	if o := ctl(t, sock, "logs", "quiet").must(t, 1); !strings.Contains(o.stderr, "quiet's output is inherited") {
		t.Errorf("logs quiet: %v", o)
	}
	if o := ctl(t, sock, "logs", "nope").must(t, 1); !strings.Contains(o.stderr, "no program matches \"nope\"\nprograms: echoer, filed, js, quiet, talk\n") {
		t.Errorf("logs nope: %v", o)
	}

	// -f: the last line, then each new one as it comes, until
	// interrupted.
	f := exec.Command(tendBin, "ctl", "--socket", sock, "logs", "-f", "-n", "1", "echoer")
	f.Env = append(os.Environ(), noExitSleep)
	out, err := f.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Process.Kill(); f.Wait() })
	followed := newWatcher(t, "tend ctl logs -f")
	go func() { defer followed.end(); followed.follow(out) }()
	followed.next("the last line", func(e event) bool { return e.line == "echoer ready" })
	ctl(t, sock, "signal", "USR1", "echoer").must(t, 0)
	followed.next("a new line", func(e event) bool { return e.line == "echoer got USR1" })
	// A restart: the follower sees the old run's end and the new one's
	// start, and the ring keeps both.
	ctl(t, sock, "restart", "--wait", "echoer").must(t, 0)
	followed.next("the old run's last line", func(e event) bool { return e.line == "echoer got TERM" })
	followed.next("the new run's first line", func(e event) bool { return e.line == "echoer ready" })
	if err := f.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := f.Wait(); err != nil {
		t.Errorf("tend ctl logs -f after SIGINT: %v, want exit 0", err)
	}
	if o := ctl(t, sock, "logs", "echoer").must(t, 0); o.stdout != "echoer ready\nechoer got USR1\nechoer got TERM\nechoer ready\n" {
		t.Errorf("logs echoer after a restart: %v", o)
	}

	s.signal(syscall.SIGTERM)
	s.finish()
}

// waitLine waits until the file at path holds line.
func waitLine(t *testing.T, path, line string) {
	t.Helper()
	end := time.Now().Add(deadline)
	for {
		b, _ := os.ReadFile(path)
		if slices.Contains(strings.Split(string(b), "\n"), line) {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("%s: no line %q within %v: %q", path, line, deadline, b)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestCtlScale: scale starts new instances, numbered, each with its own
// TEND_INSTANCE, stops the surplus highest first, and a reload gives the
// program back its instances from the file. Status shows the new set,
// each program's time in its state apart from its process's uptime, and
// the next run of a scheduled one.
func TestCtlScale(t *testing.T) {
	t.Parallel()
	cfg, _, sock := ctlConfig(t, `
[programs.worker]
command = 'echo "instance=$TEND_INSTANCE"; exec sleep 600'
stdout = "prefix"
startsecs = 0

[programs.tick]
type = "oneshot"
command = ["true"]
every = "1h"
`, false)
	s := startCtl(t, cfg)
	s.expect("worker | instance=")
	ev := watchEvents(t, sock, "worker*")

	o := ctl(t, sock, "scale", "worker", "3").must(t, 0)
	if !regexpMatch(`^worker +RUNNING\nworker:1 +RUNNING\nworker:2 +RUNNING\n$`, o.stdout) {
		t.Errorf("scale worker 3: %v", o)
	}
	s.expectEach("worker:1 | instance=1", "worker:2 | instance=2")
	rows := statusTable(t, ctl(t, sock, "status").must(t, 0).stdout)
	for _, name := range []string{"worker", "worker:1", "worker:2"} {
		if r := rows[name]; r == nil || r[1] != "RUNNING" || atoiDefault(r[3], 0) <= 0 {
			t.Errorf("status after scale up: %s is %q", name, r)
		}
	}
	// NEXT RUN: tick runs next in an hour.
	if r := rows["tick"]; r == nil || (r[10] != "1h00m" && !strings.HasPrefix(r[10], "59m")) {
		t.Errorf("tick's row %q: want its next run in an hour", r)
	}
	if r := rows["worker"]; r == nil || r[10] != "-" {
		t.Errorf("worker's row %q: no next run", r)
	}

	// Down to one: worker:2, then worker:1, get their stop signal; they
	// are gone once down.
	ctl(t, sock, "scale", "worker", "1").must(t, 0)
	first, second := ev.state("worker:2", "STOPPING"), ev.state("worker:1", "STOPPING")
	if first.i > second.i {
		t.Errorf("worker:1 stopped before worker:2: %v, %v", second, first)
	}
	down := map[string]bool{}
	ev.next("worker:1 and worker:2 STOPPED", func(e event) bool {
		if e.State == "STOPPED" && e.Health == "" {
			down[e.Program] = true
		}
		return down["worker:1"] && down["worker:2"]
	})
	if rows := statusTable(t, ctl(t, sock, "status").must(t, 0).stdout); len(rows) != 2 || rows["worker"] == nil {
		t.Errorf("status after scale down: %v, want worker and tick", rows)
	}
	if o := ctl(t, sock, "status", "worker:1").must(t, 1); !strings.HasSuffix(o.stderr, "\nprograms: tick, worker\n") {
		t.Errorf("status of a program scaled away: %v, want the names there are", o)
	}

	// A reload gives back the file's one instance.
	ctl(t, sock, "scale", "worker", "2").must(t, 0)
	ev.state("worker:1", "RUNNING")
	ctl(t, sock, "reload").must(t, 0)
	ev.state("worker:1", "STOPPED")
	if rows := statusTable(t, ctl(t, sock, "status", "worker").must(t, 0).stdout); len(rows) != 1 {
		t.Errorf("status after reload: %v, want worker alone", rows)
	}
	for _, c := range [][]string{{"scale", "worker:0", "2"}, {"scale", "nope", "2"}} {
		ctl(t, sock, c...).must(t, 1)
	}
	ctl(t, sock, "scale", "worker", "0").must(t, 2)

	// A pause and a resume: the time in the state starts again, the
	// process's uptime goes on.
	ctl(t, sock, "pause", "worker").must(t, 0)
	ctl(t, sock, "resume", "worker").must(t, 0)
	w := ctlStatus(t, sock, "worker")
	if w.Started.IsZero() || !w.Started.Before(w.Since) {
		t.Errorf("after pause and resume: started %v, since %v: want it started before its state began", w.Started, w.Since)
	}

	s.signal(syscall.SIGTERM)
	s.finish()
}

func regexpMatch(re, s string) bool {
	ok, err := regexp.MatchString(re, s)
	return ok && err == nil
}
