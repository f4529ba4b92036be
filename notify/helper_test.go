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
)

// TestMain lets the test binary play the programs that speak to tend, as
// os/exec's tests do:
//
//	TEND_NOTIFY_HELPER=send  wait TEND_NOTIFY_DELAY (a duration, default
//	                         none), send TEND_NOTIFY_MSG to NOTIFY_SOCKET
//	                         with Client, print "sent" or "error: ERR",
//	                         then stay until stdin closes
//	TEND_NOTIFY_HELPER=fd    on fd TEND_NOTIFY_FD: write TEND_NOTIFY_WRITE
//	                         (Go-quoted) after TEND_NOTIFY_DELAY, then
//	                         TEND_NOTIFY_MORE bytes more, close it, print
//	                         "done", and stay until stdin closes
func TestMain(m *testing.M) {
	mode := os.Getenv("TEND_NOTIFY_HELPER")
	if mode == "" {
		os.Exit(m.Run())
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
	cmd := exec.Command(bin)
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

// line is the helper's next line of output.
func (h *helper) line(t *testing.T) string {
	t.Helper()
	if !h.lines.Scan() {
		t.Fatalf("helper %d: no more output (%v)", h.cmd.Process.Pid, h.lines.Err())
	}
	return strings.TrimSpace(h.lines.Text())
}
