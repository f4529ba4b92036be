package supervisor

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"
)

// TestMaxStarting: with max_starting = 2, two programs start at a
// time, in the order of the file, the next ones as slots free up (a
// program RUNNING after startsecs, a oneshot's end); the rest wait
// STOPPED with the reason.
func TestMaxStarting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log lockedBuffer
		l := startLoopLog(t, zerolog.New(&log), noSocket+`max_starting = 2
[programs.d]
command = ["d"]
startsecs = 1
[programs.c]
command = ["c"]
type = "oneshot"
[programs.b]
command = ["b"]
startsecs = 1
[programs.a]
command = ["a"]
startsecs = 1
`, nil, map[string]script{"a": forever, "b": forever, "c": {runFor: 1500 * time.Millisecond}, "d": forever})
		time.Sleep(5 * time.Second)
		l.want("0s spawn d", "0s spawn c", "1s spawn b", "1.5s exit c 0", "1.5s spawn a")
		if n := strings.Count(log.String(), `"reason":"waiting for a start slot"`); n != 2 {
			t.Errorf("%d programs said they wait for a slot, want 2 (b, a):\n%s", n, log.String())
		}
		l.stop()
	})
}
