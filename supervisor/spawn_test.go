package supervisor

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"tend/config"
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

// TestSpawnPrivileges: a program with capabilities gets them as its
// bounding set, and, when it runs as a user other than root, as ambient
// capabilities, which exec makes effective.
func TestSpawnPrivileges(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test sets users and capabilities: it needs root")
	}
	nbs := fmt.Sprintf("%016x", 1<<unix.CAP_NET_BIND_SERVICE)
	for _, tt := range []struct {
		name string
		cred *syscall.Credential
		want map[string]string
	}{
		{"root", nil, map[string]string{"CapBnd": nbs, "CapPrm": nbs, "CapEff": nbs, "CapAmb": "0000000000000000", "NoNewPrivs": "1"}},
		{"nobody", &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}},
			map[string]string{"CapBnd": nbs, "CapPrm": nbs, "CapEff": nbs, "CapAmb": nbs, "NoNewPrivs": "1", "Uid": "65534\t65534\t65534\t65534"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			pid, err := spawn(Command{Argv: []string{"cat", "/proc/self/status"}, Stdout: w, Umask: -1, Cred: tt.cred,
				Privileges: Privileges{NoNewPrivs: true, Capabilities: []config.Capability{unix.CAP_NET_BIND_SERVICE}}})
			w.Close()
			if err != nil {
				t.Fatal(err)
			}
			out, _ := io.ReadAll(r)
			var ws unix.WaitStatus
			unix.Wait4(pid, &ws, 0, nil)
			status := map[string]string{}
			for line := range strings.Lines(string(out)) {
				k, v, _ := strings.Cut(line, ":")
				status[k] = strings.TrimSpace(v)
			}
			for k, v := range tt.want {
				if status[k] != v {
					t.Errorf("%s: %q, want %q", k, status[k], v)
				}
			}
		})
	}
}

// TestSpawnPrivilegeErrors: a setting the kernel refuses fails the start
// with the key and value that were refused, and a working directory or
// command that is not there is an ExecError, as without privileges.
func TestSpawnPrivilegeErrors(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test drops capabilities: it needs root")
	}
	prio, _ := unix.Getpriority(unix.PRIO_PROCESS, 0) // 20 - nice
	nice := 20 - prio - 1
	if nice < -20 {
		t.Fatalf("the test runs at nice -20: no lower value for the kernel to refuse")
	}
	tests := []struct {
		name     string
		dropNice bool
		c        Command
		want     string
		code     int
	}{
		{"soft above hard", false, Command{Privileges: Privileges{Rlimits: []config.Rlimit{
			{Name: "core", Resource: unix.RLIMIT_CORE}, {Name: "nofile", Resource: unix.RLIMIT_NOFILE, Soft: 20, Hard: 10}}}},
			"rlimits.nofile = [20, 10]: invalid argument", 126},
		{"nice without CAP_SYS_NICE", true, Command{Privileges: Privileges{Nice: &nice}},
			fmt.Sprintf("nice = %d: permission denied", nice), 126},
		{"unknown capability", false, Command{Privileges: Privileges{Capabilities: []config.Capability{63}}},
			"capabilities: capability 63 is not in tend's bounding set", 126},
		{"missing directory", false, Command{Dir: "/nonexistent", Privileges: Privileges{NoNewPrivs: true}},
			"directory /nonexistent: no such file or directory", 126},
		{"missing command", false, Command{Argv: []string{"/nonexistent/x"}, Privileges: Privileges{NoNewPrivs: true}},
			"exec /nonexistent/x: no such file or directory", 127},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.c
			if c.Argv == nil {
				c.Argv = []string{"/bin/true"}
			}
			c.Umask = -1
			var err error
			done := make(chan struct{})
			go func() {
				defer close(done)
				if tt.dropNice {
					// A thread of its own without CAP_SYS_NICE, discarded
					// after: what spawn forks there is as if tend lacked it.
					runtime.LockOSThread()
					hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
					var data [2]unix.CapUserData
					unix.Capget(&hdr, &data[0])
					data[0].Effective &^= 1 << unix.CAP_SYS_NICE
					data[0].Permitted &^= 1 << unix.CAP_SYS_NICE
					if err := unix.Capset(&hdr, &data[0]); err != nil {
						t.Error(err)
						return
					}
				}
				_, err = spawn(c)
			}()
			<-done
			if err == nil || err.Error() != tt.want {
				t.Fatalf("spawn: %v, want %s", err, tt.want)
			}
			code := 126
			var ee *ExecError
			if errors.As(err, &ee) {
				code = ee.Code()
			}
			if code != tt.code {
				t.Errorf("exit code %d, want %d", code, tt.code)
			}
		})
	}
}
