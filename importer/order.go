package importer

import (
	"slices"
	"strconv"
	"strings"
)

// supervisord starts its process groups in the order of their priority
// (lower first) in one go, without waiting for any, and stops them in
// the opposite order, waiting for each group before the next. tend has
// one way to order programs, depends_on, which also makes a program
// wait until the ones it depends on are RUNNING, and keeps it from
// starting at all when one of them fails for good. The priorities a
// configuration sets are meant as an order (an X server before its
// clients), so they become depends_on, level after level; a warning
// says what differs. Programs left at the default priority are not put
// in that order: nothing says they need it, and tend starts them at
// once.

// maxPriorityDeps bounds the depends_on entries priorities may add.
const maxPriorityDeps = 10000

// priorities turns the priorities set into depends_on.
func (c *conv) priorities() {
	levels := map[int][]*prog{}
	for _, p := range c.progs {
		if p.disabled || p.levelV == nil {
			continue
		}
		if !p.autostart {
			c.warn(p, p.levelV, "priority", "not put in the start order: autostart = false (it starts on tend ctl start)")
			continue
		}
		levels[p.level] = append(levels[p.level], p)
	}
	keys := make([]int, 0, len(levels))
	for k := range levels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if len(keys) == 1 {
		// One priority set: it put these programs before (or after) the
		// ones at the default, an order depends_on would keep only by
		// making them wait.
		for _, p := range c.progs {
			if !p.disabled && p.autostart && p.levelV == nil && p.level != keys[0] {
				first := levels[keys[0]][0]
				c.warn(first, first.levelV, "priority", "puts it in the start order against the programs at the default "+
					"priority, %d; tend starts them all at once: to keep an order, add depends_on", p.level)
				break
			}
		}
	}
	if len(keys) < 2 {
		return
	}
	deps := 0
	for i := 1; i < len(keys); i++ {
		deps += len(levels[keys[i]]) * len(levels[keys[i-1]])
	}
	first := levels[keys[0]][0]
	if deps > maxPriorityDeps {
		c.warn(first, first.levelV, "priority", "the start order would take %d depends_on entries, more than %d: left out", deps, maxPriorityDeps)
		return
	}
	for i := 1; i < len(keys); i++ {
		var names []string
		for _, q := range levels[keys[i-1]] {
			q.ordered = true
			names = append(names, tomlQuote(q.name))
		}
		for _, p := range levels[keys[i]] {
			p.ordered = true
			p.set("depends_on", "["+strings.Join(names, ", ")+"]", "priority "+strconv.Itoa(keys[i])+" starts after "+strconv.Itoa(keys[i-1]))
		}
	}
	c.warn(first, first.levelV, "priority", "the start order of the priorities is depends_on in tend: a program starts once those "+
		"of the priority before it are RUNNING (supervisord only starts them first), and not at all if one of them fails for "+
		"good; it stops before them, as in supervisord. Programs without a priority start at once")
}

// shutdownTimeout sets [tend] shutdown_timeout when the programs' own
// stopwaitsecs, one level after the other, take longer than tend's
// default of 30s: supervisord has no bound of its own.
func (c *conv) shutdownTimeout() {
	waves := map[int]int{} // level → its longest stopwaitsecs
	free := 0              // the programs outside the order stop with the first wave
	for _, p := range c.progs {
		switch {
		case p.disabled:
		case p.ordered:
			waves[p.level] = max(waves[p.level], p.stopwait)
		default:
			free = max(free, p.stopwait)
		}
	}
	total, top, first := 0, 0, true
	for l, w := range waves {
		if first || l > top {
			top, first = l, false
		}
		total += w
	}
	total += max(free-waves[top], 0)
	if total+5 > 30 {
		c.timeout = total + 5
	}
}

// pidfileUsers warns of commands that need supervisord itself: its pid
// file, or supervisorctl.
func (c *conv) pidfileUsers() {
	for _, p := range c.progs {
		v := c.doc.lookup(p.sec, "command")
		switch {
		case c.pidfile != "" && strings.Contains(p.cmdText, c.pidfile):
			c.warn(p, v, "command", "reads supervisord's pid file %s, which tend does not write: to stop "+
				"everything when this program ends, set critical = true on it (or signal PID 1)", c.pidfile)
		case strings.Contains(p.cmdText, "supervisorctl"):
			c.warn(p, v, "command", "runs supervisorctl: tend ctl is tend's (tend ctl stop NAME, tend ctl shutdown)")
		}
	}
}
