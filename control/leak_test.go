package control

import (
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"
)

func countFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("no /proc/self/fd (tend is Linux-only): %v", err)
	}
	return len(entries)
}

// A thousand clients at once all get their answer, and leave nothing
// behind: no goroutine, no file descriptor, in the server or the client.
func TestConcurrentStatusNoLeak(t *testing.T) {
	e := newEnv(t)
	// Warm up: the signal package starts its goroutine once, for good.
	e.mustCtl(0, "status")
	baseG, baseFD := runtime.NumGoroutine(), countFDs(t)

	const n = 1000
	var wg sync.WaitGroup
	failures := make(chan string, n)
	for range n {
		wg.Go(func() {
			code, out, errOut := e.ctl("status", "web:*")
			if code != 0 || !strings.Contains(out, "web:1") {
				failures <- errOut
			}
		})
	}
	wg.Wait()
	close(failures)
	failed := 0
	for msg := range failures {
		if failed++; failed <= 5 {
			t.Errorf("a status failed: %s", msg)
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d status requests failed", failed, n)
	}
	if got := len(e.loop.Requests()); got != n+1 {
		t.Errorf("the loop saw %d requests, want %d", got, n+1)
	}

	var g, fd int
	settled := waitFor(10*time.Second, func() bool {
		g, fd = runtime.NumGoroutine(), countFDs(t)
		return g <= baseG && fd <= baseFD
	})
	if !settled {
		var b strings.Builder
		pprof.Lookup("goroutine").WriteTo(&b, 1)
		t.Fatalf("after %d requests: %d goroutines (baseline %d), %d fds (baseline %d)\n%s", n, g, baseG, fd, baseFD, b.String())
	}
	t.Logf("%d concurrent requests; goroutines %d (baseline %d), fds %d (baseline %d)", n, g, baseG, fd, baseFD)
}
