package config

import (
	"github.com/robfig/cron/v3"

	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/BurntSushi/toml"

	"tend/api"
	"tend/internal/regex"
)

// Load reads and parses the configuration file at path, expanding ${VAR}
// from tend's own environment. Problems in the file come back as *Errors.
// A file over MaxSize is not read further than the limit.
func Load(path string) (*Config, error) {
	data, size, err := readLimited(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	if len(data) > MaxSize {
		e := tooLarge(data, size)
		e.File = path
		return nil, &Errors{*e}
	}
	return Parse(path, data, os.LookupEnv)
}

// readLimited reads at most MaxSize+1 bytes of the file at path, and
// returns them with the file's size when it is a regular file (-1
// otherwise): a 10 GB file, or /dev/zero, costs no more than 1 MiB.
func readLimited(path string) ([]byte, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	size := int64(-1)
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	return data, size, err
}

// Parse parses the configuration in data; name is the file it came from,
// used in error messages and to resolve relative paths, and the files it
// includes are read from the system. ${VAR} is expanded with env; a nil
// env has no variables set. Every problem is returned at once, as
// *Errors (at most maxErrors of them, then a line saying how many more
// there are).
func Parse(name string, data []byte, env func(string) (string, bool)) (*Config, error) {
	c, _, err := parse(name, data, env, osFiles{})
	return c, err
}

// parse is Parse, reading included files and env files from fsys, and
// also returning the decoder, whose lines the warnings need.
func parse(name string, data []byte, env func(string) (string, bool), fsys files) (*Config, *decoder, error) {
	if env == nil {
		env = func(string) (string, bool) { return "", false }
	}
	d := &decoder{main: newSource(name, 0), env: env, fsys: fsys}
	b := new(budget)
	raw := d.read(d.main, data, -1, b)
	if raw == nil || !d.includes(raw, b, len(data)) {
		return nil, d, d.result()
	}
	c := d.config(raw)
	if err := d.result(); err != nil {
		return nil, d, err
	}
	return c, d, nil
}

// read checks data, the contents of the file s (size bytes, -1 when not
// known), against the limits, then parses it and finds the line of each
// of its keys. It returns nil, with the errors recorded, when the file
// passes a limit or is not TOML: the limits first, so that the parser
// never sees a file over them.
func (d *decoder) read(s *source, data []byte, size int64, b *budget) map[string]any {
	fail := func(e Error) map[string]any {
		e.File = s.file
		d.add(e)
		return nil
	}
	if len(data) > MaxSize {
		return fail(*tooLarge(data, size))
	}
	src := string(data)
	if e := b.prescan(src); e != nil {
		return fail(*e)
	}
	var raw map[string]any
	if _, err := toml.Decode(src, &raw); err != nil {
		return fail(syntaxError(src, err))
	}
	s.lines = keyLines(src)
	return raw
}

// decoder turns the generic map BurntSushi/toml produces into a Config
// key by key, so that a wrong type in one key does not hide the others.
type decoder struct {
	// main is the file given; sources are those it includes, in order.
	main    *source
	sources []*source
	// origins says which file set which key, when the main file
	// includes others; nil otherwise.
	origins *origin
	env     func(string) (string, bool)
	fsys    files
	// envFiles are the env files read, by absolute path: one that
	// several programs name is read once.
	envFiles envFiles
	errs     Errors
	// dropped counts the errors left out past maxErrors.
	dropped int
	// expanded counts the bytes ${VAR} expansion added, against
	// maxExpanded.
	expanded int
	// suggestWork counts the work of "did you mean", against
	// maxSuggestWork.
	suggestWork int
}

// Bounds on the work of reporting errors, so that a hostile file's
// errors cost no more than the file.
const (
	// maxErrors is how many errors are reported; those on the first
	// lines are kept.
	maxErrors = 1000
	// maxMsg is the longest message, in bytes; longer ones are cut.
	maxMsg = 1024
	// maxKeyPart is the longest key part shown in an error's key.
	maxKeyPart = 64
)

// add records e, keeping no more than about 2*maxErrors in memory.
func (d *decoder) add(e Error) {
	e.Msg = shorten(e.Msg, maxMsg)
	d.errs = append(d.errs, e)
	if len(d.errs) >= 2*maxErrors {
		d.trim()
	}
}

// trim sorts the errors by file (the main file first, then the others in
// the order they were merged) and line, and keeps the first maxErrors.
func (d *decoder) trim() {
	byFile := d.byFile()
	slices.SortStableFunc(d.errs, func(a, b Error) int {
		if c := byFile(a, b); c != 0 {
			return c
		}
		if c := strings.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		return strings.Compare(a.Msg, b.Msg)
	})
	d.errs = slices.Compact(d.errs)
	if len(d.errs) > maxErrors {
		d.dropped += len(d.errs) - maxErrors
		clear(d.errs[maxErrors:])
		d.errs = d.errs[:maxErrors]
	}
}

// byFile compares errors by file, then by line: the main file first,
// then the others in the order they were merged.
func (d *decoder) byFile() func(a, b Error) int {
	rank := map[string]int{}
	for _, s := range d.sources {
		rank[s.file] = s.rank
	}
	return func(a, b Error) int {
		if ra, rb := rank[a.File], rank[b.File]; ra != rb {
			return ra - rb
		}
		return a.Line - b.Line
	}
}

// shorten cuts s to at most n bytes (and a "..."), on a rune boundary.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - 3
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// keyString is key as TOML writes it, with parts longer than maxKeyPart
// cut short: an error's key names where the problem is, and a 1 MB key
// repeated in each of thousands of errors would cost a gigabyte.
func keyString(key []string) string {
	short := key
	for i, part := range key {
		if len(part) > maxKeyPart {
			if &short[0] == &key[0] {
				short = slices.Clone(key)
			}
			short[i] = shorten(part, maxKeyPart)
		}
	}
	// toml quotes and escapes control characters; printable also
	// escapes the other unprintable ones, such as U+202E, which turns
	// the rest of a terminal line around.
	return printable(toml.Key(short).String())
}

// loc is where a value sits: a key, and an index when the value is an
// element of the array at that key.
type loc struct {
	key  []string
	item int // -1: the key's own value
}

// at is the location of a key.
func at(key ...string) loc { return loc{key: key, item: -1} }

// child is the location of key k of the table at l.
func (l loc) child(k string) loc {
	return loc{key: append(slices.Clip(l.key), k), item: -1}
}

// elem is the location of element i of the array at l.
func (l loc) elem(i int) loc { return loc{key: l.key, item: i} }

// errorf records a problem at l, in the file that set l's key last. Its
// line is that of the array element, the key, or the nearest table that
// exists in the file; its key is the key (messages name the bad element
// by its value).
func (d *decoder) errorf(l loc, format string, args ...any) {
	d.errorIn(d.sourceOf(l.key), l, format, args...)
}

// syntaxError is the error for a TOML syntax error in src.
func syntaxError(src string, err error) Error {
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		return Error{Line: 1, Msg: "invalid TOML: " + err.Error()}
	}
	// The parser's line is that of where it stopped, except at the end
	// of the input, where it can be one short or 0; Start is the offending
	// token's offset, in the input without its byte order mark. The later
	// of the two is the right line.
	src = trimBOM(src)
	line := pe.Position.Line
	if start := pe.Position.Start; start >= 0 && start <= len(src) {
		line = max(line, 1+strings.Count(src[:start], "\n"))
	}
	line = min(max(line, 1), 1+strings.Count(src, "\n"))
	return Error{Line: line, Msg: "invalid TOML: " + printable(shorten(pe.Message, maxMsg))}
}

// printable escapes control characters in s (the parser quotes the
// offending character raw, NUL for the end of the input).
func printable(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsPrint(r) {
			b.WriteRune(r)
		} else {
			b.WriteString(strings.Trim(strconv.QuoteRune(r), "'"))
		}
	}
	return b.String()
}

// result returns the errors found, sorted by line, or nil.
func (d *decoder) result() error {
	if len(d.errs) == 0 {
		return nil
	}
	d.trim()
	if d.dropped > 0 {
		last := d.errs[len(d.errs)-1]
		d.errs = append(d.errs, Error{File: last.File, Line: last.Line,
			Msg: fmt.Sprintf("%d more errors after this line are not shown", d.dropped)})
		d.dropped = 0
	}
	// A copy of just the errors: &d.errs would keep the whole decoder,
	// the file's key-line index with it, alive for as long as the error
	// lives (a rejected reload's answer and log line).
	errs := slices.Clone(d.errs)
	return &errs
}

// fields calls the handler of every key of m, in key order, and reports
// keys without a handler as unknown.
func (d *decoder) fields(l loc, m map[string]any, handlers map[string]func(loc, any)) {
	var known []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		h, ok := handlers[k]
		if !ok {
			if known == nil {
				known = slices.Sorted(maps.Keys(handlers))
			}
			d.errorf(l.child(k), "unknown key%s", d.suggest(k, known))
			continue
		}
		h(l.child(k), m[k])
	}
}

// config decodes the whole file.
func (d *decoder) config(raw map[string]any) *Config {
	c := &Config{File: d.main.file, Dir: d.main.dir, Files: []string{d.main.file}, Tend: defaultTend()}
	for _, s := range d.sources {
		c.Files = append(c.Files, s.file)
	}
	groups := map[string]*group{}
	fits := true
	d.fields(at(), raw, map[string]func(loc, any){
		"tend": func(l loc, v any) { d.tend(l, v, &c.Tend) },
		"programs": func(l loc, v any) {
			m, ok := d.table(l, v)
			if !ok || !d.countPrograms(l, m, func(string) int { return 1 }) {
				return
			}
			// In order, so that budgets shared by the programs (env
			// files, ${VAR}) run out at the same one each time.
			for _, name := range slices.Sorted(maps.Keys(m)) {
				groups[name] = d.program(l.child(name), name, m[name])
			}
			fits = d.countPrograms(l, m, func(name string) int { return groups[name].instances })
		},
	})
	if f := c.Tend.EnvFile; f != nil {
		for _, g := range groups {
			g.prog.EnvFiles = append([]*EnvFile{f}, g.prog.EnvFiles...)
		}
	}
	for i, name := range d.fileOrder(slices.Collect(maps.Keys(groups))) {
		groups[name].prog.Order = i
	}
	if fits { // 4,000 groups of 1,000 instances would take gigabytes
		c.Programs = d.link(groups)
	}
	return c
}

// countPrograms reports, at the program that passes it, a file with
// more than MaxPrograms programs, each counting size(name): 1, or its
// instances. Programs are counted in the order of the file.
func (d *decoder) countPrograms(l loc, programs map[string]any, size func(string) int) bool {
	total := 0
	for name := range programs {
		total += size(name)
	}
	if total <= MaxPrograms {
		return true
	}
	names := d.fileOrder(slices.Collect(maps.Keys(programs)))
	total = 0
	for _, name := range names {
		if total += size(name); total > MaxPrograms {
			d.errorf(l.child(name), "more than %d programs, instances counted: this one makes %d, and there are more",
				MaxPrograms, total)
			break
		}
	}
	return false
}

// positiveDuration is a duration that must be more than 0s.
func (d *decoder) positiveDuration(l loc, v any) (time.Duration, bool) {
	dur, ok := d.duration(l, v)
	if ok && dur == 0 {
		d.errorf(l, "must be more than 0s")
	}
	return dur, ok
}

// fileOrder sorts program names in the order their tables come in the
// files: the main file first, then the included ones in merge order.
func (d *decoder) fileOrder(names []string) []string {
	slices.SortFunc(names, func(a, b string) int {
		la, lb := at("programs", a), at("programs", b)
		sa, sb := d.sourceOf(la.key), d.sourceOf(lb.key)
		if sa.rank != sb.rank {
			return sa.rank - sb.rank
		}
		if c := sa.lineOf(la) - sb.lineOf(lb); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	return names
}

// schedule decodes a cron line (schedule) into *s.
func (d *decoder) schedule(l loc, v any, s **Schedule) {
	str, ok := d.str(l, v)
	if !ok {
		return
	}
	spec, err := parseCron(str)
	if err != nil {
		d.errorf(l, "%q is not a cron schedule: %v (five fields: minute hour day-of-month month day-of-week, or @hourly, @daily, @every 1h…)", shorten(str, 80), err)
		return
	}
	*s = &Schedule{Cron: str, spec: spec}
}

// parseCron is cron's standard parser, which panics on some input (a
// CRON_TZ= with nothing after it, in v3.0.1): a config file is input
// from a person, and tend is PID 1.
func parseCron(s string) (spec cron.Schedule, err error) {
	defer func() {
		if r := recover(); r != nil {
			spec, err = nil, fmt.Errorf("malformed (%v)", r)
		}
	}()
	return cron.ParseStandard(s)
}

// tend decodes the [tend] table.
func (d *decoder) tend(l loc, v any, t *Tend) {
	m, ok := d.table(l, v)
	if !ok {
		return
	}
	d.fields(l, m, map[string]func(loc, any){
		"shutdown_timeout": func(l loc, v any) {
			if dur, ok := d.positiveDuration(l, v); ok {
				t.ShutdownTimeout = dur
			}
		},
		"max_starting": func(l loc, v any) {
			n, _ := d.integer(l, v, 0, MaxPrograms)
			t.MaxStarting = int(n)
		},
		"drain": func(l loc, v any) {
			if dur, ok := d.duration(l, v); ok {
				t.Drain = dur
			}
		},
		"socket": func(l loc, v any) {
			s, ok := d.str(l, v)
			if !ok || s == "" {
				t.Socket = ""
				return
			}
			t.Socket = d.path(l, s)
			// sockaddr_un's sun_path is 108 bytes, NUL included.
			if len(t.Socket) > 107 {
				d.errorf(l, "path %q is longer than the 107 bytes a unix socket path may have", t.Socket)
			}
		},
		"socket_mode": func(l loc, v any) {
			if m, ok := d.mode(l, v); ok {
				t.SocketMode = m
			}
		},
		"socket_group": func(l loc, v any) {
			if s, ok := d.str(l, v); ok {
				if s != "" && !validID(s) {
					d.errorf(l, "%q is not a group name or gid", s)
				}
				t.SocketGroup = s
			}
		},
		"log_format": func(l loc, v any) {
			if s, ok := d.enum(l, v, "console", "json"); ok {
				t.LogFormat = s
			}
		},
		"cgroups": func(l loc, v any) {
			if s, ok := d.enum(l, v, CgroupsAuto, CgroupsRequired, CgroupsOff); ok {
				t.Cgroups = s
			}
		},
		"metrics": func(l loc, v any) {
			if s, ok := d.str(l, v); ok {
				if s != "" {
					d.hostPort(l, s, 0) // a listener: port 0 picks a free one
				}
				t.Metrics = s
			}
		},
		// Read, and its files merged, before anything else is decoded
		// (includes); Config.Files lists them.
		"include":  func(loc, any) {},
		"env_file": func(l loc, v any) { t.EnvFile = d.envFile(l, v) },
		"start_timeout": func(l loc, v any) {
			if dur, ok := d.duration(l, v); ok {
				t.StartTimeout = dur
			}
		},
		"on_start_timeout": func(l loc, v any) {
			if s, ok := d.enum(l, v, string(StartContinue), string(StartFail)); ok {
				t.OnStartTimeout = OnStartTimeout(s)
			}
		},
	})
	if t.Drain > 0 && t.Drain >= t.ShutdownTimeout {
		d.errorf(l.child("drain"), "%s is not shorter than shutdown_timeout (%s), which it counts inside", t.Drain, t.ShutdownTimeout)
	}
}

// group is one [programs.NAME] table before instances and dependencies
// are worked out.
type group struct {
	prog      Program // template for every instance; Type "" if invalid
	instances int
	deps      []dep
}

// dep is one depends_on entry as written.
type dep struct {
	at      loc
	name    string
	cond    Condition
	restart bool
}

// validName reports whether name is a program name:
// ^[A-Za-z0-9_][A-Za-z0-9_.-]*$.
func validName(name string) bool {
	return name != "" && nameStart(name[0]) && nameChars(name[1:])
}

// program decodes one [programs.NAME] table.
func (d *decoder) program(l loc, name string, v any) *group {
	g := &group{prog: defaultProgram(name), instances: 1}
	p := &g.prog
	if !validName(name) {
		d.errorf(l, "bad program name %q: use letters, digits, _, - and . (a : is added by instances)", name)
	}
	m, ok := d.table(l, v)
	if !ok {
		p.Type = ""
		return g
	}
	var restartSet, startsecsSet bool
	d.fields(l, m, map[string]func(loc, any){
		"command": func(l loc, v any) { p.Command, p.Shell, _ = d.argv(l, v) },
		"type": func(l loc, v any) {
			s, _ := d.enum(l, v, string(Longrun), string(Oneshot))
			p.Type = Type(s)
		},
		"directory": func(l loc, v any) {
			if s, ok := d.str(l, v); ok && s != "" {
				p.Directory = d.path(l, s)
			}
		},
		"user":        func(l loc, v any) { p.User = d.user(l, v) },
		"environment": func(l loc, v any) { p.Environment = d.environment(l, v) },
		"env_file": func(l loc, v any) {
			if f := d.envFile(l, v); f != nil {
				p.EnvFiles = []*EnvFile{f}
			}
		},
		"clear_env": func(l loc, v any) { p.ClearEnv, _ = d.boolean(l, v) },
		"umask": func(l loc, v any) {
			if m, ok := d.mode(l, v); ok {
				p.Umask = &m
			}
		},
		"autostart": func(l loc, v any) { p.Autostart, _ = d.boolean(l, v) },
		"autorestart": func(l loc, v any) {
			s, _ := d.enum(l, v, string(RestartAlways), string(RestartOnFailure), string(RestartNever))
			p.Autorestart, restartSet = Restart(s), true
		},
		"exitcodes": func(l loc, v any) { p.ExitCodes = d.exitCodes(l, v) },
		"startsecs": func(l loc, v any) { p.StartSecs, startsecsSet = d.durationOr(l, v, 0), true },
		"startretries": func(l loc, v any) {
			n, _ := d.integer(l, v, 0, math.MaxInt32)
			p.StartRetries = int(n)
		},
		"backoff":       func(l loc, v any) { d.backoff(l, v, &p.Backoff) },
		"restart_limit": func(l loc, v any) { p.RestartLimit = d.restartLimit(l, v) },
		"stopsignal": func(l loc, v any) {
			if sig, ok := d.signal(l, v); ok {
				p.StopSignal = sig
			}
		},
		"stopwaitsecs": func(l loc, v any) { p.StopWaitSecs = d.durationOr(l, v, p.StopWaitSecs) },
		"depends_on":   func(l loc, v any) { g.deps = d.deps(l, v) },
		"critical":     func(l loc, v any) { p.Critical, _ = d.boolean(l, v) },
		"stdout":       func(l loc, v any) { d.output(l, v, &p.Stdout) },
		"stderr":       func(l loc, v any) { d.output(l, v, &p.Stderr) },
		"stdout_maxbytes": func(l loc, v any) {
			p.Stdout.MaxBytes, _ = d.size(l, v)
		},
		"stderr_maxbytes": func(l loc, v any) {
			p.Stderr.MaxBytes, _ = d.size(l, v)
		},
		"stdout_backups": func(l loc, v any) {
			n, _ := d.integer(l, v, 0, math.MaxInt32)
			p.Stdout.Backups = int(n)
		},
		"stderr_backups": func(l loc, v any) {
			n, _ := d.integer(l, v, 0, math.MaxInt32)
			p.Stderr.Backups = int(n)
		},
		"instances": func(l loc, v any) {
			if n, ok := d.integer(l, v, 1, MaxInstances); ok {
				g.instances = int(n)
			}
		},
		"healthcheck": func(l loc, v any) { p.Healthcheck = d.healthcheck(l, v, false) },
		"readiness":   func(l loc, v any) { p.Readiness = d.healthcheck(l, v, true) },
		"ready":       func(l loc, v any) { d.ready(l, v, &p.Ready) },
		"ready_timeout": func(l loc, v any) {
			p.ReadyTimeout = d.positive(l, v, DefaultReadyTimeout)
		},
		"watchdog":  func(l loc, v any) { p.Watchdog = d.positive(l, v, 0) },
		"schedule":  func(l loc, v any) { d.schedule(l, v, &p.Schedule) },
		"pre_start": func(l loc, v any) { p.PreStart, _, _ = d.argv(l, v) },
		"pre_stop":  func(l loc, v any) { p.PreStop, _, _ = d.argv(l, v) },
		"post_stop": func(l loc, v any) { p.PostStop, _, _ = d.argv(l, v) },
		"hook_timeout": func(l loc, v any) {
			if dur, ok := d.positiveDuration(l, v); ok {
				p.HookTimeout = dur
			}
		},
		"every": func(l loc, v any) {
			if dur, ok := d.duration(l, v); ok {
				if dur < time.Second {
					d.errorf(l, "must be at least 1s, not %s", dur)
				}
				p.Schedule = &Schedule{Every: dur}
			}
		},

		"rlimits":      func(l loc, v any) { p.Rlimits = d.rlimits(l, v) },
		"no_new_privs": func(l loc, v any) { p.NoNewPrivs, _ = d.boolean(l, v) },
		"capabilities": func(l loc, v any) { p.Capabilities = d.capabilities(l, v) },
		"oom_score_adj": func(l loc, v any) {
			if n, ok := d.integer(l, v, -1000, 1000); ok {
				p.OOMScoreAdj = ptr(int(n))
			}
		},
		"nice": func(l loc, v any) {
			if n, ok := d.integer(l, v, -20, 19); ok {
				p.Nice = ptr(int(n))
			}
		},
		"memory_max": func(l loc, v any) { p.MemoryMax = d.memoryMax(l, v) },
		"cpus":       func(l loc, v any) { p.CPUs = d.cpus(l, v) },
		"pids_max": func(l loc, v any) {
			p.PidsMax, _ = d.integer(l, v, 1, maxPids)
		},
	})
	_, hasCron := m["schedule"]
	_, hasEvery := m["every"]
	switch {
	case hasCron && hasEvery:
		d.errorf(l.child("every"), "give schedule or every, not both")
	case (hasCron || hasEvery) && p.Type != Oneshot:
		key := "schedule"
		if hasEvery {
			key = "every"
		}
		d.errorf(l.child(key), `only a oneshot runs on a schedule: add type = "oneshot"`)
	}
	if _, ok := m["command"]; !ok {
		d.errorf(l.child("command"), "required key is missing")
	}
	if longest := instanceName(name, g.instances-1, g.instances); len(longest) > api.MaxNameLen {
		d.errorf(l, "name %q is %d bytes, more than the %d a program name may have", shorten(longest, 80), len(longest), api.MaxNameLen)
	}
	if !restartSet {
		p.Autorestart = RestartOnFailure
		if p.Type == Oneshot {
			p.Autorestart = RestartNever
		}
	}
	if !startsecsSet && p.Type != Oneshot {
		p.StartSecs = time.Second
	}
	d.readyChecks(l, m, p)
	if p.Type == Oneshot && p.Autorestart == RestartAlways {
		d.errorf(l.child("autorestart"), `a oneshot cannot restart "always": it would run again each time it completes; make it a longrun, or use "on-failure"`)
	}
	for _, o := range []struct {
		out *Output
		key string
	}{{&p.Stdout, "stdout"}, {&p.Stderr, "stderr"}} {
		if o.out.Mode != File {
			o.out.MaxBytes, o.out.Backups = 0, 0 // documented: ignored unless a file
			continue
		}
		if _, ok := m[o.key+"_maxbytes"]; !ok {
			o.out.MaxBytes = DefaultMaxBytes
		}
		if _, ok := m[o.key+"_backups"]; !ok {
			o.out.Backups = DefaultBackups
		}
	}
	return g
}

// healthcheck decodes [programs.NAME.healthcheck], or, with readiness,
// [programs.NAME.readiness]: the same keys, but on_unhealthy, since a
// readiness check never restarts its program.
func (d *decoder) healthcheck(l loc, v any, readiness bool) *Healthcheck {
	m, ok := d.table(l, v)
	if !ok {
		return nil
	}
	h := defaultHealthcheck()
	onUnhealthy := func(l loc, v any) {
		s, _ := d.enum(l, v, string(UnhealthyRestart), string(UnhealthyIgnore))
		h.OnUnhealthy = OnUnhealthy(s)
	}
	if readiness {
		h.OnUnhealthy = UnhealthyIgnore
		onUnhealthy = func(l loc, v any) {
			d.errorf(l, "a readiness check never restarts its program: on_unhealthy belongs in [%s]",
				keyString(append(slices.Clip(l.key[:len(l.key)-2]), "healthcheck")))
		}
	}
	d.fields(l, m, map[string]func(loc, any){
		"exec": func(l loc, v any) { h.Exec, h.Shell, _ = d.argv(l, v) },
		"http": func(l loc, v any) {
			s, ok := d.str(l, v)
			if !ok {
				return
			}
			if u, err := url.Parse(s); err != nil || u.Scheme != "http" || u.Host == "" {
				d.errorf(l, "%q is not an http:// URL", s)
			}
			h.HTTP = s
		},
		"tcp": func(l loc, v any) {
			if s, ok := d.str(l, v); ok {
				d.hostPort(l, s, 1)
				h.TCP = s
			}
		},
		"interval":     func(l loc, v any) { h.Interval = d.positive(l, v, h.Interval) },
		"timeout":      func(l loc, v any) { h.Timeout = d.positive(l, v, h.Timeout) },
		"start_period": func(l loc, v any) { h.StartPeriod = d.durationOr(l, v, 0) },
		"start_interval": func(l loc, v any) {
			h.StartInterval = d.durationOr(l, v, 0)
			if h.StartInterval > 0 && h.StartInterval < 10*time.Millisecond {
				d.errorf(l, "must be 0s (off) or at least 10ms, not %s", h.StartInterval)
			}
		},
		"retries": func(l loc, v any) {
			n, _ := d.integer(l, v, 1, math.MaxInt32)
			h.Retries = int(n)
		},
		"on_unhealthy": onUnhealthy,
	})
	var probes []string
	for _, k := range probeKinds {
		if _, ok := m[string(k)]; ok {
			probes = append(probes, string(k))
		}
	}
	switch len(probes) {
	case 0:
		d.errorf(l, "needs a probe: one of exec, http or tcp")
	case 1:
		h.Kind = ProbeKind(probes[0])
	default:
		d.errorf(l, "has %s: only one of exec, http or tcp may be set", strings.Join(probes, " and "))
	}
	return h
}

// backoff decodes the backoff table.
func (d *decoder) backoff(l loc, v any, b *Backoff) {
	m, ok := d.table(l, v)
	if !ok {
		return
	}
	resetSet := false
	d.fields(l, m, map[string]func(loc, any){
		"initial": func(l loc, v any) { b.Initial = d.durationOr(l, v, b.Initial) },
		"max":     func(l loc, v any) { b.Max = d.durationOr(l, v, b.Max) },
		"reset":   func(l loc, v any) { b.Reset, resetSet = d.durationOr(l, v, b.Reset), true },
		"factor": func(l loc, v any) {
			f, ok := d.number(l, v)
			if ok && (f < 1 || f > 1000) {
				d.errorf(l, "must be between 1 and 1000, not %g", f)
				return
			}
			if ok {
				b.Factor = f
			}
		},
	})
	if b.Max < b.Initial {
		d.errorf(l.child("max"), "max (%s) is less than initial (%s)", b.Max, b.Initial)
	}
	if !resetSet {
		b.Reset = b.Max // documented: reset defaults to max, as set here
	}
}

// restartLimit decodes restart_limit = { count = N, window = "60s" }.
func (d *decoder) restartLimit(l loc, v any) *RestartLimit {
	m, ok := d.table(l, v)
	if !ok {
		return nil
	}
	r := &RestartLimit{Count: -1, Window: time.Minute}
	d.fields(l, m, map[string]func(loc, any){
		"count": func(l loc, v any) {
			if n, ok := d.integer(l, v, 0, MaxRestartLimit); ok {
				r.Count = int(n)
			}
		},
		"window": func(l loc, v any) { r.Window = d.positive(l, v, r.Window) },
	})
	if _, ok := m["count"]; !ok {
		d.errorf(l.child("count"), "required key is missing")
	}
	if r.Count < 0 {
		return nil // an error is reported
	}
	return r
}

// deps decodes depends_on: a list of names, or a table of name =
// condition.
func (d *decoder) deps(l loc, v any) []dep {
	var deps []dep
	switch v := v.(type) {
	case []any:
		for i, e := range v {
			if name, ok := d.str(l.elem(i), e); ok {
				deps = append(deps, dep{at: l.elem(i), name: name, cond: CondDefault})
			}
		}
	case map[string]any:
		for _, name := range slices.Sorted(maps.Keys(v)) {
			at := l.child(name)
			if t, ok := v[name].(map[string]any); ok {
				dp := dep{at: at, name: name, cond: CondDefault}
				d.fields(at, t, map[string]func(loc, any){
					"condition": func(l loc, v any) {
						if s, ok := d.condition(l, v); ok {
							dp.cond = s
						}
					},
					"restart": func(l loc, v any) { dp.restart, _ = d.boolean(l, v) },
				})
				deps = append(deps, dp)
				continue
			}
			if s, ok := d.condition(at, v[name]); ok {
				deps = append(deps, dep{at: at, name: name, cond: s})
			}
		}
	default:
		d.errorf(l, "expected an array of program names or a table of name = condition, got %s", describe(v))
	}
	return deps
}

// condition decodes a depends_on condition.
func (d *decoder) condition(l loc, v any) (Condition, bool) {
	if _, ok := v.(string); !ok {
		d.errorf(l, `expected a condition ("running", "ready", "healthy" or "completed") or a table { condition = …, restart = true }, got %s`, describe(v))
		return "", false
	}
	s, ok := d.enum(l, v, string(CondRunning), string(CondReady), string(CondHealthy), string(CondCompleted))
	return Condition(s), ok
}

// ready decodes ready = "started" | "notify" | "healthy" | { fd = N } |
// { log = "regex" }.
func (d *decoder) ready(l loc, v any, r *Ready) {
	switch v := v.(type) {
	case string:
		if s, ok := d.enum(l, v, string(ReadyStarted), string(ReadyNotify), string(ReadyHealthy)); ok {
			*r = Ready{Kind: ReadyKind(s)}
		}
		return
	case map[string]any:
		d.fields(l, v, map[string]func(loc, any){
			"fd": func(l loc, v any) {
				if n, ok := d.integer(l, v, 3, maxReadyFd); ok {
					*r = Ready{Kind: ReadyFd, Fd: int(n)}
				}
			},
			"log": func(l loc, v any) {
				s, ok := d.str(l, v)
				if !ok {
					return
				}
				if s == "" {
					d.errorf(l, `an empty pattern matches every line: write "." for "any line"`)
					return
				}
				pat, err := regex.Compile(s)
				if err != nil {
					d.errorf(l, "%q: %v", shorten(s, 80), err)
					return
				}
				*r = Ready{Kind: ReadyLog, Log: s, Pattern: pat}
			},
		})
		_, fd := v["fd"]
		_, log := v["log"]
		switch {
		case fd && log:
			d.errorf(l, "has fd and log: only one of them may be set")
		case !fd && !log:
			d.errorf(l, "needs fd = N or log = \"pattern\"")
		}
		return
	}
	d.errorf(l, `expected "started", "notify", "healthy", { fd = N } or { log = "pattern" }, got %s`, describe(v))
}

// maxReadyFd is the highest fd a ready = { fd = N } may name (as
// notify.MaxFd: the child closes every fd from 3 to it).
const maxReadyFd = 255

// readyChecks relates the readiness keys of program table m to each
// other and to the rest: they are for longruns; ready_timeout needs a
// ready setting, watchdog needs "notify", "healthy" a check, a log
// pattern an output tend reads.
func (d *decoder) readyChecks(l loc, m map[string]any, p *Program) {
	_, timeoutSet := m["ready_timeout"]
	if p.Type == Oneshot {
		for _, k := range []string{"ready", "ready_timeout", "watchdog", "readiness"} {
			if _, ok := m[k]; ok {
				d.errorf(l.child(k), "a oneshot is ready when it is COMPLETED: %s is for longruns", k)
			}
		}
		return
	}
	if p.Ready.Kind == ReadyStarted {
		if timeoutSet {
			d.errorf(l.child("ready_timeout"), `needs a ready setting other than "started": a program is then STARTING until ready, and ready_timeout bounds that`)
		}
		p.ReadyTimeout = 0
	} else if !timeoutSet {
		p.ReadyTimeout = DefaultReadyTimeout
	}
	if _, ok := m["watchdog"]; ok && p.Ready.Kind != ReadyNotify {
		d.errorf(l.child("watchdog"), `needs ready = "notify": the keep-alive is WATCHDOG=1 on the program's NOTIFY_SOCKET`)
	}
	switch p.Ready.Kind {
	case ReadyHealthy:
		if _, hc := m["healthcheck"]; !hc {
			if _, rc := m["readiness"]; !rc {
				d.errorf(l.child("ready"), `"healthy" needs a check: [%s.readiness] or [%s.healthcheck]`, keyString(l.key), keyString(l.key))
			}
		}
	case ReadyLog:
		if p.Stdout.Mode == Inherit && p.Stderr.Mode == Inherit {
			d.errorf(l.child("ready"), `a log pattern needs output tend reads: set stdout or stderr to "prefix" or a file (with "inherit" the program writes to tend's own stdout and stderr directly)`)
		}
	}
}

// maxSuggestWork bounds the work of suggest over one file: 4,096
// program names times thousands of unknown dependencies would take
// minutes. Past it, errors come without a suggestion.
const maxSuggestWork = 20_000_000

// suggest returns `: did you mean "x"?` for the closest of known to s, if
// one is close enough to be a typo.
func (d *decoder) suggest(s string, known []string) string {
	best, dist := "", 3
	for _, k := range known {
		if d.suggestWork++; d.suggestWork > maxSuggestWork {
			return ""
		}
		if abs(len(s)-len(k)) >= dist {
			continue // the distance is at least that
		}
		d.suggestWork += min(len(s), 64) * min(len(k), 64)
		if n := editDistance(s, k); n < dist {
			best, dist = k, n
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

func abs(n int) int { return max(n, -n) }

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	row := make([]int, len(b)+1)
	for j := range row {
		row[j] = j
	}
	for i := 1; i <= len(a); i++ {
		prev := row[0]
		row[0] = i
		for j := 1; j <= len(b); j++ {
			cur := row[j]
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			row[j] = min(row[j]+1, row[j-1]+1, prev+cost)
			prev = cur
		}
	}
	return row[len(b)]
}
