package importer

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// supervisord expands a value as Python's `value % names`: %(NAME)s and
// its kin are replaced, %% is a %, and anything else after a % is an
// error. Names are known at import time (here, program_name,
// group_name, process_num, numprocs) or only when tend runs: the
// environment (ENV_X), the host name, and process_num for a program
// whose instances tend numbers. Those are replaced by a placeholder
// rune (a ref, below) that the key's reader carries through quoting and
// splitting and the writer turns into ${X} or $TEND_INSTANCE.

// refKind is what a placeholder stands for.
type refKind uint8

const (
	refEnv      refKind = iota // ${NAME} from tend's environment at load time
	refHost                    // the host name: ${HOSTNAME}
	refInstance                // process_num of an instance: TEND_INSTANCE + start
)

// ref is a value tend knows only when it runs.
type ref struct {
	kind refKind
	name string // the variable, for refEnv
	// bare: it stood outside quotes in a command, where supervisord
	// splits its value into words.
	bare bool
	// spec is the Python conversion as written ("02d"), for
	// refInstance; start is numprocs_start.
	spec  string
	start int
}

// Placeholders are runes of Unicode's plane 15 private use area, which
// no configuration has any use for; input that holds one is refused.
const (
	refBase = 0xF0000
	refMax  = 0xFFFFD - refBase
)

func isRef(r rune) bool { return r >= refBase && r <= refBase+refMax }

// refs numbers the refs of one conversion.
type refs struct {
	list  []ref
	index map[ref]rune
}

// rune is the placeholder for x.
func (t *refs) rune(x ref) (rune, error) {
	if r, ok := t.index[x]; ok {
		return r, nil
	}
	if len(t.list) > refMax {
		return 0, errors.New("too many different %(ENV_...)s names")
	}
	if t.index == nil {
		t.index = map[ref]rune{}
	}
	r := rune(refBase + len(t.list))
	t.list = append(t.list, x)
	t.index[x] = r
	return r, nil
}

func (t *refs) of(r rune) ref { return t.list[r-refBase] }

// scope is what one key may expand: a name maps to a string (which may
// hold placeholders), an int, or a ref. ENV_X is looked up in env (the
// environment= settings supervisord adds to its expansions), then, for
// [include] only, in the importer's own environment (importEnv); any
// other ENV_X is a ref, for tend to expand when it loads the file.
type scope struct {
	vals      map[string]any
	env       map[string]string
	importEnv func(string) (string, bool)
}

func (sc *scope) lookup(name string) (any, bool) {
	if v, ok := sc.vals[name]; ok {
		return v, true
	}
	x, ok := strings.CutPrefix(name, "ENV_")
	if !ok {
		return nil, false
	}
	if v, ok := sc.env[x]; ok {
		return v, true
	}
	if sc.importEnv != nil {
		if v, ok := sc.importEnv(x); ok {
			return v, true
		}
		return nil, false
	}
	return ref{kind: refEnv, name: x}, true
}

// expand expands s as Python's s % names, with the placeholders of t for
// refs. budget is decremented by the text read and what the expansion
// adds, and expansion fails when it would go below zero.
func expand(s string, n *scope, t *refs, budget *int) (string, error) {
	// Every expansion counts, not only what %(...)s adds: a program of
	// a thousand processes reads its keys a thousand times.
	if *budget -= len(s); *budget < 0 {
		return "", errTooLarge
	}
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '%')
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		s = s[i+1:]
		if strings.HasPrefix(s, "%") {
			b.WriteByte('%')
			s = s[1:]
			continue
		}
		if !strings.HasPrefix(s, "(") {
			if s == "" {
				return "", errors.New("a % at the end: write %% for a % (supervisord refuses it too)")
			}
			r, _ := utf8.DecodeRuneInString(s)
			return "", fmt.Errorf("%%%c: a %% that is not %%(NAME)s nor %%%% (supervisord refuses it too)", r)
		}
		end := strings.IndexByte(s, ')')
		if end < 0 {
			return "", errors.New("a %( without its ): want %(NAME)s")
		}
		name := s[1:end]
		s = s[end+1:]
		spec, conv, rest, err := convSpec(s)
		if err != nil {
			return "", fmt.Errorf("%%(%s)%s: %w", name, s[:min(len(s), len(spec)+1)], err)
		}
		s = rest
		v, ok := n.lookup(name)
		if !ok {
			return "", fmt.Errorf("%%(%s)s: no such name here (there are %s)", name, n.list())
		}
		out, err := format(v, spec, conv, t)
		if err != nil {
			return "", fmt.Errorf("%%(%s)%s%c: %w", name, spec, conv, err)
		}
		if *budget -= len(out); *budget < 0 {
			return "", errTooLarge
		}
		b.WriteString(out)
	}
	return b.String(), nil
}

// errTooLarge stops an expansion that would make the output too large.
const errTooLarge = constError("expanding %(...)s here makes more text than tend import takes (2 MiB)")

// list names the names, sorted, for an error.
func (n *scope) list() string {
	keys := make([]string, 0, len(n.vals))
	for k := range n.vals {
		if !strings.HasPrefix(k, "ENV_") {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return strings.Join(append(keys, "ENV_*"), ", ")
}

// convSpec reads a Python conversion specifier after %(NAME): flags,
// width, precision and a length modifier, then the conversion.
func convSpec(s string) (spec string, conv byte, rest string, err error) {
	i := 0
	for i < len(s) && strings.IndexByte("#0- +", s[i]) >= 0 {
		i++
	}
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	if i < len(s) && s[i] == '*' {
		return "", 0, "", errors.New("* needs a number from an argument list, and supervisord has none")
	}
	spec = s[:i]
	for i < len(s) && strings.IndexByte("hlL", s[i]) >= 0 {
		i++
	}
	if i == len(s) {
		return "", 0, "", errors.New("no conversion character: want s or d")
	}
	if strings.IndexByte("sdiuoxX", s[i]) < 0 {
		return "", 0, "", fmt.Errorf("conversion %q: tend import knows s, d, i, u, o, x and X", s[i])
	}
	return spec, s[i], s[i+1:], nil
}

// format formats v as Python's %SPEC CONV.
func format(v any, spec string, conv byte, t *refs) (string, error) {
	switch v := v.(type) {
	case string:
		if conv != 's' {
			return "", errors.New("a text value takes %s, not a number conversion")
		}
		return pad(v, spec), nil
	case int:
		if conv == 's' {
			return pad(strconv.Itoa(v), spec), nil
		}
		return formatInt(v, spec, conv), nil
	case ref:
		switch {
		case v.kind == refInstance:
			v.spec = spec + string(conv)
		case conv != 's':
			return "", errors.New("a value from the environment takes %s, not a number conversion")
		case spec != "":
			return "", errors.New("tend cannot pad or cut a value it takes from the environment when it loads the file")
		}
		r, err := t.rune(v)
		if err != nil {
			return "", err
		}
		return string(r), nil
	}
	panic(fmt.Sprintf("importer: name of type %T", v))
}

// formatInt is Python's %d, %o, %x and %X of an int with its flags,
// width and precision.
func formatInt(v int, spec string, conv byte) string {
	flags, width, prec := parseSpec(spec)
	neg := v < 0
	if neg {
		v = -v
	}
	var digits, prefix string
	switch conv {
	case 'o':
		digits = strconv.FormatInt(int64(v), 8)
		if strings.Contains(flags, "#") {
			prefix = "0o"
		}
	case 'x', 'X':
		digits = strconv.FormatInt(int64(v), 16)
		if strings.Contains(flags, "#") {
			prefix = "0x"
		}
		if conv == 'X' {
			digits, prefix = strings.ToUpper(digits), strings.ToUpper(prefix)
		}
	default:
		digits = strconv.Itoa(v)
	}
	if prec > len(digits) {
		digits = strings.Repeat("0", prec-len(digits)) + digits
	}
	sign := ""
	switch {
	case neg:
		sign = "-"
	case strings.Contains(flags, "+"):
		sign = "+"
	case strings.Contains(flags, " "):
		sign = " "
	}
	body := sign + prefix + digits
	if n := width - len(body); n > 0 {
		switch {
		case strings.Contains(flags, "-"):
			body += strings.Repeat(" ", n)
		case strings.Contains(flags, "0"):
			body = sign + prefix + strings.Repeat("0", n) + digits
		default:
			body = strings.Repeat(" ", n) + body
		}
	}
	return body
}

// pad is Python's %s with flags, width and precision: the precision
// cuts, the width pads (on the right with -); 0 does not apply to text.
func pad(s, spec string) string {
	flags, width, prec := parseSpec(spec)
	if prec >= 0 && utf8.RuneCountInString(s) > prec {
		s = string([]rune(s)[:prec])
	}
	if n := width - utf8.RuneCountInString(s); n > 0 {
		if strings.Contains(flags, "-") {
			return s + strings.Repeat(" ", n)
		}
		return strings.Repeat(" ", n) + s
	}
	return s
}

// maxWidth bounds a width or precision: Python would take 10**9 and run
// out of memory.
const maxWidth = 4096

// parseSpec splits a specifier into flags, width and precision (-1 when
// absent).
func parseSpec(spec string) (flags string, width, prec int) {
	i := 0
	for i < len(spec) && strings.IndexByte("#0- +", spec[i]) >= 0 {
		i++
	}
	flags, spec = spec[:i], spec[i:]
	w, p, hasP := strings.Cut(spec, ".")
	width = atoiCapped(w)
	prec = -1
	if hasP {
		prec = atoiCapped(p)
	}
	return flags, width, prec
}

func atoiCapped(s string) int {
	n := 0
	for _, c := range s {
		n = min(n*10+int(c-'0'), maxWidth)
	}
	return n
}
