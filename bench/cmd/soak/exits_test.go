package main

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"tend/bench/internal/benchkit"
)

// TestLeftovers runs a shell as PID 1 of a new PID namespace that exits
// with a sleep still running in it, which the kernel then kills: the
// watch must name the sleep, and nothing for a shell that waits.
func TestLeftovers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: unshare --pid and the kernel's process events")
	}
	for _, tc := range []struct {
		script string
		left   bool
	}{
		{"sleep 100 & echo; read x; exit 0", true},
		{"sleep 0.1 & echo; read x; wait; exit 0", false},
	} {
		w, err := watchExits()
		if err != nil {
			t.Skip(err)
		}
		cmd := exec.Command("unshare", "--pid", "--fork", "--mount-proc", "--kill-child", "sh", "-c", tc.script)
		in, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// The shell has started the sleep once it prints its line.
		if _, err := out.Read(make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
		init := childOf(cmd.Process.Pid)
		ns, err := openNamespace(init)
		if err != nil {
			t.Fatal(err)
		}
		seedNs := benchkit.Monotonic()
		seed := ns.procs()
		in.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the shell did not exit")
		}
		if err := w.settle(); err != nil {
			t.Fatal(err)
		}
		left, err := w.leftovers(init, seedNs, seed)
		w.close()
		if err != nil {
			t.Fatal(err)
		}
		if (len(left) > 0) != tc.left {
			t.Errorf("%q: leftovers %q, want some: %v", tc.script, left, tc.left)
		}
	}
}
