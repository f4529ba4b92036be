package e2e

// Load: a thousand concurrent control requests against a real tend, and
// what tend holds (threads, fds, memory) afterwards.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tend/api"
	tendctl "tend/ctl"
)

// procUsage is what tend holds: threads, open fds, resident memory.
type procUsage struct{ threads, fds, rssKiB int }

func procUsageOf(t *testing.T, pid int) procUsage {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	var u procUsage
	for l := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) >= 2 && f[0] == "Threads:":
			u.threads = atoi(f[1])
		case len(f) >= 2 && f[0] == "VmRSS:":
			u.rssKiB = atoi(f[1])
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	u.fds = len(fds)
	return u
}

// TestLoadStatus: 1,000 concurrent status requests while two programs
// crash-loop: every one is answered, and afterwards tend's threads, fds
// and memory come back to about what they were.
//
// Under -race, the load runs against the race-enabled tend (for the
// race detector's sake, and for threads and fds), and again against a
// tend built without it for memory: the race runtime's shadow memory
// grows with every goroutine that ever ran and is never given back.
func TestLoadStatus(t *testing.T) {
	t.Parallel()
	if !raceEnabled {
		loadStatus(t, "", true)
		return
	}
	t.Run("Race", func(t *testing.T) {
		t.Parallel()
		loadStatus(t, "", false)
	})
	t.Run("NoRace", func(t *testing.T) {
		t.Parallel()
		bin := filepath.Join(t.TempDir(), "tend")
		build := exec.Command("go", "build", "-o", bin, "tend")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("building tend without -race: %v\n%s", err, out)
		}
		loadStatus(t, bin, true)
	})
}

// statusBurst sends n status requests at once and returns the errors.
func statusBurst(n int, ask func() ([]api.Status, error)) []error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	gate := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-gate
			ps, err := ask()
			if err == nil && len(ps) != 2 {
				err = fmt.Errorf("status: %d programs, want 2", len(ps))
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	close(gate)
	wg.Wait()
	return errs
}

func loadStatus(t *testing.T, bin string, checkRSS bool) {
	cfg, _, sock := ctlConfig(t, `
# reset = 0: the crash ladder off, every crash restarts at once, so
# that the loop stays busy with them during the load.
[programs.crash1]
command = "sleep 0.05; exit 1"
autorestart = "always"
startsecs = 0.01
backoff = { reset = "0s" }

[programs.crash2]
command = "sleep 0.05; exit 1"
autorestart = "always"
startsecs = 0.01
backoff = { reset = "0s" }
`, false)
	s := startCtlWith(t, cfg, ctlRun{bin: bin})
	s.tl.waitState("crash1", "RUNNING")
	s.tl.waitState("crash2", "RUNNING")
	pid := s.tendPid()
	client := tendctl.NewClient(sock)
	ask := func() ([]api.Status, error) {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		return client.Status(ctx, nil)
	}
	// Warm up: what the first requests allocate for good is not a leak.
	for range 50 {
		if _, err := ask(); err != nil {
			t.Fatal(err)
		}
	}
	base := procUsageOf(t, pid)
	before, _ := ask()

	// Waves of 1,000 at once, until the crash loop has gone round during
	// them (one wave, unless the machine is very busy).
	const n, waves = 1000, 5
	var errs []error
	var took time.Duration
	for wave := 1; ; wave++ {
		began := time.Now()
		errs = append(errs, statusBurst(n, ask)...)
		took += time.Since(began)
		after, err := ask()
		if err != nil {
			t.Fatal(err)
		}
		looped := true
		for i := range after {
			looped = looped && after[i].Restarts >= before[i].Restarts+2
		}
		if looped {
			break
		}
		if wave == waves {
			t.Errorf("the programs did not crash-loop during %d waves of %d requests: restarts %+v, then %+v", waves, n, before, after)
			break
		}
	}
	if len(errs) > 0 {
		t.Errorf("%d status requests failed; first: %v", len(errs), errs[0])
	}

	// Settling: connections close, their goroutines end. Go never ends
	// the threads it made (a busy machine makes it start a few more) and
	// keeps some of the heap it grew, so a few threads and some MiB more
	// are allowed: a leak of one per request would be hundreds. The fds
	// must all be closed (the crash loop may hold a pipe or two at any
	// moment).
	const threadMargin, fdMargin = 8, 2
	rssMargin := max(base.rssKiB/2, 16<<10)
	ok := func(u procUsage) bool {
		return u.threads <= base.threads+threadMargin && u.fds <= base.fds+fdMargin && (!checkRSS || u.rssKiB <= base.rssKiB+rssMargin)
	}
	var u procUsage
	for end := time.Now().Add(deadline); ; time.Sleep(100 * time.Millisecond) {
		if u = procUsageOf(t, pid); ok(u) {
			break
		}
		if time.Now().After(end) {
			t.Errorf("tend did not settle within %v after %d requests in %v: before %+v, now %+v (threads +%d, fds +%d, RSS +%d KiB allowed; RSS checked: %v)",
				deadline, n, took, base, u, threadMargin, fdMargin, rssMargin, checkRSS)
			break
		}
	}
	if testing.Verbose() {
		t.Logf("%d requests in %v; before %+v, after %+v", n, took, base, u)
	}
	ctl(t, sock, "shutdown").must(t, 0)
	if code := s.finish(); code != 0 {
		t.Errorf("tend exited %d, want 0", code)
	}
}
