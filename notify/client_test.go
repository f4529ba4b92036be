package notify

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// listen is a datagram socket at addr (a path, or @name) that passes
// credentials, as systemd's and podman's do.
func listen(t *testing.T, addr string) *net.UnixConn {
	t.Helper()
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	raw, _ := ln.SyscallConn()
	raw.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1) })
	return ln
}

// receive reads one datagram and the sender's pid.
func receive(t *testing.T, ln *net.UnixConn) (string, int32) {
	t.Helper()
	ln.SetReadDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, MaxMessage)
	oob := make([]byte, 128)
	n, oobn, _, _, err := ln.ReadMsgUnix(b, oob)
	if err != nil {
		t.Fatal(err)
	}
	cmsgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
	for i := range cmsgs {
		if cred, err := unix.ParseUnixCredentials(&cmsgs[i]); err == nil {
			return string(b[:n]), cred.Pid
		}
	}
	return string(b[:n]), 0
}

// TestClientSend: tend's Client reaches a path and an abstract socket,
// from tend's own pid.
func TestClientSend(t *testing.T) {
	for _, addr := range []string{
		filepath.Join(t.TempDir(), "notify"),
		fmt.Sprintf("@tend-test-%d-%d", os.Getpid(), time.Now().UnixNano()),
	} {
		ln := listen(t, addr)
		t.Setenv(EnvVar, addr)
		c, err := FromEnv()
		if err != nil || c == nil {
			t.Fatalf("FromEnv with %s: %v, %v", addr, c, err)
		}
		defer c.Close()
		if c.Addr() != addr {
			t.Errorf("Addr %q, want %q", c.Addr(), addr)
		}
		for _, msg := range []string{"READY=1", Status("2/3 ready\nweb waiting"), "STOPPING=1"} {
			if err := c.Send(msg); err != nil {
				t.Fatalf("%s: %v", addr, err)
			}
			got, pid := receive(t, ln)
			if got != msg || pid != int32(os.Getpid()) {
				t.Errorf("%s: got %q from %d, want %q from %d", addr, got, pid, msg, os.Getpid())
			}
		}
		if os.Getenv(EnvVar) != addr {
			t.Error("FromEnv changed the environment")
		}
	}
}

// TestClientNeverBlocks: with nobody reading, Send fails (EAGAIN) once
// the receiver's queue is full instead of waiting; with nobody there, at
// once.
func TestClientNeverBlocks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	listen(t, path)
	c, err := Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var serr error
	for i := 0; i < 100000 && serr == nil; i++ {
		serr = c.Send("WATCHDOG=1")
	}
	if !errors.Is(serr, unix.EAGAIN) {
		t.Errorf("100000 sends nobody reads: %v, want EAGAIN", serr)
	}

	gone, err := Dial(filepath.Join(t.TempDir(), "none"))
	if err != nil {
		t.Fatal(err)
	}
	if err := gone.Send("READY=1"); !errors.Is(err, unix.ENOENT) {
		t.Errorf("Send to no socket: %v, want ENOENT", err)
	}
	gone.Close()
	if err := gone.Send("READY=1"); err == nil {
		t.Error("Send after Close worked")
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv(EnvVar, "")
	if c, err := FromEnv(); c != nil || err != nil {
		t.Errorf("FromEnv with %s empty: %v, %v; want nil, nil", EnvVar, c, err)
	}
	os.Unsetenv(EnvVar)
	if c, err := FromEnv(); c != nil || err != nil {
		t.Errorf("FromEnv without %s: %v, %v; want nil, nil", EnvVar, c, err)
	}
	for _, addr := range []string{"run/notify", "@", "vsock:2:3", "/" + strings.Repeat("x", maxSocketPath)} {
		if c, err := Dial(addr); err == nil {
			c.Close()
			t.Errorf("Dial(%q) worked", addr)
		}
	}
}

func TestStrip(t *testing.T) {
	for _, c := range []struct{ in, want []string }{
		{nil, nil},
		{[]string{"A=1"}, []string{"A=1"}},
		{[]string{"NOTIFY_SOCKET=/run/x", "A=1"}, []string{"A=1"}},
		{[]string{"A=1", "NOTIFY_SOCKET=/run/x", "B=2", "WATCHDOG_USEC=1000", "WATCHDOG_PID=1", "MANAGERPID=7", "NOTIFY_SOCKET=@y"}, []string{"A=1", "B=2"}},
		{[]string{"NOTIFY_SOCKETS=1", "XNOTIFY_SOCKET=1", "NOTIFY_SOCKET"}, []string{"NOTIFY_SOCKETS=1", "XNOTIFY_SOCKET=1"}},
	} {
		in := slices.Clone(c.in)
		if got := Strip(in); !slices.Equal(got, c.want) || !slices.Equal(in, c.in) {
			t.Errorf("Strip(%q) = %q (input now %q), want %q", c.in, got, in, c.want)
		}
	}
}

func TestEnv(t *testing.T) {
	me := strconv.Itoa(os.Getpid())
	if got := Env("/run/tend.notify/web", 0); len(got) != 2 || got[EnvVar] != "/run/tend.notify/web" || got["MANAGERPID"] != me {
		t.Errorf("Env without watchdog: %v", got)
	}
	if got := Env("/s", 30*time.Second); len(got) != 3 || got["WATCHDOG_USEC"] != "30000000" {
		t.Errorf("Env with a 30s watchdog: %v", got)
	}
	if got := Status("a\nb\tc"); got != "STATUS=a b c" {
		t.Errorf("Status: %q", got)
	}
}
