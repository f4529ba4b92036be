package logs

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// These tests run real processes with os/exec, which tend itself may not
// use (reaper/owner_test.go): a test is tend's parent, not a supervisor.

// TestCopyChildExits: every line of a child that exits right after its
// last write arrives.
func TestCopyChildExits(t *testing.T) {
	r, w, err := Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", "-c", `i=0; while [ $i -lt 10000 ]; do echo line$i; i=$((i+1)); done`)
	cmd.Stdout = w // an *os.File: the child gets the fd itself, no copying goroutine
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	out := &writes{}
	if _, err := Copy(NewDest(out), r, "sh | "); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&want, "sh | line%d\n", i)
	}
	if got := out.String(); got != want.String() {
		t.Errorf("got %d lines, want 10000: %s", strings.Count(got, "\n"), short(got))
	}
}

// TestCopyWaitsForGrandchild: a grandchild that inherited the pipe keeps
// the copy going after its parent has exited; what it writes then still
// arrives, and Copy returns only once it has exited.
func TestCopyWaitsForGrandchild(t *testing.T) {
	r, w, err := Pipe()
	if err != nil {
		t.Fatal(err)
	}
	// The grandchild waits on fd 3 (an asynchronous list's stdin would be
	// /dev/null), so the test decides when it writes and exits.
	gr, gw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	cmd := exec.Command("/bin/sh", "-c", `echo parent; (read x <&3; echo "grandchild $x") & echo parent exits`)
	cmd.Stdout = w
	cmd.ExtraFiles = []*os.File{gr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	gr.Close()
	out := &writes{}
	done := make(chan error, 1)
	go func() {
		_, err := Copy(NewDest(out), r, "p | ")
		done <- err
	}()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	// The parent is gone; the grandchild cannot have written or exited.
	select {
	case err := <-done:
		t.Fatalf("Copy returned (%v) while the grandchild held the pipe", err)
	default:
	}
	if _, err := gw.Write([]byte("late\n")); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "p | parent\np | parent exits\np | grandchild late\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestPipeFlags: both ends close-on-exec; the child's end blocking, as a
// program expects of its stdout.
func TestPipeFlags(t *testing.T) {
	r, w, err := Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for _, f := range []*os.File{r, w} {
		sc, err := f.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var fdFlags, flFlags int
		sc.Control(func(fd uintptr) {
			fdFlags, _ = unix.FcntlInt(fd, unix.F_GETFD, 0)
			flFlags, _ = unix.FcntlInt(fd, unix.F_GETFL, 0)
		})
		if fdFlags&unix.FD_CLOEXEC == 0 {
			t.Errorf("%s: not close-on-exec", f.Name())
		}
		if nonblock := flFlags&unix.O_NONBLOCK != 0; nonblock != (f == r) {
			t.Errorf("%s: O_NONBLOCK = %v", f.Name(), nonblock)
		}
	}
}

// TestGrowPipe: tend's stdout, when a pipe, grows to 1 MiB; what is not a
// pipe is left alone.
func TestGrowPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if got := GrowPipe(w); got != outPipeSize {
		t.Errorf("GrowPipe of a 64 KiB pipe: %d, want %d", got, outPipeSize)
	}
	if n, _ := unix.FcntlInt(r.Fd(), unix.F_GETPIPE_SZ, 0); n != outPipeSize {
		t.Errorf("the pipe holds %d", n)
	}
	if got := GrowPipe(r); got != outPipeSize {
		t.Errorf("GrowPipe again: %d", got)
	}
	f, err := os.Create(t.TempDir() + "/f")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := GrowPipe(f); got != 0 {
		t.Errorf("GrowPipe of a file: %d", got)
	}
}
