package config

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

// keyLines returns the 1-based line on which each key of src is defined,
// indexed by toml.Key.String(): "programs.web", "programs.web.command".
// Tables created implicitly ([a.b] or a.b = 1 creating a) get the line
// that first created them; an explicit header wins over that. Array
// elements are indexed as KEY[i] ("programs.web.command[1]"), and keys of
// inline tables inside arrays as KEY.SUB, as toml.MetaData.Keys names
// them.
//
// BurntSushi/toml v1.6 keeps key positions to itself (MetaData has no
// accessor for them), hence this scanner. It expects src to have parsed
// as TOML already, so it only tracks structure and never validates; on
// other input its answer is partial, but it always terminates and never
// panics.
func keyLines(src string) map[string]int {
	sc := &scanner{src: trimBOM(src), line: 1, lines: map[string]int{}, explicit: map[string]bool{}}
	sc.document()
	return sc.lines
}

// trimBOM drops a byte order mark, as the TOML parser does.
func trimBOM(s string) string {
	for _, bom := range []string{"\xef\xbb\xbf", "\xff\xfe", "\xfe\xff"} {
		if strings.HasPrefix(s, bom) {
			return s[len(bom):]
		}
	}
	return s
}

// scanner walks TOML source, recording key lines.
type scanner struct {
	src      string
	pos      int
	line     int
	lines    map[string]int
	explicit map[string]bool // keys defined, not just implied
}

func (sc *scanner) eof() bool { return sc.pos >= len(sc.src) }

func (sc *scanner) peek() byte {
	if sc.eof() {
		return 0
	}
	return sc.src[sc.pos]
}

// at reports whether the input continues with s.
func (sc *scanner) at(s string) bool { return strings.HasPrefix(sc.src[sc.pos:], s) }

// next consumes one byte, counting lines.
func (sc *scanner) next() byte {
	c := sc.peek()
	if !sc.eof() {
		sc.pos++
		if c == '\n' {
			sc.line++
		}
	}
	return c
}

// mark records the line of key k; an explicit definition overrides an
// implicit one, otherwise the first one wins.
func (sc *scanner) mark(k []string, line int, explicit bool) {
	sc.markID(toml.Key(k).String(), line, explicit)
}

func (sc *scanner) markID(id string, line int, explicit bool) {
	if _, ok := sc.lines[id]; ok && (!explicit || sc.explicit[id]) {
		return
	}
	sc.lines[id] = line
	if explicit {
		sc.explicit[id] = true
	}
}

// markPath marks the tables implied by k (all its prefixes longer than
// from) and k itself.
func (sc *scanner) markPath(k []string, from, line int) {
	for n := from + 1; n < len(k); n++ {
		sc.mark(k[:n], line, false)
	}
	sc.mark(k, line, true)
}

// space skips blanks and comments, and newlines when nl is set.
func (sc *scanner) space(nl bool) {
	for !sc.eof() {
		switch sc.peek() {
		case ' ', '\t', '\r':
			sc.next()
		case '\n':
			if !nl {
				return
			}
			sc.next()
		case '#':
			for !sc.eof() && sc.peek() != '\n' {
				sc.next()
			}
		default:
			return
		}
	}
}

// document scans the top level: table headers and key/value pairs.
func (sc *scanner) document() {
	var table []string
	for {
		sc.space(true)
		if sc.eof() {
			return
		}
		line := sc.line
		if sc.peek() == '[' {
			sc.next()
			if sc.peek() == '[' {
				sc.next()
			}
			table = sc.key()
			sc.markPath(table, 0, line)
			for !sc.eof() && sc.next() != '\n' { // the ] or ]], and a comment
			}
			continue
		}
		start := sc.pos
		sc.keyval(table)
		if sc.pos == start {
			sc.next()
		}
	}
}

// keyval scans KEY = VALUE inside table prefix.
func (sc *scanner) keyval(prefix []string) {
	line := sc.line
	k := append(slices.Clip(prefix), sc.key()...)
	sc.markPath(k, len(prefix), line)
	sc.space(false)
	if sc.peek() == '=' {
		sc.next()
	}
	sc.space(false)
	sc.value(k, toml.Key(k).String())
}

// key scans a dotted key and returns its parts, unquoted.
func (sc *scanner) key() []string {
	var parts []string
	for {
		sc.space(false)
		switch sc.peek() {
		case '"':
			parts = append(parts, sc.basic())
		case '\'':
			sc.next()
			start := sc.pos
			for !sc.eof() && sc.peek() != '\'' && sc.peek() != '\n' {
				sc.next()
			}
			parts = append(parts, sc.src[start:sc.pos])
			if sc.peek() == '\'' {
				sc.next()
			}
		default:
			start := sc.pos
			for !sc.eof() && isBare(sc.peek()) {
				sc.next()
			}
			parts = append(parts, sc.src[start:sc.pos])
		}
		sc.space(false)
		if sc.peek() != '.' {
			return parts
		}
		sc.next()
	}
}

func isBare(c byte) bool {
	return c == '_' || c == '-' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// value scans one value of key k; id names k, or the array element, for
// the lines of nested array elements.
func (sc *scanner) value(k []string, id string) {
	switch {
	case sc.at(`"""`), sc.at(`'''`):
		sc.multiline(sc.src[sc.pos : sc.pos+3])
	case sc.peek() == '"':
		sc.basic()
	case sc.peek() == '\'':
		sc.next()
		for !sc.eof() && sc.peek() != '\'' && sc.peek() != '\n' {
			sc.next()
		}
		if sc.peek() == '\'' {
			sc.next()
		}
	case sc.peek() == '{':
		sc.next()
		sc.inline(k)
	case sc.peek() == '[':
		sc.next()
		sc.array(k, id)
	default: // number, boolean, date: nothing they contain ends them
		for !sc.eof() && !strings.ContainsRune(",]}#\n", rune(sc.peek())) {
			sc.next()
		}
	}
}

// inline scans an inline table after its '{'. TOML 1.1 lets it span
// lines and hold comments.
func (sc *scanner) inline(k []string) {
	for {
		sc.space(true)
		switch {
		case sc.eof():
			return
		case sc.peek() == '}':
			sc.next()
			return
		case sc.peek() == ',':
			sc.next()
		default:
			start := sc.pos
			sc.keyval(k)
			if sc.pos == start {
				sc.next()
			}
		}
	}
}

// array scans an array after its '[', marking each element's line.
func (sc *scanner) array(k []string, id string) {
	for i := 0; ; {
		sc.space(true)
		switch {
		case sc.eof():
			return
		case sc.peek() == ']':
			sc.next()
			return
		case sc.peek() == ',':
			sc.next()
		default:
			elem := id + "[" + strconv.Itoa(i) + "]"
			sc.markID(elem, sc.line, true)
			start := sc.pos
			sc.value(k, elem)
			if sc.pos == start {
				sc.next()
			}
			i++
		}
	}
}

// basic scans a one-line "string" and returns it unescaped.
func (sc *scanner) basic() string {
	var b strings.Builder
	sc.next()
	for !sc.eof() {
		c := sc.next()
		switch c {
		case '"', '\n':
			return b.String()
		case '\\':
			b.WriteString(sc.escape())
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// escape decodes the escape sequence after a backslash, as TOML 1.1
// defines it.
func (sc *scanner) escape() string {
	c := sc.next()
	n := 0
	switch c {
	case 'b':
		return "\b"
	case 't':
		return "\t"
	case 'n':
		return "\n"
	case 'f':
		return "\f"
	case 'r':
		return "\r"
	case 'e':
		return "\x1b"
	case 'x':
		n = 2
	case 'u':
		n = 4
	case 'U':
		n = 8
	default: // '"', '\\'
		return string(c)
	}
	end := min(sc.pos+n, len(sc.src))
	hex := sc.src[sc.pos:end]
	sc.pos = end
	r, err := strconv.ParseUint(hex, 16, 32)
	if err != nil || !utf8.ValidRune(rune(r)) {
		return ""
	}
	return string(rune(r))
}

// multiline scans a """ or ”' string. The closing delimiter may be
// preceded by up to two quotes that belong to the content.
func (sc *scanner) multiline(delim string) {
	sc.pos += 3
	for !sc.eof() {
		if sc.at(delim) {
			sc.pos += 3
			for extra := 0; extra < 2 && sc.peek() == delim[0]; extra++ {
				sc.next()
			}
			return
		}
		if sc.next() == '\\' && delim[0] == '"' {
			sc.next()
		}
	}
}
