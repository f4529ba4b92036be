package supervisor

import (
	"math"
	"slices"
	"time"

	"tend/api"
	"tend/config"
)

// The rules of SPEC's "Program states", as pure functions of a program's
// config and what just happened: no processes, no clock. The loop applies
// their answers.

// State is where a program is in its life; the states, typed, are
// api's, shared with the control server and `tend ctl`.
type State = api.State

// The program states, by their short names here.
const (
	Stopped   = api.Stopped
	Starting  = api.Starting
	Running   = api.Running
	Backoff   = api.Backoff
	Stopping  = api.Stopping
	Exited    = api.Exited
	Fatal     = api.Fatal
	Completed = api.Completed
	Failed    = api.Failed
	Paused    = api.Paused
)

// backoffDelay is how long BACKOFF waits after the n-th failed start in a
// row (n >= 1): initial * factor^(n-1), capped at max, then moved by
// jitter*10% (jitter in [-1, 1]) so that programs failing together do
// not retry in lockstep.
func backoffDelay(b config.Backoff, n int, jitter float64) time.Duration {
	d := float64(b.Initial) * math.Pow(b.Factor, float64(max(n-1, 0)))
	d = min(d, float64(b.Max))
	d *= 1 + max(-1, min(1, jitter))/10
	return time.Duration(d)
}

// crashes is the count of unexpected exits in a row after one more, of
// a run that lasted ran: a run of backoff.reset clears the ladder, so
// its exit is the first again.
func crashes(b config.Backoff, before int, ran time.Duration) int {
	if ran >= b.Reset {
		return 1
	}
	return before + 1
}

// crashDelay is how long a program waits to restart after the n-th
// unexpected exit in a row (n >= 1) of a run that was up: not at all
// after the first, then initial, initial * factor, … capped at max, with
// jitter as backoffDelay's.
func crashDelay(b config.Backoff, n int, jitter float64) time.Duration {
	if n <= 1 {
		return 0
	}
	return backoffDelay(b, n-1, jitter)
}

// recordRestart adds a restart at now to times (the restarts still in
// restart_limit's window, oldest first) and reports whether the window
// now holds more than the limit allows. Without a limit nothing is kept.
// times never holds more than Count+1 entries.
func recordRestart(times []time.Time, now time.Time, l *config.RestartLimit) ([]time.Time, bool) {
	if l == nil {
		return nil, false
	}
	cut := now.Add(-l.Window)
	i := 0
	for i < len(times) && !times[i].After(cut) {
		i++
	}
	times = append(times[:0], times[i:]...)
	if len(times) > l.Count {
		times = times[len(times)-l.Count:] // room for now, at Count+1
	}
	times = append(times, now)
	return times, len(times) > l.Count
}

// outcome is what a program's exit leads to.
type outcome int

const (
	// failedStart: the run ended before startsecs (or a oneshot failed
	// and may retry): BACKOFF, or FATAL/FAILED once retries are spent.
	failedStart outcome = iota
	// restart: a RUNNING longrun that autorestart brings back, at once
	// or after a wait (crashDelay).
	restart
	// exited: a longrun that ended and stays EXITED.
	exited
	// completed: a oneshot that exited with an expected code.
	completed
	// failed: a oneshot that failed and will not retry.
	failed
	// stopped: it exited because it was asked to stop.
	stopped
)

// exitInfo is what the loop knows of one exit.
type exitInfo struct {
	code     int  // exit status, or 128+N when killed by signal N
	signaled bool // killed by a signal
}

// expected reports whether the exit counts as success: a normal exit with
// a code in exitcodes. A death by signal never does.
func expected(p *config.Program, e exitInfo) bool {
	return !e.signaled && slices.Contains(p.ExitCodes, e.code)
}

// classify applies SPEC's rules to an exit of a program that was in
// state st.
func classify(p *config.Program, st State, e exitInfo) outcome {
	if st == Stopping {
		return stopped
	}
	if st == Paused {
		return exited // a PAUSED program is never restarted
	}
	if p.Type == config.Oneshot {
		switch {
		case expected(p, e):
			return completed
		case p.Autorestart == config.RestartNever:
			return failed
		}
		return failedStart
	}
	// A longrun that ends while still STARTING failed to start, whatever
	// its code: only its startsecs deadline makes it RUNNING, and the loop
	// drains exits before any deadline acts (onTimer). So an exit seen in
	// STARTING ended before tend could confirm startsecs, even if the loop
	// learns of it late and the run's length, measured to then, reads
	// longer.
	if st == Starting {
		return failedStart
	}
	switch p.Autorestart {
	case config.RestartAlways:
		return restart
	case config.RestartOnFailure:
		if expected(p, e) {
			return exited
		}
		return restart
	}
	return exited
}

// afterFailedStart is the state after the n-th failed start in a row:
// BACKOFF while retries remain (startretries counts retries, so 1 +
// startretries starts in all), then FATAL, or FAILED for a oneshot.
func afterFailedStart(p *config.Program, n int) State {
	if n <= p.StartRetries {
		return Backoff
	}
	if p.Type == config.Oneshot {
		return Failed
	}
	return Fatal
}

// depCheck is where a dependency stands for its dependent.
type depCheck int

const (
	depPending depCheck = iota // not yet
	depMet                     // the dependent may start
	depDead                    // will not be met unless someone acts
)

// depView is what a dependent sees of a dependency.
type depView struct {
	typ     config.Type
	state   State
	healthy bool // RUNNING and passing its health check (or has none)
	ready   bool // RUNNING and ready (isReady)
	gated   bool // has a ready setting or a readiness check (config.Program.Gated)
	stuck   bool // will never start as things stand: not wanted, or blocked by a dead dependency of its own
}

// checkDep says whether dependency d, as q shows it, is met. A plain
// depends_on waits for COMPLETED on a oneshot, for ready on a gated
// longrun, for RUNNING on any other.
func checkDep(d config.Dep, q depView) depCheck {
	typ, st := q.typ, q.state
	cond := d.Condition
	if cond == config.CondDefault {
		switch {
		case typ == config.Oneshot:
			cond = config.CondCompleted
		case q.gated:
			cond = config.CondReady
		default:
			cond = config.CondRunning
		}
	}
	switch cond {
	case config.CondCompleted:
		if st == Completed {
			return depMet
		}
	case config.CondHealthy:
		if q.healthy || (typ == config.Oneshot && st == Completed) {
			return depMet
		}
	case config.CondReady:
		if q.ready || (typ == config.Oneshot && st == Completed) {
			return depMet
		}
	default:
		if st == Running || (typ == config.Oneshot && st == Completed) {
			return depMet
		}
	}
	if st == Fatal || st == Failed || st == Exited || st == Completed || (st == Stopped && q.stuck) {
		return depDead
	}
	return depPending
}
