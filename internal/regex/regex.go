// Package regex is the regular expressions of `ready = { log = "…" }`:
// a subset of Go's regexp syntax (RE2), with the same meaning, that
// answers one question — does a line contain a match — in time linear in
// the line, with memory fixed when the pattern is compiled.
//
// Go's regexp is kept out of tend's binary: it costs 240 KiB of binary
// and about 180 KiB of resident memory in every tend, init mode included
// (deps_test.go). What a readiness line needs is much less: literals,
// ., character classes ([a-z], [^…], \d \w \s and their negations),
// anchors (^ $ \A \z \b \B), groups ((…), (?:…), named ones), alternation,
// the repetitions * + ? {n} {n,} {n,m} (lazy forms too: with only a yes
// or no to give, they mean the same), \xHH and \x{H…}, \t \n \r \f \v \a,
// any escaped ASCII punctuation, and the flags i, m, s and U ((?i),
// (?i:…), (?-i)…). Anything else Go accepts (\pL, [[:alpha:]], octal
// escapes, \Q…\E, \C) is refused with a message that says so; nothing
// this package accepts means something else to Go (FuzzAgainstRegexp).
//
// Matching is a Thompson NFA simulation (a Pike VM without submatches):
// each byte of the line is looked at once per live state, so no pattern
// can make a line take more than len(line) × Len() steps.
package regex

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxProgram bounds a compiled pattern's size, in instructions: a
// repetition is compiled by copying its operand, and (a{100}){100}
// would otherwise be ten thousand copies. Matching a line costs at most
// its length times this.
const MaxProgram = 2000

// MaxLen bounds a pattern's length, in bytes.
const MaxLen = 4096

// maxRepeat is the largest count of a {n,m} repetition, as in Go.
const maxRepeat = 1000

// Pattern is a compiled pattern. It is immutable: one Pattern may serve
// any number of Matchers, on any goroutines.
type Pattern struct {
	src  string
	prog []inst
}

// Compile parses src. The error says what is wrong, or what is not
// supported, and where.
func Compile(src string) (*Pattern, error) {
	if len(src) > MaxLen {
		return nil, fmt.Errorf("longer than %d bytes", MaxLen)
	}
	if !utf8.ValidString(src) {
		return nil, fmt.Errorf("invalid UTF-8")
	}
	p := &parser{src: src}
	n, err := p.parse()
	if err != nil {
		return nil, err
	}
	c := compiler{}
	c.emit(n)
	c.add(inst{op: opMatch})
	if c.tooBig {
		return nil, fmt.Errorf("too large: more than %d steps once its repetitions are spelled out", MaxProgram)
	}
	return &Pattern{src: src, prog: c.prog}, nil
}

// String is the pattern as written.
func (p *Pattern) String() string { return p.src }

// Len is the compiled program's size, in instructions.
func (p *Pattern) Len() int { return len(p.prog) }

// op is what an instruction does.
type op uint8

const (
	opMatch  op = iota // a match: stop
	opChar             // one rune, in the class (or out of it, negated)
	opAny              // any rune but '\n'
	opAnyNL            // any rune
	opSplit            // go on at x and at y
	opJmp              // go on at x
	opAssert           // an empty-width assertion, x: which
)

// Empty-width assertions.
const (
	atBeginText = iota
	atEndText
	atBeginLine
	atEndLine
	atWordBoundary
	atNoWordBoundary
)

// inst is one instruction.
type inst struct {
	op   op
	cls  *class // opChar
	x, y int
}

// class is a set of runes, as Go's regexp builds it: the union of its
// terms, negated as a whole for [^…]. Each term is folded on its own
// ((?i): it holds a rune when the rune or one of its case variants is in
// its ranges), then negated on its own (\W in a class), which is the
// order Go applies them in.
type class struct {
	terms []term
	neg   bool
}

type term struct {
	ranges []rune // sorted, disjoint lo-hi pairs
	fold   bool
	neg    bool
}

// has reports whether r is in c.
func (c *class) has(r rune) bool {
	for i := range c.terms {
		if c.terms[i].has(r) {
			return !c.neg
		}
	}
	return c.neg
}

func (t *term) has(r rune) bool {
	ok := inRanges(t.ranges, r)
	if !ok && t.fold {
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if inRanges(t.ranges, f) {
				ok = true
				break
			}
		}
	}
	return ok != t.neg
}

// Matcher runs a Pattern over lines. It holds the scratch space of one
// match, so it belongs to one goroutine; Match allocates nothing.
type Matcher struct {
	p         *Pattern
	cur, next sparse
	stack     []int
}

// Matcher returns a Matcher for p.
func (p *Pattern) Matcher() *Matcher {
	n := len(p.prog)
	return &Matcher{p: p, cur: newSparse(n), next: newSparse(n), stack: make([]int, 0, n)}
}

// Match reports whether line contains a match of the pattern. Invalid
// UTF-8 reads as U+FFFD, one byte at a time, as in Go.
func (m *Matcher) Match(line []byte) bool {
	prog := m.p.prog
	m.cur.clear()
	prev := rune(-1) // no rune before the start
	for i := 0; ; {
		r, w := rune(-1), 0 // -1: the end
		if i < len(line) {
			r, w = utf8.DecodeRune(line[i:])
		}
		// A match may begin here: unanchored search.
		if m.add(&m.cur, 0, prev, r) {
			return true
		}
		if r < 0 {
			return false
		}
		m.next.clear()
		for _, pc := range m.cur.dense {
			in := &prog[pc]
			if in.step(r) && m.add(&m.next, pc+1, r, peek(line, i+w)) {
				return true
			}
		}
		m.cur, m.next = m.next, m.cur
		prev = r
		i += w
	}
}

// peek is the rune at i, or -1 at the end.
func peek(line []byte, i int) rune {
	if i >= len(line) {
		return -1
	}
	r, _ := utf8.DecodeRune(line[i:])
	return r
}

// add adds the thread at pc to set, following jumps, splits and the
// assertions that hold between prev and next (the runes around the
// position; -1 at an end), and reports whether it reached opMatch.
func (m *Matcher) add(set *sparse, pc int, prev, next rune) bool {
	prog := m.p.prog
	stack := append(m.stack[:0], pc)
	defer func() { m.stack = stack[:0] }()
	for len(stack) > 0 {
		pc := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if set.has(pc) {
			continue
		}
		set.insert(pc)
		in := &prog[pc]
		switch in.op {
		case opMatch:
			return true
		case opJmp:
			stack = append(stack, in.x)
		case opSplit:
			stack = append(stack, in.y, in.x)
		case opAssert:
			if holds(in.x, prev, next) {
				stack = append(stack, pc+1)
			}
		}
	}
	return false
}

// holds reports whether assertion a holds between prev and next.
func holds(a int, prev, next rune) bool {
	switch a {
	case atBeginText:
		return prev < 0
	case atEndText:
		return next < 0
	case atBeginLine:
		return prev < 0 || prev == '\n'
	case atEndLine:
		return next < 0 || next == '\n'
	case atWordBoundary:
		return isWord(prev) != isWord(next)
	case atNoWordBoundary:
		return isWord(prev) == isWord(next)
	}
	return false
}

// isWord: \w, ASCII, as in Go.
func isWord(r rune) bool {
	return r == '_' || ('0' <= r && r <= '9') || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z')
}

// step reports whether a thread at in moves past r.
func (in *inst) step(r rune) bool {
	switch in.op {
	case opAnyNL:
		return true
	case opAny:
		return r != '\n'
	case opChar:
		return in.cls.has(r)
	}
	return false
}

func inRanges(ranges []rune, r rune) bool {
	// Classes are short: a linear scan beats a binary search here.
	for i := 0; i+1 < len(ranges); i += 2 {
		if r < ranges[i] {
			return false
		}
		if r <= ranges[i+1] {
			return true
		}
	}
	return false
}

// sparse is a set of program counters with O(1) clear and insert, in
// insertion order (Briggs and Torczon).
type sparse struct {
	dense  []int
	sparse []int
}

func newSparse(n int) sparse {
	return sparse{dense: make([]int, 0, n), sparse: make([]int, n)}
}

func (s *sparse) clear() { s.dense = s.dense[:0] }

func (s *sparse) has(pc int) bool {
	i := s.sparse[pc]
	return i < len(s.dense) && s.dense[i] == pc
}

func (s *sparse) insert(pc int) {
	s.sparse[pc] = len(s.dense)
	s.dense = append(s.dense, pc)
}

// The parse tree.

type kind uint8

const (
	kEmpty  kind = iota // matches the empty string
	kChar               // a class (a literal is a class of one)
	kAny                // .
	kAssert             // ^ $ \A \z \b \B
	kCat                // subs in a row
	kAlt                // one of subs
	kRepeat             // sub, min to max times (max -1: no bound)
)

type node struct {
	kind     kind
	cls      *class // kChar
	dotNL    bool   // kAny: . matches '\n' too ((?s))
	assert   int    // kAssert
	subs     []*node
	min, max int
}

// flags are the flags in effect.
type flags struct {
	i, m, s bool // U only changes which match is reported: not here
}

type parser struct {
	src string
	pos int
	// depth bounds the nesting of groups, so a pattern of 10,000 '('
	// cannot take the stack.
	depth int
}

const maxDepth = 100

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf(format, args...)
}

func (p *parser) parse() (*node, error) {
	n, err := p.alt(flags{})
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.src) { // only a ')' stops alt early
		return nil, p.errorf("unexpected ): `%s`", p.src)
	}
	return n, nil
}

func (p *parser) more() bool { return p.pos < len(p.src) }

func (p *parser) peekByte() byte { return p.src[p.pos] }

// alt: concat ('|' concat)*, up to a ')' or the end.
func (p *parser) alt(f flags) (*node, error) {
	var subs []*node
	for {
		n, err := p.concat(&f)
		if err != nil {
			return nil, err
		}
		subs = append(subs, n)
		if p.more() && p.peekByte() == '|' {
			p.pos++
			continue
		}
		break
	}
	if len(subs) == 1 {
		return subs[0], nil
	}
	return &node{kind: kAlt, subs: subs}, nil
}

// concat: repeated atoms, up to a '|', a ')' or the end. Flags set by a
// (?flags) in it last to the end of the enclosing group.
func (p *parser) concat(f *flags) (*node, error) {
	var subs []*node
	for p.more() {
		c := p.peekByte()
		if c == '|' || c == ')' {
			break
		}
		start := p.pos
		if op, ok := p.repeatOp(); ok {
			return nil, p.errorf("missing argument to repetition operator: `%s`", op)
		}
		p.pos = start
		n, err := p.atom(f)
		if err != nil {
			return nil, err
		}
		if n == nil { // a (?flags) group: no atom
			continue
		}
		n, err = p.repeats(n)
		if err != nil {
			return nil, err
		}
		subs = append(subs, n)
	}
	switch len(subs) {
	case 0:
		return &node{kind: kEmpty}, nil
	case 1:
		return subs[0], nil
	}
	return &node{kind: kCat, subs: subs}, nil
}

// repeatOp reads a repetition operator (*, +, ?, or a well-formed {…})
// with its lazy '?', and returns it as written; at anything else it
// reports false, with p.pos where it was.
func (p *parser) repeatOp() (string, bool) {
	start := p.pos
	if !p.more() {
		return "", false
	}
	switch p.peekByte() {
	case '*', '+', '?':
		p.pos++
	case '{':
		if _, _, ok := p.braces(); !ok {
			p.pos = start
			return "", false
		}
	default:
		return "", false
	}
	if p.more() && p.peekByte() == '?' {
		p.pos++
	}
	return p.src[start:p.pos], true
}

// braces reads {n}, {n,} or {n,m}; ok is false, with p.pos anywhere,
// for anything else (then '{' is a literal, as in Go). max is -1 for
// {n,}; counts over maxRepeat are returned for repeats to refuse.
func (p *parser) braces() (min, max int, ok bool) {
	p.pos++ // '{'
	num := func() (int, bool) {
		start := p.pos
		for p.more() && p.peekByte() >= '0' && p.peekByte() <= '9' {
			p.pos++
		}
		if p.pos == start || (p.pos-start > 1 && p.src[start] == '0') {
			return 0, false // no digits, or a leading zero: Go reads a literal
		}
		n, err := strconv.Atoi(p.src[start:p.pos])
		if err != nil || n > maxRepeat {
			n = maxRepeat + 1 // refused by repeats
		}
		return n, true
	}
	min, ok = num()
	if !ok || !p.more() {
		return 0, 0, false
	}
	max = min
	if p.peekByte() == ',' {
		p.pos++
		if !p.more() {
			return 0, 0, false
		}
		max = -1
		if p.peekByte() != '}' {
			if max, ok = num(); !ok {
				return 0, 0, false
			}
		}
	}
	if !p.more() || p.peekByte() != '}' {
		return 0, 0, false
	}
	p.pos++
	return min, max, true
}

// repeats applies the repetition operator after n, if there is one.
// Two in a row are refused, as in Go.
func (p *parser) repeats(n *node) (*node, error) {
	start := p.pos
	op, ok := p.repeatOp()
	if !ok {
		return n, nil
	}
	rep := &node{kind: kRepeat, subs: []*node{n}}
	switch op[0] {
	case '*':
		rep.min, rep.max = 0, -1
	case '+':
		rep.min, rep.max = 1, -1
	case '?':
		rep.min, rep.max = 0, 1
	case '{':
		p.pos = start
		min, max, _ := p.braces()
		if min > maxRepeat || max > maxRepeat || (max >= 0 && max < min) {
			return nil, p.errorf("invalid repeat count: `%s`", strings.TrimSuffix(op, "?"))
		}
		if p.more() && p.peekByte() == '?' {
			p.pos++
		}
		rep.min, rep.max = min, max
	}
	if next, ok := p.repeatOp(); ok {
		return nil, p.errorf("invalid nested repetition operator: `%s%s`", op, next)
	}
	return rep, nil
}

// atom reads one atom; nil (and no error) for a (?flags) that changes f.
func (p *parser) atom(f *flags) (*node, error) {
	c := p.peekByte()
	switch c {
	case '(':
		return p.group(f)
	case '[':
		return p.class(*f)
	case '.':
		p.pos++
		return &node{kind: kAny, dotNL: f.s}, nil
	case '^':
		p.pos++
		if f.m {
			return &node{kind: kAssert, assert: atBeginLine}, nil
		}
		return &node{kind: kAssert, assert: atBeginText}, nil
	case '$':
		p.pos++
		if f.m {
			return &node{kind: kAssert, assert: atEndLine}, nil
		}
		return &node{kind: kAssert, assert: atEndText}, nil
	case '\\':
		return p.escape(*f)
	}
	r, w := utf8.DecodeRuneInString(p.src[p.pos:])
	p.pos += w
	return literal(r, f.i), nil
}

func literal(r rune, fold bool) *node {
	return &node{kind: kChar, cls: &class{terms: []term{{ranges: []rune{r, r}, fold: fold}}}}
}

// group reads a group: (re), (?:re), (?P<name>re), (?<name>re),
// (?flags:re), or (?flags), which sets f and returns nil.
func (p *parser) group(f *flags) (*node, error) {
	start := p.pos
	p.pos++ // '('
	inner := *f
	if strings.HasPrefix(p.src[p.pos:], "?") {
		rest := p.src[p.pos+1:]
		switch {
		case strings.HasPrefix(rest, "P<"), strings.HasPrefix(rest, "<"):
			p.pos += 1 + strings.IndexByte(rest, '<') + 1
			end := strings.IndexByte(p.src[p.pos:], '>')
			if end < 0 {
				return nil, p.errorf("invalid named capture: `%s`", p.src[start:])
			}
			name := p.src[p.pos : p.pos+end]
			if name == "" || strings.IndexFunc(name, func(r rune) bool { return !isWord(r) }) >= 0 {
				return nil, p.errorf("invalid named capture: `%s`", p.src[start:p.pos+end+1])
			}
			p.pos += end + 1
		default:
			p.pos++ // '?'
			set, colon, err := p.flagSpec(&inner)
			if err != nil {
				return nil, p.errorf("%v: `%s`", err, p.src[start:min(p.pos, len(p.src))])
			}
			_ = set
			if !colon {
				*f = inner // (?flags): to the end of the enclosing group
				return nil, nil
			}
		}
	}
	if p.depth++; p.depth > maxDepth {
		return nil, p.errorf("groups nested more than %d deep", maxDepth)
	}
	n, err := p.alt(inner)
	p.depth--
	if err != nil {
		return nil, err
	}
	if !p.more() || p.peekByte() != ')' {
		return nil, p.errorf("missing closing ): `%s`", p.src[start:])
	}
	p.pos++
	return n, nil
}

// flagSpec reads flags[-flags] up to ')' (colon false) or ':' (colon
// true), past it, into f.
func (p *parser) flagSpec(f *flags) (set bool, colon bool, err error) {
	on, neg, sawNeg := true, false, false
	for p.more() {
		c := p.peekByte()
		p.pos++
		switch c {
		case 'i':
			f.i = on
		case 'm':
			f.m = on
		case 's':
			f.s = on
		case 'U':
		case '-':
			if sawNeg {
				return false, false, fmt.Errorf("invalid or unsupported Perl syntax")
			}
			on, sawNeg, neg = false, true, true
			continue
		case ':', ')':
			if neg { // "(?i-)": a '-' with nothing after it
				return false, false, fmt.Errorf("invalid or unsupported Perl syntax")
			}
			return set, c == ':', nil
		default:
			return false, false, fmt.Errorf("invalid or unsupported Perl syntax")
		}
		set, neg = true, false
	}
	return false, false, fmt.Errorf("missing closing )")
}

// Perl classes, ASCII as in Go.
var (
	digit = []rune{'0', '9'}
	space = []rune{'\t', '\n', '\f', '\r', ' ', ' '}
	word  = []rune{'0', '9', 'A', 'Z', '_', '_', 'a', 'z'}
)

func perlClass(c byte) (ranges []rune, neg, ok bool) {
	switch c {
	case 'd':
		return digit, false, true
	case 'D':
		return digit, true, true
	case 's':
		return space, false, true
	case 'S':
		return space, true, true
	case 'w':
		return word, false, true
	case 'W':
		return word, true, true
	}
	return nil, false, false
}

// escape reads an escape outside a class.
func (p *parser) escape(f flags) (*node, error) {
	start := p.pos
	p.pos++ // '\\'
	if !p.more() {
		return nil, p.errorf("trailing backslash at end of expression")
	}
	c := p.peekByte()
	switch c {
	case 'A':
		p.pos++
		return &node{kind: kAssert, assert: atBeginText}, nil
	case 'z':
		p.pos++
		return &node{kind: kAssert, assert: atEndText}, nil
	case 'b':
		p.pos++
		return &node{kind: kAssert, assert: atWordBoundary}, nil
	case 'B':
		p.pos++
		return &node{kind: kAssert, assert: atNoWordBoundary}, nil
	}
	if ranges, neg, ok := perlClass(c); ok {
		p.pos++
		return &node{kind: kChar, cls: &class{terms: []term{{ranges: ranges, fold: f.i, neg: neg}}}}, nil
	}
	p.pos = start
	r, err := p.escapedRune()
	if err != nil {
		return nil, err
	}
	return literal(r, f.i), nil
}

// escapedRune reads an escape that stands for one rune: \t \n \r \f \v
// \a, \xHH, \x{H…}, or an escaped ASCII punctuation character.
func (p *parser) escapedRune() (rune, error) {
	start := p.pos
	p.pos++ // '\\'
	if !p.more() {
		return 0, p.errorf("trailing backslash at end of expression")
	}
	c := p.peekByte()
	p.pos++
	switch c {
	case 't':
		return '\t', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 'f':
		return '\f', nil
	case 'v':
		return '\v', nil
	case 'a':
		return '\a', nil
	case 'x':
		return p.hex(start)
	case 'p', 'P', 'Q', 'E', 'C', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return 0, p.errorf("`%s` is not supported by tend's patterns (a subset of Go's regexp: see docs/config.md, Log patterns)", p.src[start:p.pos])
	}
	if c < utf8.RuneSelf && c > ' ' && c < 0x7f && !isWord(rune(c)) {
		return rune(c), nil // \. \* \\ \- …
	}
	_, w := utf8.DecodeRuneInString(p.src[p.pos-1:])
	return 0, p.errorf("invalid escape sequence: `%s`", p.src[start:p.pos-1+w])
}

// hex reads what follows \x: two hex digits, or {hex digits} up to
// 10FFFF.
func (p *parser) hex(start int) (rune, error) {
	bad := func() (rune, error) {
		return 0, p.errorf("invalid escape sequence: `%s`", p.src[start:min(p.pos, len(p.src))])
	}
	digits := func(s string) (rune, bool) {
		v, err := strconv.ParseUint(s, 16, 32)
		if err != nil || v > unicode.MaxRune || strings.ContainsAny(s, "+-_xX") {
			return 0, false
		}
		return rune(v), true
	}
	if p.more() && p.peekByte() == '{' {
		end := strings.IndexByte(p.src[p.pos:], '}')
		if end < 2 || end > 9 {
			return bad()
		}
		r, ok := digits(p.src[p.pos+1 : p.pos+end])
		p.pos += end + 1
		if !ok {
			return bad()
		}
		return r, nil
	}
	if p.pos+2 > len(p.src) {
		p.pos = len(p.src)
		return bad()
	}
	r, ok := digits(p.src[p.pos : p.pos+2])
	p.pos += 2
	if !ok {
		return bad()
	}
	return r, nil
}

// class reads [...]: runes, ranges a-z, escapes and Perl classes, ^ to
// negate, a ']' first is a literal. POSIX classes ([:alpha:]) are not
// supported.
func (p *parser) class(f flags) (*node, error) {
	start := p.pos
	p.pos++ // '['
	cls := &class{}
	if p.more() && p.peekByte() == '^' {
		cls.neg = true
		p.pos++
	}
	var ranges []rune
	first := true
	for {
		if !p.more() {
			return nil, p.errorf("missing closing ]: `%s`", p.src[start:])
		}
		c := p.peekByte()
		if c == ']' && !first {
			p.pos++
			break
		}
		if c == '[' && strings.HasPrefix(p.src[p.pos:], "[:") {
			return nil, p.errorf("POSIX classes like `[:alpha:]` are not supported by tend's patterns: spell them out (`[a-zA-Z]`)")
		}
		if c == '-' && !first && !strings.HasPrefix(p.src[p.pos:], "-]") {
			// Go reads a-b-c as a-b, '-', 'c'; that reading is easy
			// to mistake: refused, as a subset may.
			return nil, p.errorf("a `-` inside a class must come first or last, or be written `\\-`: `%s`", p.src[start:])
		}
		first = false
		if c == '\\' && p.pos+1 < len(p.src) {
			if pr, neg, ok := perlClass(p.src[p.pos+1]); ok {
				p.pos += 2
				cls.terms = append(cls.terms, term{ranges: pr, fold: f.i, neg: neg})
				continue
			}
		}
		lo, err := p.classRune()
		if err != nil {
			return nil, err
		}
		hi := lo
		if strings.HasPrefix(p.src[p.pos:], "-") && !strings.HasPrefix(p.src[p.pos:], "-]") {
			p.pos++
			if !p.more() {
				return nil, p.errorf("missing closing ]: `%s`", p.src[start:])
			}
			if hi, err = p.classRune(); err != nil {
				return nil, err
			}
			if hi < lo {
				return nil, p.errorf("invalid character class range: `%s`", p.src[start:p.pos])
			}
		}
		ranges = append(ranges, lo, hi)
	}
	if len(ranges) > 0 {
		cls.terms = append(cls.terms, term{ranges: normalize(ranges), fold: f.i})
	}
	return &node{kind: kChar, cls: cls}, nil
}

// classRune reads one rune of a class: itself, or an escape.
func (p *parser) classRune() (rune, error) {
	if p.peekByte() == '\\' {
		if p.pos+1 < len(p.src) && strings.IndexByte("bBAz", p.src[p.pos+1]) >= 0 {
			return 0, p.errorf("invalid escape sequence: `%s`", p.src[p.pos:p.pos+2])
		}
		return p.escapedRune()
	}
	r, w := utf8.DecodeRuneInString(p.src[p.pos:])
	p.pos += w
	return r, nil
}

// normalize sorts lo-hi pairs and merges those that touch.
func normalize(r []rune) []rune {
	pairs := make([][2]rune, 0, len(r)/2)
	for i := 0; i+1 < len(r); i += 2 {
		pairs = append(pairs, [2]rune{r[i], r[i+1]})
	}
	// sort.Slice: its code is in tend's binary already (config).
	sort.Slice(pairs, func(i, j int) bool { return pairs[i][0] < pairs[j][0] })
	out := make([]rune, 0, len(r))
	for _, pr := range pairs {
		if n := len(out); n > 0 && pr[0] <= out[n-1]+1 {
			out[n-1] = max(out[n-1], pr[1])
			continue
		}
		out = append(out, pr[0], pr[1])
	}
	return out
}

// compiler turns the tree into instructions.
type compiler struct {
	prog   []inst
	tooBig bool
	// work counts the nodes emitted: ((a{0}){1000}){1000} emits
	// nothing a million times.
	work int
}

// maxWork bounds compiler.work.
const maxWork = 50 * MaxProgram

func (c *compiler) add(in inst) int {
	if len(c.prog) >= MaxProgram {
		c.tooBig = true
		return len(c.prog) - 1
	}
	c.prog = append(c.prog, in)
	return len(c.prog) - 1
}

func (c *compiler) emit(n *node) {
	if c.work++; c.work > maxWork {
		c.tooBig = true
	}
	if c.tooBig {
		return
	}
	switch n.kind {
	case kEmpty:
	case kChar:
		c.add(inst{op: opChar, cls: n.cls})
	case kAny:
		if n.dotNL {
			c.add(inst{op: opAnyNL})
		} else {
			c.add(inst{op: opAny})
		}
	case kAssert:
		c.add(inst{op: opAssert, x: n.assert})
	case kCat:
		for _, s := range n.subs {
			c.emit(s)
		}
	case kAlt:
		// split L1, next; L1: a; jmp end; next: split L2, … ; last
		var jumps []int
		for i, s := range n.subs {
			if i == len(n.subs)-1 {
				c.emit(s)
				break
			}
			split := c.add(inst{op: opSplit})
			c.prog[split].x = len(c.prog)
			c.emit(s)
			jumps = append(jumps, c.add(inst{op: opJmp}))
			c.prog[split].y = len(c.prog)
			if c.tooBig {
				return
			}
		}
		for _, j := range jumps {
			c.prog[j].x = len(c.prog)
		}
	case kRepeat:
		c.repeat(n)
	}
}

// repeat spells out sub{min,max}: min copies, then max-min optional
// ones (nested: x(x(x)?)?), or a loop when max is unbounded.
func (c *compiler) repeat(n *node) {
	sub := n.subs[0]
	for range n.min {
		c.emit(sub)
		if c.tooBig {
			return
		}
	}
	if n.max < 0 {
		// L: split body, end; body; jmp L
		split := c.add(inst{op: opSplit})
		c.prog[split].x = len(c.prog)
		c.emit(sub)
		c.add(inst{op: opJmp, x: split})
		if !c.tooBig {
			c.prog[split].y = len(c.prog)
		}
		return
	}
	var splits []int
	for range n.max - n.min {
		split := c.add(inst{op: opSplit})
		c.prog[split].x = len(c.prog)
		c.emit(sub)
		if c.tooBig {
			return
		}
		splits = append(splits, split)
	}
	for _, s := range splits {
		c.prog[s].y = len(c.prog)
	}
}
