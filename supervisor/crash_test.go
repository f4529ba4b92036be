package supervisor

import (
	"encoding/json"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"tend/api"
	"tend/config"
)

// Crash loops and the program as a unit (SPEC "Program states": "Every
// unexpected exit backs off" and "The whole program is one unit"),
// under fake time.

// logLine is one line of tend's JSON log, as these tests read it.
type logLine struct {
	Message  string `json:"message"`
	Program  string `json:"program"`
	State    string `json:"state"`
	From     string `json:"from"`
	Reason   string `json:"reason"`
	RetryIn  string `json:"retry_in"`
	Failures int    `json:"failures"`
	Left     int    `json:"left"`
}

// states is every state change of program in the JSON log out.
func states(t *testing.T, out, program string) []logLine {
	t.Helper()
	var got []logLine
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		var l logLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if l.Message == "state" && l.Program == program {
			got = append(got, l)
		}
	}
	return got
}

// TestCrashLadder: a program that is up (past startsecs) and crashes is
// restarted at once the first time, then after initial, initial*factor,
// … capped at max, in BACKOFF with the reason; never FATAL.
func TestCrashLadder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log lockedBuffer
		l := startLoopLog(t, zerolog.New(&log), noSocket+`
[programs.p]
command = ["p"]
startsecs = 0.2
backoff = { initial = "1s", factor = 2.0, max = "8s" }
`, nil, map[string]script{"p": {runFor: 300 * time.Millisecond, code: 1}})
		time.Sleep(time.Hour)
		l.want("0s spawn p", "300ms exit p 1", "300ms spawn p", // the first restart: at once
			"600ms exit p 1", "1.6s spawn p", // initial
			"1.9s exit p 1", "3.9s spawn p", // initial * factor
			"4.2s exit p 1", "8.2s spawn p",
			"8.5s exit p 1", "16.5s spawn p", // capped at max
			"16.8s exit p 1", "24.8s spawn p")
		// Every 8.3 s after 16.5 s, for the whole hour: never FATAL.
		if n, want := l.count("spawn p"), 5+int((time.Hour-16500*time.Millisecond)/(8300*time.Millisecond))+1; n != want {
			t.Errorf("%d starts in an hour, want %d", n, want)
		}
		l.stop()
		evs := states(t, log.String(), "p")
		var backoffs int
		for _, e := range evs {
			switch e.State {
			case string(api.Fatal):
				t.Fatalf("FATAL: %+v", e)
			case string(api.Backoff):
				backoffs++
				if e.From != string(api.Running) || e.RetryIn == "" || !strings.Contains(e.Reason, "exited; autorestart=on-failure; exit ") ||
					!strings.Contains(e.Reason, "in a row of a run shorter than backoff.reset (8s)") {
					t.Errorf("BACKOFF line %+v: want from RUNNING, retry_in, the reason", e)
				}
			}
		}
		if backoffs == 0 {
			t.Error("no BACKOFF in the log")
		}
		// The first crash: EXITED, then STARTING at once.
		if got := stateNames(evs[:5]); got != "STARTING RUNNING EXITED STARTING RUNNING" {
			t.Errorf("first states %q", got)
		}
	})
}

func stateNames(evs []logLine) string {
	var out []string
	for _, e := range evs {
		out = append(out, e.State)
	}
	return strings.Join(out, " ")
}

// TestCrashLadderReset: a run that lasts backoff.reset clears the
// ladder: its crash restarts at once, and the next one waits initial. A
// run just short of it does not.
func TestCrashLadderReset(t *testing.T) {
	const toml = noSocket + `
[programs.p]
command = ["p"]
startsecs = 0.1
backoff = { initial = "1s", factor = 2.0, max = "4s", reset = "5s" }
`
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, toml, nil, map[string]script{"p": {code: 1, lives: []time.Duration{ms(300), ms(300), ms(300), 6 * time.Second, ms(300)}}})
		time.Sleep(15 * time.Second)
		l.want("0s spawn p", "300ms spawn p", "1.6s spawn p", "3.9s spawn p", // the ladder: 0, 1 s, 2 s
			"9.9s exit p 1", "9.9s spawn p", // up 6 s >= reset: at once
			"10.2s exit p 1", "11.2s spawn p") // then initial again
		l.stop()
	})
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, toml, nil, map[string]script{"p": {code: 1, lives: []time.Duration{ms(300), ms(300), ms(300), ms(4900), ms(300)}}})
		time.Sleep(15 * time.Second)
		l.want("0s spawn p", "300ms spawn p", "1.6s spawn p", "3.9s spawn p",
			"8.8s exit p 1", "12.8s spawn p") // up 4.9 s < reset: the next rung, 4 s
		if n := l.count("8.8s spawn p"); n != 0 {
			t.Error("restarted at once after a run shorter than backoff.reset")
		}
		l.stop()
	})
}

// TestCrashResetFreeze: backoff.reset is tend time. A run of 3 s of its
// own with the container frozen 10 s in the middle did not last a reset
// of 5 s: its crash waits on the ladder.
func TestCrashResetFreeze(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
		l := startLoop(t, noSocket+`
[programs.p]
command = ["p"]
startsecs = 0.1
backoff = { initial = "1s", factor = 2.0, max = "4s", reset = "5s" }
`, nil, map[string]script{"p": {code: 1, lives: []time.Duration{ms(300), ms(300), 3 * time.Second, -1}}})
		time.Sleep(2600 * time.Millisecond) // the third run began at 1.6 s
		l.f.freeze(10 * time.Second)
		time.Sleep(10 * time.Second)
		l.want("1.6s spawn p", "4.6s exit p 1", "6.6s spawn p")
		if n := l.count("4.6s spawn p"); n != 0 {
			t.Errorf("restarted at once: the freeze counted as time up\n%s", strings.Join(l.f.log(), "\n"))
		}
		l.stop()
	})
}

// TestRestartLimit: more than count automatic restarts within window is
// FATAL, with the reason; restarts that left the window do not count;
// failed starts count too.
func TestRestartLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log lockedBuffer
		l := startLoopLog(t, zerolog.New(&log), noSocket+`
[programs.p]
command = ["p"]
startsecs = 0.2
backoff = { initial = "100ms", factor = 1.0, max = "100ms", reset = "10s" }
restart_limit = { count = 3, window = "10s" }
`, nil, map[string]script{"p": {runFor: 300 * time.Millisecond, code: 1}})
		time.Sleep(time.Hour)
		l.want("0s spawn p", "300ms spawn p", "700ms spawn p", "1.1s spawn p", "1.4s exit p 1")
		if n := l.count("spawn p"); n != 4 {
			t.Errorf("%d starts, want 4: 3 restarts, the 4th refused", n)
		}
		l.stop()
		evs := states(t, log.String(), "p")
		last := evs[len(evs)-1]
		if last.State != string(api.Fatal) || !strings.Contains(last.Reason, "restart_limit: more than 3 restarts in 10s") {
			t.Errorf("last state %+v, want FATAL with restart_limit's reason", last)
		}
	})
	// One restart a second or so, 2 allowed in 1 s: the window never
	// holds 3.
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, noSocket+`
[programs.p]
command = ["p"]
startsecs = 0.2
backoff = { initial = "1s", factor = 1.0, max = "1s" }
restart_limit = { count = 2, window = "1s" }
`, nil, map[string]script{"p": {runFor: 300 * time.Millisecond, code: 1}})
		time.Sleep(time.Minute)
		if n := l.count("spawn p"); n < 40 {
			t.Errorf("%d starts in a minute: restarts out of the window were counted", n)
		}
		l.stop()
	})
	// Failed starts are restarts too: with startretries far off, the
	// limit ends them.
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, noSocket+`
[programs.p]
command = ["p"]
startsecs = 1
startretries = 100
backoff = { initial = "100ms", factor = 1.0, max = "100ms" }
restart_limit = { count = 2, window = "60s" }
`, nil, map[string]script{"p": {runFor: 0, code: 1}})
		time.Sleep(time.Hour)
		if n := l.count("spawn p"); n != 3 {
			t.Errorf("%d starts, want 3", n)
		}
		l.stop()
	})
}

// TestNoLimitNoFatal: without restart_limit, crashes after RUNNING
// never lead to FATAL, whatever startretries says.
func TestNoLimitNoFatal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, noSocket+`
[programs.p]
command = ["p"]
startsecs = 0.2
startretries = 0
critical = true
backoff = { initial = "1s", factor = 1.0, max = "1s" }
`, nil, map[string]script{"p": {runFor: 300 * time.Millisecond, code: 1}})
		time.Sleep(time.Hour)
		if code := l.stop(); code != 0 {
			t.Errorf("tend exited %d: the critical program went FATAL", code)
		}
		if n := l.count("spawn p"); n < 2000 {
			t.Errorf("%d starts in an hour", n)
		}
	})
}

// TestGroupLeftovers: the main process dies alone; its workers get
// stopsignal, and the program restarts only once they are gone, at once
// (the first crash). STOPPING says how many were left.
func TestGroupLeftovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log lockedBuffer
		l := startLoopLog(t, zerolog.New(&log), noSocket+`
[programs.p]
command = ["p"]
startsecs = 0.2
stopsignal = "INT"
`, nil, map[string]script{"p": {lives: []time.Duration{time.Second, -1}, code: 1, workers: 2, workerTerm: 100 * time.Millisecond}})
		time.Sleep(2 * time.Second)
		l.want("0s spawn p", "1s exit p 1", "1s kill p.w INT", "1s kill p.w INT", "1s kill p.w CONT",
			"1.1s exit p.w 130", "1.1s exit p.w 130", "1.1s spawn p")
		if n := l.count("spawn p"); n != 2 {
			t.Errorf("%d starts, want 2", n)
		}
		for _, e := range l.f.log() {
			if e == "1s spawn p" {
				t.Error("restarted while its workers still ran")
			}
		}
		l.stop()
		evs := states(t, log.String(), "p")
		if got := stateNames(evs); !strings.HasPrefix(got, "STARTING RUNNING STOPPING EXITED STARTING") {
			t.Fatalf("states %q", got)
		}
		if s := evs[2]; s.From != string(api.Running) || !strings.Contains(s.Reason, "exited; 2 processes left in its process group: INT to the group") {
			t.Errorf("STOPPING line %+v", s)
		}
		if e := evs[3]; e.From != string(api.Stopping) || e.Reason != "exited; autorestart=on-failure" {
			t.Errorf("EXITED line %+v", e)
		}
	})
}

// TestGroupLeftoversKilled: workers that ignore stopsignal get SIGKILL
// after stopwaitsecs; the restart follows their exit. Killing what a
// crash left is not a stop that needed SIGKILL: tend still exits 0.
func TestGroupLeftoversKilled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, noSocket+`
[programs.p]
command = ["p"]
startsecs = 0.2
stopwaitsecs = 2
`, nil, map[string]script{"p": {lives: []time.Duration{time.Second, -1}, code: 1, onTerm: 0, workers: 1, workerTerm: -1, firstOnly: true}})
		time.Sleep(4 * time.Second)
		l.want("1s exit p 1", "1s kill p.w TERM", "3s kill p.w KILL", "3s exit p.w 137", "3s spawn p")
		if code := l.stop(); code != 0 {
			t.Errorf("tend exited %d, want 0", code)
		}
	})
}

// TestGroupStopWaitsForAll: a stop is over when the whole group is:
// a's workers outlive its main process by a second, and b, which a
// depends on, is stopped only after them.
func TestGroupStopWaitsForAll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, noSocket+`
[programs.a]
command = ["a"]
startsecs = 0
depends_on = ["b"]
[programs.b]
command = ["b"]
startsecs = 0
`, nil, map[string]script{"a": {runFor: -1, onTerm: 0, workers: 1, workerTerm: time.Second}, "b": {runFor: -1, onTerm: 0}})
		time.Sleep(time.Second)
		if code := l.stop(); code != 0 {
			t.Errorf("tend exited %d, want 0", code)
		}
		l.want("1s kill a TERM", "1s kill a.w TERM", "1s exit a 143", "2s exit a.w 143", "2s kill b TERM")
		for _, e := range l.f.log() {
			if e == "1s kill b TERM" {
				t.Error("b stopped while a's worker still ran")
			}
		}
	})
}

// TestGroupDrainThenStop: a program whose workers drain after a crash
// is not restarted once they are gone if it was stopped meanwhile; its
// status shows the drain; a shutdown during a drain that needs SIGKILL
// makes tend exit 1.
func TestGroupDrainThenStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startCtlLoop(t, noSocket+`
[programs.p]
command = ["p"]
startsecs = 0.2
stopwaitsecs = 3
`, map[string]script{"p": {lives: []time.Duration{time.Second, -1}, code: 1, onTerm: 0, workers: 2, workerTerm: 2 * time.Second}})
		time.Sleep(1500 * time.Millisecond)
		st := l.state("p")
		if st.State != api.Stopping || st.Pid != 0 || !strings.Contains(st.Reason, "2 processes left in its process group") {
			t.Errorf("status during the drain: %+v", st)
		}
		if r := l.do(api.VerbStop, "p"); r.Err != "" {
			t.Fatal(r.Err)
		}
		time.Sleep(5 * time.Second)
		if st := l.state("p"); st.State != api.Stopped {
			t.Errorf("after the drain: %+v, want STOPPED", st)
		}
		if n := l.count("spawn p"); n != 1 {
			t.Errorf("%d starts, want 1: stopped during the drain", n)
		}
		if n := l.count("kill p.w TERM"); n != 2 {
			t.Errorf("workers got TERM %d times, want once each", n)
		}
		l.stop()
	})
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, noSocket+`
[programs.p]
command = ["p"]
startsecs = 0.2
stopwaitsecs = 3
`, nil, map[string]script{"p": {lives: []time.Duration{time.Second, -1}, code: 1, workers: 1, workerTerm: -1}})
		time.Sleep(1500 * time.Millisecond)
		if code := l.stop(); code != 1 {
			t.Errorf("tend exited %d, want 1: a leftover needed SIGKILL during the shutdown", code)
		}
		l.want("1s kill p.w TERM", "4s kill p.w KILL", "4s exit p.w 137")
		if n := l.count("spawn p"); n != 1 {
			t.Errorf("%d starts, want 1", n)
		}
	})
}

// TestBackoffStatus: status shows BACKOFF with its reason and when the
// program starts again.
func TestBackoffStatus(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startCtlLoop(t, noSocket+`
[programs.p]
command = ["p"]
startsecs = 0.2
backoff = { initial = "10s", max = "10s" }
`, map[string]script{"p": {runFor: 300 * time.Millisecond, code: 1}})
		time.Sleep(time.Second) // crashed at 300 ms (restarted at once) and 600 ms
		st := l.state("p")
		if st.State != api.Backoff || !strings.Contains(st.Reason, "exit 2 in a row") {
			t.Errorf("status %+v, want BACKOFF and why", st)
		}
		if want := time.Now().Add(9600 * time.Millisecond); !st.NextStart.Equal(want) {
			t.Errorf("next start %v, want %v", st.NextStart, want)
		}
		time.Sleep(9650 * time.Millisecond) // started again at 10.6 s
		if st := l.state("p"); st.State != api.Starting || !st.NextStart.IsZero() {
			t.Errorf("next start %v in %s", st.NextStart, st.State)
		}
		l.stop()
	})
}

// TestCrashPolicy: the pure rules of the ladder and the limit.
func TestCrashPolicy(t *testing.T) {
	b := config.Backoff{Initial: time.Second, Max: 8 * time.Second, Factor: 2, Reset: 30 * time.Second}
	for _, c := range []struct {
		before int
		ran    time.Duration
		want   int
	}{{0, time.Second, 1}, {1, time.Second, 2}, {5, 29 * time.Second, 6}, {5, 30 * time.Second, 1}, {0, time.Hour, 1}} {
		if got := crashes(b, c.before, c.ran); got != c.want {
			t.Errorf("crashes(%d, %v) = %d, want %d", c.before, c.ran, got, c.want)
		}
	}
	for n, want := range map[int]time.Duration{1: 0, 2: time.Second, 3: 2 * time.Second, 4: 4 * time.Second, 5: 8 * time.Second, 50: 8 * time.Second} {
		if got := crashDelay(b, n, 0); got != want {
			t.Errorf("crashDelay(%d) = %v, want %v", n, got, want)
		}
	}
	if got := crashDelay(b, 2, -1); got != 900*time.Millisecond {
		t.Errorf("crashDelay jitter -1: %v", got)
	}
	if got := crashDelay(b, 1, 1); got != 0 {
		t.Errorf("the first restart waits %v with jitter", got)
	}

	t0 := time.Unix(0, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	lim := &config.RestartLimit{Count: 2, Window: 10 * time.Second}
	var times []time.Time
	for i, c := range []struct {
		at   float64
		over bool
	}{{0, false}, {1, false}, {2, true}, {12.5, false}, {13, false}, {22.6, false}, {22.7, true}} {
		var over bool
		times, over = recordRestart(times, at(c.at), lim)
		if over != c.over || len(times) > lim.Count+1 {
			t.Errorf("restart %d at %gs: over %v (%d kept), want %v", i, c.at, over, len(times), c.over)
		}
	}
	if times, over := recordRestart(nil, t0, nil); over || times != nil {
		t.Error("no limit: recorded")
	}
	if _, over := recordRestart(nil, t0, &config.RestartLimit{Count: 0, Window: time.Second}); !over {
		t.Error("count 0: the first restart is over the limit")
	}
	// Bounded: a limit of 3 keeps at most 4, however many come.
	times = nil
	for i := range 1000 {
		times, _ = recordRestart(times, at(float64(i)/1000), &config.RestartLimit{Count: 3, Window: time.Hour})
	}
	if len(times) != 4 {
		t.Errorf("%d times kept, want 4", len(times))
	}
}
