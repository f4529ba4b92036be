package e2e

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestNotifyManager: tend started with NOTIFY_SOCKET (podman
// --sdnotify=container, systemd Type=notify) tells that socket READY=1
// once its programs are up, a STATUS= line, and STOPPING=1 on TERM; its
// programs never see that socket. In init mode the one child gets it,
// as with tini: the child is the service.
func TestNotifyManager(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	addr := filepath.Join(dir, "notify.sock")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 64)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := ln.Read(buf)
			if err != nil {
				close(got)
				return
			}
			got <- string(buf[:n])
		}
	}()
	next := func(prefix string) string {
		t.Helper()
		deadline := time.After(20 * time.Second)
		for {
			select {
			case m, ok := <-got:
				if !ok {
					t.Fatalf("socket closed before %q", prefix)
				}
				if strings.HasPrefix(m, prefix) {
					return m
				}
			case <-deadline:
				t.Fatalf("no %q from tend", prefix)
			}
		}
	}
	cfg, _ := svConfig(t, `
[programs.p]
command = ["sh", "-c", "echo NOTIFY_SOCKET=$NOTIFY_SOCKET; exec sleep 600"]
startsecs = 0.2
stdout = "inherit"
`)
	s := startSv(t, cfg, svOptions{env: []string{"NOTIFY_SOCKET=" + addr}})
	if line := s.expect("NOTIFY_SOCKET="); line != "NOTIFY_SOCKET=" {
		t.Errorf("the program sees %s: tend's own socket leaked", line)
	}
	next("READY=1")
	s.signal(syscall.SIGTERM)
	next("STOPPING=1")
	if code := s.finish(); code != 0 {
		t.Errorf("tend exited %d", code)
	}

	// Init mode: passed through, and tend sends nothing of its own.
	addr2 := filepath.Join(dir, "notify2.sock")
	ln2, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr2, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln2.Close()
	r := startWith(t, options{env: []string{"NOTIFY_SOCKET=" + addr2}}, nil, "sh", "-c", "echo NOTIFY_SOCKET=$NOTIFY_SOCKET")
	if line := r.expect("NOTIFY_SOCKET="); line != "NOTIFY_SOCKET="+addr2 {
		t.Errorf("init mode: the child sees %s, want the socket passed through", line)
	}
	r.wait()
	ln2.SetReadDeadline(time.Now()) // tend has exited: whatever it sent is queued
	if n, err := ln2.Read(make([]byte, 4096)); err == nil {
		t.Errorf("tend in init mode sent %d bytes", n)
	}
	_ = os.Remove(addr)
}
