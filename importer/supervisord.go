// Package importer turns other process supervisors' configurations into
// tend's TOML: `tend import supervisord FILE`.
//
// The supervisord configuration is read as supervisord reads it: its INI
// dialect (ini.go, Python's configparser), its %(NAME)s expansions
// (format.go), its command and environment= splitting (shlex.go), its
// [include] (read.go). Each [program:x] becomes a [programs.x] table
// (program.go); what tend does the same way is converted, what it does
// differently is said in a comment, and what it cannot do is a warning
// with the INI's file and line, on stderr and as a comment in the
// output. The output is TOML that tend check accepts as it is
// (Supervisord checks that itself before it returns). docs/migrating.md
// is the user's side of this.
package importer

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"tend/config"
)

// Options tune an import.
type Options struct {
	// Root, when set, is where the image's files are: FILE and the
	// paths of [include] are read inside it, and %(here)s is the
	// directory the image sees (for a root file system exported from
	// an image, say).
	Root string
	// LookupEnv resolves %(ENV_X)s in [include] files =, which are read
	// now; nil is os.LookupEnv. Elsewhere %(ENV_X)s becomes ${X}, for
	// tend to expand from its environment when it loads the file.
	LookupEnv func(string) (string, bool)
	// Hostname is %(host_node_name)s in [include] files =; "" is this
	// machine's.
	Hostname string
}

// Result is a converted configuration.
type Result struct {
	// TOML is the tend configuration.
	TOML []byte
	// Warnings are the settings tend has no equivalent for, or does
	// differently; each is also a comment in TOML.
	Warnings Issues
	// Files are the INI files read, the main one first.
	Files []string
}

// conv is one conversion.
type conv struct {
	opt    Options
	is     issues
	doc    *ini
	refs   refs
	budget int // text expansion may still produce
	total  int // bytes read
	files  []string
	main   file
	// mainData, when not nil, is the main file's contents.
	mainData []byte

	// From [supervisord].
	svEnv    []envPair         // environment=, in order
	svEnvMap map[string]string // the same, for %(ENV_X)s
	svUser   string            // user=, when not root
	pidfile  string

	include *includeNote
	head    []string // comment lines for the top of the output
	groups  map[string][]*groupInfo
	progs   []*prog
	taken   map[string]bool // tend names in use
	timeout int             // shutdown_timeout to set, in seconds; 0: tend's default
}

// includeNote is what [include] read, for a comment.
type includeNote struct {
	v     *value
	files []string
}

// Supervisord converts the supervisord configuration in the file at p,
// with the files its [include] names, into tend TOML. Errors (the file
// cannot be read, or supervisord would refuse it) come back as *Errors,
// each with its file and line.
func Supervisord(p string, opt Options) (*Result, error) {
	return convertFile(p, nil, opt)
}

// convertFile is Supervisord; data, when not nil, is the main file's
// contents (for the fuzzer).
func convertFile(p string, data []byte, opt Options) (*Result, error) {
	if opt.LookupEnv == nil {
		opt.LookupEnv = os.LookupEnv
	}
	c := &conv{opt: opt, doc: newINI(), budget: maxExpanded, taken: map[string]bool{}, svEnvMap: map[string]string{}}
	c.main = c.locate(p)
	c.mainData = data
	c.readFile(c.main, true)
	if c.failed() {
		return nil, c.errors()
	}
	c.includes(c.main)
	if c.failed() {
		return nil, c.errors()
	}
	c.convert()
	if c.failed() {
		return nil, c.errors()
	}
	out, err := c.render()
	if err != nil {
		c.is.errorf(c.main.name, 0, "", "", "%v", err)
		return nil, c.errors()
	}
	// What tend will say of it, with every ${X} set: a variable unset
	// when tend runs is the user's to set, as it was supervisord's.
	if _, err := config.Parse("converted.toml", out, func(string) (string, bool) { return "1", true }); err != nil {
		c.is.errorf(c.main.name, 0, "", "", "the converted configuration is not one tend takes:\n%v", err)
		return nil, c.errors()
	}
	c.sortIssues(c.is.warns.List)
	return &Result{TOML: out, Warnings: c.is.warns, Files: c.files}, nil
}

// sortIssues orders l by file, in the order the files were read, then
// by line.
func (c *conv) sortIssues(l []Issue) {
	slices.SortStableFunc(l, func(a, b Issue) int {
		fa, fb := slices.Index(c.files, a.File), slices.Index(c.files, b.File)
		if fa < 0 {
			fa = len(c.files)
		}
		if fb < 0 {
			fb = len(c.files)
		}
		if fa != fb {
			return fa - fb
		}
		return a.Line - b.Line
	})
}

func (c *conv) failed() bool { return len(c.is.errs.List) > 0 }

func (c *conv) errors() error {
	c.sortIssues(c.is.errs.List)
	es := Errors(c.is.errs.List)
	if n := c.is.errs.Dropped; n > 0 {
		es = append(es, Issue{File: c.main.name, Msg: fmt.Sprintf("and %d more errors", n)})
	}
	return &es
}

// groupInfo is one [group:x].
type groupInfo struct {
	name     string
	sec      *section
	priority int
	prioV    *value // nil: not set (999)
}

// convert turns the document into programs and comments.
func (c *conv) convert() {
	c.supervisordSection()
	c.groupSections()
	for _, s := range c.doc.sections {
		kind, name, _ := strings.Cut(s.name, ":")
		switch {
		case s.name == "supervisord":
		case s.name == "include":
			c.includeSection(s)
		case kind == "program" && strings.Contains(s.name, ":"):
			c.programSection(s, name)
		case kind == "group" && strings.Contains(s.name, ":"):
		case kind == "eventlistener" && strings.Contains(s.name, ":"):
			c.unsupported(s, "tend has no event listeners. To stop everything when a program fails for good, "+
				"set critical = true on it; tend ctl events streams every state change as JSON")
		case kind == "fcgi-program" && strings.Contains(s.name, ":"):
			c.unsupported(s, "tend does not open sockets for its programs: make it a program that listens itself")
		case s.name == "unix_http_server":
			c.noteSection(s, "tend ctl talks to tend on its control socket, [tend] socket (default /run/tend.sock, mode 0600)")
		case s.name == "supervisorctl":
			c.noteSection(s, "tend ctl replaces supervisorctl")
		case kind == "rpcinterface" && strings.Contains(s.name, ":"):
			if v := s.get("supervisor.rpcinterface_factory"); v != nil && v.text == "supervisor.rpcinterface:make_main_rpcinterface" && len(s.keys) == 1 {
				c.noteSection(s, "tend ctl needs no RPC interface set up")
			} else {
				c.warnSection(s, "", "an XML-RPC interface of its own: tend has none (tend ctl speaks HTTP+JSON on the control socket)")
			}
		case s.name == "inet_http_server":
			c.warnSection(s, "", "tend has no TCP control port or web interface: tend ctl uses the unix socket, "+
				"and [tend] metrics serves /metrics, /healthz and /readyz, read-only")
		case kind == "ctlplugin" && strings.Contains(s.name, ":"):
			c.warnSection(s, "", "a supervisorctl plugin: tend ctl has none")
		default:
			c.warnSection(s, "", "not a section supervisord knows: it ignores it")
		}
	}
	c.defaultSection()
	c.priorities()
	c.shutdownTimeout()
	c.pidfileUsers()
}

// includeSection says what [include] read, and warns of an [include]
// in an included file.
func (c *conv) includeSection(s *section) {
	if c.include != nil {
		c.noteSection(s, "read %s", strings.Join(c.include.files, ", "))
	}
	for _, h := range s.more {
		if h.src != c.main.name {
			if w, ok := c.is.warnf(h.src, h.line, "include", "", "an included file cannot include others: supervisord ignores it"); ok {
				c.head = append(c.head, "warning: "+w.String())
			}
		}
	}
}

// noteSection adds a comment about section s to the top of the output.
func (c *conv) noteSection(s *section, format string, args ...any) {
	c.head = append(c.head, fmt.Sprintf("[%s] %s:%d: %s", s.name, s.src, s.line, fmt.Sprintf(format, args...)))
}

// warnSection warns about s (or its key) at the top of the output.
func (c *conv) warnSection(s *section, key string, format string, args ...any) {
	line := s.line
	src := s.src
	if key != "" {
		if v := c.doc.lookup(s, key); v != nil {
			line, src = v.line, v.src
		}
	}
	if w, ok := c.is.warnf(src, line, s.name, key, format, args...); ok {
		c.head = append(c.head, "warning: "+w.String())
	}
}

// unsupported warns about a section tend cannot run, and leaves its
// command in a comment.
func (c *conv) unsupported(s *section, why string) {
	c.warnSection(s, "", "%s", why)
	if v := s.get("command"); v != nil {
		c.head = append(c.head, fmt.Sprintf("[%s] %s:%d: command = %s", s.name, v.src, v.line, v.text))
	}
}

// supervisordKeys are [supervisord]'s settings: what each becomes.
var supervisordKeys = []struct{ key, note string }{
	{"nodaemon", "tend always runs in the foreground"},
	{"silent", "tend always logs to stderr"},
	{"logfile", "tend writes its own log to stderr (-v for more, --log-format json)"},
	{"logfile_maxbytes", "tend keeps no log file of its own"},
	{"logfile_backups", "tend keeps no log file of its own"},
	{"loglevel", "tend logs at info; -v and -vv for debug and trace"},
	{"pidfile", "tend writes no pid file (as PID 1 its pid is 1)"},
	{"identifier", "tend has no identifier"},
	{"childlogdir", "tend has no AUTO log directory: a program's output goes where its stdout and stderr say"},
	{"nocleanup", "tend leaves no AUTO log files to clean up"},
	{"directory", "programs start in tend's working directory unless they set directory"},
	{"umask", ""},
	{"user", ""},
	{"environment", ""},
	{"minfds", ""},
	{"minprocs", ""},
	{"strip_ansi", ""},
}

// supervisordKey is the note of a [supervisord] key, and whether it is one.
func supervisordKey(key string) (string, bool) {
	for _, k := range supervisordKeys {
		if k.key == key {
			return k.note, true
		}
	}
	return "", false
}

// supervisordSection reads [supervisord]: its environment and user go to
// every program, the rest is said in comments.
func (c *conv) supervisordSection() {
	s := c.doc.byName["supervisord"]
	if s == nil {
		return
	}
	sc := &scope{vals: map[string]any{"host_node_name": ref{kind: refHost}}}
	get := func(key string) (string, *value, bool) {
		v := c.doc.lookup(s, key)
		if v == nil {
			return "", nil, false
		}
		sc.vals["here"] = v.dir
		text, err := expand(v.text, sc, &c.refs, &c.budget)
		if err != nil {
			c.is.errorf(v.src, v.line, s.name, key, "%v", err)
			return "", v, false
		}
		return text, v, true
	}
	// fixed is a value known now: what a boolean or a number must be.
	fixed := func(text string) bool { return c.refNames(text) == "" }
	// nodaemon first: what umask means depends on it.
	nodaemon := true
	if text, v, ok := get("nodaemon"); ok && fixed(text) {
		nodaemon, _ = c.boolText(text, v, s.name, "nodaemon")
	}
	for _, key := range c.doc.keysOf(s) {
		note, known := supervisordKey(key)
		v := c.doc.lookup(s, key)
		if !known {
			if s.get(key) != nil {
				c.warnSection(s, key, "not a [supervisord] setting: supervisord ignores it")
			}
			continue
		}
		text, _, ok := get(key)
		if !ok {
			continue
		}
		say := func(format string, args ...any) {
			c.head = append(c.head, fmt.Sprintf("[supervisord] %s:%d: %s = %s: %s", v.src, v.line, key, printable(c.plain(text)), fmt.Sprintf(format, args...)))
		}
		switch key {
		case "nodaemon":
			say("%s", note)
		case "environment":
			pairs, err := parseEnv(text)
			if err != nil {
				c.is.errorf(v.src, v.line, s.name, key, "%v", err)
				continue
			}
			c.svEnv = pairs
			for _, kv := range pairs {
				c.svEnvMap[kv.key] = kv.val
			}
			say("added to every program's environment")
		case "user":
			if u := strings.TrimSpace(text); u == "root" || u == "0" {
				say("tend runs as whoever starts it, root in a container")
			} else {
				c.svUser = u
				say("supervisord ran as %s, and so did its programs: each program without user = gets user = %q", u, u)
			}
		case "umask":
			if nodaemon {
				say("supervisord sets it only when it daemonizes; tend leaves the umask it was started with")
			} else {
				c.warnSection(s, key, "supervisord sets this umask when it daemonizes, and its programs inherit it; "+
					"tend sets none of its own: give the programs that need it umask =")
			}
		case "minfds", "minprocs":
			def := map[string]string{"minfds": "1024", "minprocs": "200"}[key]
			if strings.TrimSpace(text) == def {
				say("tend raises no limits (see --ulimit in docker run)")
			} else {
				c.warnSection(s, key, "supervisord raises RLIMIT_%s to at least %s; tend raises no limits: "+
					"set them where the container starts (docker run --ulimit)", map[string]string{"minfds": "NOFILE", "minprocs": "NPROC"}[key], text)
			}
		case "strip_ansi":
			if !fixed(text) {
				break
			}
			if b, ok := c.boolText(text, v, s.name, key); ok && b {
				c.warnSection(s, key, "tend does not strip ANSI escapes from program output")
			}
		case "pidfile":
			c.pidfile = strings.TrimSpace(text)
			say("%s", note)
		default:
			say("%s", note)
		}
	}
}

// groupSections reads every [group:x]: which programs it holds, and its
// priority.
func (c *conv) groupSections() {
	c.groups = map[string][]*groupInfo{}
	for _, s := range c.doc.sections {
		name, ok := strings.CutPrefix(s.name, "group:")
		if !ok {
			continue
		}
		g := &groupInfo{name: strings.TrimFunc(name, isSpace), sec: s, priority: 999}
		if strings.ContainsAny(g.name, " :/") {
			c.is.errorf(s.src, s.line, s.name, "", "a group name with a space, : or /: supervisord refuses it")
			continue
		}
		sc := &scope{vals: map[string]any{}, env: c.svEnvMap}
		for _, key := range c.doc.keysOf(s) {
			if key != "programs" && key != "priority" && s.get(key) != nil {
				c.warnSection(s, key, "not a [group:x] setting: supervisord ignores it")
			}
		}
		if v := c.doc.lookup(s, "priority"); v != nil {
			sc.vals["here"] = v.dir
			if text, err := expand(v.text, sc, &c.refs, &c.budget); err != nil {
				c.is.errorf(v.src, v.line, s.name, "priority", "%v", err)
			} else if names := c.refNames(text); names != "" {
				c.warnSection(s, "priority", "depends on %s when supervisord starts; tend needs a fixed value here: left at the default, 999", names)
			} else if n, ok := c.intText(text, v, s.name, "priority"); ok {
				g.priority, g.prioV = n, v
			}
		}
		v := c.doc.lookup(s, "programs")
		if v == nil {
			c.is.errorf(s.src, s.line, s.name, "programs", "missing: supervisord refuses a group without programs =")
			continue
		}
		sc.vals["here"] = v.dir
		text, err := expand(v.text, sc, &c.refs, &c.budget)
		if err != nil {
			c.is.errorf(v.src, v.line, s.name, "programs", "%v", err)
			continue
		}
		var members []string
		for _, m := range strings.Split(text, ",") {
			m = strings.TrimFunc(m, isSpace)
			if text == "" {
				break
			}
			if c.doc.byName["program:"+m] == nil {
				if c.doc.byName["fcgi-program:"+m] == nil {
					c.is.errorf(v.src, v.line, s.name, "programs", "no [program:%s]: supervisord refuses the group", m)
				}
				continue
			}
			members = append(members, m)
			c.groups[m] = append(c.groups[m], g)
		}
		c.noteSection(s, "programs %s: tend has no groups; name each program to tend ctl (or several: tend ctl start a b)", strings.Join(members, ", "))
	}
}

// defaultSection warns of the keys of [DEFAULT] no section reads.
func (c *conv) defaultSection() {
	for _, key := range c.doc.defaults.keys {
		if _, ok := supervisordKey(key); ok || slices.Contains(programKeys, key) || key == "files" || key == "programs" {
			continue
		}
		v := c.doc.defaults.get(key)
		if w, ok := c.is.warnf(v.src, v.line, "DEFAULT", key, "no section reads it: supervisord ignores it"); ok {
			c.head = append(c.head, "warning: "+w.String())
		}
	}
}
