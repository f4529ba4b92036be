package supervisor

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"

	"tend/config"
)

// `tend ctl scale NAME N`: N instances of the program NAME (a [programs]
// table's name, "worker") until the next reload, which gives it back the
// file's `instances`. An instance keeps the name it has: the file names
// a program of one instance NAME and instance I of several NAME:I, and
// scaling does not rename a running process, so instance 0 of a program
// the file gives one instance stays "worker" beside "worker:1", "worker:2".
// New instances are the file's own where the file has them (a reload then
// finds them unchanged), else copies of instance 0's config numbered I:
// each gets TEND_INSTANCE, and starts once its depends_on allow. Surplus
// instances stop, highest first, and are forgotten once down. Programs
// that depend on the program wait for the instances the file gives it.

// scale gives the program group n instances, and returns them, those
// stopping included.
func (s *Supervisor) scale(group string, n int, reason string) ([]*program, error) {
	if s.opts.Config == nil {
		return nil, fmt.Errorf("scale needs a config file (tend -c FILE)")
	}
	if n < 1 || n > config.MaxInstances {
		return nil, fmt.Errorf("scale %s: %d instances: want 1 to %d", group, n, config.MaxInstances)
	}
	var file []*config.Program // the file's instances, by number
	for _, pc := range s.opts.Config.Programs {
		if pc.Group == group {
			file = append(file, pc)
		}
	}
	if len(file) == 0 {
		if p := s.byName[group]; p != nil && !p.isMain {
			return nil, fmt.Errorf("scale takes a program's name, %s, not an instance's: %s", p.cfg.Group, group)
		}
		return nil, fmt.Errorf("no program matches %q", group)
	}
	have := map[int]*program{}
	for _, p := range s.programs {
		if !p.isMain && p.cfg.Group == group {
			have[p.cfg.Instance] = p
		}
	}
	reason += ": scaled to " + strconv.Itoa(n)
	for i := range n {
		p := have[i]
		switch {
		case p == nil:
			p = s.addInstance(file, i)
			have[i] = p
		case p.intent == intentRemove:
			// Going away (a scale down, a reload): it comes back up once
			// it is down.
			p.intent = intentRestart
		}
	}
	var surplus []*program
	for i, p := range have {
		if i >= n && p.intent != intentRemove {
			surplus = append(surplus, p)
		}
	}
	slices.SortFunc(surplus, func(a, b *program) int { return cmp.Compare(b.cfg.Instance, a.cfg.Instance) })
	for _, p := range surplus {
		p.intent = intentRemove
		p.sched = schedState{}
		if p.state != Stopping {
			s.stop(p, reason)
		}
		if !p.alive() && p.hook == nil { // else forgotten once down and its hook over, as a reload's
			s.forget(p)
		}
	}
	s.startReady() // the new ones, as the reply shows them
	var out []*program
	for _, p := range s.programs {
		if !p.isMain && p.cfg.Group == group {
			out = append(out, p)
		}
	}
	s.log.Info().Str("program", group).Int("instances", n).Str("reason", reason).Msg("scaled")
	return out, nil
}

// addInstance adds instance i of the program whose instances in the file
// are file, and has it start: the file's own, or a copy of instance 0
// numbered i. It goes after the program's last instance.
func (s *Supervisor) addInstance(file []*config.Program, i int) *program {
	pc := file[0]
	if i < len(file) {
		pc = file[i]
	} else {
		c := *pc // instances share slices and maps: they are read-only
		c.Instance, c.Name = i, c.Group+":"+strconv.Itoa(i)
		pc = &c
	}
	p := newProgram(pc)
	p.state = Stopped
	if pc.Schedule == nil {
		p.intent = intentRun
	}
	at := len(s.programs)
	if s.main != nil {
		at-- // the main program stays last
	}
	for k, q := range s.programs {
		if !q.isMain && q.cfg.Group == pc.Group && (q.cfg.Instance > i) {
			at = k
			break
		}
		if !q.isMain && q.cfg.Group == pc.Group {
			at = k + 1
		}
	}
	s.programs = slices.Insert(s.programs, at, p)
	s.byName[pc.Name] = p
	return p
}
