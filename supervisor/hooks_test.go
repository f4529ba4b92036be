package supervisor

import (
	"os"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/sys/unix"
)

// Lifecycle hooks under fake time: fake processes play the hooks (named
// by their argv[0]) as they play programs.

func hookConf(keys string) string {
	return noSocket + `
[programs.p]
command = ["p"]
startsecs = 0
stopwaitsecs = 5
backoff = { initial = "1s", max = "1s", factor = 1.0 }
` + keys
}

// TestPreStart: the program starts once its pre_start exits 0; a hook
// that fails, or outlives hook_timeout (then SIGKILLed), is a failed
// start, retried after the backoff with the hook again.
func TestPreStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, hookConf(`pre_start = ["pre"]`), nil, map[string]script{"p": forever, "pre": {runFor: 300 * time.Millisecond}})
		time.Sleep(time.Second)
		l.want("0s spawn pre", "300ms exit pre 0", "300ms spawn p")
		l.stop()
	})
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, hookConf(`pre_start = ["pre"]`), nil, map[string]script{"p": forever, "pre": {runFor: 100 * time.Millisecond, code: 3}})
		time.Sleep(1500 * time.Millisecond)
		l.want("0s spawn pre", "100ms exit pre 3", "1.1s spawn pre", "1.2s exit pre 3")
		if n := l.count("spawn p"); n != 0 {
			t.Errorf("p started %d times after a failed pre_start", n)
		}
		l.stop()
	})
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, hookConf(`pre_start = ["pre"]
hook_timeout = "2s"`), nil, map[string]script{"p": forever, "pre": {runFor: -1, onTerm: -1}})
		time.Sleep(2500 * time.Millisecond)
		l.want("0s spawn pre", "2s kill pre KILL", "2s exit pre 137")
		if n := l.count("spawn p"); n != 0 {
			t.Errorf("p started after its pre_start timed out")
		}
		l.stop()
	})
}

// TestPreStop: on a stop, pre_stop runs first and the stop signal comes
// once it is over (at its exit, or at hook_timeout, failed or not), with
// stopwaitsecs from then.
func TestPreStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, hookConf(`pre_stop = ["pre"]`), nil, map[string]script{"p": forever, "pre": {runFor: 400 * time.Millisecond, code: 1}})
		time.Sleep(time.Second)
		l.sigs <- unix.SIGTERM
		<-l.code
		l.want("1s spawn pre", "1.4s exit pre 1", "1.4s kill p TERM", "1.4s exit p 143")
	})
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, hookConf(`pre_stop = ["pre"]
hook_timeout = "1s"`), nil, map[string]script{"p": forever, "pre": {runFor: -1, onTerm: -1}})
		time.Sleep(time.Second)
		l.sigs <- unix.SIGTERM
		<-l.code
		l.want("1s spawn pre", "2s kill pre KILL", "2s kill p TERM", "2s exit p 143")
	})
}

// TestPostStop: post_stop runs once the program's group is gone, and
// what the exit leads to (here a restart) waits for it; tend's
// shutdown waits for it too.
func TestPostStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, hookConf(`post_stop = ["post"]`), nil, map[string]script{"p": {runFor: time.Second, code: 1}, "post": {runFor: 200 * time.Millisecond}})
		time.Sleep(1500 * time.Millisecond)
		l.want("0s spawn p", "1s exit p 1", "1s spawn post", "1.2s exit post 0", "1.2s spawn p")
		l.sigs <- unix.SIGTERM
		<-l.code
		l.want("1.5s kill p TERM", "1.5s exit p 143", "1.5s spawn post", "1.7s exit post 0")
	})
}

// TestDrainRunsPreStop: with [tend] drain, every pre_stop runs as the
// drain begins, and the stop after the drain does not run it again.
func TestDrainRunsPreStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, strings.Replace(hookConf(`pre_stop = ["pre"]`), noSocket, noSocket+"drain = \"2s\"\n", 1), nil,
			map[string]script{"p": forever, "pre": {runFor: 100 * time.Millisecond}})
		time.Sleep(time.Second)
		l.sigs <- unix.SIGTERM
		<-l.code
		l.want("1s spawn pre", "1.1s exit pre 0", "3s kill p TERM", "3s exit p 143")
		if n := l.count("spawn pre"); n != 1 {
			t.Errorf("pre_stop ran %d times, want once", n)
		}
	})
}

// TestRemovedDuringPreStart: a reload that removes a program while its
// pre_start runs keeps it until the hook is over: hook_timeout still
// kills a hook that hangs, and the program is forgotten after.
func TestRemovedDuringPreStart(t *testing.T) {
	t.Chdir(t.TempDir()) // the loop's config file is t.toml, here
	const keep = "[programs.q]\ncommand = [\"q\"]\nstartsecs = 0\n"
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, noSocket+keep+`
[programs.p]
command = ["p"]
pre_start = ["pre"]
hook_timeout = "2s"
`, nil, map[string]script{"p": forever, "q": forever, "pre": {runFor: -1, onTerm: -1}})
		time.Sleep(500 * time.Millisecond)
		if err := os.WriteFile("t.toml", []byte(noSocket+keep), 0o644); err != nil {
			t.Fatal(err)
		}
		l.sigs <- unix.SIGHUP
		time.Sleep(3 * time.Second)
		l.want("0s spawn pre", "2s kill pre KILL", "2s exit pre 137")
		if n := l.count("spawn p"); n != 0 {
			t.Errorf("p started after a reload removed it")
		}
		l.stop()
	})
}

// TestPreStartDependencyGone: a dependency that goes down while the
// dependent's pre_start runs keeps the dependent from starting until
// the dependency is back.
func TestPreStartDependencyGone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, noSocket+`
[programs.db]
command = ["db"]
startsecs = 0
backoff = { initial = "1s", max = "1s", factor = 1.0 }
[programs.web]
command = ["web"]
startsecs = 0
depends_on = ["db"]
pre_start = ["pre"]
`, nil, map[string]script{"db": {runFor: 400 * time.Millisecond, code: 1}, "web": forever, "pre": {runFor: time.Second}})
		// db: up at 0, crashes at 400 ms (restarted at once) and at 800
		// ms (BACKOFF for 1 s): down when web's pre_start ends at 1 s.
		time.Sleep(1500 * time.Millisecond)
		if n := l.count("spawn web"); n != 0 {
			t.Errorf("web started while db was down:\n%s", strings.Join(l.f.log(), "\n"))
		}
		l.stop()
	})
}
