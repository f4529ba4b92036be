package importer

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"tend/config"
)

// One [program:x] becomes one [programs.x] table; numprocs > 1 makes
// it instances = N, or N tables when the processes differ in more than
// their command (processes_from_section in supervisord's options.py is
// the model, key for key).

// programKeys are the settings of [program:x].
var programKeys = []string{
	"command", "process_name", "numprocs", "numprocs_start", "priority",
	"autostart", "startsecs", "startretries", "autorestart", "exitcodes",
	"stopsignal", "stopwaitsecs", "stopasgroup", "killasgroup", "user",
	"redirect_stderr", "environment", "directory", "umask", "serverurl",
	"stdout_logfile", "stdout_logfile_maxbytes", "stdout_logfile_backups",
	"stdout_capture_maxbytes", "stdout_events_enabled", "stdout_syslog",
	"stderr_logfile", "stderr_logfile_maxbytes", "stderr_logfile_backups",
	"stderr_capture_maxbytes", "stderr_events_enabled", "stderr_syslog",
}

// perProcess are the keys supervisord reads once per process, where
// %(process_num)d may differ between them; command is one of them too,
// but tend can vary it per instance.
var perProcess = []string{
	"environment", "directory",
	"stdout_logfile", "stdout_logfile_backups", "stdout_logfile_maxbytes", "stdout_syslog",
	"stderr_logfile", "stderr_logfile_backups", "stderr_logfile_maxbytes", "stderr_syslog",
}

// prog is one [programs.NAME] table of the output.
type prog struct {
	name  string
	sec   *section
	group string // supervisord's group name
	notes []string
	lines []tline
	// disabled: written as a comment, for tend cannot run it.
	disabled bool

	// For the start order.
	autostart bool
	level     int    // the priority that orders it: its group's, or its own
	levelV    *value // where that priority is set; nil: the default
	ordered   bool   // in the start order priorities make
	stopwait  int
	cmdText   string // the command, for the pid file check
}

// tline is one KEY = VALUE line, VALUE already TOML.
type tline struct{ key, val, comment string }

func (p *prog) set(key, val, comment string) {
	p.lines = append(p.lines, tline{key, val, comment})
}

func (p *prog) note(format string, args ...any) {
	p.notes = append(p.notes, fmt.Sprintf(format, args...))
}

// warn records a warning about key of p, at v, and notes it in p.
func (c *conv) warn(p *prog, v *value, key, format string, args ...any) {
	src, line := p.sec.src, p.sec.line
	if v != nil {
		src, line = v.src, v.line
	}
	if w, ok := c.is.warnf(src, line, p.sec.name, key, format, args...); ok || !c.noted(p, w) {
		p.notes = append(p.notes, "warning: "+w.String())
	}
}

// noted reports whether w is among p's notes already.
func (c *conv) noted(p *prog, w Issue) bool {
	for _, n := range p.notes {
		if n == "warning: "+w.String() {
			return true
		}
	}
	return false
}

// reader reads the keys of one program section in one scope.
type reader struct {
	c  *conv
	p  *prog
	s  *section
	sc *scope
}

// text is key's value expanded; ok is false when the key is not set or
// its expansion failed (an error then). twice expands the result again,
// as supervisord does for the log file names.
func (r *reader) text(key string, twice bool) (string, *value, bool) {
	v := r.c.doc.lookup(r.s, key)
	if v == nil {
		return "", nil, false
	}
	r.sc.vals["here"] = v.dir
	t, err := expand(v.text, r.sc, &r.c.refs, &r.c.budget)
	if err == nil && twice {
		t, err = expand(t, r.sc, &r.c.refs, &r.c.budget)
	}
	if err != nil {
		r.c.is.errorf(v.src, v.line, r.s.name, key, "%v", err)
		return "", v, false
	}
	return t, v, true
}

// fixed is text when it holds no value known only at run time; else it
// warns that tend needs a fixed value for key and returns false.
func (r *reader) fixed(key, t string, v *value, def string) bool {
	if names := r.c.refNames(t); names != "" {
		r.c.warn(r.p, v, key, "depends on %s when supervisord starts; tend needs a fixed value here: left at the default, %s", names, def)
		return false
	}
	return true
}

// boolean is a Python-style boolean key: true/false, yes/no, on/off, 1/0.
func (r *reader) boolean(key string, def bool) (b bool, v *value, set bool) {
	t, v, ok := r.text(key, false)
	if !ok || !r.fixed(key, t, v, strconv.FormatBool(def)) {
		return def, v, false
	}
	b, ok = r.c.boolText(t, v, r.s.name, key)
	if !ok {
		return def, v, false
	}
	return b, v, true
}

// integer is an integer key, between lo and hi.
func (r *reader) integer(key string, def int) (n int, v *value, set bool) {
	t, v, ok := r.text(key, false)
	if !ok || !r.fixed(key, t, v, strconv.Itoa(def)) {
		return def, v, false
	}
	n, ok = r.c.intText(t, v, r.s.name, key)
	if !ok {
		return def, v, false
	}
	return n, v, true
}

// size is a byte size: an integer with an optional KB, MB or GB,
// written back as it was ("50MB") for tend, which reads the same units.
func (r *reader) size(key, def string) (n int64, toml string, v *value, set bool) {
	t, v, ok := r.text(key, false)
	if !ok {
		t = def
	} else if !r.fixed(key, t, v, def) {
		t, ok = def, false
	}
	n, toml, err := byteSize(t)
	if err != nil {
		r.c.is.errorf(v.src, v.line, r.s.name, key, "%v", err)
		return 0, "0", v, false
	}
	return n, toml, v, ok
}

// boolText is supervisord's boolean().
func (c *conv) boolText(t string, v *value, sec, key string) (bool, bool) {
	switch strings.ToLower(t) {
	case "yes", "true", "on", "1":
		return true, true
	case "no", "false", "off", "0":
		return false, true
	}
	c.is.errorf(v.src, v.line, sec, key, "%s is not a boolean: want true or false", quote(t))
	return false, false
}

// intText is Python's int() of t, bounded to what tend can take.
func (c *conv) intText(t string, v *value, sec, key string) (int, bool) {
	n, err := pyInt(t)
	if err != nil {
		c.is.errorf(v.src, v.line, sec, key, "%v", err)
		return 0, false
	}
	return n, true
}

// maxInt bounds every integer read: far above any real setting, far
// below what durations in nanoseconds overflow at.
const maxInt = 1 << 31

// pyInt parses an integer as Python's int(): blanks around it, a sign,
// and _ between digits allowed.
func pyInt(t string) (int, error) {
	s := strings.TrimFunc(t, isSpace)
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg, s = s[0] == '-', s[1:]
	}
	if s == "" || s[0] == '_' || s[len(s)-1] == '_' || strings.Contains(s, "__") || strings.Trim(s, "0123456789_") != "" {
		return 0, fmt.Errorf("%s is not an integer", quote(t))
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, 64)
	if err != nil || n > maxInt {
		return 0, fmt.Errorf("%s is too large for tend (at most %d)", quote(t), int64(maxInt))
	}
	if neg {
		n = -n
	}
	return int(n), nil
}

// byteSize is supervisord's byte_size(): an integer, or one with KB, MB
// or GB (any case, powers of 1024, as in tend). It returns the size and
// how to write it for tend.
func byteSize(t string) (int64, string, error) {
	l := strings.ToLower(t)
	for _, u := range []struct {
		suffix string
		shift  uint
	}{{"kb", 10}, {"mb", 20}, {"gb", 30}} {
		if num, ok := strings.CutSuffix(l, u.suffix); ok {
			n, err := pyInt(num)
			if err != nil {
				return 0, "", fmt.Errorf("%s is not a size: want bytes, or a number with KB, MB or GB", quote(t))
			}
			if n < 0 {
				return 0, "0", nil
			}
			return int64(n) << u.shift, strconv.Quote(strconv.Itoa(n) + strings.ToUpper(u.suffix)), nil
		}
	}
	n, err := pyInt(t)
	if err != nil {
		return 0, "", fmt.Errorf("%s is not a size: want bytes, or a number with KB, MB or GB", quote(t))
	}
	n = max(n, 0)
	return int64(n), strconv.Itoa(n), nil
}

// preKeys are the keys supervisord reads once per program.
type preKeys struct {
	priority        int
	prioV           *value
	autostart       bool
	autostartSet    bool
	redirect        bool
	numprocs, start int
	processName     string
	processNameV    *value
}

// programSection converts [program:NAME], once per group it is in.
func (c *conv) programSection(s *section, name string) {
	name = strings.TrimFunc(name, isSpace)
	if name == "" || strings.ContainsAny(name, " :/") {
		c.is.errorf(s.src, s.line, s.name, "", "a program name that is empty or has a space, : or /: supervisord refuses it")
		return
	}
	gs := c.groups[name]
	if len(gs) == 0 {
		c.program(s, name, nil)
		return
	}
	for _, g := range gs {
		c.program(s, name, g)
	}
}

// program converts s, the program name, in group g (nil: its own).
func (c *conv) program(s *section, name string, g *groupInfo) {
	group := name
	if g != nil {
		group = g.name
	}
	p := &prog{sec: s, group: group}
	r := &reader{c: c, p: p, s: s, sc: &scope{
		vals: map[string]any{"program_name": name, "group_name": group, "host_node_name": ref{kind: refHost}},
		env:  c.svEnvMap,
	}}
	for _, key := range s.keys {
		if !slices.Contains(programKeys, key) {
			c.warn(p, s.get(key), key, "not a [program:x] setting: supervisord ignores it")
		}
	}
	var pre preKeys
	var prioSet bool
	pre.priority, pre.prioV, prioSet = r.integer("priority", 999)
	if !prioSet {
		pre.prioV = nil // not set, or not a number tend can take: the default
	}
	p.level, p.levelV = pre.priority, pre.prioV
	if g != nil {
		p.level, p.levelV = g.priority, g.prioV
		if pre.prioV != nil && (g.prioV == nil || pre.priority != g.priority) {
			c.warn(p, pre.prioV, "priority", "orders %s only among the programs of [group:%s], which start in the order of the group's priority: "+
				"tend starts them together", name, g.name)
		}
	}
	pre.autostart, _, pre.autostartSet = r.boolean("autostart", true)
	p.autostart = pre.autostart
	if pre.autostartSet {
		p.set("autostart", strconv.FormatBool(pre.autostart), "")
	}
	c.autorestart(r)
	if n, _, set := r.integer("startsecs", 1); set {
		p.set("startsecs", strconv.Itoa(max(n, 0)), "")
	}
	if n, _, set := r.integer("startretries", 3); set {
		p.set("startretries", strconv.Itoa(max(n, 0)), "")
	}
	c.stopsignal(r)
	p.stopwait = 10
	if n, _, set := r.integer("stopwaitsecs", 10); set {
		p.stopwait = max(n, 0)
		p.set("stopwaitsecs", strconv.Itoa(p.stopwait), "")
	}
	stopGroup, stopV, stopSet := r.boolean("stopasgroup", false)
	killGroup, killV, killSet := r.boolean("killasgroup", stopGroup)
	if stopGroup && !killGroup {
		c.is.errorf(killV.src, killV.line, s.name, "killasgroup", "false with stopasgroup = true: supervisord refuses it")
	}
	for _, x := range []struct {
		key string
		b   bool
		v   *value
		set bool
	}{{"stopasgroup", stopGroup, stopV, stopSet}, {"killasgroup", killGroup, killV, killSet}} {
		switch {
		case x.set && x.b:
			p.note("%s = true: tend always signals the program's whole process group", x.key)
		case x.set:
			c.warn(p, x.v, x.key, "false: tend signals the program's whole process group, not its main process alone")
		}
	}
	c.exitcodes(r)
	pre.redirect, _, _ = r.boolean("redirect_stderr", false)
	for _, key := range []string{"stdout_capture_maxbytes", "stderr_capture_maxbytes"} {
		if n, _, v, set := r.size(key, "0"); set && n > 0 {
			c.warn(p, v, key, "capture mode feeds event listeners, which tend has not")
		}
	}
	for _, key := range []string{"stdout_events_enabled", "stderr_events_enabled"} {
		if b, v, set := r.boolean(key, false); set && b {
			c.warn(p, v, key, "output events feed event listeners, which tend has not")
		}
	}
	if t, v, ok := r.text("serverurl", false); ok && !strings.EqualFold(strings.TrimSpace(t), "auto") {
		c.warn(p, v, "serverurl", "tells the program where supervisord's XML-RPC server is: tend has none")
	}
	c.user(r)
	c.umask(r)
	pre.numprocs, _, _ = r.integer("numprocs", 1)
	pre.start, _, _ = r.integer("numprocs_start", 0)
	pre.processName = "%(program_name)s"
	if v := c.doc.lookup(s, "process_name"); v != nil {
		pre.processName, pre.processNameV = strings.TrimFunc(v.text, isSpace), v
		if strings.ContainsAny(pre.processName, " :/") {
			c.is.errorf(v.src, v.line, s.name, "process_name", "a name with a space, : or /: supervisord refuses it")
		}
	}
	switch {
	case pre.numprocs > 1 && !strings.Contains(pre.processName, "%(process_num)"):
		v := pre.processNameV
		if v == nil {
			v = &value{src: s.src, line: s.line}
		}
		c.is.errorf(v.src, v.line, s.name, "process_name", "must hold %%(process_num) when numprocs > 1: supervisord refuses it")
		return
	case pre.numprocs > config.MaxInstances:
		c.is.errorf(s.src, s.line, s.name, "numprocs", "%d: tend runs at most %d processes of one program", pre.numprocs, config.MaxInstances)
		return
	case pre.numprocs <= 0:
		c.head = append(c.head, fmt.Sprintf("[%s] %s:%d: numprocs = %d: supervisord runs no process of it", s.name, s.src, s.line, pre.numprocs))
		return
	}
	separate := false
	if pre.numprocs > 1 {
		for _, key := range perProcess {
			if v := c.doc.lookup(s, key); v != nil && strings.Contains(v.text, "%(process_num)") {
				separate = true
			}
		}
	}
	switch {
	case pre.numprocs == 1:
		c.process(r, &pre, pre.start, name, 1)
	case !separate:
		c.process(r, &pre, ref{kind: refInstance, start: pre.start}, name, pre.numprocs)
	default:
		for i := range pre.numprocs {
			r2 := *r
			q := *p
			q.notes = append([]string(nil), p.notes...)
			q.lines = append([]tline(nil), p.lines...)
			r2.p = &q
			r2.sc = &scope{vals: map[string]any{}, env: r.sc.env}
			for k, v := range r.sc.vals {
				r2.sc.vals[k] = v
			}
			c.process(&r2, &pre, pre.start+i, "", 1)
			if i == 0 {
				q.note("numprocs = %d: one program per process, for they differ in more than their command", pre.numprocs)
			}
			if c.failed() {
				return
			}
		}
	}
}

// process reads the keys supervisord reads per process, with
// %(process_num)d = num (an int, or the instance ref), and adds the
// program to the output. name "" names it by its process_name.
func (c *conv) process(r *reader, pre *preKeys, num any, name string, instances int) {
	p := r.p
	r.sc.vals["process_num"] = num
	r.sc.vals["numprocs"] = pre.numprocs
	// environment=, whose keys are then %(ENV_KEY)s for the keys after it.
	var env []envPair
	if t, v, ok := r.text("environment", false); ok {
		pairs, err := parseEnv(t)
		if err != nil {
			c.is.errorf(v.src, v.line, r.s.name, "environment", "%v", err)
		}
		env = pairs
		if len(pairs) > 0 {
			m := map[string]string{}
			for k, x := range r.sc.env {
				m[k] = x
			}
			for _, kv := range pairs {
				m[kv.key] = kv.val
			}
			r.sc.env = m
		}
	}
	c.environment(r, env)
	if t, v, ok := r.text("directory", false); ok {
		if !strings.HasPrefix(t, "/") && c.refNames(t[:min(len(t), 4)]) == "" {
			c.warn(p, v, "directory", "a relative path: supervisord takes it from its working directory, tend from the directory of this TOML file")
		}
		p.set("directory", c.str(p, v, "directory", t), "")
	}
	pname, _ := expand(pre.processName, r.sc, &c.refs, &c.budget)
	switch {
	case name != "":
		p.name = name
		if instances > 1 {
			p.set("instances", strconv.Itoa(instances), "")
			p.note("numprocs = %d: instances %s:0 to %s:%d (supervisord named them %s)", instances, name, name, instances-1, c.processNames(r, pre, instances))
		} else if pname != name && pre.processNameV != nil {
			p.note("process_name = %s: tend names it %s", printable(c.plain(pname)), name)
		}
	case c.refNames(pname) != "":
		p.name = fmt.Sprintf("%s_%d", p.sec.name[len("program:"):], num)
	default:
		p.name = pname
	}
	if instances > 1 {
		r.p.name += ":N"
	}
	c.outputs(r, pre)
	r.p.name = strings.TrimSuffix(r.p.name, ":N")
	c.command(r)
	c.add(p)
}

// processNames shows the first and last of supervisord's names for the
// processes of a program.
func (c *conv) processNames(r *reader, pre *preKeys, n int) string {
	name := func(num int) string {
		sc := &scope{vals: map[string]any{}, env: r.sc.env}
		for k, v := range r.sc.vals {
			sc.vals[k] = v
		}
		sc.vals["process_num"] = num
		if pre.processNameV != nil {
			sc.vals["here"] = pre.processNameV.dir
		}
		s, err := expand(pre.processName, sc, &c.refs, &c.budget)
		if err != nil || c.refNames(s) != "" {
			return "?"
		}
		return printable(s)
	}
	return name(pre.start) + " to " + name(pre.start+n-1)
}
