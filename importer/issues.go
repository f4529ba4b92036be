package importer

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// Issue is one problem found in a supervisord configuration: an error
// (the file cannot be converted, as supervisord could not load it) or a
// warning (a setting tend has no equivalent for, or one it does
// differently).
type Issue struct {
	// File is the INI file, as given (or as the image sees it, with
	// Options.Root); Line its 1-based line, 0 when none applies.
	File string
	Line int
	// Section is the INI section ("program:web"), Key the key in it; ""
	// when the issue is about the whole file or section.
	Section, Key string
	Msg          string
}

// String formats i as compilers do: FILE:LINE: [SECTION] KEY: MSG.
func (i Issue) String() string {
	var b strings.Builder
	b.WriteString(i.File)
	if i.Line > 0 {
		b.WriteString(":" + strconv.Itoa(i.Line))
	}
	b.WriteString(": ")
	if i.Section != "" {
		b.WriteString("[" + i.Section + "] ")
	}
	if i.Key != "" {
		b.WriteString(i.Key + ": ")
	}
	b.WriteString(i.Msg)
	return b.String()
}

// Errors is every error found, in the order found (file by file, line
// by line); Supervisord returns it as *Errors.
type Errors []Issue

func (es *Errors) Error() string {
	lines := make([]string, len(*es))
	for i, e := range *es {
		lines[i] = e.String()
	}
	return strings.Join(lines, "\n")
}

// Bounds: whatever the input, an import answers within a second and
// tens of megabytes (SPEC, Robustness).
const (
	// MaxFileSize is the largest INI file read, as tend's own config.
	MaxFileSize = 1 << 20
	// MaxTotalSize bounds the bytes of every file read, includes taken
	// together.
	MaxTotalSize = 4 << 20
	// MaxFiles bounds the files an [include] may add.
	MaxFiles = 256
	// maxExpanded bounds the text %(...)s expansion may produce, over
	// the whole import: %(here)s repeated over a megabyte would
	// otherwise ask for gigabytes.
	maxExpanded = 2 << 20
	// maxIssues is how many errors, and how many warnings, are kept.
	maxIssues = 1000
	// maxShown is the longest piece of input quoted in a message.
	maxShown = 80
)

// constError is an error that can be a constant: a package-level
// errors.New would be a package init, which tend keeps out of the
// packages init mode does not use (deps_test.go).
type constError string

func (e constError) Error() string { return string(e) }

// quote shows s in a message: quoted, escaped, cut at maxShown bytes.
func quote(s string) string {
	cut := ""
	if len(s) > maxShown {
		i := maxShown
		for i > 0 && !utf8Start(s[i]) {
			i--
		}
		s, cut = s[:i], "..."
	}
	return strconv.Quote(s) + cut
}

func utf8Start(c byte) bool { return c&0xC0 != 0x80 }

// printable makes s safe for a one-line TOML comment: control and
// other non-printable characters escaped as Go does.
func printable(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' }) < 0 {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// issues collects errors and warnings, bounded.
type issues struct {
	errs, warns Issues
	seen        map[string]bool // warnings already given, by their text
}

// Issues is a bounded list: what was kept, and how many were left out.
type Issues struct {
	List    []Issue
	Dropped int
}

func (l *Issues) add(i Issue) {
	if len(l.List) >= maxIssues {
		l.Dropped++
		return
	}
	l.List = append(l.List, i)
}

func (is *issues) errorf(file string, line int, sec, key, format string, args ...any) {
	is.errs.add(Issue{File: file, Line: line, Section: sec, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// warnf records a warning once (a key in [DEFAULT] is read by every
// program) and reports whether it is new.
func (is *issues) warnf(file string, line int, sec, key, format string, args ...any) (Issue, bool) {
	w := Issue{File: file, Line: line, Section: sec, Key: key, Msg: fmt.Sprintf(format, args...)}
	if is.seen == nil {
		is.seen = map[string]bool{}
	}
	s := w.String()
	if is.seen[s] {
		return w, false
	}
	if len(is.seen) < 4*maxIssues {
		is.seen[s] = true
	}
	is.warns.add(w)
	return w, true
}
