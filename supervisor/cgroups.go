package supervisor

import (
	"errors"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"tend/api"
	"tend/cgroup"
	"tend/config"
)

// Per-program cgroups (docs/supervisor.md, "Resources: cgroups"). The
// cgroup package does the work; this file says when the loop asks for
// it:
//
//   - at start, before any program: setupCgroups (cgroup.Detect, Owned,
//     Setup), and one warning naming the keys tend cannot honour;
//   - before each process of a program starts: cgroupOf makes the
//     program's cgroup the first time and writes its limits when they
//     differ from the config's; spawn starts the process in it;
//   - at a run's start and at its end by a SIGKILL tend did not send:
//     the OOM kill counts (oomBaseline, oomKilled);
//   - at a stop: the stop signal to what left the process group too
//     (signalRest), SIGKILL through cgroup.kill at stopwaitsecs
//     (killCgroup), and the run's exit applied once the cgroup is empty
//     as well as the process group (cgroupEmpty, group.go);
//   - at pause and resume: the freezer (freezeOrStop, thawOrCont);
//   - at a status request: usage (addUsage);
//   - when a program is gone for good, and at tend's end: its cgroup
//     removed.
//
// Nothing here runs between those: no timer, no goroutine (but the one
// that waits for a pause's freeze, to answer the request).

// cgroupTree is tend's cgroup, set up for the programs: the cgroup
// package's Tree (realTree), or a fake in the loop's tests.
type cgroupTree interface {
	group(name string) (cgroupGroup, error)
	// missing: the keys set in l the programs' cgroups cannot honour.
	missing(l cgroup.Limits) []string
	canFreeze() bool
	dir() string
}

// cgroupGroup is one program's cgroup.
type cgroupGroup interface {
	placer
	setLimits(cgroup.Limits) error
	populated() (bool, error)
	kill() error
	// signalOutside sends sig to the group's processes outside process
	// group pgid.
	signalOutside(pgid int, sig syscall.Signal) error
	freeze() error
	thaw() error
	usage() (cgroup.Usage, error)
	// oomKills is the group's OOM kill count; false when there is none.
	oomKills() (uint64, bool)
	remove() error
}

// placer starts a process in a cgroup: cgroup.Group.Start. It is what
// spawn sees of a cgroupGroup (Command.Cgroup).
type placer interface {
	Start(sys *syscall.SysProcAttr, fork func() (int, error)) (int, error)
}

// oomCount reads an OOM kill count; false when it cannot.
type oomCount func() (uint64, bool)

// progCgroup is what the loop keeps of a program's cgroup and of its
// OOM kills. The zero value: no cgroup (yet).
type progCgroup struct {
	g cgroupGroup // made when the program's first process starts
	// limits were written to g (written: at all).
	limits  cgroup.Limits
	written bool
	// frozen: paused through the freezer.
	frozen bool
	// The OOM kill counts as the run started: its cgroup's and the
	// container's; ok: read.
	oomAt, containerAt uint64
	oomOK, containerOK bool
	// oomKills counts the runs that ended oom-killed, for status and
	// tend_oom_kills_total.
	oomKills int
}

// limitsOf are pc's cgroup limits.
func limitsOf(pc *config.Program) cgroup.Limits {
	return cgroup.Limits{MemoryMax: pc.MemoryMax, CPUs: pc.CPUs, PidsMax: pc.PidsMax}
}

// realCgroups is osOps.cgroups: Detect; the container's OOM count;
// with setup, Owned (ErrNotOwned passed over when force is set) and
// Setup.
func realCgroups(setup, force, pid1 bool) (cgroupTree, oomCount, error) {
	sys := cgroup.Detect()
	var oom oomCount
	if c := sys.ContainerOOM(); c.Valid() {
		oom = func() (uint64, bool) {
			n, err := c.Count()
			return n, err == nil
		}
	}
	if !setup {
		return nil, oom, nil
	}
	if err := sys.Owned(pid1); err != nil && !(force && errors.Is(err, cgroup.ErrNotOwned)) {
		return nil, oom, err
	}
	tree, err := sys.Setup()
	if err != nil {
		return nil, oom, err
	}
	return realTree{tree}, oom, nil
}

// realWaitFrozen is osOps.waitFrozen: cgroup.WaitFrozen.
func realWaitFrozen(deadline time.Time, groups []cgroupGroup) error {
	gs := make([]*cgroup.Group, 0, len(groups))
	for _, g := range groups {
		if rg, ok := g.(realGroup); ok {
			gs = append(gs, rg.Group)
		}
	}
	return cgroup.WaitFrozen(deadline, gs...)
}

type realTree struct{ t *cgroup.Tree }

func (r realTree) group(name string) (cgroupGroup, error) {
	g, err := r.t.Group(name)
	if err != nil {
		return nil, err
	}
	return realGroup{g}, nil
}

func (r realTree) missing(l cgroup.Limits) []string { return r.t.Missing(l) }
func (r realTree) canFreeze() bool                  { return r.t.CanFreeze() }
func (r realTree) dir() string                      { return r.t.Dir() }

type realGroup struct{ *cgroup.Group }

func (g realGroup) setLimits(l cgroup.Limits) error {
	_, err := g.SetLimits(l) // the keys it cannot honour were named at start
	return err
}

func (g realGroup) populated() (bool, error) { return g.Populated() }
func (g realGroup) kill() error              { return g.Kill() }
func (g realGroup) freeze() error            { return g.Freeze() }
func (g realGroup) thaw() error              { return g.Thaw() }
func (g realGroup) usage() (cgroup.Usage, error) {
	return g.Usage()
}
func (g realGroup) remove() error { return g.Remove() }

func (g realGroup) signalOutside(pgid int, sig syscall.Signal) error {
	return g.SignalOutside(pgid, sig)
}

func (g realGroup) oomKills() (uint64, bool) {
	c := g.OOMKills()
	if !c.Valid() {
		return 0, false
	}
	n, err := c.Count()
	return n, err == nil
}

// exitCgroups is tend's exit code when [tend] cgroups = "required" and
// tend cannot have them: that of a config tend cannot run (main's
// exitUsage).
const exitCgroups = 2

// setupCgroups, before any program starts, gives each program a cgroup
// of its own where [tend] cgroups and the machine allow it, and says
// once which keys of the programs tend cannot honour. It reports false
// when tend must not go on: cgroups = "required", and tend cannot have
// them or honour every key. Init mode (no config) leaves cgroups alone,
// as tini does.
func (s *Supervisor) setupCgroups() bool {
	cfg := s.opts.Config
	if cfg == nil || s.os.cgroups == nil {
		return true
	}
	mode := cfg.Tend.Cgroups
	required := mode == config.CgroupsRequired
	tree, oom, err := s.os.cgroups(mode != config.CgroupsOff, required, s.init)
	s.containerOOM = oom
	if mode == config.CgroupsOff {
		err = errors.New(`[tend] cgroups = "off"`)
	}
	if err == nil {
		s.cgroups = tree
	}
	keys, progs := s.unhonoured(cfg.Programs)
	switch {
	case err != nil && required:
		s.log.Error().Err(err).Msg(`cgroups = "required", and tend cannot give each program a cgroup of its own`)
		return false
	case err != nil && len(keys) > 0:
		s.log.Warn().Err(err).Strs("keys", keys).Strs("programs", progs).
			Msg("no cgroup per program: these keys are not honoured, and the programs run without them")
	case err != nil:
		s.log.Debug().Err(err).Msg("no cgroup per program")
	case len(keys) > 0 && required:
		s.log.Error().Str("cgroup", tree.dir()).Strs("keys", keys).Strs("programs", progs).
			Msg(`cgroups = "required", and the programs' cgroups lack the controllers of these keys`)
		return false
	case len(keys) > 0:
		s.log.Warn().Str("cgroup", tree.dir()).Strs("keys", keys).Strs("programs", progs).
			Msg("the programs' cgroups lack the controllers of these keys: not honoured, the programs run without them")
	default:
		s.log.Info().Str("cgroup", tree.dir()).Msg("a cgroup per program")
	}
	return true
}

// unhonoured are the limit keys that programs set and tend cannot
// honour, and those programs (their groups, once each).
func (s *Supervisor) unhonoured(programs []*config.Program) (keys, progs []string) {
	for _, pc := range programs {
		l := limitsOf(pc)
		miss := l.Keys()
		if s.cgroups != nil {
			miss = s.cgroups.missing(l)
		}
		if len(miss) == 0 {
			continue
		}
		if len(progs) == 0 || progs[len(progs)-1] != pc.Group {
			progs = append(progs, pc.Group)
		}
		for _, k := range miss {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	return keys, progs
}

// reloadCgroups says, for a reload, which keys of the new programs tend
// cannot honour: a warning, or, with cgroups = "required", an error that
// rejects the reload.
func (s *Supervisor) reloadCgroups(cfg *config.Config) error {
	keys, progs := s.unhonoured(cfg.Programs)
	if len(keys) == 0 {
		return nil
	}
	if s.opts.Config.Tend.Cgroups == config.CgroupsRequired {
		return errors.New(`cgroups = "required", and tend cannot honour ` + strings.Join(keys, ", ") + " (programs " + strings.Join(progs, ", ") + ")")
	}
	s.log.Warn().Strs("keys", keys).Strs("programs", progs).Msg("reload: these keys are not honoured, and the programs run without them")
	return nil
}

// cgroupOf is the cgroup p's processes start in: made the first time,
// its limits written when they differ from those of p's config. nil
// without cgroups, for the main program, and while p is frozen (a
// process started in a frozen cgroup freezes before its exec, and tend's
// fork, which waits for that exec, with it): a process that runs for a
// paused program (its pre_stop at a drain's start) runs in tend's
// cgroup. A limit the kernel refuses is an error: the start fails.
func (s *Supervisor) cgroupOf(p *program) (placer, error) {
	if s.cgroups == nil || p.isMain || p.cg.frozen {
		return nil, nil
	}
	if p.cg.g == nil {
		g, err := s.cgroups.group(p.cfg.Name)
		if err != nil {
			return nil, err
		}
		if up, _ := g.populated(); up {
			// Left by a tend that ran before in this cgroup.
			s.log.Warn().Str("program", p.cfg.Name).Msg("its cgroup holds processes from before this tend: killed")
			g.kill()
		}
		p.cg.g = g
	}
	if l := limitsOf(p.cfg); !p.cg.written || l != p.cg.limits {
		if err := p.cg.g.setLimits(l); err != nil {
			return nil, err
		}
		p.cg.limits, p.cg.written = l, true
	}
	return p.cg.g, nil
}

// spawn starts c through osOps.spawn. A process started outside its
// cgroup (the fallback after a refused clone3, when the move failed) is
// started all the same: a warning, and its pid.
func (s *Supervisor) spawn(p *program, c Command) (int, error) {
	pid, err := s.os.spawn(c)
	if pe, ok := errors.AsType[*cgroup.PlaceError](err); ok {
		s.log.Warn().Str("program", p.cfg.Name).Int("pid", pe.Pid).Err(pe.Err).
			Msg("started outside its cgroup: its limits do not hold for this process")
		return pe.Pid, nil
	}
	return pid, err
}

// oomBaseline reads the OOM kill counts as p's run starts.
func (s *Supervisor) oomBaseline(p *program) {
	p.cg.oomOK, p.cg.containerOK = false, false
	if p.cg.g != nil {
		p.cg.oomAt, p.cg.oomOK = p.cg.g.oomKills()
	}
	if s.containerOOM != nil {
		p.cg.containerAt, p.cg.containerOK = s.containerOOM()
	}
}

// cgroupExited takes the exit of p's main process, from state from: a
// frozen cgroup (a paused program killed from outside) is thawed, so
// that its next process does not freeze; and whether the exit is the
// kernel's OOM killer's. It is when a SIGKILL tend did not send ended
// the process, and an OOM kill count went up since the run started: its
// cgroup's, where it has one with the memory controller (which counts
// every OOM kill of its processes, whichever limit, the program's, the
// container's or the machine's, forced it); else the container's,
// unless tend was stopping the program (a SIGKILL from elsewhere is
// likelier then than another program's OOM kill at that moment).
func (s *Supervisor) cgroupExited(p *program, ws unix.WaitStatus, from State) (oomKilled bool) {
	if p.cg.frozen {
		s.thaw(p)
	}
	if !ws.Signaled() || ws.Signal() != unix.SIGKILL || p.killed {
		return false
	}
	switch {
	case p.cg.oomOK && p.cg.g != nil:
		n, ok := p.cg.g.oomKills()
		oomKilled = ok && n > p.cg.oomAt
	case p.cg.containerOK && from != Stopping && s.containerOOM != nil:
		n, ok := s.containerOOM()
		oomKilled = ok && n > p.cg.containerAt
	}
	if oomKilled {
		p.cg.oomKills++
	}
	return oomKilled
}

// oomReason is the reason of a change for a process the OOM killer
// ended.
const oomReason = "oom-killed"

// cgroupEmpty reports whether p's cgroup has no live process: a
// process that left the program's process group (a daemon) keeps the
// run going, as a member of the group does. Without a cgroup, or when
// cgroup.events cannot be read, it is empty: nothing to wait for.
func (s *Supervisor) cgroupEmpty(p *program) bool {
	if p.cg.g == nil {
		return true
	}
	up, err := p.cg.g.populated()
	return err != nil || !up
}

// signalRest sends sig, then SIGCONT, to the processes of p's cgroup
// outside its process group pgid, which got them from the caller.
func (s *Supervisor) signalRest(p *program, pgid int, sig syscall.Signal) {
	if g := p.cg.g; g != nil {
		g.signalOutside(pgid, sig)
		g.signalOutside(pgid, unix.SIGCONT)
	}
}

// killCgroup sends SIGKILL to every process of p's cgroup
// (cgroup.kill): those that left its process group go too.
func (s *Supervisor) killCgroup(p *program) {
	if g := p.cg.g; g != nil {
		if err := g.kill(); err != nil {
			s.log.Warn().Str("program", p.cfg.Name).Err(err).Msg("cannot kill its cgroup: its process group got SIGKILL")
		}
	}
}

// freezeOrStop pauses p: its cgroup frozen (cgroup.freeze), where the
// kernel has the freezer, else SIGSTOP to its process group. A freeze
// is asked for here and completes on its own; onRequest answers once
// it has (s.freezing).
func (s *Supervisor) freezeOrStop(p *program) error {
	if g := p.cg.g; g != nil && s.cgroups.canFreeze() {
		if err := g.freeze(); err != nil {
			return err
		}
		p.cg.frozen = true
		s.freezing = append(s.freezing, g)
		return nil
	}
	return s.os.kill(-p.pid, unix.SIGSTOP)
}

// thawOrCont undoes freezeOrStop.
func (s *Supervisor) thawOrCont(p *program) error {
	if p.cg.frozen {
		return s.thaw(p)
	}
	return s.os.kill(-p.pid, unix.SIGCONT)
}

// thaw thaws p's frozen cgroup.
func (s *Supervisor) thaw(p *program) error {
	if err := p.cg.g.thaw(); err != nil {
		s.log.Warn().Str("program", p.cfg.Name).Err(err).Msg("cannot thaw its cgroup")
		return err
	}
	p.cg.frozen = false
	return nil
}

// thawToStop thaws a program paused through the freezer before it is
// stopped: its pre_stop, its stop signal and its exit need it running.
// (A SIGSTOPped one gets SIGCONT after its stop signal, sendStop.)
func (s *Supervisor) thawToStop(p *program) {
	if p.cg.frozen {
		s.thaw(p)
	}
}

// freezeWait bounds how long a pause waits for the kernel to freeze
// its programs before it answers: a process in uninterruptible sleep
// (a read from a hung NFS server) freezes only when that ends.
const freezeWait = 5 * time.Second

// answerFrozen sends reply once the groups of the pause r asked for are
// frozen, or freezeWait has passed (then with the error): on a goroutine
// of its own, which reads only the groups' files. The program is PAUSED
// either way: the freeze goes on.
func (s *Supervisor) answerFrozen(r api.Request, reply api.Reply, groups []cgroupGroup) {
	wait, log := s.os.waitFrozen, s.log
	deadline := time.Now().Add(freezeWait)
	s.goSafe("pause: waiting for the freeze", func() {
		if err := wait(deadline, groups); err != nil {
			if reply.Err != "" {
				reply.Err += "; "
			}
			reply.Err += "paused, not frozen yet: " + err.Error()
		}
		select {
		case r.Reply <- reply:
		default:
			log.Error().Str("verb", string(r.Verb)).Msg("control reply channel full: answer dropped")
		}
	})
}

// addUsage fills in the CPU time and memory of the programs of ps that
// have processes, out[i] being ps[i]'s status: from each one's cgroup,
// else from its process group, all of those in one pass over /proc. Read
// now, as a status request asks: nothing is read in between.
func (s *Supervisor) addUsage(ps []*program, out []api.Status) {
	var rest []int // indices of those read from their process groups
	for i, p := range ps {
		if !p.alive() {
			continue
		}
		if g := p.cg.g; g != nil {
			if u, err := g.usage(); err == nil {
				setUsage(&out[i], u)
				continue
			}
		}
		rest = append(rest, i)
	}
	if len(rest) == 0 || s.os.groupUsage == nil {
		return
	}
	pgids := make([]int, len(rest))
	for j, i := range rest {
		pgids[j] = ps[i].pgid()
	}
	got, err := s.os.groupUsage(pgids...)
	if err != nil {
		s.log.Debug().Err(err).Msg("usage: cannot read /proc")
		return
	}
	for j, i := range rest {
		if u, ok := got[pgids[j]]; ok {
			setUsage(&out[i], u)
		}
	}
}

func setUsage(st *api.Status, u cgroup.Usage) {
	cpu, mem := u.CPU.Seconds(), u.Memory
	st.CPUSeconds, st.MemoryBytes = &cpu, &mem
}

// removeCgroup removes p's cgroup, once p is gone for good (a reload
// removed it) or tend is done.
func (s *Supervisor) removeCgroup(p *program) {
	if g := p.cg.g; g != nil {
		if err := g.remove(); err != nil {
			s.log.Warn().Str("program", p.cfg.Name).Err(err).Msg("cannot remove its cgroup")
		}
		p.cg.g, p.cg.written = nil, false
	}
}

// removeCgroups removes every program's cgroup as tend ends.
func (s *Supervisor) removeCgroups() {
	for _, p := range s.programs {
		s.removeCgroup(p)
	}
}
