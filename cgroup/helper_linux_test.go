package cgroup

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The test binary plays the programs the tests run (os/exec's own
// tests do the same): TEND_CGROUP_HELPER names the part.
const helperEnv = "TEND_CGROUP_HELPER"

func TestMain(m *testing.M) {
	if h := os.Getenv(helperEnv); h != "" {
		helper(h)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func helper(part string) {
	switch part {
	case "block":
		// Lives until its stdin closes (or it is killed).
		bufio.NewReader(os.Stdin).ReadByte()
	case "cgroup":
		// Says which cgroup it runs in before it does anything else,
		// then lives until its stdin closes.
		data, _ := os.ReadFile("/proc/self/cgroup")
		v2, _, _ := ownCgroups(strings.NewReader(string(data)))
		fmt.Println(v2)
		bufio.NewReader(os.Stdin).ReadByte()
	case "pause":
		for {
			unix.Pause()
		}
	case "daemon":
		// Starts a child that leaves the process group (setsid, as a
		// daemon does), says its pid, and lives until killed.
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), helperEnv+"=pause")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println(cmd.Process.Pid)
		for {
			unix.Pause()
		}
	case "echo":
		// Echoes each byte of stdin to stdout.
		var b [1]byte
		for {
			if n, _ := os.Stdin.Read(b[:]); n == 0 {
				return
			}
			os.Stdout.Write(b[:])
		}
	case "alloc":
		// On a byte from stdin, takes memory a MiB at a time, touching
		// every page, until the kernel kills it.
		bufio.NewReader(os.Stdin).ReadByte()
		var hold [][]byte
		for {
			b := make([]byte, 1<<20)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			hold = append(hold, b)
		}
	case "burn":
		// Burns 100ms of CPU, holds 16 MiB, says "ready", and lives
		// until its stdin closes.
		mem := make([]byte, 16<<20)
		for i := 0; i < len(mem); i += 4096 {
			mem[i] = 1
		}
		for {
			var ru unix.Rusage
			unix.Getrusage(unix.RUSAGE_SELF, &ru)
			if time.Duration(ru.Utime.Nano()+ru.Stime.Nano()) >= 100*time.Millisecond {
				break
			}
			for i := 0; i < 1e6; i++ {
				mem[i%len(mem)]++
			}
		}
		fmt.Println("ready")
		bufio.NewReader(os.Stdin).ReadByte()
		mem[0]++
	case "detect":
		detectHelper()
	case "owned":
		// Says what Owned says of its own cgroup, as PID 1 when it is.
		if err := Detect().Owned(os.Getpid() == 1); err != nil {
			fmt.Println(err)
		} else {
			fmt.Println("owned")
		}
	default:
		fmt.Fprintln(os.Stderr, "unknown helper", part)
		os.Exit(2)
	}
}

// detectReport is what the detect helper says.
type detectReport struct {
	Dir, Err, Setup string
	Controllers     []string
}

// detectHelper runs Detect and Setup as tend would, in its own cgroup,
// and prints what they said as JSON. With TEND_CGROUP_RO set, it first
// makes that mount read-only in a mount namespace of its own (the test
// starts it with CLONE_NEWNS): what Docker gives a container.
func detectHelper() {
	if ro := os.Getenv("TEND_CGROUP_RO"); ro != "" {
		must(unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""))
		must(unix.Mount(ro, ro, "", unix.MS_BIND, ""))
		must(unix.Mount("", ro, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""))
	}
	s := Detect()
	r := detectReport{Dir: s.Dir, Controllers: s.Controllers}
	if s.Err != nil {
		r.Err = s.Err.Error()
	}
	if _, err := s.Setup(); err != nil {
		r.Setup = err.Error()
	}
	json.NewEncoder(os.Stdout).Encode(r)
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
}

// helperCmd is the test binary as helper part.
func helperCmd(part string) *exec.Cmd {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"="+part)
	cmd.Stderr = os.Stderr
	return cmd
}

// v2ForTests is the v2 cgroup the tests make their scratch cgroups
// in: the test process's own, when it may write there.
func v2ForTests(t *testing.T) *System {
	t.Helper()
	s := Detect()
	if s.Dir == "" {
		t.Skipf("cgroup v2 not usable here, so the real cgroup v2 tests cannot run: %v", s.Err)
	}
	if err := unix.Access(s.Dir, unix.W_OK); err != nil {
		t.Skipf("cgroup v2 at %s is not writable here (%v), so the real cgroup v2 tests cannot run", s.Dir, err)
	}
	return s
}

// scratch makes an empty cgroup for one test, under the test process's
// own, and removes it (and what is in it) at the end. It returns its
// directory and its path as /proc/PID/cgroup would say it.
func scratch(t *testing.T) (dir, path string) {
	t.Helper()
	s := v2ForTests(t)
	name := fmt.Sprintf("tend-test-%d-%s", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "-"))
	dir = filepath.Join(s.Dir, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeTree(t, dir) })
	return dir, strings.TrimSuffix(s.Path, "/") + "/" + name
}

// removeTree kills what is left in a test's cgroup tree and removes it,
// children first.
func removeTree(t *testing.T, dir string) {
	if exists(filepath.Join(dir, "cgroup.kill")) {
		writeFile(filepath.Join(dir, "cgroup.kill"), "1")
	}
	g := &Group{tree: &Tree{}, name: dir, dir: dir}
	if err := WaitEmpty(time.Now().Add(10*time.Second), g); err != nil {
		t.Errorf("cleanup: %v", err)
	}
	var rm func(string)
	rm = func(d string) {
		ents, _ := os.ReadDir(d)
		for _, e := range ents {
			if e.IsDir() {
				rm(filepath.Join(d, e.Name()))
			}
		}
		if err := unix.Rmdir(d); err != nil {
			t.Errorf("cleanup: rmdir %s: %v", d, err)
		}
	}
	rm(dir)
}

// inCgroup starts cmd in the cgroup dir (clone3 into it, as tend
// does), and reaps it at the end of the test.
func inCgroup(t *testing.T, cmd *exec.Cmd, dir string) {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, fd
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	reapAtEnd(t, cmd)
}

// reapAtEnd kills and reaps cmd's process at the end of the test if
// the test has not.
func reapAtEnd(t *testing.T, cmd *exec.Cmd) {
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
}

// waitExit reaps cmd's process, failing the test if it has not exited
// within d (it is then killed at the end of the test, by reapAtEnd and
// the scratch cgroup's cleanup).
func waitExit(t *testing.T, cmd *exec.Cmd, d time.Duration) syscall.WaitStatus {
	t.Helper()
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d):
		cmd.Process.Kill()
		<-done
		t.Fatalf("pid %d still ran %v later", cmd.Process.Pid, d)
	}
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ws
}

// cgroupOf is pid's v2 cgroup path.
func cgroupOf(t *testing.T, pid int) string {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	v2, _, _ := ownCgroups(strings.NewReader(string(data)))
	return v2
}

// readLine reads one line from r within the deadline.
func readLine(t *testing.T, r *os.File, deadline time.Duration) string {
	t.Helper()
	r.SetReadDeadline(time.Now().Add(deadline))
	var b []byte
	var c [1]byte
	for {
		n, err := r.Read(c[:])
		if err != nil {
			t.Fatalf("reading the helper's output (so far %q): %v", b, err)
		}
		if n == 1 && c[0] == '\n' {
			return string(b)
		}
		b = append(b, c[:n]...)
	}
}
