package config

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// keyLines finds the 1-based line on which each key of src is defined.
// Tables created implicitly ([a.b] or a.b = 1 creating a) get the line
// that first created them; an explicit header wins over that. Array
// elements have lines of their own (the element at index i of the
// array at a key), and keys of inline tables inside arrays are found
// under the array's key, as toml.MetaData.Keys names them: arr.sub.
//
// BurntSushi/toml v1.6 keeps key positions to itself (MetaData has no
// accessor for them), hence this scanner. It expects src to have parsed
// as TOML already, so it only tracks structure and never validates; on
// other input its answer is partial, but it always terminates and never
// panics.
func keyLines(src string) *lineIndex {
	sc := &scanner{src: trimBOM(src), line: 1, idx: newLineIndex()}
	sc.document()
	return sc.idx
}

// lineIndex is a tree of the keys of a file, each node holding the line
// its key was defined on. A node is known by its parent and its name
// (or, for an array element, its index): the memory it takes grows with
// the number of keys and elements, not with the length of their paths.
// A map from the whole dotted path to the line held the path of every
// array element, and nested arrays made that grow with the square of the
// depth: 20 KB of [[[[...]]]] took 634 MB (issue 10).
type lineIndex struct {
	lines    []int32 // by node; node 0 is the root
	explicit []bool  // by node: defined, not just implied
	kids     map[kid]int32
}

// kid names a child node: the key name under parent, or, when elem >=
// 0, element elem of the array at parent.
type kid struct {
	parent int32
	elem   int32
	name   string
}

func newLineIndex() *lineIndex {
	return &lineIndex{lines: []int32{0}, explicit: []bool{false}, kids: map[kid]int32{}}
}

// child returns the node under n named k, creating it when create is set;
// -1 when there is none.
func (x *lineIndex) child(n int32, k kid, create bool) int32 {
	k.parent = n
	if c, ok := x.kids[k]; ok || !create {
		if !ok {
			return -1
		}
		return c
	}
	c := int32(len(x.lines))
	x.lines = append(x.lines, 0)
	x.explicit = append(x.explicit, false)
	x.kids[k] = c
	return c
}

// node returns the node of key, or -1.
func (x *lineIndex) node(key []string) int32 {
	n := int32(0)
	for _, part := range key {
		if n = x.child(n, kid{elem: -1, name: part}, false); n < 0 {
			break
		}
	}
	return n
}

// line returns the line of key, or 0 when it is not in the file.
func (x *lineIndex) line(key []string) int {
	if n := x.node(key); n > 0 {
		return int(x.lines[n])
	}
	return 0
}

// elemLine returns the line of element i of the array at key, or 0.
func (x *lineIndex) elemLine(key []string, i int) int {
	n := x.node(key)
	if n < 0 || i < 0 || i > math.MaxInt32 {
		return 0
	}
	if n = x.child(n, kid{elem: int32(i)}, false); n > 0 {
		return int(x.lines[n])
	}
	return 0
}

// mark records line as the line of node n; an explicit definition
// overrides an implicit one, otherwise the first one wins.
func (x *lineIndex) mark(n int32, line int, explicit bool) {
	if x.lines[n] != 0 && (!explicit || x.explicit[n]) {
		return
	}
	x.lines[n] = int32(min(line, math.MaxInt32))
	if explicit {
		x.explicit[n] = true
	}
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
	src  string
	pos  int
	line int
	idx  *lineIndex
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

// markPath marks the tables implied by the key parts under node from,
// and the last part as defined, and returns the last part's node.
func (sc *scanner) markPath(from int32, parts []string, line int) int32 {
	n := from
	for i, part := range parts {
		n = sc.idx.child(n, kid{elem: -1, name: part}, true)
		sc.idx.mark(n, line, i == len(parts)-1)
	}
	return n
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
	table := int32(0)
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
			table = sc.markPath(0, sc.key(), line)
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

// keyval scans KEY = VALUE inside the table at node table.
func (sc *scanner) keyval(table int32) {
	line := sc.line
	k := sc.markPath(table, sc.key(), line)
	sc.space(false)
	if sc.peek() == '=' {
		sc.next()
	}
	sc.space(false)
	sc.value(k, k)
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

// value scans one value of the key at node k; id is k's node, or that
// of the array element the value is, for the lines of nested elements.
func (sc *scanner) value(k, id int32) {
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
func (sc *scanner) inline(k int32) {
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
func (sc *scanner) array(k, id int32) {
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
			elem := sc.idx.child(id, kid{elem: int32(min(i, math.MaxInt32))}, true)
			sc.idx.mark(elem, sc.line, true)
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
