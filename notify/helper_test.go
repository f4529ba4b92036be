package notify

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestMain lets the test binary play the programs that speak to tend, as
// os/exec's tests do:
//
// With TEND_NOTIFY_WAIT set, a helper first waits for a line on stdin.
//
//	TEND_NOTIFY_HELPER=send  wait TEND_NOTIFY_DELAY (a duration, default
//	                         none), send TEND_NOTIFY_MSG to NOTIFY_SOCKET
//	                         with Client, print "sent" or "error: ERR",
//	                         then stay until stdin closes
//	TEND_NOTIFY_HELPER=sdnotify  send TEND_NOTIFY_MSG as systemd-notify
//	                         does (systemd 252): on behalf of its parent,
//	                         unless that is PID 1 or $MANAGERPID, then
//	                         wait on a barrier (BARRIER=1 with a pipe's
//	                         write end, until the receiver closes it);
//	                         print "sent" or "error: ERR", and exit
//	TEND_NOTIFY_HELPER=fd    on fd TEND_NOTIFY_FD: write TEND_NOTIFY_WRITE
//	                         (Go-quoted) after TEND_NOTIFY_DELAY, then
//	                         TEND_NOTIFY_MORE bytes more, close it, print
//	                         "done", and stay until stdin closes
func TestMain(m *testing.M) {
	mode := os.Getenv("TEND_NOTIFY_HELPER")
	if mode == "" {
		os.Exit(m.Run())
	}
	if os.Getenv("TEND_NOTIFY_WAIT") != "" {
		bufio.NewReader(os.Stdin).ReadString('\n') // the test's go-ahead
	}
	if d, err := time.ParseDuration(os.Getenv("TEND_NOTIFY_DELAY")); err == nil {
		time.Sleep(d) // the program's own pace, not a test's wait
	}
	switch mode {
	case "send":
		c, err := FromEnv()
		if err == nil && c == nil {
			err = fmt.Errorf("no %s", EnvVar)
		}
		if err == nil {
			err = c.Send(os.Getenv("TEND_NOTIFY_MSG"))
		}
		if err != nil {
			fmt.Println("error:", err)
		} else {
			fmt.Println("sent")
		}
	case "sdnotify":
		if err := sdNotify(os.Getenv("TEND_NOTIFY_MSG")); err != nil {
			helperFail(err)
		}
		fmt.Println("sent")
		os.Exit(0)
	case "fd":
		n, err := strconv.Atoi(os.Getenv("TEND_NOTIFY_FD"))
		if err != nil {
			helperFail(err)
		}
		f := os.NewFile(uintptr(n), "readiness")
		text, err := strconv.Unquote(os.Getenv("TEND_NOTIFY_WRITE"))
		if err != nil {
			helperFail(err)
		}
		if _, err := f.WriteString(text); err != nil {
			helperFail(err)
		}
		more, _ := strconv.Atoi(os.Getenv("TEND_NOTIFY_MORE"))
		if _, err := f.Write(make([]byte, more)); err != nil {
			helperFail(err)
		}
		if err := f.Close(); err != nil {
			helperFail(err)
		}
		fmt.Println("done")
	default:
		helperFail(fmt.Errorf("TEND_NOTIFY_HELPER=%s: want send or fd", mode))
	}
	io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// sdNotify sends msg as systemd-notify does, credentials and barrier.
func sdNotify(msg string) error {
	c, err := FromEnv()
	if err != nil || c == nil {
		return fmt.Errorf("no %s: %v", EnvVar, err)
	}
	source := os.Getppid()
	if source <= 1 || strconv.Itoa(source) == os.Getenv("MANAGERPID") {
		source = os.Getpid()
	}
	creds := unix.UnixCredentials(&unix.Ucred{Pid: int32(source), Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid())})
	if err := unix.Sendmsg(c.fd, []byte(msg), creds, c.sa, 0); err != nil {
		return err
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return err
	}
	err = unix.Sendmsg(c.fd, []byte("BARRIER=1"), unix.UnixRights(p[1]), c.sa, 0)
	unix.Close(p[1])
	if err != nil {
		return err
	}
	fds := []unix.PollFd{{Fd: int32(p[0]), Events: 0}} // POLLHUP comes regardless
	n, err := unix.Poll(fds, 5000)
	if err != nil || n == 0 {
		return fmt.Errorf("barrier: no hang-up in 5s (%v)", err)
	}
	return nil
}

func helperFail(err error) {
	fmt.Println("error:", err)
	os.Exit(1)
}

// helper is a running helper process: its first line of output, and a
// stdin to close to let it go.
type helper struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines *bufio.Scanner
}

// startHelper starts the test binary (or bin, when not "") as helper
// mode with env added, in a process group of its own, as cred when not
// nil. It is let go and reaped at the end of the test.
func startHelper(t *testing.T, bin, mode string, cred *syscall.Credential, env ...string) *helper {
	t.Helper()
	if bin == "" {
		bin = os.Args[0]
	}
	return startArgv(t, []string{bin}, mode, cred, env...)
}

// startHelperArgv is startHelper for a command line that runs the test
// binary (a shell that runs it, say), as tend's own user.
func startHelperArgv(t *testing.T, argv []string, mode string, env ...string) *helper {
	t.Helper()
	return startArgv(t, argv, mode, nil, env...)
}

func startArgv(t *testing.T, argv []string, mode string, cred *syscall.Credential, env ...string) *helper {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = "/"
	cmd.Env = append(Strip(os.Environ()), "TEND_NOTIFY_HELPER="+mode)
	cmd.Env = append(cmd.Env, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &helper{cmd: cmd, stdin: stdin, lines: bufio.NewScanner(stdout)}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	return h
}

// goAhead lets a helper started with TEND_NOTIFY_WAIT go on.
func (h *helper) goAhead(t *testing.T) {
	t.Helper()
	if _, err := io.WriteString(h.stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
}

// line is the helper's next line of output.
func (h *helper) line(t *testing.T) string {
	t.Helper()
	if !h.lines.Scan() {
		t.Fatalf("helper %d: no more output (%v)", h.cmd.Process.Pid, h.lines.Err())
	}
	return strings.TrimSpace(h.lines.Text())
}
