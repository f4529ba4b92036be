package e2e

// Init mode's --drain and --rewrite, and one stop signal per process:
// the leftover sweep passes over processes that already had the stop
// signal tend forwarded (or a program's stopsignal), in init and in
// supervisor mode.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
)

func init() {
	moreHelpers["term-parent"] = termParent
	moreHelpers["term-count"] = termCount
}

// termParent is a shell that dies of TERM while its child, in its
// process group, is still saving: it starts term-count with the same
// stdout, waits until the child's handler is in place (a line on fd 3),
// says "ready", and exits 0 on TERM.
func termParent([]string) int {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM)
	r, w, err := os.Pipe()
	if err != nil {
		return 1
	}
	child := exec.Command(os.Args[0], "term-count")
	child.Stdout, child.Stderr, child.ExtraFiles = os.Stdout, os.Stderr, []*os.File{w}
	if err := child.Start(); err != nil {
		return 1
	}
	w.Close()
	if line, err := bufio.NewReader(r).ReadString('\n'); err != nil || line != "armed\n" {
		fmt.Fprintln(os.Stderr, "term-count:", line, err)
		return 1
	}
	fmt.Println("ready")
	<-c
	return 0
}

// termCount counts the SIGTERMs it gets. On the first it "saves" for a
// second, then prints "terms=N" and exits 0.
func termCount([]string) int {
	c := make(chan os.Signal, 8)
	signal.Notify(c, syscall.SIGTERM)
	armed := os.NewFile(3, "armed")
	fmt.Fprintln(armed, "armed")
	armed.Close()
	<-c
	n := 1
	save := time.After(time.Second) // the work being protected, not a wait for a condition
	for {
		select {
		case <-c:
			n++
		case <-save:
			fmt.Printf("terms=%d\n", n)
			return 0
		}
	}
}

// TestOneTermPerProcess: the grandchild got the TERM tend forwarded to
// the group; when its parent has exited, the leftover sweep does not
// send it another. As PID 1 and as a subreaper on the host.
func TestOneTermPerProcess(t *testing.T) {
	t.Parallel()
	for _, host := range []bool{false, true} {
		r := startWith(t, options{hostMode: host}, nil, helper("term-parent")...)
		r.expect("ready")
		r.signal(syscall.SIGTERM)
		line := r.expect("terms=")
		if code := r.wait(); code != 0 {
			t.Errorf("host %v: tend exited %d, want 0", host, code)
		}
		if line != "terms=1" {
			t.Errorf("host %v: the grandchild says %s, want terms=1", host, line)
		}
	}
}

// TestOneTermPerProcessSupervisor: the same in supervisor mode: the
// program's stopsignal reached its whole group, and the sweep after
// the program's exit passes its grandchild over.
func TestOneTermPerProcessSupervisor(t *testing.T) {
	t.Parallel()
	cfg, _ := svConfig(t, `
[programs.p]
command = [{self}, "term-parent"]
startsecs = 0
stdout = "inherit"
`)
	s := startSv(t, cfg, svOptions{})
	s.expect("ready")
	s.signal(syscall.SIGTERM)
	line := s.expect("terms=")
	if code := s.finish(); code != 0 {
		t.Errorf("tend exited %d, want 0", code)
	}
	if line != "terms=1" {
		t.Errorf("the grandchild says %s, want terms=1", line)
	}
}

// TestDrain: with --drain, a TERM reaches the program only after the
// drain; a second TERM is forwarded at once.
func TestDrain(t *testing.T) {
	t.Parallel()
	const drain = 700 * time.Millisecond
	r := start(t, []string{"--drain", drain.String()}, helper("sigrecv")...)
	r.expect("ready")
	sent := time.Now()
	r.signal(syscall.SIGUSR1)
	r.expect(fmt.Sprintf("got %d", syscall.SIGUSR1)) // not held
	r.signal(syscall.SIGTERM)
	r.expect(fmt.Sprintf("got %d", syscall.SIGTERM))
	// A lower bound is a fact: tend may not forward before the drain.
	if took := time.Since(sent); took < drain {
		t.Errorf("TERM forwarded after %v, within the %v drain", took, drain)
	}
	r.signal(syscall.Signal(64))
	r.wait()

	r = start(t, []string{"-v", "--drain", "1h"}, helper("sigrecv")...)
	r.expect("ready")
	r.signal(syscall.SIGTERM)
	// The second TERM must not merge with the first, still pending.
	r.log.next("the drain's start", func(e event) bool { return strings.Contains(e.line, "draining") })
	r.signal(syscall.SIGTERM) // cuts the drain short
	r.expect(fmt.Sprintf("got %d", syscall.SIGTERM))
	r.signal(syscall.Signal(64))
	r.wait()
	if !strings.Contains(r.log.String(), "drain is cut short") {
		t.Errorf("no log line for the cut drain")
	}
}

// TestRewrite: --rewrite TERM:QUIT gives the program QUIT for TERM, as
// nginx wants for a graceful stop; other signals pass as they are.
func TestRewrite(t *testing.T) {
	t.Parallel()
	r := start(t, []string{"--rewrite", "TERM:QUIT", "--rewrite", "USR2:64"}, helper("sigrecv")...)
	r.expect("ready")
	r.signal(syscall.SIGTERM)
	r.expect(fmt.Sprintf("got %d", syscall.SIGQUIT))
	r.signal(syscall.SIGUSR1)
	r.expect(fmt.Sprintf("got %d", syscall.SIGUSR1))
	r.signal(syscall.SIGUSR2) // rewritten to 64: the helper's last word
	r.expect("got 64")
	if code := r.wait(); code != 0 {
		t.Errorf("tend exited %d", code)
	}
	for _, l := range r.output() {
		if l == fmt.Sprintf("got %d", syscall.SIGTERM) || l == fmt.Sprintf("got %d", syscall.SIGUSR2) {
			t.Errorf("the program got the signal before rewriting: %s", l)
		}
	}
}

// TestDrainSupervisor: with [tend] drain, a TERM turns /readyz and `ctl
// health` to "draining" while the programs still run and answer; they
// stop only once the drain is over.
func TestDrainSupervisor(t *testing.T) {
	t.Parallel()
	const drain = 1500 * time.Millisecond
	cfg, _, sock := ctlConfig(t, `metrics = "127.0.0.1:0"
drain = "1.5s"

[programs.db]
command = ["sleep", "600"]
startsecs = 0
critical = true
`, false)
	s := startCtl(t, cfg)
	var listening struct {
		Metrics string `json:"metrics"`
	}
	if ev := s.tl.waitMessage("", "metrics listening"); json.Unmarshal([]byte(ev.line), &listening) != nil || listening.Metrics == "" {
		t.Fatalf("no address in %v", ev)
	}
	base := "http://" + listening.Metrics
	s.tl.waitState("db", "RUNNING")
	if code, _ := httpDo(t, "GET", base+"/readyz"); code != 200 {
		t.Fatalf("GET /readyz before the drain: %d", code)
	}
	sent := time.Now()
	s.signal(syscall.SIGTERM)
	s.tl.waitMessage("", "draining")
	if code, body := httpDo(t, "GET", base+"/readyz"); code != 503 || body != "draining\n" {
		t.Errorf("GET /readyz during the drain: %d %q, want 503 draining", code, body)
	}
	if o := ctl(t, sock, "health"); o.code != 1 || !strings.Contains(o.stdout+o.stderr, "draining") {
		t.Errorf("ctl health during the drain: %+v, want exit 1 saying draining", o)
	}
	if code, body := httpDo(t, "GET", base+"/healthz"); code != 200 {
		t.Errorf("GET /healthz during the drain: %d %q, want 200: tend is alive", code, body)
	}
	stopping := s.tl.waitState("db", "STOPPING")
	if code := s.finish(); code != 0 {
		t.Errorf("tend exited %d", code)
	}
	if d := stopping.at.Sub(sent); d < drain {
		t.Errorf("db stopped %v after TERM, within the %v drain", d, drain)
	}
}
