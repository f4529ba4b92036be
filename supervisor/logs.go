package supervisor

import (
	"fmt"
	"strings"

	"tend/api"
	"tend/config"
	"tend/logs"
)

// `tend ctl logs`: each program keeps its last lines in a ring
// (logs.Ring), filled by its copiers, its hooks' included; the loop hands
// the control server a view of the rings asked for, which the server
// reads on its own goroutine. A ring outlives restarts and reloads, and
// goes with its program.

// ringOf is p's ring, made the first time it is needed.
func (s *Supervisor) ringOf(p *program) *logs.Ring {
	if p.ring == nil {
		p.ring = logs.NewRing()
	}
	return p.ring
}

// keeps reports whether p's output is kept: some stream of it is not
// inherited, now or before a reload changed it.
func keeps(p *program) bool {
	return p.ring != nil || p.cfg.Stdout.Mode != config.Inherit || p.cfg.Stderr.Mode != config.Inherit
}

// maxInherited is how many programs a refusal names.
const maxInherited = 5

// logsOf answers a logs request for ps: a view of their rings, or why
// there is nothing to read.
func (s *Supervisor) logsOf(ps []*program) api.Reply {
	var rings []*logs.Ring
	var inherited []string
	for _, p := range ps {
		if !keeps(p) {
			inherited = append(inherited, p.cfg.Name)
			continue
		}
		rings = append(rings, s.ringOf(p))
	}
	if len(rings) == 0 {
		what := inherited[0] + "'s output is"
		if n := len(inherited); n > maxInherited {
			what = fmt.Sprintf("the output of %s and %d more is", strings.Join(inherited[:maxInherited], ", "), n-maxInherited)
		} else if n > 1 {
			what = "the output of " + strings.Join(inherited, ", ") + " is"
		}
		return api.Reply{Err: fmt.Sprintf("logs: %s inherited by tend's stdout and stderr (stdout = \"inherit\"); nothing kept", what)}
	}
	return api.Reply{Logs: logs.NewView(rings)}
}
