package supervisor

import (
	"errors"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"tend/reaper"
)

// TestInstantExitsNotLost spawns 1,000 children that exit the instant
// they start, the way the loop does: record the pid's owner right after
// spawn, drain on SIGCHLD. Every child's own exit code must come back to
// its own pid, none lost, none crossed.
func TestInstantExitsNotLost(t *testing.T) {
	const n = 1000
	chld := make(chan os.Signal, 1)
	signal.Notify(chld, unix.SIGCHLD)
	defer signal.Stop(chld)

	want := map[int]int{} // pid -> code, the owner table
	got := map[int]int{}
	drain := func() {
		if _, err := reaper.Drain(func(e reaper.Exit) { got[e.Pid] = e.Code() }); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < n; i++ {
		code := i % 256
		pid, err := spawn(Command{Argv: []string{"/bin/sh", "-c", "exit " + strconv.Itoa(code)}})
		if err != nil {
			t.Fatal(err)
		}
		want[pid] = code
		select { // the loop's next turn: a SIGCHLD may be waiting
		case <-chld:
			drain()
		default:
		}
	}
	timeout := time.After(30 * time.Second)
	for len(got) < n {
		select {
		case <-chld:
			drain()
		case <-timeout:
			t.Fatalf("reaped %d of %d children", len(got), n)
		}
	}
	for pid, code := range want {
		if got[pid] != code {
			t.Errorf("pid %d exited %d, reaped as %d", pid, code, got[pid])
		}
	}
	if len(got) != n {
		t.Errorf("reaped %d exits for %d children", len(got), n)
	}
}

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	other := t.TempDir()
	write := func(d, name string, mode os.FileMode) string {
		p := filepath.Join(d, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write(dir, "plain", 0o644)
	exe := write(other, "plain", 0o755)
	write(dir, "onlyplain", 0o644)
	os.Mkdir(filepath.Join(dir, "adir"), 0o755)
	path := dir + ":" + other
	cases := []struct {
		file, path string
		want       string
		err        error
	}{
		{"plain", path, exe, nil},                 // the non-executable first entry is passed over
		{"onlyplain", path, "", fs.ErrPermission}, // found, never executable: 126
		{"missing", path, "", fs.ErrNotExist},     // 127
		{"adir", dir, "", fs.ErrNotExist},         // a directory is not a command
		{"./rel/x", path, "./rel/x", nil},         // a slash: taken as is
		{"/abs/x", "", "/abs/x", nil},             // likewise
		{"sh", "", "/usr/bin/sh", nil},            // no PATH: Docker's default
	}
	for _, c := range cases {
		got, err := lookPath(c.file, c.path)
		if c.file == "sh" && got == "/bin/sh" {
			got = "/usr/bin/sh" // merged /usr: either is right
		}
		if got != c.want || !errors.Is(err, c.err) {
			t.Errorf("lookPath(%q, %q) = %q, %v; want %q, %v", c.file, c.path, got, err, c.want, c.err)
		}
	}
}

func TestExecErrorCode(t *testing.T) {
	cases := map[error]int{
		fs.ErrNotExist:     127,
		unix.ENOENT:        127,
		fs.ErrPermission:   126,
		unix.EACCES:        126,
		unix.ENOEXEC:       126,
		errors.New("else"): 126,
	}
	for err, want := range cases {
		if got := (&ExecError{Path: "x", Err: err}).Code(); got != want {
			t.Errorf("ExecError{%v}.Code() = %d, want %d", err, got, want)
		}
	}
}

// TestMissingDirectory: a program whose directory is missing, or is a
// file, fails to start with an error that names the directory, not the
// command, and code 126 (its command is there).
func TestMissingDirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for dir, errno := range map[string]error{"/nonexistent/dir": unix.ENOENT, file: unix.ENOTDIR} {
		_, err := spawn(Command{Argv: []string{"/bin/true"}, Dir: dir, Umask: -1})
		var ee *ExecError
		if !errors.As(err, &ee) || !errors.Is(err, errno) || ee.Code() != 126 {
			t.Fatalf("spawn in %s: %v, want an ExecError for %v with code 126", dir, err, errno)
		}
		if want := "directory " + dir + ": "; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("spawn in %s: %q, want it to begin %q", dir, err, want)
		}
	}
}
