package reaper

import (
	"os"
	"time"

	"github.com/rs/zerolog"
)

// Coalesce is the shortest gap between two reaps. wait4(-1) walks the
// list of tend's children until it finds a zombie, and the last call of
// a reap, the one that finds none, walks all of it: with thousands of
// live orphans, reaping on every SIGCHLD of an exit storm cost tend five
// times tini's CPU (bench/init.sh). tini keeps SIGCHLD blocked and takes
// it when it chooses; Go cannot keep a signal blocked, so tend spaces its
// reaps instead. The first exit after a quiet spell is reaped at once.
const Coalesce = time.Millisecond

// Schedule decides when the loop reaps, and keeps what the last reap
// found. On a SIGCHLD it reaps at once, unless the last reap was less
// than the gap ago: that starts a storm, in which SIGCHLD is muted (a
// handler of tend's, signals.MuteChild) and the reaps come from the
// loop's timer, one per gap, until one finds nothing.
//
// It is the loop's, like everything the loop owns: no locks. Its times
// are the loop's real clock (monotonic, freezes included).
type Schedule struct {
	drain func(func(Exit)) (bool, error) // Drain, or a fake
	mute  func(on bool) error            // mutes SIGCHLD, or gives it back its handler
	gap   time.Duration
	now   func() time.Time
	child <-chan os.Signal // SIGCHLD notices, for dropping a stale one
	log   zerolog.Logger

	muted bool      // SIGCHLD is muted: reaps come from due
	last  time.Time // when the last drain ended
	due   time.Time // a reap put off to the end of the gap; zero: none
	left  bool      // children remained at the last drain
}

// NewSchedule reaps with drain (Drain, in tend), mutes SIGCHLD with mute
// (nil: it cannot be muted), spaces reaps by gap (0: every SIGCHLD reaps)
// as now tells time, and drops stale notices from child. Errors go to
// log.
func NewSchedule(drain func(func(Exit)) (bool, error), mute func(bool) error, gap time.Duration, now func() time.Time, child <-chan os.Signal, log zerolog.Logger) *Schedule {
	return &Schedule{drain: drain, mute: mute, gap: gap, now: now, child: child, log: log}
}

// Due is when a put-off reap is due; zero when none is. While one is due
// a SIGCHLD has nothing to add: the loop leaves it in its channel (one
// is enough) rather than wake for it, and arms its timer to Due instead.
func (r *Schedule) Due() time.Time { return r.due }

// Left reports whether children remained at the last drain.
func (r *Schedule) Left() bool { return r.left }

// Expect says children are there until a drain says otherwise: the
// last drain's answer is stale once the loop has just killed programs.
func (r *Schedule) Expect() { r.left = true }

// OnChild handles a SIGCHLD notice: it reaps, handing each exit to
// onExit, or, within the gap of the last reap, mutes SIGCHLD and puts
// the reap off to Due.
func (r *Schedule) OnChild(onExit func(Exit)) {
	if next := r.last.Add(r.gap); r.now().Before(next) {
		r.setMute(true)
		r.due = next
		return
	}
	r.reap(false, onExit)
}

// OnTimer is for the loop's timer firing: it reaps what is due. When no
// reap is due it drains all the same, so that exits are handed over
// before any of the loop's deadlines acts (an exit whose notice has not
// come yet must not be overtaken by its program's startsecs).
func (r *Schedule) OnTimer(onExit func(Exit)) {
	if !r.due.IsZero() && !r.now().Before(r.due) {
		r.reap(true, onExit)
		return
	}
	r.Drain(onExit)
}

// reap drains every exit with SIGCHLD muted, so that the exits it
// collects as it goes do not each interrupt tend (signals.MuteChild). In
// a storm, a reap that found something leaves SIGCHLD muted and puts the
// next reap at the end of the gap; otherwise SIGCHLD is unmuted, and one
// more drain collects what exited between the last wait4 and the unmute,
// which raised no signal.
func (r *Schedule) reap(storm bool, onExit func(Exit)) {
	r.due = time.Time{}
	r.setMute(true)
	if n := r.Drain(onExit); n > 0 && storm {
		r.due = r.now().Add(r.gap)
		return
	}
	// A notice still waiting is stale: SIGCHLD has been muted since the
	// drain began, so it is for an exit that drain, or the one below,
	// collects. It must go before the unmute, not after: a SIGCHLD
	// handler that was already running when the loop muted may mute
	// again after the unmute, and its notice is then the only thing that
	// brings the loop back to unmute.
	select {
	case <-r.child:
	default:
	}
	if r.setMute(false); r.muted {
		// SIGCHLD could not be given back its handler: an exit would go
		// unnoticed, so keep reaping on the timer instead.
		r.due = r.now().Add(max(r.gap, Coalesce))
	}
	r.Drain(onExit)
}

// Drain reaps every exited child now, hands each to onExit, and returns
// how many there were.
func (r *Schedule) Drain(onExit func(Exit)) int {
	n := 0
	left, err := r.drain(func(e Exit) {
		n++
		onExit(e)
	})
	if err != nil {
		r.log.Error().Err(err).Msg("reap")
	}
	r.left = left
	r.last = r.now()
	return n
}

// setMute mutes SIGCHLD or unmutes it. A failure is logged and leaves
// muted as it was, which reap reads.
func (r *Schedule) setMute(on bool) {
	if r.muted == on || r.mute == nil {
		return
	}
	if err := r.mute(on); err != nil {
		r.log.Error().Err(err).Bool("mute", on).Msg("SIGCHLD disposition")
		return
	}
	r.muted = on
}
