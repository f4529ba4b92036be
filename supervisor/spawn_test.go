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
