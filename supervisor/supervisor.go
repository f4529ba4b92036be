// Package supervisor owns every process tend starts, and the one loop
// (Supervisor.Run) that decides what happens to them.
//
// Everything that touches process state happens on that loop's goroutine:
// spawning, the pid→owner table, signal forwarding, timers. There are no
// mutexes here. Other goroutines (the os/signal machinery today; control
// requests and probes later) talk to the loop over channels.
package supervisor

import (
	"slices"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"tend/reaper"
	"tend/signals"
)

// Options configure a Supervisor in init mode: one main program.
type Options struct {
	// Main is the program whose exit ends tend.
	Main Command
	// NoGroup sends forwarded signals to the main program alone rather
	// than to its process group.
	NoGroup bool
	// Grace is how long leftovers get between SIGTERM and SIGKILL once
	// the main program has exited.
	Grace time.Duration
	// ExitZero lists exit codes reported as 0 (tini's -e).
	ExitZero []int
	// Log receives one line per state change.
	Log zerolog.Logger
}

// killWait bounds how long tend waits for leftovers after SIGKILL. Only a
// process stuck in uninterruptible sleep outlives it; PID 1 exiting makes
// the kernel finish the job.
const killWait = time.Second

// phase is where the loop is in tend's life.
type phase int

const (
	running  phase = iota // the main program runs
	draining              // it has exited; leftovers have had SIGTERM
	killing               // grace is over; leftovers have had SIGKILL
	done                  // nothing is left, or killWait is over
)

// Supervisor runs the main program to its end. Every field is owned by
// the goroutine in Run.
type Supervisor struct {
	opts Options
	sub  signals.Subscription
	log  zerolog.Logger
	// init: tend is PID 1 of its namespace.
	init bool

	mainPid  int
	mainExit *reaper.Exit
	phase    phase
	// orphans counts reaped processes tend did not start.
	orphans int
	// deadline is the running phase timer (grace, then killWait).
	deadline *time.Timer
}

// New prepares a Supervisor; sub must have been taken before anything
// else in main, so that no signal sent early is lost.
func New(opts Options, sub signals.Subscription) *Supervisor {
	return &Supervisor{opts: opts, sub: sub, log: opts.Log, init: reaper.IsInit()}
}

// Run starts the main program, forwards signals to it, reaps everything,
// and returns tend's exit code once the main program and every leftover
// are gone.
func (s *Supervisor) Run() int {
	if !s.init {
		if err := reaper.BecomeSubreaper(); err != nil {
			s.log.Warn().Err(err).Msg("cannot become a subreaper; orphans go to the host's init")
		} else {
			s.log.Debug().Msg("not PID 1: subreaper for every descendant")
		}
	}
	for _, sig := range s.sub.Ignored {
		s.log.Debug().Str("signal", signals.Name(sig)).Msg("started ignored: left ignored, not forwarded")
	}
	main := s.opts.Main
	main.Foreground = ownsTerminal()
	pid, err := spawn(main)
	if err != nil {
		code := 126
		if ee, ok := err.(*ExecError); ok {
			code = ee.Code()
		}
		s.log.Error().Err(err).Int("exit_code", code).Msg("cannot start the main program")
		return code
	}
	s.mainPid = pid
	s.log.Debug().Int("pid", pid).Strs("argv", main.Argv).Bool("tty", main.Foreground).
		Str("state", "RUNNING").Msg("main program started")

	for s.phase != done {
		select {
		case <-s.sub.Child:
			s.onChild()
		case sig := <-s.sub.Other:
			s.onSignal(sig.(syscall.Signal))
		case <-s.deadlineC():
			s.onTimer()
		}
	}
	return s.exitCode()
}

// onChild reaps whatever has exited, then moves the phase on.
func (s *Supervisor) onChild() {
	left, err := reaper.Drain(s.onExit)
	if err != nil {
		s.log.Error().Err(err).Msg("reap")
	}
	if s.mainExit == nil {
		return
	}
	if !left {
		s.log.Debug().Int("orphans_reaped", s.orphans).Msg("nothing left")
		s.phase = done
		return
	}
	if s.phase == running {
		s.phase = draining
		s.stopLeftovers(unix.SIGTERM, s.opts.Grace)
	}
}

func (s *Supervisor) onExit(e reaper.Exit) {
	if e.Pid != s.mainPid {
		s.orphans++
		s.log.Trace().Int("pid", e.Pid).Int("exit_code", e.Code()).Msg("reaped orphan")
		return
	}
	s.mainExit = &e
	ev := s.log.Debug().Int("pid", e.Pid).Str("state", "EXITED").Str("from", "RUNNING").
		Int("exit_code", e.Code())
	if e.Status.Signaled() {
		ev = ev.Str("signal", signals.Name(e.Status.Signal()))
	}
	ev.Msg("main program exited")
}

// stopLeftovers signals every leftover, follows with SIGCONT so a stopped
// one can act on it, and arms the deadline for the next step.
func (s *Supervisor) stopLeftovers(sig syscall.Signal, wait time.Duration) {
	if signalLeftovers(s.init, sig) {
		signalLeftovers(s.init, unix.SIGCONT)
	}
	s.log.Debug().Str("signal", signals.Name(sig)).Dur("wait", wait).Msg("stopping leftover processes")
	s.deadline = time.NewTimer(wait)
}

func (s *Supervisor) deadlineC() <-chan time.Time {
	if s.deadline == nil {
		return nil
	}
	return s.deadline.C
}

func (s *Supervisor) onTimer() {
	switch s.phase {
	case draining:
		s.log.Warn().Dur("grace", s.opts.Grace).Msg("leftover processes outlived the grace period: SIGKILL")
		s.phase = killing
		s.stopLeftovers(unix.SIGKILL, killWait)
	case killing:
		s.log.Warn().Msg("leftover processes outlived SIGKILL; exiting without them")
		s.phase = done
	}
}

// onSignal applies init mode's policy to a signal tend received.
func (s *Supervisor) onSignal(sig syscall.Signal) {
	action := signals.InInit(sig)
	if action != signals.Forward || s.phase != running {
		s.log.Debug().Str("signal", signals.Name(sig)).Stringer("action", action).Msg("signal not forwarded")
		return
	}
	target := -s.mainPid
	if s.opts.NoGroup {
		target = s.mainPid
	}
	err := unix.Kill(target, sig)
	s.log.Debug().Err(err).Str("signal", signals.Name(sig)).Int("target", target).Msg("forwarded")
}

// exitCode is the main program's code, 128+N if signal N killed it, and
// 0 for the codes named in ExitZero.
func (s *Supervisor) exitCode() int {
	code := s.mainExit.Code()
	if slices.Contains(s.opts.ExitZero, code) {
		return 0
	}
	return code
}
