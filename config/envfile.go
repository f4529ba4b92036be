package config

import (
	"fmt"
	"strings"
)

// env_file = "/app/.env" reads variables from a file, as Docker
// Compose's env_file and systemd's EnvironmentFile do. Its bounds: one
// file is at most 1 MiB (more than the 128 KiB a variable and the
// 2 MiB a whole environment may have at exec), and all the env files of
// a configuration together at most MaxEnvTotal bytes and MaxEnvVars
// variables, each distinct file counted once.
const (
	// MaxEnvFileSize is the largest env file, in bytes.
	MaxEnvFileSize = 1 << 20
	// MaxEnvTotal bounds the bytes of a configuration's env files.
	MaxEnvTotal = 4 << 20
	// MaxEnvVars bounds the variables of a configuration's env files.
	MaxEnvVars = 1 << 16
)

// EnvFile is one env_file, as read when the configuration was loaded.
type EnvFile struct {
	// Path is the file's absolute path.
	Path string
	// Vars are its variables; a name set twice has its last value.
	Vars map[string]string
}

// envFiles are the env files one configuration read, and what they
// cost together.
type envFiles struct {
	byPath map[string]envFileResult
	bytes  int
	vars   int
}

// envFileResult is an env file, or what was wrong with it.
type envFileResult struct {
	file *EnvFile
	err  string
}

// envFile decodes env_file at l: reads and parses the file it names, or
// records what is wrong with it at l (a line of the file as PATH:LINE).
func (d *decoder) envFile(l loc, v any) *EnvFile {
	s, ok := d.str(l, v)
	if !ok || s == "" {
		return nil
	}
	path := d.path(l, s)
	r, ok := d.envFiles.byPath[path]
	if !ok {
		r = d.readEnvFile(path)
		if d.envFiles.byPath == nil {
			d.envFiles.byPath = map[string]envFileResult{}
		}
		d.envFiles.byPath[path] = r
	}
	if r.err != "" {
		d.errorf(l, "%s", r.err)
	}
	return r.file
}

// readEnvFile reads and parses the env file at path.
func (d *decoder) readEnvFile(path string) envFileResult {
	data, size, err := d.fsys.read(path, MaxEnvFileSize)
	if err != nil {
		return envFileResult{err: fmt.Sprintf("env file %s: %v", path, err)}
	}
	if len(data) > MaxEnvFileSize {
		return envFileResult{err: fmt.Sprintf("env file %s is %d bytes, more than the %d (1 MiB) tend reads", path, max(size, int64(len(data))), MaxEnvFileSize)}
	}
	if d.envFiles.bytes += len(data); d.envFiles.bytes > MaxEnvTotal {
		return envFileResult{err: fmt.Sprintf("env file %s: the env files add up to more than %d MiB", path, MaxEnvTotal>>20)}
	}
	vars, line, err := parseEnvFile(string(data), MaxEnvVars-d.envFiles.vars)
	if err != nil {
		return envFileResult{err: fmt.Sprintf("%s:%d: %v", path, line, err)}
	}
	d.envFiles.vars += len(vars)
	return envFileResult{file: &EnvFile{Path: path, Vars: vars}}
}

// parseEnvFile parses the lines of an env file, with at most maxVars
// variables in it:
//
//	# a comment; blank lines are skipped
//	NAME=value           the value up to the end of the line, blanks around it trimmed
//	NAME=value # note    a # after a blank starts a comment; URL=http://h/#x keeps its #
//	export NAME=value    export is allowed, and ignored
//	NAME = value         blanks around = are allowed
//	NAME='v a l u e'     single quotes: taken as they are, no escapes
//	NAME="a\nb \"c\""    double quotes: \n \r \t \" \\ \$ are escapes, a \ before another character stays
//	NAME=                an empty value
//
// A quoted value may span lines. A name is letters, digits, _, . and -,
// not starting with a digit. No ${VAR} is expanded. A line that is none
// of these, a missing closing quote, and a NUL byte are errors, returned
// with the line they are on (where the value starts, for a quote).
func parseEnvFile(src string, maxVars int) (map[string]string, int, error) {
	src = strings.TrimPrefix(src, "\xef\xbb\xbf")
	vars := map[string]string{}
	p := envParser{src: src, line: 1}
	for !p.eof() {
		line := p.line
		if err := p.entry(vars); err != nil {
			return nil, line, err
		}
		if len(vars) > maxVars {
			return nil, line, fmt.Errorf("more than %d variables in the env files", MaxEnvVars)
		}
	}
	return vars, 0, nil
}

// envParser is parseEnvFile's position in src.
type envParser struct {
	src  string
	pos  int
	line int
}

func (p *envParser) eof() bool { return p.pos >= len(p.src) }

// blanks skips spaces and tabs.
func (p *envParser) blanks() {
	for !p.eof() && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t') {
		p.pos++
	}
}

// rest returns what is left of the current line and moves past its end.
func (p *envParser) rest() string {
	end := strings.IndexByte(p.src[p.pos:], '\n')
	if end < 0 {
		end = len(p.src) - p.pos
	}
	s := p.src[p.pos : p.pos+end]
	p.pos += end
	if !p.eof() {
		p.pos++
		p.line++
	}
	return strings.TrimSuffix(s, "\r")
}

// entry parses one line, or one variable whose quoted value spans
// several, into vars.
func (p *envParser) entry(vars map[string]string) error {
	lineStart := p.pos
	p.blanks()
	if strings.HasPrefix(p.src[p.pos:], "export") {
		after := p.pos + len("export")
		if after < len(p.src) && (p.src[after] == ' ' || p.src[after] == '\t') {
			p.pos = after
			p.blanks()
		}
	}
	start := p.pos
	for !p.eof() && envNameByte(p.src[p.pos], p.pos == start) {
		p.pos++
	}
	name := p.src[start:p.pos]
	p.blanks()
	switch {
	case name == "" && (p.eof() || p.src[p.pos] == '\n' || p.src[p.pos] == '\r' || p.src[p.pos] == '#'):
		p.rest() // a blank line or a comment
		return nil
	case name == "" || p.eof() || p.src[p.pos] != '=':
		p.pos = lineStart
		line := p.rest()
		if eq := strings.IndexByte(line, '='); eq >= 0 {
			bad := strings.TrimSpace(line[:eq])
			bad = strings.TrimSpace(strings.TrimPrefix(bad, "export "))
			return fmt.Errorf("bad variable name %s: use letters, digits, _, . and -, not starting with a digit", quoteShort(bad))
		}
		return fmt.Errorf("want NAME=value, not %s", quoteShort(strings.TrimSpace(line)))
	}
	p.pos++ // =
	p.blanks()
	var value string
	var err error
	if !p.eof() && (p.src[p.pos] == '"' || p.src[p.pos] == '\'') {
		value, err = p.quoted()
	} else {
		value = p.rest()
		if i := commentStart(value); i >= 0 {
			value = value[:i]
		}
		value = strings.TrimRight(value, " \t")
	}
	if err != nil {
		return err
	}
	if strings.IndexByte(value, 0) >= 0 {
		return fmt.Errorf("the value of %s holds a NUL byte", name)
	}
	vars[name] = value
	return nil
}

// commentStart is the index of the # that starts a comment in an
// unquoted value: one after a blank, or at its start; -1 when none.
func commentStart(v string) int {
	for i := 0; i < len(v); i++ {
		if v[i] == '#' && (i == 0 || v[i-1] == ' ' || v[i-1] == '\t') {
			return i
		}
	}
	return -1
}

// quoted parses a quoted value and what may follow it on its last line:
// blanks and a comment.
func (p *envParser) quoted() (string, error) {
	q := p.src[p.pos]
	p.pos++
	var b strings.Builder
	for {
		if p.eof() {
			return "", fmt.Errorf("no closing %c", q)
		}
		c := p.src[p.pos]
		p.pos++
		switch {
		case c == q:
			p.blanks()
			if tail := p.rest(); tail != "" && tail[0] != '#' {
				return "", fmt.Errorf("%s after the closing %c", quoteShort(tail), q)
			}
			return b.String(), nil
		case c == '\\' && q == '"' && !p.eof():
			e := p.src[p.pos]
			p.pos++
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case '"', '\\', '$':
				b.WriteByte(e)
			default:
				b.WriteByte('\\')
				p.pos-- // the next character as itself: a newline still counts
			}
		default:
			if c == '\n' {
				p.line++
			}
			b.WriteByte(c)
		}
	}
}

// envNameByte reports whether c may appear in a variable name, at its
// start when first.
func envNameByte(c byte, first bool) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' ||
		!first && ('0' <= c && c <= '9' || c == '.' || c == '-')
}

// quoteShort quotes s for a message, cut at 40 bytes.
func quoteShort(s string) string {
	return printable(fmt.Sprintf("%q", shorten(s, 40)))
}
