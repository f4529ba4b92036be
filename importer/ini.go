package importer

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// The INI dialect is Python's configparser.RawConfigParser as supervisord
// configures it (inline_comment_prefixes = (";", "#"), strict = False),
// read the way Python 3 reads a text file. Each rule below is one of
// configparser's, so that a file means here what it means to
// supervisord:
//
//   - lines end at \n, \r\n or a lone \r (universal newlines);
//   - a line whose first non-blank character is ; or # is a comment;
//   - ; or # at the start of a line or after a blank starts an inline
//     comment (found the way configparser finds it, quirks included);
//   - [NAME] opens a section: NAME is everything between the first [
//     and the last ]; a section seen again goes on where it was, and
//     [DEFAULT] holds values every section falls back on;
//   - KEY = VALUE or KEY: VALUE, split at the first = or :; the key is
//     lower-cased; a later KEY in the same section replaces an earlier;
//   - a line indented deeper than its key's line continues the value
//     (joined with \n); blank lines inside a value are kept, trailing
//     ones dropped; a comment line inside a value is skipped;
//   - a line that is none of these is an error, and so is a line before
//     any section header; configparser reports every bad line at once,
//     but stops at a missing first header, and so does this reader.
//
// Values are kept raw: %(name)s is expanded later, by the key that reads
// them (format.go), as supervisord does.

// value is one KEY = VALUE of a section.
type value struct {
	text string
	// src is the file it was read from, as named in messages; dir is
	// that file's directory as the image sees it, for %(here)s.
	src, dir string
	line     int
}

// section is one [NAME] of the INI, merged over every file that has it.
type section struct {
	name string
	src  string // where it first appeared
	line int
	keys []string // keys in the order they first appeared
	vals map[string]*value
	// more are the places its header appeared again.
	more []place
}

// place is a line of a file.
type place struct {
	src  string
	line int
}

func (s *section) get(key string) *value { return s.vals[key] }

// set records key = v, keeping the key's first place in the order.
func (s *section) set(key string, v *value) {
	if _, ok := s.vals[key]; !ok {
		s.keys = append(s.keys, key)
	}
	s.vals[key] = v
}

// ini is a parsed configuration: its sections in order of first
// appearance, and [DEFAULT].
type ini struct {
	sections []*section
	byName   map[string]*section
	defaults *section
}

func newINI() *ini {
	return &ini{byName: map[string]*section{}, defaults: &section{name: "DEFAULT", vals: map[string]*value{}}}
}

// lookup is key in s, else in [DEFAULT], as configparser's get.
func (d *ini) lookup(s *section, key string) *value {
	if v := s.get(key); v != nil {
		return v
	}
	return d.defaults.get(key)
}

// keysOf is every key s answers for: its own, then [DEFAULT]'s.
func (d *ini) keysOf(s *section) []string {
	keys := s.keys
	for _, k := range d.defaults.keys {
		if s.get(k) == nil {
			keys = append(keys[:len(keys):len(keys)], k)
		}
	}
	return keys
}

// read parses data, the file src (whose directory in the image is dir),
// into d, adding what it finds to the sections it already holds. Bad
// lines are reported through bad, each with its line.
func (d *ini) read(src, dir string, data string, bad func(line int, msg string)) {
	var (
		cur      *section // nil before the first header
		curKey   string   // the key a continuation line adds to
		curVal   []string // its lines so far
		indent   = 0      // the indentation of the key's line
		lineNo   = 0
		finished = func() {
			if cur != nil && curKey != "" {
				v := cur.vals[curKey]
				v.text = strings.TrimRightFunc(strings.Join(curVal, "\n"), isSpace)
			}
			curVal = nil
		}
	)
	data = strings.TrimPrefix(data, "\uFEFF") // a BOM (Python would choke on it; be kinder)
	for len(data) > 0 {
		lineNo++
		line := data
		if i := strings.IndexAny(data, "\r\n"); i >= 0 {
			line = data[:i]
			if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
				i++
			}
			data = data[i+1:]
		} else {
			data = ""
		}
		commentAt := inlineComment(line)
		if t := strings.TrimFunc(line, isSpace); strings.HasPrefix(t, "#") || strings.HasPrefix(t, ";") {
			commentAt = 0
		}
		text := line
		if commentAt >= 0 {
			text = line[:commentAt]
		}
		text = strings.TrimFunc(text, isSpace)
		if text == "" {
			// A blank line is part of a value; a comment line is not.
			if commentAt < 0 && cur != nil && curKey != "" {
				curVal = append(curVal, "")
			}
			continue
		}
		lineIndent := 0
		for _, r := range line {
			if !isSpace(r) {
				break
			}
			lineIndent++
		}
		if cur != nil && curKey != "" && lineIndent > indent {
			curVal = append(curVal, text)
			continue
		}
		indent = lineIndent
		if name, ok := header(text); ok {
			finished()
			curKey = ""
			switch {
			case d.byName[name] != nil:
				cur = d.byName[name]
				cur.more = append(cur.more, place{src, lineNo})
			case name == "DEFAULT":
				cur = d.defaults
			default:
				cur = &section{name: name, src: src, line: lineNo, vals: map[string]*value{}}
				d.byName[name] = cur
				d.sections = append(d.sections, cur)
			}
			continue
		}
		if cur == nil {
			bad(lineNo, "a line before the first [section] header: "+quote(text))
			return
		}
		key, val, ok := option(text)
		if !ok {
			bad(lineNo, "neither a [section] header nor KEY = VALUE: "+quote(text))
			continue
		}
		finished()
		if key == "" {
			bad(lineNo, "a value without a key: "+quote(text))
			curKey = ""
			continue
		}
		curKey, curVal = key, []string{val}
		cur.set(key, &value{src: src, dir: dir, line: lineNo})
	}
	finished()
}

// inlineComment is where an inline comment starts in line, or -1: the
// first ; or # at the start of the line or after a blank, found as
// configparser finds it. It looks for the next ; and the next # in
// turns, and stops at the first turn where either qualifies: so in
// "a#b #c ;d" it finds " ;d", not " #c".
func inlineComment(line string) int {
	next := map[byte]int{';': -1, '#': -1}
	for len(next) > 0 {
		found := -1
		for _, p := range []byte{';', '#'} {
			from, ok := next[p]
			if !ok {
				continue
			}
			i := strings.IndexByte(line[from+1:], p)
			if i < 0 {
				delete(next, p)
				continue
			}
			i += from + 1
			next[p] = i
			if r, _ := utf8.DecodeLastRuneInString(line[:i]); i == 0 || isSpace(r) {
				if found < 0 || i < found {
					found = i
				}
			}
		}
		if found >= 0 {
			return found
		}
	}
	return -1
}

// header reads a section header: "[" then at least one character, up to
// the last "]" (configparser's `\[(?P<header>.+)\]`, matched at the
// start: whatever follows that ] is ignored).
func header(text string) (string, bool) {
	if !strings.HasPrefix(text, "[") {
		return "", false
	}
	end := strings.LastIndexByte(text, ']')
	if end < 2 {
		return "", false
	}
	return text[1:end], true
}

// option splits KEY = VALUE or KEY: VALUE at the first = or :.
func option(text string) (key, val string, ok bool) {
	i := strings.IndexAny(text, "=:")
	if i < 0 {
		return "", "", false
	}
	key = strings.ToLower(strings.TrimRightFunc(text[:i], isSpace))
	return key, strings.TrimFunc(text[i+1:], isSpace), true
}

// isSpace is Python's str.isspace: Unicode white space, and the
// information separators \x1c to \x1f.
func isSpace(r rune) bool {
	return unicode.IsSpace(r) || r >= 0x1c && r <= 0x1f
}
