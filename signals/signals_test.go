package signals

import (
	"slices"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestCatchable(t *testing.T) {
	got := Catchable()
	for _, never := range []syscall.Signal{unix.SIGKILL, unix.SIGSTOP, unix.SIGURG, unix.SIGPROF, 32, 33, 34} {
		if slices.Contains(got, never) {
			t.Errorf("Catchable has %v (%d)", never, never)
		}
	}
	// 31 standard signals less KILL, STOP, URG, PROF; then 35..64.
	if want := 27 + (RTMax - RTMin + 1); len(got) != want {
		t.Errorf("Catchable has %d signals, want %d: %v", len(got), want, got)
	}
	if !slices.IsSorted(got) {
		t.Errorf("Catchable is not in numeric order: %v", got)
	}
}

func TestInInit(t *testing.T) {
	cases := map[syscall.Signal]Action{
		unix.SIGTERM: Forward, unix.SIGINT: Forward, unix.SIGQUIT: Forward,
		unix.SIGHUP: Forward, unix.SIGUSR1: Forward, unix.SIGUSR2: Forward,
		unix.SIGWINCH: Forward, unix.SIGCONT: Forward, unix.SIGTSTP: Forward,
		unix.SIGSEGV: Forward, unix.SIGBUS: Forward, unix.SIGFPE: Forward,
		unix.SIGILL: Forward, unix.SIGABRT: Forward, unix.SIGTRAP: Forward,
		unix.SIGSYS: Forward, unix.SIGALRM: Forward, unix.SIGXCPU: Forward,
		35: Forward, 64: Forward,
		unix.SIGCHLD: Reap,
		unix.SIGPIPE: Forward, // one sent with kill: pipeHandler drops the kernel's
		unix.SIGTTIN: Drop, unix.SIGTTOU: Drop,
		unix.SIGURG: Drop, unix.SIGPROF: Drop, unix.SIGKILL: Drop,
		unix.SIGSTOP: Drop, 32: Drop, 33: Drop, 34: Drop, 65: Drop, 0: Drop,
	}
	for sig, want := range cases {
		if got := InInit(sig); got != want {
			t.Errorf("InInit(%v) = %v, want %v", sig, got, want)
		}
	}
}

func TestInSupervisor(t *testing.T) {
	cases := []struct {
		sig     syscall.Signal
		hasMain bool
		want    Action
	}{
		{unix.SIGTERM, false, Shutdown}, {unix.SIGTERM, true, Shutdown},
		{unix.SIGINT, true, Shutdown}, {unix.SIGQUIT, false, Shutdown},
		{unix.SIGHUP, true, Reload}, {unix.SIGHUP, false, Reload},
		{unix.SIGUSR1, true, Forward}, {unix.SIGUSR1, false, Drop},
		{unix.SIGWINCH, true, Forward}, {unix.SIGUSR2, false, Drop},
		{unix.SIGCHLD, false, Reap}, {unix.SIGCHLD, true, Reap},
		{unix.SIGPIPE, true, Forward}, {unix.SIGPIPE, false, Drop}, {unix.SIGURG, true, Drop},
		{40, true, Forward}, {40, false, Drop},
	}
	for _, c := range cases {
		if got := InSupervisor(c.sig, c.hasMain); got != c.want {
			t.Errorf("InSupervisor(%v, main=%v) = %v, want %v", c.sig, c.hasMain, got, c.want)
		}
	}
}

func TestParse(t *testing.T) {
	good := map[string]syscall.Signal{
		"TERM": unix.SIGTERM, "SIGTERM": unix.SIGTERM, "term": unix.SIGTERM,
		" sigterm ": unix.SIGTERM, "15": unix.SIGTERM, "KILL": unix.SIGKILL,
		"HUP": unix.SIGHUP, "winch": unix.SIGWINCH, "RTMIN": 34, "RTMIN+1": 35,
		"SIGRTMIN+30": 64, "RTMAX": 64, "RTMAX-1": 63, "64": 64, "1": 1,
		"IOT": unix.SIGABRT, "sigcld": unix.SIGCHLD, "POLL": unix.SIGIO, "007": 7,
	}
	for in, want := range good {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0", "65", "-1", "TERMINATE", "RTMIN+31", "RTMAX-31", "RTMIN+x", "RTMIN++1", "RTMIN+-1", "SIG", "+5", "1e1", "99999999999999999999"} {
		if got, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", bad, got)
		}
	}
}

func TestNameRoundTrips(t *testing.T) {
	for _, s := range Catchable() {
		got, err := Parse(Name(s))
		if err != nil || got != s {
			t.Errorf("Parse(Name(%d)=%q) = %v, %v", s, Name(s), got, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"TERM", "sigkill", "RTMIN+3", "RTMAX-0", "99", "SIGRTMIN+-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sig, err := Parse(s)
		if err == nil && (sig < 1 || sig > RTMax) {
			t.Fatalf("Parse(%q) = %d: out of range", s, sig)
		}
	})
}
