package importer

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"tend/api"
	"tend/config"
)

// Writing TOML: strings with ${X} for what tend expands when it loads
// the file, names tend takes, and the file itself with its comments.

// refNames says which run-time values text depends on, for a message;
// "" when none.
func (c *conv) refNames(text string) string {
	var names []string
	seen := map[string]bool{}
	for _, x := range text {
		if !isRef(x) {
			continue
		}
		var n string
		switch f := c.refs.of(x); f.kind {
		case refEnv:
			n = "$" + f.name
		case refHost:
			n = "the host name"
		default:
			n = "the process number"
		}
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	return strings.Join(names, ", ")
}

// plain shows text with its run-time values as ${X}, for comments.
func (c *conv) plain(text string) string {
	if strings.IndexFunc(text, isRef) < 0 {
		return text
	}
	var b strings.Builder
	for _, x := range text {
		if !isRef(x) {
			b.WriteRune(x)
			continue
		}
		switch f := c.refs.of(x); f.kind {
		case refEnv:
			b.WriteString("${" + f.name + "}")
		case refHost:
			b.WriteString("${HOSTNAME}")
		default:
			b.WriteString("$TEND_INSTANCE")
		}
	}
	return b.String()
}

// str is text as a TOML string, for key of p (at v, for errors).
func (c *conv) str(p *prog, v *value, key, text string) string {
	return `"` + c.body(p, v, key, text) + `"`
}

// body is text as the inside of a TOML basic string, as tend's ${VAR}
// expansion will read it: a run-time value becomes ${X}, and a $ that
// tend would take for the start of one is doubled.
func (c *conv) body(p *prog, v *value, key, text string) string {
	var b strings.Builder
	rs := []rune(text)
	for i, x := range rs {
		if isRef(x) {
			switch f := c.refs.of(x); f.kind {
			case refEnv:
				if !envName(f.name) {
					src, line := p.sec.src, p.sec.line
					if v != nil {
						src, line = v.src, v.line
					}
					c.is.errorf(src, line, p.sec.name, key, "%%(ENV_%s)s: tend expands only names made of letters, digits and _", f.name)
				}
				b.WriteString("${" + f.name + "}")
			case refHost:
				b.WriteString("${HOSTNAME}")
			default:
				b.WriteString("${TEND_INSTANCE}")
			}
			continue
		}
		if x == '$' && i+1 < len(rs) && (rs[i+1] == '{' || rs[i+1] == '$' || isRef(rs[i+1])) {
			b.WriteString("$$")
			continue
		}
		b.WriteString(tomlChar(x))
	}
	return b.String()
}

// envName reports whether tend's ${NAME} can name n.
func envName(n string) bool {
	if n == "" || n[0] >= '0' && n[0] <= '9' {
		return false
	}
	for i := 0; i < len(n); i++ {
		if c := n[i]; !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// tomlChar is x inside a TOML basic string.
func tomlChar(x rune) string {
	switch x {
	case '\\':
		return `\\`
	case '"':
		return `\"`
	case '\b':
		return `\b`
	case '\t':
		return `\t`
	case '\n':
		return `\n`
	case '\f':
		return `\f`
	case '\r':
		return `\r`
	}
	if x < 0x20 || x == 0x7f {
		return fmt.Sprintf(`\u%04X`, x)
	}
	return string(x)
}

// tomlQuote is s, which holds no run-time value, as a TOML string.
func tomlQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, x := range s {
		b.WriteString(tomlChar(x))
	}
	b.WriteByte('"')
	return b.String()
}

// tomlKey is k as a TOML key: bare when it can be.
func tomlKey(k string) string {
	if k != "" && strings.Trim(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == "" {
		return k
	}
	return tomlQuote(k)
}

// shellWord is one word of a command, written for /bin/sh: literal text
// quoted, a value from the environment that supervisord would have split
// left for tend to expand unquoted (so the shell splits it), one it
// would not have split quoted for the shell to expand, and the process
// number computed from TEND_INSTANCE.
func (c *conv) shellWord(w string) string {
	var b, lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			b.WriteString(shQuote(lit.String()))
			lit.Reset()
		}
	}
	for _, x := range w {
		if !isRef(x) {
			lit.WriteRune(x)
			continue
		}
		flush()
		f := c.refs.of(x)
		var expr string
		switch f.kind {
		case refInstance:
			expr = instanceExpr(f)
		case refHost:
			expr = "${HOSTNAME}"
		default:
			expr = "${" + f.name + "}"
		}
		switch {
		case f.bare && f.kind != refInstance:
			b.WriteRune(x) // ${X} for tend: the shell sees the value, unquoted
		case f.bare:
			b.WriteString(expr)
		default:
			b.WriteString(`"` + expr + `"`)
		}
	}
	flush()
	if b.Len() == 0 {
		return "''"
	}
	return b.String()
}

// shellWhy says why a command needs the shell.
func (c *conv) shellWhy(words []string) string {
	var split []string
	inst := false
	seen := map[string]bool{}
	for _, w := range words {
		for _, x := range w {
			if !isRef(x) {
				continue
			}
			switch f := c.refs.of(x); {
			case f.kind == refInstance:
				inst = true
			case f.bare:
				n := c.plain(string(x))
				if !seen[n] {
					seen[n] = true
					split = append(split, n)
				}
			}
		}
	}
	var why []string
	if len(split) > 0 {
		why = append(why, "supervisord split "+strings.Join(split, ", ")+" into words, and so does the shell once tend has put the value in (when it loads this file)")
	}
	if inst {
		why = append(why, "each instance computes its process number from $TEND_INSTANCE")
	}
	return strings.Join(why, "; ")
}

// instanceExpr is the shell's arithmetic for %(process_num)SPEC of an
// instance: TEND_INSTANCE counts from 0, process_num from numprocs_start.
func instanceExpr(f ref) string {
	n := "$((TEND_INSTANCE))"
	if f.start != 0 {
		n = "$((TEND_INSTANCE+" + strconv.Itoa(f.start) + "))"
	}
	spec := f.spec[:len(f.spec)-1]
	conv := f.spec[len(f.spec)-1]
	if spec == "" && conv != 'o' && conv != 'x' && conv != 'X' {
		return n
	}
	if conv == 'i' || conv == 'u' {
		conv = 'd'
	}
	return "$(printf '%" + spec + string(conv) + "' " + n + ")"
}

// shQuote quotes s for the shell, when it needs it.
func shQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// maxName leaves room for ":999" in a program name of MaxNameLen.
const maxName = api.MaxNameLen - 4

// add puts p in the output under a name tend takes, that no other
// program has.
func (c *conv) add(p *prog) {
	if len(c.progs) >= config.MaxPrograms {
		if len(c.progs) == config.MaxPrograms {
			c.is.errorf(p.sec.src, p.sec.line, p.sec.name, "", "more than %d programs: tend runs at most that many", config.MaxPrograms)
		}
		return
	}
	name := tendName(p.name)
	if name != p.name {
		p.note("tend names it %s: a name is made of letters, digits, _, . and -", name)
	}
	if c.taken[name] {
		base := name
		if p.group != p.name && p.group != "" {
			base = tendName(p.group + "_" + p.name)
		}
		name = base
		for i := 2; c.taken[name]; i++ {
			name = base + "-" + strconv.Itoa(i)
		}
		p.note("tend names it %s: %s is taken", name, p.name)
	}
	c.taken[name] = true
	p.name = name
	c.progs = append(c.progs, p)
}

// tendName is n made into a program name tend takes.
func tendName(n string) string {
	var b strings.Builder
	for i, x := range n {
		ok := x < utf8.RuneSelf && (x == '_' || x >= 'a' && x <= 'z' || x >= 'A' && x <= 'Z' || x >= '0' && x <= '9' ||
			i > 0 && (x == '.' || x == '-'))
		if !ok {
			x = '_'
		}
		if b.Len() >= maxName {
			break
		}
		b.WriteRune(x)
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

// keyOrder orders the keys of a program table as docs/config.md does.
var keyOrder = []string{"command", "directory", "user", "environment", "umask", "autostart", "autorestart",
	"exitcodes", "startsecs", "startretries", "stopsignal", "stopwaitsecs", "depends_on",
	"stdout", "stdout_maxbytes", "stdout_backups", "stderr", "stderr_maxbytes", "stderr_backups", "instances"}

// render writes the output.
func (c *conv) render() ([]byte, error) {
	var b strings.Builder
	comment := func(prefix, s string) {
		b.WriteString(prefix + "# " + printable(s) + "\n")
	}
	comment("", "Converted by `tend import supervisord` from "+c.main.name+".")
	comment("", "What tend does the same way is converted; what it does differently is said")
	comment("", "in a comment; what it cannot do is a warning, here and on stderr.")
	if len(c.head) > 0 {
		b.WriteString("#\n")
		for _, h := range c.head {
			comment("", h)
		}
	}
	if c.timeout > 0 {
		b.WriteString("\n[tend]\n")
		fmt.Fprintf(&b, "shutdown_timeout = %q # the stopwaitsecs of the programs, one stop after the other: supervisord has no bound\n", strconv.Itoa(c.timeout)+"s")
	}
	for _, p := range c.progs {
		if b.Len() > config.MaxSize {
			break
		}
		prefix := ""
		if p.disabled {
			prefix = "# "
		}
		b.WriteString("\n" + prefix + "[programs." + tomlKey(p.name) + "]\n")
		comment(prefix, fmt.Sprintf("[%s] %s:%d", p.sec.name, p.sec.src, p.sec.line))
		if p.disabled {
			comment(prefix, "tend cannot run it: the table is left here as a comment")
		}
		for _, n := range p.notes {
			comment(prefix, n)
		}
		slices.SortStableFunc(p.lines, func(a, b tline) int {
			return slices.Index(keyOrder, a.key) - slices.Index(keyOrder, b.key)
		})
		for _, l := range p.lines {
			b.WriteString(prefix + l.key + " = " + l.val)
			if l.comment != "" {
				b.WriteString(" # " + printable(l.comment))
			}
			b.WriteByte('\n')
		}
	}
	if b.Len() > config.MaxSize {
		return nil, fmt.Errorf("the converted configuration would be more than the %d bytes (1 MiB) tend reads", config.MaxSize)
	}
	return []byte(b.String()), nil
}
