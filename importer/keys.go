package importer

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"tend/signals"
)

// The [program:x] keys that take more than a number or a boolean.

// autorestart: true, false or unexpected.
func (c *conv) autorestart(r *reader) {
	t, v, ok := r.text("autorestart", false)
	if !ok || !r.fixed("autorestart", t, v, "unexpected") {
		return
	}
	var to string
	switch strings.ToLower(t) {
	case "yes", "true", "on", "1":
		to = "always"
	case "no", "false", "off", "0":
		to = "never"
	case "unexpected":
		to = "on-failure"
	default:
		c.is.errorf(v.src, v.line, r.s.name, "autorestart", "%s: want true, false or unexpected", quote(t))
		return
	}
	r.p.set("autorestart", strconv.Quote(to), "autorestart = "+printable(t))
}

// stopsignal: a name (TERM, SIGTERM) or a number.
func (c *conv) stopsignal(r *reader) {
	t, v, ok := r.text("stopsignal", false)
	if !ok || !r.fixed("stopsignal", t, v, "TERM") {
		return
	}
	sig, err := signals.Parse(t)
	if err != nil {
		c.is.errorf(v.src, v.line, r.s.name, "stopsignal", "%v", err)
		return
	}
	r.p.set("stopsignal", strconv.Quote(signals.Name(sig)), "")
}

// exitcodes: a comma-separated list of codes from 0 to 255.
func (c *conv) exitcodes(r *reader) {
	t, v, ok := r.text("exitcodes", false)
	if !ok || !r.fixed("exitcodes", t, v, "0") {
		return
	}
	var codes []string
	if t != "" {
		for _, f := range strings.Split(t, ",") {
			n, err := pyInt(f)
			if err != nil || n < 0 || n > 255 {
				c.is.errorf(v.src, v.line, r.s.name, "exitcodes", "%s is not a list of exit codes from 0 to 255", quote(t))
				return
			}
			codes = append(codes, strconv.Itoa(n))
		}
	}
	if len(codes) == 0 {
		c.warn(r.p, v, "exitcodes", "empty: no exit is expected; tend needs at least one code: left at 0")
		return
	}
	r.p.set("exitcodes", "["+strings.Join(codes, ", ")+"]", "")
}

// user: the program's own, else [supervisord]'s.
func (c *conv) user(r *reader) {
	t, v, ok := r.text("user", false)
	comment := ""
	if !ok {
		if c.svUser == "" {
			return
		}
		t, comment = c.svUser, "[supervisord] user"
	}
	t = strings.TrimSpace(t)
	if c.refNames(t) == "" && !validUser(t) {
		c.warn(r.p, v, "user", "%s is not a user name tend takes (letters, digits, _, . and -, or a number): left out", quote(t))
		return
	}
	r.p.set("user", c.str(r.p, v, "user", t), comment)
}

// validUser is config's rule for a user name or uid: ^([0-9]+|[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?)$.
func validUser(s string) bool {
	if s != "" && strings.Trim(s, "0123456789") == "" {
		return len(s) <= 9
	}
	s = strings.TrimSuffix(s, "$")
	if s == "" || len(s) > 32 || !(s[0] == '_' || s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !(c == '_' || c == '.' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// umask: octal, as Python's int(x, 8).
func (c *conv) umask(r *reader) {
	t, v, ok := r.text("umask", false)
	if !ok || !r.fixed("umask", t, v, "tend's own") {
		return
	}
	s := strings.TrimFunc(t, isSpace)
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0o"), "0O")
	n, err := strconv.ParseUint(strings.ReplaceAll(s, "_", ""), 8, 32)
	if err != nil || s == "" {
		c.is.errorf(v.src, v.line, r.s.name, "umask", "%s is not an octal number", quote(t))
		return
	}
	if n > 0o777 {
		c.warn(r.p, v, "umask", "%s is more than 0777: left out", quote(t))
		return
	}
	r.p.set("umask", strconv.Quote(fmt.Sprintf("%03o", n)), "")
}

// environment: [supervisord]'s, then the program's own over it.
func (c *conv) environment(r *reader, own []envPair) {
	all := append(append([]envPair(nil), c.svEnv...), own...)
	if len(all) == 0 {
		return
	}
	index := map[string]int{}
	var keys []string
	vals := map[string]string{}
	for _, kv := range all {
		if _, ok := index[kv.key]; !ok {
			index[kv.key] = len(keys)
			keys = append(keys, kv.key)
		}
		vals[kv.key] = kv.val
	}
	v := c.doc.lookup(r.s, "environment")
	var b strings.Builder
	b.WriteString("{ ")
	n := 0
	for _, k := range keys {
		if k == "" || strings.ContainsAny(k, "=\x00") || c.refNames(k) != "" || strings.ContainsRune(vals[k], 0) {
			c.warn(r.p, v, "environment", "%s: not a variable tend can set: left out", quote(c.plain(k)))
			continue
		}
		if n > 0 {
			b.WriteString(", ")
		}
		n++
		b.WriteString(tomlKey(k) + " = " + c.str(r.p, v, "environment", vals[k]))
	}
	if n == 0 {
		return
	}
	b.WriteString(" }")
	// [supervisord]'s environment is written again in every program.
	if c.budget -= b.Len(); c.budget < 0 {
		src, line := r.s.src, r.s.line
		if v != nil {
			src, line = v.src, v.line
		}
		c.is.errorf(src, line, r.s.name, "environment", "%v", errTooLarge)
		return
	}
	comment := ""
	if len(c.svEnv) > 0 {
		comment = "with [supervisord] environment"
	}
	r.p.set("environment", b.String(), comment)
}

// Paths that are supervisord's own stdout or stderr (when it is PID 1,
// /proc/1/fd/N is too): tend's are where those lines go.
var (
	stdoutPaths = []string{"/dev/stdout", "/dev/fd/1", "/proc/self/fd/1", "/proc/1/fd/1"}
	stderrPaths = []string{"/dev/stderr", "/dev/fd/2", "/proc/self/fd/2", "/proc/1/fd/2"}
)

// out is where one stream goes in tend.
type out struct {
	val               string // TOML: "inherit", "prefix" or a path
	maxbytes, backups string // TOML, for a file
	comment           string
}

// outputs maps stdout_logfile and stderr_logfile, with their rotation,
// and redirect_stderr.
func (c *conv) outputs(r *reader, pre *preKeys) {
	so := c.output(r, "stdout")
	var se out
	if pre.redirect {
		if v := c.doc.lookup(r.s, "stderr_logfile"); v != nil {
			if t, _ := expand(v.text, r.sc, &c.refs, &c.budget); !isAutoOrNone(t) {
				c.warn(r.p, v, "stderr_logfile", "ignored with redirect_stderr = true, as supervisord ignores it")
			}
		}
		se = so
		se.comment = "redirect_stderr = true"
		if so.val == `"inherit"` || so.val == `"prefix"` {
			se.comment += ": to tend's stderr, not its stdout"
		}
	} else {
		se = c.output(r, "stderr")
	}
	for _, x := range []struct {
		stream string
		o      out
	}{{"stdout", so}, {"stderr", se}} {
		r.p.set(x.stream, x.o.val, x.o.comment)
		if x.o.maxbytes != "" {
			r.p.set(x.stream+"_maxbytes", x.o.maxbytes, "")
			r.p.set(x.stream+"_backups", x.o.backups, "")
		}
	}
}

func isAutoOrNone(t string) bool {
	switch strings.ToLower(t) {
	case "", "auto", "none", "off":
		return true
	}
	return false
}

// output maps one stream's log file: NONE drops the output, AUTO (the
// default) has no equivalent (the lines go to tend's own stream, named),
// supervisord's own stdout or stderr is tend's (inherit), another
// device is written without rotation, and a file is a file, rotated as
// supervisord would (50MB, 10 backups by default).
func (c *conv) output(r *reader, stream string) out {
	key := stream + "_logfile"
	t, v, ok := r.text(key, true)
	_, maxText, _, _ := r.size(key+"_maxbytes", "50MB")
	backups, _, _ := r.integer(key+"_backups", 10)
	if b, v, _ := r.boolean(stream+"_syslog", false); b {
		c.warn(r.p, v, stream+"_syslog", "tend does not copy output to syslog")
	}
	lower := strings.ToLower(t)
	switch {
	case !ok || lower == "auto":
		return out{val: `"prefix"`, comment: "AUTO: each line to tend's " + stream + " as \"" + r.p.name + " | line\""}
	case lower == "none" || lower == "off" || t == "":
		return out{val: `"/dev/null"`, maxbytes: "0", backups: "0", comment: key + " = " + printable(t)}
	case lower == "syslog":
		c.warn(r.p, v, key, "tend does not write to syslog: each line goes to tend's %s as \"NAME | line\"", stream)
		return out{val: `"prefix"`}
	}
	same, other := stdoutPaths, stderrPaths
	if stream == "stderr" {
		same, other = other, same
	}
	switch {
	case slices.Contains(same, t):
		return out{val: `"inherit"`, comment: key + " = " + t}
	case slices.Contains(other, t):
		return out{val: `"inherit"`, comment: key + " = " + t + ": tend's " + stream + ", not its " + map[string]string{"stdout": "stderr", "stderr": "stdout"}[stream]}
	case strings.HasPrefix(t, "/dev/") || strings.HasPrefix(t, "/proc/"):
		return out{val: c.str(r.p, v, key, t), maxbytes: "0", backups: "0", comment: "a device: never rotated"}
	}
	var val string
	if rest, ok := strings.CutPrefix(t, "~"); ok && (rest == "" || rest[0] == '/') {
		val = `"${HOME}` + c.body(r.p, v, key, rest) + `"` // expanduser, when supervisord starts
	} else {
		if strings.HasPrefix(t, "~") {
			c.warn(r.p, v, key, "~user is not expanded by tend: write the home directory out")
		} else if !strings.HasPrefix(t, "/") && c.refNames(t[:min(len(t), 4)]) == "" {
			c.warn(r.p, v, key, "a relative path: supervisord takes it from its working directory, tend from the directory of this TOML file")
		}
		val = c.str(r.p, v, key, t)
	}
	return out{val: val, maxbytes: maxText, backups: strconv.Itoa(max(backups, 0))}
}

// command: exec form when its words are known now, else a shell command
// that puts them together when the program starts.
func (c *conv) command(r *reader) {
	p := r.p
	t, v, ok := r.text("command", false)
	if !ok {
		if v == nil {
			c.is.errorf(p.sec.src, p.sec.line, p.sec.name, "command", "missing: supervisord refuses a program without one")
		}
		return
	}
	p.cmdText = c.plain(t)
	words, err := splitCommand(t, func(x rune) rune {
		f := c.refs.of(x)
		f.bare = true
		b, err := c.refs.rune(f)
		if err != nil {
			return x
		}
		return b
	})
	switch {
	case err != nil:
		c.warn(p, v, "command", "supervisord cannot split it (%v), and cannot start it: left out", err)
		p.disabled = true
		p.set("command", strconv.Quote(printable(c.plain(t))), "")
		return
	case len(words) == 0:
		c.warn(p, v, "command", "empty: supervisord cannot start it: left out")
		p.disabled = true
		p.set("command", `""`, "")
		return
	}
	shell := false
	for _, w := range words {
		for _, x := range w {
			if isRef(x) {
				f := c.refs.of(x)
				shell = shell || f.kind == refInstance || f.bare
			}
		}
	}
	if !shell {
		vals := make([]string, len(words))
		for i, w := range words {
			vals[i] = c.str(p, v, "command", w)
		}
		p.set("command", "["+strings.Join(vals, ", ")+"]", "")
		c.pidproxy(p, v, words[0])
		return
	}
	sh := make([]string, len(words))
	for i, w := range words {
		sh[i] = c.shellWord(w)
	}
	p.set("command", c.str(p, v, "command", "exec "+strings.Join(sh, " ")), "")
	c.pidproxy(p, v, words[0])
	p.note("command: run by /bin/sh -c: %s", c.shellWhy(words))
}

// pidproxy warns of supervisord's pidproxy, which comes with supervisord
// (for a program that forks into the background and leaves a pid file).
func (c *conv) pidproxy(p *prog, v *value, argv0 string) {
	if argv0 == "pidproxy" || strings.HasSuffix(argv0, "/pidproxy") {
		c.warn(p, v, "command", "pidproxy comes with supervisord: keep it in the image, or run the program in the "+
			"foreground; tend stops the program's whole process group, which a daemon that stays in it is part of")
	}
}
