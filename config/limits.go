package config

import (
	"bytes"
	"fmt"
	"strings"
)

// A configuration file is input from a person: whatever it holds, tend
// must answer within a second and 64 MiB (SPEC, Robustness). These
// limits are far above any real file and well below what the TOML parser
// can take; a file over them is rejected before the parser sees it, by
// prescan, which reads it once and keeps nothing.
const (
	// MaxSize is the largest file tend reads, in bytes.
	MaxSize = 1 << 20
	// MaxDepth bounds how deep a value may sit: each part of its full
	// dotted key (table header included) counts one, and so does each
	// array and inline table around it. programs.web.command = ["x"]
	// puts "x" at depth 4; [[a.b]] is three deep, a and b and its
	// array. (An array of tables is one more level to the parser under
	// every key through it, [[a]] then [[a.b]]: what the parser sees is
	// at most twice MaxDepth deep.) BurntSushi/toml recurses once per level and
	// copies the whole key path at each, so depth costs it memory and
	// time with the square of the depth.
	MaxDepth = 32
	// MaxPrograms bounds the programs of one file, instances counted:
	// each is a process, with its own state, pipes and log lines.
	MaxPrograms = 4096
	// MaxItems bounds the key parts (of table headers and keys) and the
	// array elements of a file: [programs.web] is two, command = ["a",
	// "b"] four. The parser spends most of a kilobyte of memory on each
	// key or table: 150,000 one-line keys, 1 MiB of them, took it 70 MB,
	// and 65,536 tables 47 MB. 32,768 is 4,096 programs of 6 keys each.
	MaxItems = 1 << 15
	// MaxKeyBytes bounds the full names of all keys taken together,
	// each part counting 16 bytes more than its length: the parser keeps
	// the full dotted name of every key, and its parts, so a long table
	// name followed by many short keys costs it the table name's length
	// for each of them.
	MaxKeyBytes = 8 << 20
)

// The messages of the limits.
const (
	msgTooDeep   = "nested deeper than %d levels (each key part, array and inline table is one)"
	msgTooMany   = "more than %d key parts and array elements"
	msgKeysLong  = "the full names of the keys add up to more than %d MiB (a table's name counts again in each of its keys)"
	msgTooLarge  = "the file is %d bytes, more than the %d (1 MiB) tend reads"
	partOverhead = 16 // bytes a key part costs the parser beyond its text: a string header
)

// prescan checks src against MaxDepth, MaxItems and MaxKeyBytes in one
// pass that understands strings, comments, keys, arrays and inline
// tables, and nothing else: it never validates. On input the parser
// accepts, prescan sees the same structure, so the parser never goes
// deeper than prescan counted; on input it rejects, the two agree up to
// the point where the parser stops. Its recursion is bounded by
// MaxDepth, and it stops at the first limit passed, which it returns.
func prescan(src string) *Error { return new(budget).prescan(src) }

// budget is what the files of one configuration have used of MaxItems
// and MaxKeyBytes so far: a file and those it includes are held to the
// limits together, as if they were one file, so that 256 included files
// cost the parser no more than one.
type budget struct {
	items, bytes int
}

// prescan is prescan for one more file of the configuration, counting
// what it holds against what the files before it left of the limits.
func (b *budget) prescan(src string) *Error {
	p := &pre{src: trimBOM(src), line: 1, items: b.items, bytes: b.bytes}
	p.document()
	b.items, b.bytes = p.items, p.bytes
	return p.err
}

// pre is prescan's state.
type pre struct {
	src   string
	pos   int
	line  int
	items int
	bytes int
	path  []string // the current key's parts, for the error
	err   *Error
}

func (p *pre) eof() bool { return p.pos >= len(p.src) || p.err != nil }

func (p *pre) peek() byte {
	if p.eof() {
		return 0
	}
	return p.src[p.pos]
}

func (p *pre) at(s string) bool { return strings.HasPrefix(p.src[p.pos:], s) }

func (p *pre) next() byte {
	c := p.peek()
	if !p.eof() {
		p.pos++
		if c == '\n' {
			p.line++
		}
	}
	return c
}

func (p *pre) fail(format string, args ...any) {
	if p.err == nil {
		p.err = &Error{Line: p.line, Key: keyString(p.path), Msg: fmt.Sprintf(format, args...)}
	}
}

// space skips blanks and comments, and newlines when nl is set.
func (p *pre) space(nl bool) {
	for !p.eof() {
		switch p.peek() {
		case ' ', '\t', '\r':
			p.next()
		case '\n':
			if !nl {
				return
			}
			p.next()
		case '#':
			for !p.eof() && p.peek() != '\n' {
				p.next()
			}
		default:
			return
		}
	}
}

// count adds one item of the given depth and name length.
func (p *pre) count(depth, nameBytes int) {
	p.items++
	p.bytes += nameBytes + depth*partOverhead
	switch {
	case depth > MaxDepth:
		p.fail(msgTooDeep, MaxDepth)
	case p.items > MaxItems:
		p.fail(msgTooMany, MaxItems)
	case p.bytes > MaxKeyBytes:
		p.fail(msgKeysLong, MaxKeyBytes>>20)
	}
}

// document scans table headers and key/value pairs.
func (p *pre) document() {
	depth, nameBytes := 0, 0
	for {
		p.space(true)
		if p.eof() {
			return
		}
		if p.peek() == '[' {
			p.next()
			array := p.peek() == '['
			if array {
				p.next()
			}
			p.path = p.path[:0]
			depth, nameBytes = p.key(0, 0)
			if array {
				depth++ // the array of tables, then its table
				p.count(depth, nameBytes)
			}
			for !p.eof() && p.next() != '\n' { // the ] or ]], and a comment
			}
			continue
		}
		start := p.pos
		p.keyval(depth, nameBytes)
		if p.pos == start {
			p.next()
		}
	}
}

// keyval scans KEY = VALUE in a table at depth whose name is nameBytes
// long.
func (p *pre) keyval(depth, nameBytes int) {
	keep := len(p.path)
	defer func() {
		if p.err == nil {
			p.path = p.path[:keep]
		}
	}()
	depth, nameBytes = p.key(depth, nameBytes)
	p.space(false)
	if p.peek() == '=' {
		p.next()
	}
	p.space(false)
	p.value(depth, nameBytes)
}

// key scans a dotted key and returns the depth and name length of the
// key it names, from those of its table. Each part counts as an item:
// in a.b.c = 1 and [a.b.c], a and b are tables the parser may create.
func (p *pre) key(depth, nameBytes int) (int, int) {
	for !p.eof() {
		p.space(false)
		start := p.pos
		switch p.peek() {
		case '"', '\'':
			p.str()
		default:
			for !p.eof() && isBare(p.peek()) {
				p.next()
			}
		}
		depth++
		nameBytes += p.pos - start + 1
		if len(p.path) <= MaxDepth {
			p.path = append(p.path, strings.Trim(p.src[start:p.pos], `"'`))
		}
		p.count(depth, nameBytes)
		p.space(false)
		if p.peek() != '.' {
			break
		}
		p.next()
	}
	return depth, nameBytes
}

// value scans one value at depth.
func (p *pre) value(depth, nameBytes int) {
	switch p.peek() {
	case '"', '\'':
		p.str()
	case '[':
		p.next()
		p.count(depth+1, nameBytes) // the parser records the array's key
		p.each(']', func() {
			p.count(depth+1, 0)
			p.value(depth+1, nameBytes)
		})
	case '{':
		p.next()
		p.count(depth+1, nameBytes)
		p.each('}', func() { p.keyval(depth+1, nameBytes) })
	default: // number, boolean, date: nothing they contain ends them
		for !p.eof() && !strings.ContainsRune(",]}#\n", rune(p.peek())) {
			p.next()
		}
	}
}

// each scans the items of an array or an inline table, up to and
// including close, each with item. An item that consumes nothing (input
// that is no TOML) costs a byte, so the scan always ends.
func (p *pre) each(close byte, item func()) {
	for !p.eof() {
		p.space(true)
		switch p.peek() {
		case close:
			p.next()
			return
		case ',':
			p.next()
		default:
			start := p.pos
			item()
			if p.pos == start {
				p.next()
			}
		}
	}
}

// str skips a string of any of TOML's four kinds.
func (p *pre) str() {
	q := p.peek()
	if p.at(`"""`) || p.at(`'''`) {
		delim := p.src[p.pos : p.pos+3]
		p.pos += 3
		for !p.eof() {
			if p.at(delim) {
				p.pos += 3
				for extra := 0; extra < 2 && p.peek() == q; extra++ {
					p.next()
				}
				return
			}
			if p.next() == '\\' && q == '"' {
				p.next()
			}
		}
		return
	}
	p.next()
	for !p.eof() {
		switch c := p.peek(); {
		case c == '\n':
			return // the parser stops here
		case c == q:
			p.next()
			return
		case c == '\\' && q == '"':
			p.next()
		}
		p.next()
	}
}

// tooLarge is the error for data over MaxSize, at the line where it
// passes the limit; size is the file's whole size when known.
func tooLarge(data []byte, size int64) *Error {
	head := data[:min(len(data), MaxSize)]
	return &Error{
		Line: 1 + bytes.Count(head, []byte("\n")),
		Msg:  fmt.Sprintf(msgTooLarge, max(size, int64(len(data))), MaxSize),
	}
}
