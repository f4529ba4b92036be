package notify

import (
	"bufio"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// fdChild runs the test binary as the fd helper with the pipe's write
// end as its fd p.Fd(), spawned as the supervisor will (ForkExec with
// p.Files), and watches the pipe. It returns the events and the child's
// first line of output; the child is let go and reaped at the end.
func fdChild(t *testing.T, p *Pipe, env ...string) (<-chan FdEvent, func() string) {
	t.Helper()
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	env = append([]string{"TEND_NOTIFY_HELPER=fd", "TEND_NOTIFY_FD=" + strconv.Itoa(p.Fd())}, env...)
	pid, err := syscall.ForkExec(os.Args[0], []string{os.Args[0]}, &syscall.ProcAttr{
		Env:   append(os.Environ(), env...),
		Files: p.Files([]uintptr{inR.Fd(), outW.Fd(), 2}),
	})
	p.CloseChildEnd()
	inR.Close()
	outW.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		inW.Close()
		p.Close() // a child stuck writing to fd N gets EPIPE
		if t.Failed() {
			unix.Kill(pid, unix.SIGKILL)
		}
		var ws unix.WaitStatus
		unix.Wait4(pid, &ws, 0, nil)
		outR.Close()
	})
	events := make(chan FdEvent, 4)
	p.Watch(zerolog.New(zerolog.NewTestWriter(t)), "web", func(e FdEvent) { events <- e })
	// A child stuck writing to a pipe nobody drains never prints.
	outR.SetReadDeadline(time.Now().Add(10 * time.Second))
	lines := bufio.NewScanner(outR)
	return events, func() string {
		if !lines.Scan() {
			t.Fatalf("fd helper: no output (%v)", lines.Err())
		}
		return strings.TrimSpace(lines.Text())
	}
}

// events collects what the pipe reports until Done.
func events(t *testing.T, p *Pipe, ch <-chan FdEvent) []FdEvent {
	t.Helper()
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the readiness pipe's goroutine did not end in 10s")
	}
	var got []FdEvent
	for {
		select {
		case e := <-ch:
			got = append(got, e)
		default:
			return got
		}
	}
}

// TestFdReady: a child that writes some text and a newline on fd 5 a
// while after it started is ready; closing the fd ends the pipe.
func TestFdReady(t *testing.T) {
	p, err := NewPipe(5)
	if err != nil {
		t.Fatal(err)
	}
	ch, line := fdChild(t, p, "TEND_NOTIFY_DELAY=50ms", `TEND_NOTIFY_WRITE="up\n"`)
	if l := line(); l != "done" {
		t.Fatalf("fd helper: %s", l)
	}
	if got := events(t, p, ch); !slices.Equal(got, []FdEvent{FdReady, FdClosed}) {
		t.Errorf("events %v, want ready, closed", got)
	}
}

// TestFdClosedUnready: a child that closes its fd without a newline is
// never ready.
func TestFdClosedUnready(t *testing.T) {
	p, err := NewPipe(3)
	if err != nil {
		t.Fatal(err)
	}
	ch, line := fdChild(t, p, `TEND_NOTIFY_WRITE="no newline"`)
	if l := line(); l != "done" {
		t.Fatalf("fd helper: %s", l)
	}
	if got := events(t, p, ch); !slices.Equal(got, []FdEvent{FdClosed}) {
		t.Errorf("events %v, want closed alone", got)
	}
}

// TestFdMoreAfterReady: a child that goes on writing after its newline,
// far past a pipe's capacity, is not blocked: the pipe is drained.
func TestFdMoreAfterReady(t *testing.T) {
	p, err := NewPipe(3)
	if err != nil {
		t.Fatal(err)
	}
	ch, line := fdChild(t, p, `TEND_NOTIFY_WRITE="\n"`, "TEND_NOTIFY_MORE=4194304")
	if l := line(); l != "done" {
		t.Fatalf("fd helper: %s", l)
	}
	if got := events(t, p, ch); !slices.Equal(got, []FdEvent{FdReady, FdClosed}) {
		t.Errorf("events %v, want ready, closed", got)
	}
}

// TestFdClose: Close ends the watch without a report, the write end
// still open in a child or not.
func TestFdClose(t *testing.T) {
	p, err := NewPipe(3)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan FdEvent, 4)
	p.Watch(zerolog.New(zerolog.NewTestWriter(t)), "web", func(e FdEvent) { ch <- e })
	p.Close()
	if got := events(t, p, ch); len(got) != 0 {
		t.Errorf("events %v after Close, want none", got)
	}
}

func TestFdFiles(t *testing.T) {
	for _, n := range []int{-1, 0, 2, MaxFd + 1} {
		if _, err := NewPipe(n); err == nil {
			t.Errorf("NewPipe(%d) worked", n)
		}
	}
	p, err := NewPipe(5)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	std := []uintptr{10, 11, 12}
	got := p.Files(std)
	want := []uintptr{10, 11, 12, ^uintptr(0), ^uintptr(0), p.ChildEnd().Fd()}
	if !slices.Equal(got, want) || !slices.Equal(std, []uintptr{10, 11, 12}) {
		t.Errorf("Files = %v (std now %v), want %v", got, std, want)
	}
	if fl, err := unix.FcntlInt(p.ChildEnd().Fd(), unix.F_GETFL, 0); err != nil || fl&unix.O_NONBLOCK != 0 {
		t.Errorf("the child's end: flags %#x, %v; want blocking", fl, err)
	}
}
