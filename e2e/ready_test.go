package e2e

// Readiness end to end: every kind of ready as real processes say it to
// tend as PID 1, and a notify socket that only its program can speak on.

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadyKinds: a program that sends READY=1 on its NOTIFY_SOCKET, one
// that writes a newline to fd 3 (and one to fd 4, with a key that has
// tend's own fork start it) and one that prints a line are each
// RUNNING and ready when they say so, not after their startsecs (30 s,
// past the harness's deadline); their dependent starts then, health
// says yes, and status shows the STATUS= text.
func TestReadyKinds(t *testing.T) {
	t.Parallel()
	cfg, _, sock := ctlConfig(t, `
[programs.note]
command = [{self}, "notify-ready", "-name", "note", "-delay", "300ms", "-status", "serving 3 tables"]
ready = "notify"
startsecs = 30

[programs.fd]
command = ["sh", "-c", "echo fd has $(ls /proc/self/fd | wc -l) fds; sleep 0.3; echo ok >&3; exec sleep 600"]
ready = { fd = 3 }
startsecs = 30

[programs.fdpriv]
command = ["sh", "-c", "echo fdpriv has $(ls /proc/self/fd | tr '\\n' ' ')fds, nice $(nice); sleep 0.3; echo ok >&4; exec sleep 600"]
ready = { fd = 4 }
nice = 5
startsecs = 30

[programs.log]
command = ["sh", "-c", "echo starting; sleep 0.3; echo 'listening on :8080'; exec sleep 600"]
ready = { log = '^listening on :\d+$' }
stdout = "prefix"
startsecs = 30

[programs.app]
command = ["sh", "-c", "echo app up; exec sleep 600"]
depends_on = ["note", "fd", "fdpriv", "log"]
startsecs = 0
`, false)
	start := time.Now()
	s := startCtl(t, cfg)
	// The program's fd 3 was the pipe and nothing else of tend's: sh
	// saw 0, 1, 2, 3 and the fd of the ls it ran.
	// The two lines come in either order.
	line := func(prefix string) string {
		return s.out.waitFrom(0, "a line starting "+prefix, func(e event) bool { return strings.HasPrefix(e.line, prefix) }).line
	}
	if l := line("fd has"); l != "fd has 5 fds" {
		t.Errorf("%q, want fds 0 to 3 and ls's own", l)
	}
	// Started by internal/forkexec (nice): fds 0 to 2 and 4, 3 closed
	// in the program (ls's own directory is its 3).
	if l := line("fdpriv has"); l != "fdpriv has 0 1 2 3 4 fds, nice 5" {
		t.Errorf("%q, want fds 0, 1, 2, 4 and ls's own 3, nice 5", l)
	}
	s.expect("app up")
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("app started after %v", took)
	}
	for name, reason := range map[string]string{"note": "ready: READY=1", "fd": "ready: fd 3", "fdpriv": "ready: fd 4", "log": "ready: log line"} {
		e := s.tl.waitFrom(0, name+" RUNNING", func(e event) bool {
			return e.Message == "state" && e.Program == name && e.State == "RUNNING"
		})
		if e.From != "STARTING" || e.Reason != reason {
			t.Errorf("%s: %s, want RUNNING from STARTING because %q", name, e.line, reason)
		}
	}
	ctl(t, sock, "health").must(t, 0)
	note := ctlStatus(t, sock, "note")
	if !note.Ready || note.StatusText != "serving 3 tables" {
		t.Errorf("note: %+v, want ready, status text", note)
	}
	if r := statusTable(t, ctl(t, sock, "status", "log").must(t, 0).stdout)["log"]; r == nil || r[6] != "yes" {
		t.Errorf("status of log: %q, want READY yes", r)
	}
	s.signal(syscall.SIGTERM)
	if code := s.finish(); code != 0 {
		t.Errorf("tend exited %d", code)
	}
}

// TestNotifyHostile: a program's notify socket belongs to its user,
// mode 0600: another user cannot send to it; a datagram from outside
// the program's process group is ignored (the first one logged), and so
// is one from outside tend's pid namespace, whose sender tend cannot
// name; the program's own READY=1 after them counts, and what they said
// does not.
func TestNotifyHostile(t *testing.T) {
	t.Parallel()
	needRoot(t)
	cfg, dir, sock := ctlConfig(t, `
[programs.prog]
command = [{self}, "notify-ready", "-name", "prog", "-wait", "{dir}/go"]
ready = "notify"

[programs.nob]
command = ["sleep", "600"]
user = "65534:65534"
ready = "notify"

[programs.stranger]
command = [{self}, "notify-send-as", "0", "0", "{dir}/tend.notify/prog", "STATUS=a stranger\nREADY=1"]
type = "oneshot"
autostart = false
`, true)
	fifo := filepath.Join(dir, "go")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	s := startCtl(t, cfg)
	path := strings.TrimPrefix(s.expect("prog socket "), "prog socket ")
	if want := filepath.Join(dir, "tend.notify", "prog"); path != want {
		t.Errorf("NOTIFY_SOCKET %s, want %s", path, want)
	}
	s.tl.waitFrom(0, "nob STARTING", func(e event) bool { return e.Program == "nob" && e.State == "STARTING" })
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(dir, "tend.notify", "nob"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid != nobodyID || st.Gid != nobodyID || st.Mode&0o7777 != 0o600 {
		t.Errorf("nob's socket: uid %d gid %d mode %o, want %d:%d 0600", st.Uid, st.Gid, st.Mode&0o7777, nobodyID, nobodyID)
	}

	// Another user: the kernel refuses.
	out := runCtl(t, helper("notify-send-as", "1234", "1234", path, "READY=1"))
	if !strings.Contains(out.stdout, "refused:") || !strings.Contains(out.stdout, "permission denied") {
		t.Errorf("uid 1234: %v, want permission denied", out)
	}
	// Root, in tend's namespace, from outside the program's group:
	// read, and ignored.
	ctl(t, sock, "start", "stranger").must(t, 0)
	s.expect("sent as uid 0")
	e := s.tl.waitMessage("prog", "notify message ignored")
	// The stranger exits as soon as it has sent: when tend reads the
	// datagram its sender may be gone already, and it is ignored for
	// that (a pid tend cannot place is never the program's).
	if !strings.Contains(e.line, "process group") && !strings.Contains(e.line, "sender is gone") {
		t.Errorf("ignored: %s, want the reason: another process group (or its sender gone)", e.line)
	}
	// Root, on the host: tend cannot name the sender.
	if out := runCtl(t, helper("notify-send-as", "0", "0", path, "STATUS=the host\nREADY=1")); !strings.HasPrefix(out.stdout, "sent") {
		t.Fatalf("root on the host: %v", out)
	}
	if p := ctlStatus(t, sock, "prog"); p.State != "STARTING" || p.Ready {
		t.Errorf("prog after a stranger's READY=1: %+v, want STARTING, not ready", p)
	}
	// The program's own.
	if err := os.WriteFile(fifo, []byte("\n"), 0); err != nil {
		t.Fatal(err)
	}
	s.expect("prog notified")
	e = s.tl.waitFrom(0, "prog RUNNING", func(e event) bool {
		return e.Message == "state" && e.Program == "prog" && e.State == "RUNNING"
	})
	if e.Reason != "ready: READY=1" {
		t.Errorf("prog: %s", e.line)
	}
	// The socket is read in order: the strangers' datagrams were judged
	// before the program's, and their STATUS= did not count.
	if p := ctlStatus(t, sock, "prog"); !p.Ready || p.StatusText != "" {
		t.Errorf("prog: %+v, want ready, and no status text", p)
	}
	s.signal(syscall.SIGTERM)
	s.finish()
}
