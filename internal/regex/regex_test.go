package regex

import (
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Go's regexp is the reference: this package must mean what it means
// on every pattern it accepts.

var matchCases = []struct {
	pat   string
	lines []string // matched
	not   []string // not matched
}{
	{`ready`, []string{"ready", "server ready to accept", "xreadyx"}, []string{"", "read", "READY"}},
	{`^ready$`, []string{"ready"}, []string{"ready ", " ready", "ready\n"}},
	{`(?i)Ready to accept`, []string{"READY TO ACCEPT connections", "ready to accept"}, []string{"ready  to accept"}},
	{`listening on port \d+`, []string{"listening on port 8080"}, []string{"listening on port x"}},
	{`\bok\b`, []string{"ok", "all ok.", "(ok)"}, []string{"okay", "took", "o k"}},
	{`\Bok`, []string{"took"}, []string{"ok", " ok"}},
	{`a{2,3}b`, []string{"aab", "aaab", "xaaaab"}, []string{"ab", "b"}},
	{`^a{2,3}b`, []string{"aab", "aaab"}, []string{"aaaab", "ab"}},
	{`^(ab|cd)+$`, []string{"ab", "abcd", "cdcdab"}, []string{"", "abc", "abdc"}},
	{`[^a-z]`, []string{"A", "1", "\xff", "é"}, []string{"abc", ""}},
	{`[]a]`, []string{"]", "a"}, []string{"b"}},
	{`[a-]`, []string{"-"}, []string{"b"}},
	{`\x41\x{263a}`, []string{"A☺"}, []string{"A"}},
	{`.`, []string{"x", "\xff"}, []string{"", "\n"}},
	{`(?s).`, []string{"\n"}, []string{""}},
	{`(?m)^b$`, []string{"a\nb\nc"}, []string{"a\nbc"}},
	{`^b$`, nil, []string{"a\nb\nc"}},
	{`(?i)k`, []string{"\u212a", "K"}, []string{"x"}},
	{`(?i)[^k]`, []string{"x"}, []string{"\u212a", "k", "K"}},
	{`(?i)\W`, []string{" "}, []string{"\u212a", "k"}},
	{`(?i)[\W]`, []string{" "}, []string{"\u212a", "k"}},
	{`(a*)*b`, []string{"b", "aab"}, []string{"aaaa"}},
	{`x*`, []string{"", "y"}, nil},
	{`a|`, []string{"", "b"}, nil},
	{`(?P<name>a)b`, []string{"ab"}, []string{"a"}},
	{`a+?b`, []string{"aab"}, []string{"b"}},
	{`\.\*\\`, []string{`.*\`}, []string{`a*\`}},
	{`\A\z`, []string{""}, []string{"a"}},
	{`a{,3}`, []string{"a{,3}"}, []string{"aaa"}},
}

func TestMatch(t *testing.T) {
	for _, c := range matchCases {
		p, err := Compile(c.pat)
		if err != nil {
			t.Errorf("Compile(%q): %v", c.pat, err)
			continue
		}
		re := regexp.MustCompile(c.pat)
		m := p.Matcher()
		for _, l := range c.lines {
			if !m.Match([]byte(l)) {
				t.Errorf("%q does not match %q", c.pat, l)
			}
			if !re.MatchString(l) {
				t.Errorf("the case is wrong: regexp %q does not match %q", c.pat, l)
			}
		}
		for _, l := range c.not {
			if m.Match([]byte(l)) {
				t.Errorf("%q matches %q", c.pat, l)
			}
			if re.MatchString(l) {
				t.Errorf("the case is wrong: regexp %q matches %q", c.pat, l)
			}
		}
	}
}

// refused are patterns Go accepts and this package does not, and ones
// neither does; each error must say something.
var refused = []struct{ pat, msg string }{
	{`\pL`, "not supported"},
	{`[[:alpha:]]`, "POSIX classes"},
	{`\0`, "not supported"},
	{`\Q.\E`, "not supported"},
	{`[a-b-c]`, "must come first or last"},
	{`a**`, "invalid nested repetition operator: `**`"},
	{`a{2}{3}`, "invalid nested repetition operator"},
	{`*a`, "missing argument to repetition operator: `*`"},
	{`a|*`, "missing argument"},
	{`{2}`, "missing argument"},
	{`x{1001}`, "invalid repeat count"},
	{`x{3,2}`, "invalid repeat count"},
	{`(a`, "missing closing )"},
	{`a)`, "unexpected )"},
	{`[a`, "missing closing ]"},
	{`[z-a]`, "invalid character class range"},
	{`\1`, "not supported"},
	{`\Z`, "invalid escape sequence: `\\Z`"},
	{`a\`, "trailing backslash"},
	{`\x4`, "invalid escape"},
	{`\x{110000}`, "invalid escape"},
	{`(?i-)`, "invalid or unsupported Perl syntax"},
	{`(?x)`, "invalid or unsupported Perl syntax"},
	{`(?P<>a)`, "invalid named capture"},
	{`(?P=n)`, "invalid or unsupported Perl syntax"},
	{"\xff", "invalid UTF-8"},
	{`(a{100}){100}`, "too large"},
	{`((((a{0}){1000}){1000}){1000}){1000}`, "too large"},
	{strings.Repeat("(", 200) + strings.Repeat(")", 200), "nested more than"},
	{strings.Repeat("a", MaxLen+1), "longer than"},
}

func TestRefused(t *testing.T) {
	for _, c := range refused {
		_, err := Compile(c.pat)
		if err == nil {
			t.Errorf("Compile(%.40q) accepted", c.pat)
			continue
		}
		if !strings.Contains(err.Error(), c.msg) {
			t.Errorf("Compile(%.40q): %v, want it to say %q", c.pat, err, c.msg)
		}
	}
}

// TestMatchIsLinear: a pattern that makes a backtracking matcher take
// exponential time takes a handful of steps per byte here.
// TestCompileIsBounded: the worst patterns of MaxLen bytes compile in
// well under a second each, as a config of many of them must load.
func TestCompileIsBounded(t *testing.T) {
	var class strings.Builder
	class.WriteString("[")
	for r := rune(0x4000 + MaxLen); class.Len() < MaxLen-4; r-- {
		class.WriteRune(r)
	}
	class.WriteString("]")
	for _, pat := range []string{
		class.String(),
		strings.Repeat("(?:){1000}", MaxLen/10),
		strings.Repeat("(", 99) + "a{0}" + strings.Repeat("){1000}", 99),
	} {
		start := time.Now()
		Compile(pat)
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Errorf("Compile(%.30q…) took %v", pat, d)
		}
	}
}

func TestMatchIsLinear(t *testing.T) {
	p, err := Compile(`(a*)*(a*)*(a*)*b`)
	if err != nil {
		t.Fatal(err)
	}
	line := []byte(strings.Repeat("a", 64<<10))
	m := p.Matcher()
	if m.Match(line) {
		t.Fatal("matched")
	}
	if n := testing.AllocsPerRun(3, func() { m.Match(line) }); n != 0 {
		t.Errorf("%v allocations per match, want 0", n)
	}
}

var fuzzSeeds = []string{
	`ready`, `^a.b$`, `(?i)[^k]x`, `\bw\B`, `a{2,5}?`, `(a|b|)*c`, `[\d\W-]`, `(?m)^$`, `(?s:.)`,
	`[]x-z]`, `\x{41}+`, `(?U)a*`, `(?i)(?-i:a)A`, `[^\n]`, `\S\s\w`, `((((a))))`, `a{,`, `x{0}`,
	`(?)`, `(?i-s:a)`, `$^`, `\.`, `[\x00-\x{10FFFF}]`, `é+`, `(?i)ſ`,
}

// FuzzAgainstRegexp: whatever this package accepts, Go's regexp accepts,
// and the two agree on every line.
func FuzzAgainstRegexp(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, "a ready A\n kK\u212a ſs 123 x\xff")
	}
	f.Fuzz(func(t *testing.T, pat, line string) {
		if len(line) > 1024 {
			return // long lines cost the fuzzer time and find nothing more
		}
		p, err := Compile(pat)
		if err != nil {
			return
		}
		re, rerr := regexp.Compile(pat)
		if rerr != nil {
			t.Fatalf("%q: accepted here, refused by regexp: %v", pat, rerr)
		}
		m := p.Matcher()
		if got, want := m.Match([]byte(line)), re.MatchString(line); got != want {
			t.Fatalf("%q on %q: %v, regexp says %v", pat, line, got, want)
		}
		// Every prefix of a short line too: the ends of a line are
		// where anchors and boundaries are decided.
		for i := range min(len(line), 32) {
			if !utf8.RuneStart(line[i]) {
				continue
			}
			if got, want := m.Match([]byte(line[:i])), re.MatchString(line[:i]); got != want {
				t.Fatalf("%q on %q: %v, regexp says %v", pat, line[:i], got, want)
			}
		}
	})
}
