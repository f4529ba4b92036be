package e2e

// The program as a unit (SPEC "Program states": "The whole program is one
// unit"), with real processes: a master that dies alone leaves a worker
// holding its TCP port, as nginx's workers hold port 80 after a kill -9
// of their master. tend must stop the worker before the next run, which
// then binds the port.

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
)

func init() {
	moreHelpers["port-master"] = portMaster
	moreHelpers["port-worker"] = portWorker
}

// portMaster ADDR FLAG TERM listens on ADDR (exit 1 if it cannot, as
// nginx does) and starts one port-worker in its process group, which
// inherits the listening socket. Then it prints "master ready", and if
// FLAG does not exist yet, creates it and SIGKILLs itself a little
// later: a master that dies alone, once. TERM is the worker's -term.
func portMaster(args []string) int {
	addr, flagFile, term := args[0], args[1], args[2]
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Println("master bind failed:", err)
		return 1
	}
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		fmt.Println("master:", err)
		return 2
	}
	ready, w, err := os.Pipe()
	if err != nil {
		return 2
	}
	// The worker stays in the master's process group: no Setpgid.
	p, err := os.StartProcess(os.Args[0], []string{os.Args[0], "port-worker", term},
		&os.ProcAttr{Files: []*os.File{nil, os.Stdout, os.Stderr, f, w}})
	if err != nil {
		fmt.Println("master:", err)
		return 2
	}
	w.Close()
	buf := make([]byte, 1)
	ready.Read(buf) // the worker's handlers are in place
	fmt.Println("master ready", os.Getpid(), "worker", p.Pid)
	if _, err := os.Stat(flagFile); err != nil {
		os.WriteFile(flagFile, nil, 0o644)
		time.Sleep(700 * time.Millisecond) // past startsecs: a run that was up
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
	}
	select {}
}

// portWorker TERM holds the listening socket on fd 3 and signals fd 4
// once its signal handling is set: with TERM "exit" it prints "worker
// PID got TERM" and exits 0; with "ignore" it ignores TERM.
func portWorker(args []string) int {
	c := make(chan os.Signal, 1)
	if args[0] == "ignore" {
		signal.Ignore(syscall.SIGTERM)
	} else {
		signal.Notify(c, syscall.SIGTERM)
	}
	os.NewFile(4, "ready").Close()
	<-c
	fmt.Println("worker", os.Getpid(), "got TERM")
	return 0
}

// freePort is a TCP port on 127.0.0.1 nothing listens on (as of now).
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestProgramUnitPort: the master dies alone (SIGKILL, after it was
// up); its worker, which still holds the port, gets stopsignal
// (ignoring it: SIGKILL after stopwaitsecs); only then is the program
// restarted, at once (its first crash), and the new master binds the
// port. As PID 1 and as a subreaper on the host.
func TestProgramUnitPort(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		host bool
		term string
	}{{"pid1", false, "exit"}, {"host", true, "exit"}, {"pid1/ignore", false, "ignore"}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			addr := freePort(t)
			cfg, dir := svConfig(t, fmt.Sprintf(`
[programs.web]
command = [{self}, "port-master", %q, "{dir}/killed", %q]
startsecs = 0.3
stopwaitsecs = 0.5
`, addr, c.term))
			s := startSv(t, cfg, svOptions{host: c.host})
			s.expect("master ready")
			second := s.expect("master ")
			if !strings.HasPrefix(second, "master ready") {
				t.Fatalf("the next run: %q, want it to bind %s", second, addr)
			}
			if _, err := os.Stat(dir + "/killed"); err != nil {
				t.Fatal("the first master did not kill itself")
			}
			s.tl.waitAfter(s.tl.waitState("web", "RUNNING"), "web", "RUNNING")
			s.signal(syscall.SIGTERM)
			// The second worker stops on TERM, and killing the first one
			// (what a crash left) is not a stop that needed SIGKILL; one
			// that ignores TERM needs SIGKILL at the shutdown too.
			wantCode := 0
			if c.term == "ignore" {
				wantCode = 1
			}
			if code := s.finish(); code != wantCode {
				t.Errorf("tend exited %d, want %d", code, wantCode)
			}

			got := stateNames(s.tl.states("web"))
			want := []string{"STARTING", "RUNNING", "STOPPING", "EXITED", "STARTING", "RUNNING", "STOPPING", "STOPPED"}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Fatalf("web went through %v, want %v", got, want)
			}
			evs := s.tl.states("web")
			drain, exited, restart := evs[2], evs[3], evs[4]
			if drain.From != "RUNNING" || drain.Signal != "KILL" || drain.code() != 137 || drain.Pid == 0 ||
				!strings.Contains(drain.Reason, "killed by signal KILL; 1 process left in its process group: TERM to the group") {
				t.Errorf("the drain: %v", drain)
			}
			if exited.From != "STOPPING" || exited.code() != 137 || !strings.Contains(exited.Reason, "autorestart=on-failure") {
				t.Errorf("after the drain: %v", exited)
			}
			// The restart is the first crash's: at once after the drain.
			if gap := restart.at.Sub(exited.at); gap > 500*time.Millisecond {
				t.Errorf("restart %v after the group was gone, want at once", gap)
			}
			waited := exited.at.Sub(drain.at)
			if c.term == "ignore" {
				s.tl.waitMessage("web", "did not stop in time")
				if waited < 450*time.Millisecond {
					t.Errorf("the worker that ignores TERM was gone %v after it, before stopwaitsecs (0.5s)", waited)
				}
			} else if !anyContains(s.output(), "got TERM") {
				t.Errorf("no worker said it got TERM:\n%s", strings.Join(s.output(), "\n"))
			}
			for _, l := range s.output() {
				if strings.Contains(l, "bind failed") {
					t.Errorf("a run could not bind the port: %q", l)
				}
			}
		})
	}
}

// anyContains reports whether a line of lines contains sub.
func anyContains(lines []string, sub string) bool {
	for _, l := range lines {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}
