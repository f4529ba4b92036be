package supervisor

import (
	"fmt"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"tend/api"
	"tend/config"
	"tend/notify"
)

// Readiness (SPEC "Readiness"): a program is ready when it says so or a
// probe shows it, not when a timer guesses. With `ready` other than
// "started", a run is STARTING until it says it is ready — READY=1 on
// its own NOTIFY_SOCKET, a newline on its fd N, a line of its output
// that matches, or a first pass of its check — and RUNNING from then on;
// ready_timeout bounds the wait, and is then a failed start. startsecs
// still decides what counts as a failed start: an exit before ready, or
// within startsecs of the start, is one.
//
// While RUNNING, a program is ready as long as what it said holds
// (notify: until RELOADING=1 or STOPPING=1, and again at READY=1) and
// its readiness check ([readiness]) passes. Readiness gates depends_on
// ("ready", and a plain depends_on on a program with a ready setting),
// the main program's start, health (/readyz, ctl health, tend's own
// READY=1), and shows in status, events and metrics.
//
// What programs say reaches the loop as messages and never blocks it:
// the notify sockets' news through one wake-up channel (notify.Server,
// coalesced per program), a readiness fd's or a log line's through
// readyMsgs, once per run. The watchdog (ready = "notify" with
// watchdog) is one more deadline of the loop.

// notifyServer is the programs' notify sockets (notify.Server); a fake
// in the loop's tests.
type notifyServer interface {
	// Open makes the socket of program name, reachable by uid and gid
	// (-1: tend's own) alone.
	Open(name string, uid, gid int) (notifySocket, error)
	// Wake has a token when some socket has news for Take.
	Wake() <-chan struct{}
	// Take appends every socket's news since the last Take to dst.
	Take(dst []notifyNote) []notifyNote
	Close() error
}

// notifySocket is one program's socket (notify.Socket).
type notifySocket interface {
	Path() string
	// Expect names the process group whose messages count: the run's
	// pid, or 0 once it has ended.
	Expect(pgid int)
	Close() error
}

// notifyNote is one socket's news: what the program whose socket is at
// path said since the loop last took it.
type notifyNote struct {
	path string
	notify.Update
}

// readyPipe is one run's readiness fd (notify.Pipe); a fake in the
// loop's tests.
type readyPipe interface {
	ChildEnd() *os.File
	CloseChildEnd() error
	Watch(log zerolog.Logger, name string, report func(notify.FdEvent))
	Close() error
}

// readyMsg is what a run's readiness fd or output copier reports: once
// ready, and for a fd, once closed.
type readyMsg struct {
	p      *program
	run    uint64 // the run it is about (program.run); a stale one is dropped
	how    string // "fd 3", "log line"
	closed bool   // the fd was closed (without a newline, unless ready came first)
}

// realNotify adapts *notify.Server.
type realNotify struct {
	srv *notify.Server
	buf []notify.Note
}

func newNotifyServer(dir string, log zerolog.Logger) (notifyServer, error) {
	srv, err := notify.NewServer(dir, log)
	if err != nil {
		return nil, err
	}
	return &realNotify{srv: srv}, nil
}

func (r *realNotify) Open(name string, uid, gid int) (notifySocket, error) {
	k, err := r.srv.Open(name, uid, gid)
	if err != nil {
		return nil, err
	}
	return k, nil
}

func (r *realNotify) Wake() <-chan struct{} { return r.srv.Wake() }

func (r *realNotify) Take(dst []notifyNote) []notifyNote {
	r.buf = r.srv.Take(r.buf[:0])
	for _, n := range r.buf {
		dst = append(dst, notifyNote{path: n.Socket.Path(), Update: n.Update})
	}
	clear(r.buf)
	return dst
}

func (r *realNotify) Close() error { return r.srv.Close() }

func newReadyPipe(fd int) (readyPipe, error) { return notify.NewPipe(fd) }

// gatedStart reports whether p's runs are STARTING until they say they
// are ready.
func (p *program) gatedStart() bool {
	return !p.isMain && p.cfg.Ready.Kind != config.ReadyStarted
}

// isReady reports whether p is ready: RUNNING, having said so (with a
// ready setting) and not taken it back, and passing its readiness check
// if it has one.
func (p *program) isReady() bool {
	if p.state != Running {
		return false
	}
	if p.gatedStart() && !p.said {
		return false
	}
	return p.cfg.Readiness == nil || p.rprobe.health == api.HealthHealthy
}

// noteReady logs and publishes a change of p's readiness that came
// without a change of state, with its reason. changed records the
// readiness that comes with a state change.
func (s *Supervisor) noteReady(p *program, reason string) {
	r := p.isReady()
	if r == p.wasReady {
		return
	}
	p.wasReady = r
	ev := s.log.Info()
	if !r {
		ev = s.log.Warn()
	}
	ev.Str("program", p.cfg.Name).Int("pid", p.pid).Str("state", string(p.state)).Bool("ready", r).
		Str("reason", reason).Msg("readiness")
	s.publish(Change{Program: p.cfg.Name, State: p.state, From: p.state, Pid: p.pid, Time: time.Now(),
		Ready: r, Reason: reason})
}

// readySignal: p's run said it is ready (how: "READY=1", "fd 3", "log
// line", a probe's pass). A STARTING run becomes RUNNING; startsecs,
// if it has not passed yet, is then the deadline that confirms the run.
func (s *Supervisor) readySignal(p *program, how string) {
	if !p.gatedStart() || p.pid == 0 {
		return
	}
	if p.said {
		return
	}
	p.said = true
	if p.state != Starting {
		s.noteReady(p, how)
		return
	}
	p.due = time.Time{}
	if s.now().Sub(p.started) >= p.cfg.StartSecs {
		s.confirm(p)
	} else {
		p.due = p.started.Add(p.cfg.StartSecs)
	}
	s.armWatchdog(p)
	s.changed(p, Change{State: Running, From: Starting, Pid: p.pid, Reason: "ready: " + how})
}

// confirm: p's run has lasted startsecs; an exit is no longer a failed
// start.
func (s *Supervisor) confirm(p *program) {
	p.confirmed = true
	if p.cfg.Type == config.Longrun {
		p.failures = 0
		s.watchReset(p)
	}
}

// prepareReady readies cmd for p's run as its ready setting needs: the
// program's notify socket in its environment, or the write end of a
// readiness pipe as its fd N. started must be called once the spawn is
// over, with the new pid (0: the spawn failed).
func (s *Supervisor) prepareReady(p *program, cmd *Command) (started func(pid int), err error) {
	switch p.cfg.Ready.Kind {
	case config.ReadyNotify:
		k, err := s.notifySocket(p)
		if err != nil {
			return nil, err
		}
		cmd.Env = overrideEnv(cmd.Env, notify.Env(k.Path(), p.cfg.Watchdog))
		return func(pid int) {
			if pid != 0 {
				// In the same turn as the spawn: what the run sends
				// before the loop looks counts for it, what an older
				// run sent does not.
				k.Expect(pid)
			}
		}, nil
	case config.ReadyFd:
		pp, err := s.os.readyPipe(p.cfg.Ready.Fd)
		if err != nil {
			return nil, err
		}
		fd := p.cfg.Ready.Fd
		cmd.ExtraFiles = make([]*os.File, fd-2) // fds 3 to fd; all but fd closed in the child
		cmd.ExtraFiles[fd-3] = pp.ChildEnd()
		return func(pid int) {
			pp.CloseChildEnd() // while tend holds it, EOF cannot come
			if pid == 0 {
				pp.Close()
				return
			}
			p.pipe = pp
			run, name, how := p.run, p.cfg.Name, fmt.Sprintf("fd %d", fd)
			pp.Watch(s.log, name, func(e notify.FdEvent) {
				s.readyMsgs <- readyMsg{p: p, run: run, how: how, closed: e == notify.FdClosed}
			})
		}, nil
	}
	return func(int) {}, nil
}

// logWatch is, for a program with ready = { log = … }, what makes the
// watcher of each of its run's output streams (logs.CopyWatch): a line
// that matches reports ready to the loop, once for the run, whichever
// stream it came on. Each stream's matcher is its own: the copiers run
// at once. nil for any other program.
func (s *Supervisor) logWatch(p *program) func() func([]byte) bool {
	pat := p.cfg.Ready.Pattern
	if p.cfg.Ready.Kind != config.ReadyLog || pat == nil {
		return nil
	}
	var once atomic.Bool
	msg := readyMsg{p: p, run: p.run, how: "log line"}
	return func() func([]byte) bool {
		m := pat.Matcher()
		return func(line []byte) bool {
			if once.Load() {
				return true
			}
			if !m.Match(line) {
				return false
			}
			if once.CompareAndSwap(false, true) {
				s.readyMsgs <- msg
			}
			return true
		}
	}
}

// notifySocket is p's notify socket, opened at its first start (and the
// notify directory with the first of them).
func (s *Supervisor) notifySocket(p *program) (notifySocket, error) {
	if p.sock != nil {
		return p.sock, nil
	}
	if s.notifier == nil {
		dir := notify.DirFor(s.opts.Config.Tend.Socket)
		srv, err := s.os.notifyServer(dir, s.log)
		if err != nil {
			return nil, fmt.Errorf("notify socket: %w", err)
		}
		s.notifier = srv
	}
	uid, gid := -1, -1
	if p.cfg.User != nil {
		cred, err := credential(p.cfg.User)
		if err != nil {
			return nil, err
		}
		uid, gid = int(cred.Uid), int(cred.Gid)
	}
	k, err := s.notifier.Open(p.cfg.Name, uid, gid)
	if err != nil {
		return nil, err
	}
	p.sock = k
	s.bySock[k.Path()] = p
	return k, nil
}

// closeSocket closes p's notify socket, if it has one: a reload changed
// or removed p.
func (s *Supervisor) closeSocket(p *program) {
	if p.sock == nil {
		return
	}
	delete(s.bySock, p.sock.Path())
	if err := p.sock.Close(); err != nil {
		s.log.Warn().Str("program", p.cfg.Name).Err(err).Msg("closing the notify socket")
	}
	p.sock = nil
}

// notifyWake is the channel the loop waits on for notify news; nil
// (never ready) while no program has a socket.
func (s *Supervisor) notifyWake() <-chan struct{} {
	if s.notifier == nil {
		return nil
	}
	return s.notifier.Wake()
}

// onNotify takes the notify sockets' news and hands each to its
// program, if it is about the run under way.
func (s *Supervisor) onNotify() {
	s.notes = s.notifier.Take(s.notes[:0])
	for _, n := range s.notes {
		if p := s.bySock[n.path]; p != nil && p.pid != 0 && p.pid == n.Pgid {
			s.onNotice(p, n.Update)
		}
	}
	clear(s.notes)
}

// onNotice applies what p's run said on its notify socket.
func (s *Supervisor) onNotice(p *program, u notify.Update) {
	if u.StatusSet && u.Status != p.statusText {
		p.statusText = u.Status
		s.log.Debug().Str("program", p.cfg.Name).Int("pid", p.pid).Str("status", u.Status).Msg("notify status")
	}
	if u.WatchdogTrigger && p.cfg.Watchdog > 0 && (p.state == Running || p.state == Starting) {
		// As systemd: the trigger acts on a run still starting too.
		s.abortRun(p, abortWatchdog, "watchdog: the program sent WATCHDOG=trigger")
		return
	}
	if u.Watchdog && !p.wdDue.IsZero() {
		p.wdDue = s.now().Add(p.cfg.Watchdog)
	}
	if u.ReadySeen && p.state == Starting {
		s.readySignal(p, "READY=1")
	}
	if u.Phase != notify.NoPhase && p.state == Running {
		said := u.Phase == notify.Ready
		if said != p.said {
			p.said = said
			s.noteReady(p, phaseMessage(u.Phase))
		}
	}
}

func phaseMessage(ph notify.Phase) string {
	switch ph {
	case notify.Reloading:
		return "RELOADING=1"
	case notify.Stopping:
		return "STOPPING=1"
	}
	return "READY=1"
}

// onReadyMsg takes a report of a run's readiness fd or output.
func (s *Supervisor) onReadyMsg(m readyMsg) {
	p := m.p
	if m.run != p.run || p.pid == 0 {
		return // an ended run's
	}
	if !m.closed {
		s.readySignal(p, m.how)
		return
	}
	if !p.said && p.state == Starting {
		s.log.Warn().Str("program", p.cfg.Name).Int("pid", p.pid).Str("ready_timeout", p.cfg.ReadyTimeout.String()).
			Msgf("closed its readiness %s without writing a newline: it cannot say it is ready now, and ready_timeout will stop it", m.how)
	}
}

// endReady lets go of what watched p's run, as its main process exits.
func (s *Supervisor) endReady(p *program) {
	if p.sock != nil {
		p.sock.Expect(0)
	}
	if p.pipe != nil {
		p.pipe.Close()
		p.pipe = nil
	}
	p.wdDue = time.Time{}
}

// abortKind is why tend stopped a run of its own accord.
type abortKind int

const (
	abortNone abortKind = iota
	// abortReadyTimeout: not ready within ready_timeout; a failed start.
	abortReadyTimeout
	// abortWatchdog: no WATCHDOG=1 in time, or WATCHDOG=trigger; an
	// unexpected exit, restarted as autorestart says a crash is.
	abortWatchdog
)

// abortRun stops p's run (stopsignal, then SIGKILL after stopwaitsecs)
// with why, without changing what tend means to do with p: once it is
// down, its exit counts as kind says (applyExit).
func (s *Supervisor) abortRun(p *program, kind abortKind, why string) {
	if p.state == Stopping || !p.alive() {
		return
	}
	p.abort, p.abortWhy, p.wdDue = kind, why, time.Time{}
	s.log.Warn().Str("program", p.cfg.Name).Int("pid", p.pid).Str("reason", why).Msg("stopping the run")
	s.halt(p, why)
}

// armWatchdog starts p's watchdog, once its run is ready (as systemd
// does: the watchdog is for a program that has started).
func (s *Supervisor) armWatchdog(p *program) {
	if p.cfg.Watchdog > 0 && p.cfg.Ready.Kind == config.ReadyNotify {
		p.wdDue = s.now().Add(p.cfg.Watchdog)
	}
}

// watchdogDeadlines stops the runs whose watchdog has passed.
func (s *Supervisor) watchdogDeadlines(now time.Time) {
	for _, p := range s.programs {
		if !p.wdDue.IsZero() && !now.Before(p.wdDue) && p.state == Running && s.phase == running {
			s.abortRun(p, abortWatchdog, fmt.Sprintf("watchdog: no WATCHDOG=1 for %s", p.cfg.Watchdog))
		}
	}
}

// watchdogsAfterThaw gives every watchdog its whole interval again: a
// program frozen with the container could not send its keep-alive.
func (s *Supervisor) watchdogsAfterThaw() {
	for _, p := range s.programs {
		if !p.wdDue.IsZero() {
			p.wdDue = s.now().Add(p.cfg.Watchdog)
		}
	}
}

// overrideEnv is env with the variables of add set, replacing any of
// the same names.
func overrideEnv(env []string, add map[string]string) []string {
	out := slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		k, _, _ := cutEnv(kv)
		_, ok := add[k]
		return ok
	})
	for _, k := range sortedKeys(add) {
		out = append(out, k+"="+add[k])
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
