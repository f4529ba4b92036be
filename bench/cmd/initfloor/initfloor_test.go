package main

import (
	"bufio"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFloors builds each variant the benchmark measures and checks that
// it is an init: it passes the child's exit code, turns a death by signal
// into 128+N, and forwards a signal to the child's process group.
func TestFloors(t *testing.T) {
	for _, tags := range []string{"", "floor_zerolog", "floor_zerolog,floor_console", "floor_zerolog,floor_console,floor_toml"} {
		t.Run("tags="+tags, func(t *testing.T) {
			bin := filepath.Join(t.TempDir(), "initfloor")
			build := exec.Command("go", "build", "-tags", tags, "-o", bin, ".")
			build.Env = append(build.Environ(), "CGO_ENABLED=0")
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("go build -tags %q: %v\n%s", tags, err, out)
			}
			for _, c := range []struct {
				script string
				want   int
			}{
				{"exit 7", 7},
				{"exit 0", 0},
				{"kill -KILL $$", 128 + 9},
			} {
				if got := exitCode(t, exec.Command(bin, "--", "/bin/sh", "-c", c.script)); got != c.want {
					t.Errorf("initfloor -- sh -c %q: exit %d, want %d", c.script, got, c.want)
				}
			}

			// The trap runs once wait is interrupted by USR1; the sleep
			// gets USR1 too, as a member of the group, and dies of it.
			cmd := exec.Command(bin, "--", "/bin/sh", "-c", `trap 'exit 42' USR1; sleep 100 & echo ready; wait`)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			line, err := bufio.NewReader(out).ReadString('\n')
			if strings.TrimSpace(line) != "ready" {
				_ = cmd.Process.Kill()
				t.Fatalf("child said %q, %v; want ready", line, err)
			}
			if err := cmd.Process.Signal(syscall.SIGUSR1); err != nil {
				t.Fatal(err)
			}
			if got := exitCode(t, cmd); got != 42 {
				t.Errorf("after USR1 to initfloor: exit %d, want 42 (the child's trap)", got)
			}
		})
	}
}

// exitCode runs cmd, or waits for it once started, and returns its exit
// code; a run that takes over 30 s fails the test.
func exitCode(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	if cmd.Process == nil {
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%v: still running after 30 s", cmd.Args)
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	if err != nil {
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	return 0
}
