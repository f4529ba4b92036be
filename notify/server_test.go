package notify

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// newServer is a Server in a fresh directory under the test's own.
func newServer(t *testing.T) *Server {
	t.Helper()
	s, err := NewServer(filepath.Join(t.TempDir(), "tend.notify"), zerolog.New(zerolog.NewTestWriter(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// open opens name's socket for tend's own user.
func open(t *testing.T, s *Server, name string) *Socket {
	t.Helper()
	k, err := s.Open(name, -1, -1)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// next waits for news and returns what Take has: at least one Note.
func next(t *testing.T, s *Server) []Note {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case <-s.Wake():
		case <-deadline:
			t.Fatal("no news from the notify server in 10s")
		}
		if notes := s.Take(nil); len(notes) > 0 {
			return notes
		}
	}
}

// one waits for news of k alone and returns it.
func one(t *testing.T, s *Server, k *Socket) Update {
	t.Helper()
	notes := next(t, s)
	if len(notes) != 1 || notes[0].Socket != k {
		t.Fatalf("news %+v, want one Note of %s", notes, k.Name())
	}
	return notes[0].Update
}

// dial is a datagram socket of the test's own, connected to k.
func dial(t *testing.T, k *Socket) *net.UnixConn {
	t.Helper()
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: k.Path(), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func send(t *testing.T, c *net.UnixConn, msg string) {
	t.Helper()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
}

// TestReadyFromProgram: a program in its own process group sends
// READY=1 and a status a while after it started; the loop gets them as
// one Update of that group.
func TestReadyFromProgram(t *testing.T) {
	s := newServer(t)
	k := open(t, s, "web")
	h := startHelper(t, "", "send", nil, EnvVar+"="+k.Path(), "TEND_NOTIFY_DELAY=50ms", "TEND_NOTIFY_MSG=READY=1\nSTATUS=serving\nMAINPID=1")
	pid := h.cmd.Process.Pid
	k.Expect(pid)
	u := one(t, s, k)
	want := Update{Pgid: pid, ReadySeen: true, Phase: Ready, Status: "serving", StatusSet: true}
	if u != want {
		t.Errorf("update %+v, want %+v", u, want)
	}
	if l := h.line(t); l != "sent" {
		t.Errorf("helper: %s", l)
	}
}

// TestSystemdNotify: systemd-notify's ways work. It waits on a barrier,
// released once tend has read its message, and sends on behalf of its
// parent: from a script, the shell, in the program's group; exec'd
// by the program itself, tend (its parent then), which MANAGERPID
// (Env) tells it to skip. The helper does what systemd 252's does.
func TestSystemdNotify(t *testing.T) {
	s := newServer(t)
	k := open(t, s, "web")
	var env []string
	for kk, v := range Env(k.Path(), 0) {
		env = append(env, kk+"="+v)
	}
	for _, c := range []struct {
		name string
		argv []string
	}{
		{"from a script", []string{"/bin/sh", "-c", `"$0"; exit $?`, os.Args[0]}},
		{"exec'd", []string{os.Args[0]}},
	} {
		k.Expect(0)
		h := startHelperArgv(t, c.argv, "sdnotify", append(env, "TEND_NOTIFY_MSG=READY=1\nSTATUS="+c.name)...)
		k.Expect(h.cmd.Process.Pid)
		if u := one(t, s, k); !u.ReadySeen || u.Status != c.name {
			t.Errorf("%s: update %+v, want ready", c.name, u)
		}
		if l := h.line(t); l != "sent" {
			t.Errorf("%s: helper: %s", c.name, l)
		}
	}
	if n := k.Ignored(); n != 0 {
		t.Errorf("%d ignored", n)
	}

	// Without MANAGERPID, an exec'd systemd-notify speaks for tend.
	k.Expect(0)
	h := startHelper(t, "", "sdnotify", nil, EnvVar+"="+k.Path(), "TEND_NOTIFY_MSG=READY=1", "TEND_NOTIFY_WAIT=1")
	k.Expect(h.cmd.Process.Pid)
	h.goAhead(t)
	if l := h.line(t); l != "sent" {
		t.Errorf("helper: %s", l)
	}
	if n := k.Ignored(); n != 1 {
		t.Errorf("%d ignored, want 1: the message came from tend's pid", n)
	}
}

// TestOtherGroupIgnored: a sender in another process group than the
// expected one is ignored. The test's own datagram after it shows it was
// read (one socket's datagrams are read in order).
func TestOtherGroupIgnored(t *testing.T) {
	s := newServer(t)
	k := open(t, s, "web")
	k.Expect(unix.Getpgrp())
	h := startHelper(t, "", "send", nil, EnvVar+"="+k.Path(), "TEND_NOTIFY_MSG=READY=1\nSTATUS=intruder")
	if l := h.line(t); l != "sent" {
		t.Fatalf("helper: %s", l)
	}
	send(t, dial(t, k), "STATUS=mine")
	u := one(t, s, k)
	if want := (Update{Pgid: unix.Getpgrp(), Status: "mine", StatusSet: true}); u != want {
		t.Errorf("update %+v, want %+v (the helper's READY=1 counted?)", u, want)
	}
	if n := k.Ignored(); n != 1 {
		t.Errorf("%d datagrams ignored, want 1", n)
	}
}

// TestOtherUser: a socket opened for one user cannot be reached by
// another (connect is refused: permission), and the user it was opened
// for gets through. The helper runs as nobody (65534).
func TestOtherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test runs helpers as uid 65534 and needs root")
	}
	// nobody must pass through the directories to the socket and run the
	// helper: the test's directories are 0700.
	base := t.TempDir()
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(base, "helper")
	copyFile(t, os.Args[0], bin)
	s, err := NewServer(filepath.Join(base, "tend.notify"), zerolog.New(zerolog.NewTestWriter(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	nobody := &syscall.Credential{Uid: 65534, Gid: 65534}

	root := open(t, s, "root-owned")
	root.Expect(0)
	h := startHelper(t, bin, "send", nobody, EnvVar+"="+root.Path(), "TEND_NOTIFY_MSG=READY=1")
	if l := h.line(t); !strings.Contains(l, "permission denied") {
		t.Errorf("nobody sending to root's socket: %q, want permission denied", l)
	}

	theirs, err := s.Open("nobodys", 65534, 65534)
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(theirs.Path(), &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid != 65534 || st.Gid != 65534 || st.Mode&0o7777 != 0o600 || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		t.Errorf("socket %s: uid %d gid %d mode %o, want 65534 65534 socket 0600", theirs.Path(), st.Uid, st.Gid, st.Mode)
	}
	h = startHelper(t, bin, "send", nobody, EnvVar+"="+theirs.Path(), "TEND_NOTIFY_MSG=READY=1")
	theirs.Expect(h.cmd.Process.Pid)
	if u := one(t, s, theirs); !u.ReadySeen {
		t.Errorf("update %+v from nobody on nobody's socket, want ready", u)
	}
	if l := h.line(t); l != "sent" {
		t.Errorf("helper: %s", l)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestDropped: a datagram longer than MaxMessage or holding a NUL is
// dropped whole; one of exactly MaxMessage bytes is read.
func TestDropped(t *testing.T) {
	s := newServer(t)
	k := open(t, s, "web")
	k.Expect(unix.Getpgrp())
	c := dial(t, k)
	over := "READY=1\nSTATUS=" + strings.Repeat("x", MaxMessage)
	send(t, c, over[:MaxMessage+1])
	send(t, c, "READY=1\nSTATUS=\x00")
	send(t, c, "STATUS=after")
	if u := one(t, s, k); u.ReadySeen || u.Status != "after" {
		t.Errorf("update %+v, want the status alone", u)
	}
	if n := k.Ignored(); n != 2 {
		t.Errorf("%d ignored, want 2", n)
	}
	send(t, c, over[:MaxMessage])
	if u := one(t, s, k); !u.ReadySeen || u.Status != strings.Repeat("x", MaxStatus) {
		t.Errorf("a datagram of %d bytes: update %+v, want ready and the status cut", MaxMessage, u)
	}
}

// TestPassedFdsClosed: descriptors sent along (SCM_RIGHTS), more than
// the reader has room for, are all closed, and the message still counts
// (systemd-notify's barrier waits for that close).
func TestPassedFdsClosed(t *testing.T) {
	s := newServer(t)
	k := open(t, s, "web")
	k.Expect(unix.Getpgrp())
	c := dial(t, k)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	fds := make([]int, 20)
	for i := range fds {
		fds[i] = int(w.Fd())
	}
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	// net refuses WriteMsgUnix on a connected datagram socket.
	raw.Write(func(fd uintptr) bool {
		if err := unix.Sendmsg(int(fd), []byte("READY=1"), unix.UnixRights(fds...), nil, 0); err != nil {
			t.Error(err)
		}
		if err := unix.Sendmsg(int(fd), []byte("BARRIER=1"), unix.UnixRights(int(w.Fd())), nil, 0); err != nil {
			t.Error(err)
		}
		return true
	})
	w.Close()
	if u := one(t, s, k); !u.ReadySeen {
		t.Errorf("update %+v, want ready", u)
	}
	// EOF once every copy of w is closed: the test's, and the 21 the
	// server received.
	r.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := r.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("read of the pipe: %d, %v; want EOF (a passed fd is still open)", n, err)
	}
}

// creds is a control message with pid's credentials, as the kernel
// attaches them.
func creds(pid int) []byte {
	return unix.UnixCredentials(&unix.Ucred{Pid: int32(pid), Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid())})
}

// TestHeld: what arrives while no run is expected is kept for the run
// whose group sent it, and dropped for any other; what arrives from an
// unknown or vanished sender counts for nobody. The reader's receive is
// driven directly, with made-up credentials.
func TestHeld(t *testing.T) {
	s := newServer(t)
	k := open(t, s, "web")
	me := unix.Getpgrp()

	k.receive([]byte("READY=1"), creds(os.Getpid()), 0)
	if notes := s.Take(nil); len(notes) != 0 {
		t.Fatalf("news %+v before Expect", notes)
	}
	k.Expect(me)
	if u := one(t, s, k); !u.ReadySeen || u.Pgid != me {
		t.Errorf("held update %+v, want ready from %d", u, me)
	}

	k.Expect(0)
	k.receive([]byte("READY=1"), creds(os.Getpid()), 0)
	k.Expect(me + 1) // another run
	if notes := s.Take(nil); len(notes) != 0 {
		t.Errorf("news %+v for another group's run", notes)
	}

	k.Expect(me)
	k.receive([]byte("READY=1"), creds(os.Getpid()), 0)
	k.Expect(0) // the run ended before the loop took its news
	if notes := s.Take(nil); len(notes) != 0 {
		t.Errorf("news %+v of a run that ended", notes)
	}

	gone := exec0(t)
	k.Expect(me)
	k.receive([]byte("READY=1"), nil, 0)
	k.receive([]byte("READY=1"), creds(0), 0)
	k.receive([]byte("READY=1"), creds(gone), 0)
	if notes := s.Take(nil); len(notes) != 0 {
		t.Errorf("news %+v from unknown senders", notes)
	}
	if n := k.Ignored(); n != 3 {
		t.Errorf("%d ignored, want 3", n)
	}
}

// exec0 runs a process to its end and returns its pid, gone.
func exec0(t *testing.T) int {
	t.Helper()
	pid, err := syscall.ForkExec("/proc/self/exe", []string{"x"}, &syscall.ProcAttr{Env: []string{"TEND_NOTIFY_HELPER=none"}})
	if err != nil {
		t.Fatal(err)
	}
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil {
		t.Fatal(err)
	}
	return pid
}

// TestFloodCoalesced: however many datagrams come before the loop
// takes them, each Take has one Note for the socket, merged.
func TestFloodCoalesced(t *testing.T) {
	s := newServer(t)
	k := open(t, s, "web")
	k.Expect(unix.Getpgrp())
	c := dial(t, k)
	for i := range 5000 {
		send(t, c, "WATCHDOG=1\nSTATUS="+strconv.Itoa(i))
	}
	send(t, c, "READY=1\nSTATUS=end")
	var last Update
	for last.Status != "end" {
		notes := next(t, s)
		if len(notes) != 1 {
			t.Fatalf("%d notes in one Take, want 1", len(notes))
		}
		last = notes[0].Update
		if !last.Watchdog && last.Status != "end" {
			t.Fatalf("update %+v lost its WATCHDOG=1", last)
		}
	}
	if !last.ReadySeen {
		t.Errorf("last update %+v, want ready", last)
	}
}

// TestIdleAndClose: while nothing comes, each socket's reader is parked
// in the netpoller ("IO wait": no timer, no polling); Close ends it and
// removes the socket, and the Server's Close the directory.
func TestIdleAndClose(t *testing.T) {
	before := runtime.NumGoroutine()
	s, err := NewServer(filepath.Join(t.TempDir(), "tend.notify"), zerolog.New(zerolog.NewTestWriter(t)))
	if err != nil {
		t.Fatal(err)
	}
	var ks []*Socket
	for i := range 20 {
		ks = append(ks, open(t, s, "p"+strconv.Itoa(i)))
	}
	// Each reader ends up parked in the netpoller, and stays there.
	deadline := time.Now().Add(10 * time.Second)
	for {
		parked, dump := readers()
		if parked == 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 20 readers waiting in the netpoller (IO wait):\n%s", parked, dump)
		}
		runtime.Gosched()
	}
	for _, k := range ks[:10] {
		if err := k.Close(); err != nil {
			t.Error(err)
		}
		if _, err := os.Lstat(k.Path()); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s after Close: %v", k.Path(), err)
		}
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
	if _, err := os.Lstat(s.Dir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s after Close: %v", s.Dir(), err)
	}
	if _, err := s.Open("late", -1, -1); err == nil {
		t.Error("Open after Close worked")
	}
	// Close waits for each reader's end; the goroutine itself is gone a
	// moment later.
	deadline = time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, %d before", runtime.NumGoroutine(), before)
		}
		runtime.Gosched()
	}
}

// readers counts the sockets' readers parked in the netpoller, and
// returns the goroutines' stacks.
func readers() (int, string) {
	var dump bytes.Buffer
	pprof.Lookup("goroutine").WriteTo(&dump, 2)
	n := 0
	for g := range strings.SplitSeq(dump.String(), "\n\n") {
		if strings.Contains(g, "notify.(*Socket).read") && strings.Contains(g, "[IO wait") {
			n++
		}
	}
	return n, dump.String()
}

// TestModes: the directory is tend's, 0711; a socket is 0600.
func TestModes(t *testing.T) {
	s := newServer(t)
	k := open(t, s, "web")
	for path, want := range map[string]fs.FileMode{s.Dir(): fs.ModeDir | DirMode, k.Path(): fs.ModeSocket | SocketMode} {
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode(), want)
		}
	}
	if _, err := s.Open("web", -1, -1); err == nil {
		t.Error("a second Open of web worked")
	}
}

// TestDirRefused: what NewServer refuses, and the stale sockets it
// removes.
func TestDirRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test chowns a directory to uid 65534 and needs root")
	}
	log := zerolog.New(zerolog.NewTestWriter(t))
	base := t.TempDir()
	file := filepath.Join(base, "file")
	os.WriteFile(file, nil, 0o600)
	theirs := filepath.Join(base, "theirs")
	os.Mkdir(theirs, 0o700)
	os.Chown(theirs, 65534, 65534)
	writable := filepath.Join(base, "writable")
	os.Mkdir(writable, 0o777) // Mkdir's mode is cut by the umask
	os.Chmod(writable, 0o777)
	busy := newServer(t)
	open(t, busy, "web")
	for dir, want := range map[string]string{
		"relative":                     "not an absolute path",
		"/" + strings.Repeat("d", 96):  "longer than 96 bytes",
		file:                           "not a directory",
		theirs:                         "belongs to uid 65534",
		filepath.Join(writable, "n"):   "may be written by others",
		busy.Dir():                     "in use",
		filepath.Join(file, "below"):   "not a directory",
		filepath.Join(base, "symlink"): "not a directory",
	} {
		if dir == filepath.Join(base, "symlink") {
			os.Symlink(base, dir)
		}
		if _, err := NewServer(dir, log); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("NewServer(%s): %v, want %q", dir, err, want)
		}
	}

	// A socket left by a tend that is gone: bound, never unlinked.
	dir := filepath.Join(base, "stale")
	os.Mkdir(dir, 0o711)
	stale, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "web"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	stale.Close()
	os.Mkdir(filepath.Join(dir, bindPrefix+"123"), 0o700)
	os.WriteFile(filepath.Join(dir, "notes"), nil, 0o600)
	s, err := NewServer(dir, log)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "notes" {
		t.Errorf("directory holds %v, want only the file that is not tend's", entries)
	}
}

func TestFileName(t *testing.T) {
	long := strings.Repeat("a", 200)
	for _, c := range []struct {
		name   string
		dirLen int
		want   string
	}{
		{"web", 16, "web"},
		{"web:0", 16, "web:0"},
		{"a/b", 16, "a_b"},
		{".hidden", 16, "_.hidden"},
		{"", 16, "_"},
		{long[:90], 16, long[:90]},
		{long[:91], 16, long[:81] + "~"},
		{long, 16, long[:81] + "~"},
		{long, maxDir, "a~"}, // the longest directory leaves one byte of the name

	} {
		got := fileName(c.name, c.dirLen)
		if strings.HasSuffix(c.want, "~") {
			if !strings.HasPrefix(got, c.want) || len(got) != len(c.want)+8 {
				t.Errorf("fileName(%d bytes, %d) = %q, want %q and 8 hex digits", len(c.name), c.dirLen, got, c.want)
			}
		} else if got != c.want {
			t.Errorf("fileName(%q, %d) = %q, want %q", c.name, c.dirLen, got, c.want)
		}
		if c.dirLen+1+len(got) > maxSocketPath {
			t.Errorf("fileName(%d bytes, %d): %d bytes, too long for a socket path", len(c.name), c.dirLen, len(got))
		}
	}
	if fileName(long+"x", 16) == fileName(long+"y", 16) {
		t.Error("two long names cut to the same file name")
	}
}

func TestDirFor(t *testing.T) {
	for in, want := range map[string]string{
		"":                    "/run/tend.notify",
		"/run/tend.sock":      "/run/tend.notify",
		"/tmp/x/ctl":          "/tmp/x/ctl.notify",
		"/tmp/x/.sock":        "/tmp/x/.sock.notify",
		"/var/run/a.b.c":      "/var/run/a.b.notify",
		"/run/tend/tend.sock": "/run/tend/tend.notify",
	} {
		if got := DirFor(in); got != want {
			t.Errorf("DirFor(%q) = %q, want %q", in, got, want)
		}
	}
}
