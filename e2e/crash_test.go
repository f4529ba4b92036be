package e2e

// A crash loop with real processes (SPEC "Program states": "Every
// unexpected exit backs off, not only failed starts"): issue 12's case,
// a program with startsecs 0.2 that runs 0.3 s and exits 1, which tend
// used to restart 17 times in 5 s.

import (
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSupervisorCrashBackoff: the first restart after a run that was up
// is at once; the next ones wait initial, initial*factor, … capped at
// max (±10%), in BACKOFF with the reason and retry_in; never FATAL.
// backoff.reset is far off: a run that a loaded machine stretches past
// it would clear the ladder.
func TestSupervisorCrashBackoff(t *testing.T) {
	t.Parallel()
	cfg, _ := svConfig(t, `
[programs.crash]
command = "sleep 0.3; exit 1"
startsecs = 0.2
startretries = 0
backoff = { initial = "200ms", factor = 2.0, max = "800ms", reset = "1m" }
`)
	s := startSv(t, cfg, svOptions{})
	// Five BACKOFFs: 200, 400, 800, 800, 800 ms.
	last := event{i: -1}
	for range 5 {
		last = s.tl.waitAfter(last, "crash", "BACKOFF")
	}
	s.tl.waitAfter(last, "crash", "STARTING")
	s.signal(syscall.SIGTERM)
	if code := s.finish(); code != 0 {
		t.Errorf("tend exited %d, want 0", code)
	}

	evs := s.tl.states("crash")
	var got []string
	for _, e := range evs {
		if e.i <= last.i {
			got = append(got, e.State)
		}
	}
	want := []string{"STARTING", "RUNNING", "EXITED", "STARTING", "RUNNING"}
	for range 5 {
		want = append(want, "BACKOFF", "STARTING", "RUNNING")
	}
	want = want[:len(want)-2] // up to the fifth BACKOFF
	if !slices.Equal(got, want) {
		t.Fatalf("crash went through %v, want %v", got, want)
	}
	if e := evs[2]; e.From != "RUNNING" || e.code() != 1 {
		t.Errorf("the first crash: %v", e)
	}
	// The first restart follows its exit in the same turn of the loop;
	// allow for a loaded machine, and check only that it did not wait
	// for initial (200 ms).
	if gap := evs[3].at.Sub(evs[2].at); gap > 150*time.Millisecond {
		t.Errorf("first restart %v after the crash, want at once", gap)
	}
	k := 0
	for i, e := range evs {
		if e.State != "BACKOFF" || i+1 >= len(evs) {
			continue
		}
		expect := min(200*time.Millisecond<<k, 800*time.Millisecond)
		k++
		retry, err := time.ParseDuration(e.RetryIn)
		if err != nil || retry < expect*9/10-time.Millisecond || retry > expect*11/10+time.Millisecond {
			t.Errorf("BACKOFF %d: retry_in %q, want %v ±10%%", k, e.RetryIn, expect)
		}
		if e.From != "RUNNING" || e.code() != 1 || !strings.Contains(e.Reason, "in a row of a run shorter than backoff.reset (1m0s)") {
			t.Errorf("BACKOFF %d: %v", k, e)
		}
		if gap := evs[i+1].at.Sub(e.at); gap < expect*9/10 || gap > expect+2*time.Second {
			t.Errorf("BACKOFF %d: next start %v later, want %v ±10%%", k, gap, expect)
		}
	}
	if _, ok := s.tl.first("crash", "FATAL"); ok {
		t.Error("FATAL: crashes after RUNNING must not lead to FATAL without restart_limit")
	}
}
