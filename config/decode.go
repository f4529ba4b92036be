package config

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
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
// used in error messages and to resolve relative paths. ${VAR} is
// expanded with env; a nil env has no variables set. Every problem is
// returned at once, as *Errors (at most maxErrors of them, then a line
// saying how many more there are).
func Parse(name string, data []byte, env func(string) (string, bool)) (*Config, error) {
	c, _, err := parse(name, data, env)
	return c, err
}

// parse is Parse, also returning the decoder, whose lines the warnings
// need.
func parse(name string, data []byte, env func(string) (string, bool)) (*Config, *decoder, error) {
	if env == nil {
		env = func(string) (string, bool) { return "", false }
	}
	dir, err := filepath.Abs(filepath.Dir(name))
	if err != nil {
		dir = filepath.Dir(name)
	}
	d := &decoder{file: name, dir: dir, env: env}
	// The limits first, so that the parser never sees a file over them.
	if len(data) > MaxSize {
		d.add(*tooLarge(data, -1))
		return nil, d, d.result()
	}
	src := string(data)
	if e := prescan(src); e != nil {
		d.add(*e)
		return nil, d, d.result()
	}
	var raw map[string]any
	if _, err := toml.Decode(src, &raw); err != nil {
		d.syntax(src, err)
		return nil, d, d.result()
	}
	d.lines = keyLines(src)
	c := d.config(raw)
	if err := d.result(); err != nil {
		return nil, d, err
	}
	return c, d, nil
}

// decoder turns the generic map BurntSushi/toml produces into a Config
// key by key, so that a wrong type in one key does not hide the others.
type decoder struct {
	file  string
	dir   string
	env   func(string) (string, bool)
	lines *lineIndex // from keyLines
	errs  Errors
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
	e.File = d.file
	e.Msg = shorten(e.Msg, maxMsg)
	d.errs = append(d.errs, e)
	if len(d.errs) >= 2*maxErrors {
		d.trim()
	}
}

// trim sorts the errors by line and keeps the first maxErrors.
func (d *decoder) trim() {
	slices.SortStableFunc(d.errs, func(a, b Error) int {
		if a.Line != b.Line {
			return a.Line - b.Line
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

// errorf records a problem at l. Its line is that of the array element,
// the key, or the nearest table that exists in the file; its key is the
// key (messages name the bad element by its value).
func (d *decoder) errorf(l loc, format string, args ...any) {
	d.add(Error{Line: d.lineOf(l), Key: keyString(l.key), Msg: fmt.Sprintf(format, args...)})
}

// lineOf is the line of l: that of the array element, the key, or the
// nearest table that exists in the file.
func (d *decoder) lineOf(l loc) int {
	line := 0
	if l.item >= 0 {
		line = d.lines.elemLine(l.key, l.item)
	}
	for n := len(l.key); n > 0 && line == 0; n-- {
		line = d.lines.line(l.key[:n])
	}
	return line
}

// syntax records a TOML syntax error.
func (d *decoder) syntax(data string, err error) {
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		d.add(Error{Line: 1, Msg: "invalid TOML: " + err.Error()})
		return
	}
	// The parser's line is that of where it stopped, except at the end
	// of the input, where it can be one short or 0; Start is the offending
	// token's offset, in the input without its byte order mark. The later
	// of the two is the right line.
	data = trimBOM(data)
	line := pe.Position.Line
	if start := pe.Position.Start; start >= 0 && start <= len(data) {
		line = max(line, 1+strings.Count(data[:start], "\n"))
	}
	line = min(max(line, 1), 1+strings.Count(data, "\n"))
	d.add(Error{Line: line, Msg: "invalid TOML: " + printable(shorten(pe.Message, maxMsg))})
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
		d.errs = append(d.errs, Error{File: d.file, Line: last.Line,
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
	c := &Config{File: d.file, Dir: d.dir, Tend: defaultTend()}
	groups := map[string]*group{}
	fits := true
	d.fields(at(), raw, map[string]func(loc, any){
		"tend": func(l loc, v any) { d.tend(l, v, &c.Tend) },
		"programs": func(l loc, v any) {
			m, ok := d.table(l, v)
			if !ok || !d.countPrograms(l, m, func(string) int { return 1 }) {
				return
			}
			for name, v := range m {
				groups[name] = d.program(l.child(name), name, v)
			}
			fits = d.countPrograms(l, m, func(name string) int { return groups[name].instances })
		},
	})
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
	names := slices.Collect(maps.Keys(programs))
	line := func(name string) int { return d.lines.line([]string{"programs", name}) }
	slices.SortFunc(names, func(a, b string) int { return line(a) - line(b) })
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

// tend decodes the [tend] table.
func (d *decoder) tend(l loc, v any, t *Tend) {
	m, ok := d.table(l, v)
	if !ok {
		return
	}
	d.fields(l, m, map[string]func(loc, any){
		"shutdown_timeout": func(l loc, v any) {
			if dur, ok := d.duration(l, v); ok {
				if dur == 0 {
					d.errorf(l, "must be more than 0s")
				}
				t.ShutdownTimeout = dur
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
		"metrics": func(l loc, v any) {
			if s, ok := d.str(l, v); ok {
				if s != "" {
					d.hostPort(l, s, 0) // a listener: port 0 picks a free one
				}
				t.Metrics = s
			}
		},
	})
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
	at   loc
	name string
	cond Condition
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
		"backoff": func(l loc, v any) { d.backoff(l, v, &p.Backoff) },
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
		"healthcheck": func(l loc, v any) { p.Healthcheck = d.healthcheck(l, v) },

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
	if _, ok := m["command"]; !ok {
		d.errorf(l.child("command"), "required key is missing")
	}
	if longest := instanceName(name, g.instances-1, g.instances); len(longest) > MaxNameLen {
		d.errorf(l, "name %q is %d bytes, more than the %d a program name may have", shorten(longest, 80), len(longest), MaxNameLen)
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

// healthcheck decodes [programs.NAME.healthcheck].
func (d *decoder) healthcheck(l loc, v any) *Healthcheck {
	m, ok := d.table(l, v)
	if !ok {
		return nil
	}
	h := defaultHealthcheck()
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
		"retries": func(l loc, v any) {
			n, _ := d.integer(l, v, 1, math.MaxInt32)
			h.Retries = int(n)
		},
		"on_unhealthy": func(l loc, v any) {
			s, _ := d.enum(l, v, string(UnhealthyRestart), string(UnhealthyIgnore))
			h.OnUnhealthy = OnUnhealthy(s)
		},
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
	d.fields(l, m, map[string]func(loc, any){
		"initial": func(l loc, v any) { b.Initial = d.durationOr(l, v, b.Initial) },
		"max":     func(l loc, v any) { b.Max = d.durationOr(l, v, b.Max) },
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
			if s, ok := d.enum(at, v[name], string(CondRunning), string(CondHealthy), string(CondCompleted)); ok {
				deps = append(deps, dep{at: at, name: name, cond: Condition(s)})
			}
		}
	default:
		d.errorf(l, "expected an array of program names or a table of name = condition, got %s", describe(v))
	}
	return deps
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
