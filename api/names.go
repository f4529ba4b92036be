package api

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

// What a request may name: the server refuses more, and `tend ctl`
// refuses it before asking. A name list longer than any real config,
// and names and signals far longer than any real one, are mistakes or
// attacks.
const (
	MaxNames = 1000
	// MaxNameLen is the longest program name, in bytes, instance number
	// included ("web:12"): config refuses longer names, so any name it
	// accepts can be asked for.
	MaxNameLen   = 256
	MaxSignalLen = 32
	// MaxInstances is the most instances a program may have, in the
	// config (config.MaxInstances) and by `tend ctl scale`.
	MaxInstances = 1000
	// DefaultLogLines is how many lines `tend ctl logs` gives when not
	// told; tend keeps at most 1000 of each program's.
	DefaultLogLines = 100
)

// CheckNames validates program names or glob patterns: at most
// MaxNames of them, each as checkName wants it.
func CheckNames(names []string) error {
	if len(names) > MaxNames {
		return fmt.Errorf("too many names: %d, at most %d", len(names), MaxNames)
	}
	for _, n := range names {
		if err := checkName(n); err != nil {
			return err
		}
	}
	return nil
}

// checkName reports whether name is acceptable as a program name or
// glob: non-empty, at most MaxNameLen bytes of printable UTF-8, and a
// valid path.Match pattern.
func checkName(name string) error {
	switch {
	case name == "":
		return errors.New("empty program name")
	case len(name) > MaxNameLen:
		return fmt.Errorf("program name longer than %d bytes", MaxNameLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("program name %q is not valid UTF-8", name)
	case strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		return fmt.Errorf("program name %q has unprintable characters", name)
	}
	if _, err := path.Match(name, ""); err != nil {
		return fmt.Errorf("program name %q: bad glob pattern", name)
	}
	return nil
}

// CheckSignal validates the shape of a signal as typed ("HUP",
// "SIGRTMIN+3", "15"); the supervisor decides whether it names a signal.
func CheckSignal(sig string) error {
	if sig == "" {
		return errors.New(`missing signal: {"signal":"HUP","names":[…]}`)
	}
	if len(sig) > MaxSignalLen {
		return fmt.Errorf("signal longer than %d bytes", MaxSignalLen)
	}
	for _, r := range sig {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '+' || r == '-') {
			return fmt.Errorf("bad signal %q: want a name like HUP or a number", sig)
		}
	}
	return nil
}

// Printable quotes s for a message or a table when it holds anything
// odd, and cuts it short: what the other end sent must not carry
// garbage (or a terminal's escapes) into an error or onto a screen.
func Printable(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) || r == utf8.RuneError }) >= 0 {
		return fmt.Sprintf("%q", s)
	}
	return s
}
