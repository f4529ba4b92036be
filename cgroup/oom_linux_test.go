package cgroup

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestRealV1OOMCount: in a v1 memory cgroup with a 32 MiB limit (a
// Docker container on a v1 host with -m 32m), a program that allocates
// until the kernel kills it: it dies of SIGKILL, and the cgroup's
// oom_kill count (memory.oom_control), read through Counter, goes up by
// one. The count tend reads for the container is this file of its own
// v1 memory cgroup (System.ContainerOOM).
func TestRealV1OOMCount(t *testing.T) {
	s := Detect()
	if s.V1Memory == "" {
		t.Skip("no cgroup v1 memory controller mounted here: the v1 OOM count is tested against a fake tree only")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root, to make a v1 memory cgroup")
	}
	dir := filepath.Join(s.V1Memory, fmt.Sprintf("tend-test-oom-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := unix.Rmdir(dir); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	const limit = 32 << 20
	if err := writeFile(filepath.Join(dir, "memory.limit_in_bytes"), strconv.Itoa(limit)); err != nil {
		t.Fatal(err)
	}
	// With swap accounting, memory+swap too, or the helper swaps
	// instead of dying.
	if exists(filepath.Join(dir, "memory.memsw.limit_in_bytes")) {
		if err := writeFile(filepath.Join(dir, "memory.memsw.limit_in_bytes"), strconv.Itoa(limit)); err != nil {
			t.Fatal(err)
		}
	}
	c := V1OOMCounter(dir)
	if !c.Valid() {
		t.Fatalf("no counter at %s", dir)
	}
	container := s.ContainerOOM()
	if !container.Valid() {
		t.Errorf("no container counter, with v1 memory at %s", s.V1Memory)
	}
	containerBefore, err := container.Count()
	if err != nil {
		t.Error(err)
	}

	cmd := helperCmd("alloc")
	stdin, _ := cmd.StdinPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	reapAtEnd(t, cmd)
	// A v1 cgroup has no CLONE_INTO_CGROUP: the helper waits for a
	// byte before it allocates, so it is in the cgroup by then.
	if err := writeFile(filepath.Join(dir, "cgroup.procs"), strconv.Itoa(cmd.Process.Pid)); err != nil {
		t.Fatal(err)
	}
	before, err := c.Count()
	if err != nil {
		t.Fatal(err)
	}
	stdin.Write([]byte{1})
	if ws := waitExit(t, cmd, time.Minute); ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the helper ended with %v, not killed by SIGKILL", ws)
	}
	after, err := c.Count()
	if err != nil {
		t.Fatal(err)
	}
	if after != before+1 {
		t.Errorf("oom_kill went from %d to %d, want one more", before, after)
	}
	containerAfter, _ := container.Count()
	t.Logf("oom_kill of the test cgroup: %d → %d; of the tests' own v1 memory cgroup (%s), which v1 does not count hierarchically: %d → %d",
		before, after, container.File(), containerBefore, containerAfter)
}
