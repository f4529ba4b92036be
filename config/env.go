package config

import (
	"errors"
	"fmt"
	"strings"
)

// expand replaces ${NAME} and ${NAME:-default} in s with values from env,
// as a shell would:
//
//   - ${NAME} is NAME's value, or "" when NAME is unset (no error: the
//     same as sh, and what lets "${EXTRA_ARGS}" be optional);
//   - ${NAME:-default} is the default when NAME is unset or empty; the
//     default may itself hold ${...} and $$;
//   - $$ is a literal $;
//   - any other $ is kept as it is, so "$HOME" in a shell command is left
//     for the shell to expand when the program starts.
//
// An unterminated ${, an empty or malformed name, and any other ${...}
// form (${X-y}, ${X:=y}, ...) are errors.
func expand(s string, env func(string) (string, bool)) (string, error) {
	return expandMax(s, env, len(s)+maxExpanded)
}

// maxExpanded bounds the bytes ${VAR} may add, to one string and to a
// whole file: environment values are up to 128 KiB each, and 1 MiB of
// "${BIG}" would otherwise ask for gigabytes.
const maxExpanded = MaxSize

// expandMax is expand, failing when the result would be longer than
// limit bytes.
func expandMax(s string, env func(string) (string, bool), limit int) (string, error) {
	x := expander{env: env, limit: limit}
	out, _, err := x.until(s, false, 0)
	return out, err
}

// expander holds what one expansion needs.
type expander struct {
	env   func(string) (string, bool)
	limit int // the longest result allowed
}

var (
	errUnterminated = fmt.Errorf(`unterminated "${": want ${NAME} or ${NAME:-default}`)
	errExpandDeep   = errors.New("${NAME:-default} nested deeper than 32 levels")
)

// errExpandLong is the error for a result longer than its limit.
var errExpandLong = errors.New("${...} here would take what expansion adds to the file past 1 MiB")

// until expands s up to its end or, when inner, up to the first
// unmatched '}'. It returns the expansion and how many bytes it consumed,
// the '}' included. depth counts the ${NAME:-...} around s.
func (x expander) until(s string, inner bool, depth int) (string, int, error) {
	if depth > MaxDepth {
		return "", 0, errExpandDeep
	}
	var b strings.Builder
	i := 0
	for i < len(s) {
		switch {
		case inner && s[i] == '}':
			return b.String(), i + 1, nil
		case strings.HasPrefix(s[i:], "$$"):
			b.WriteByte('$')
			i += 2
		case strings.HasPrefix(s[i:], "${"):
			v, n, err := x.variable(s[i:], depth)
			if err != nil {
				return "", 0, err
			}
			if b.Len()+len(v) > x.limit {
				return "", 0, errExpandLong
			}
			b.WriteString(v)
			i += n
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	if inner {
		return "", 0, errUnterminated
	}
	return b.String(), i, nil
}

// variable expands the ${...} that s starts with and returns its value
// and length.
func (x expander) variable(s string, depth int) (string, int, error) {
	i := 2
	for i < len(s) && isNameByte(s[i], i == 2) {
		i++
	}
	name := s[2:i]
	switch {
	case i == len(s):
		return "", 0, errUnterminated
	case name != "" && s[i] == '}':
		v, _ := x.env(name)
		return v, i + 1, nil
	case name != "" && strings.HasPrefix(s[i:], ":-"):
		def, n, err := x.until(s[i+2:], true, depth+1)
		if err != nil {
			return "", 0, err
		}
		if v, ok := x.env(name); ok && v != "" {
			def = v
		}
		return def, i + 2 + n, nil
	}
	end := strings.IndexByte(s, '}')
	if end < 0 {
		return "", 0, errUnterminated
	}
	return "", 0, fmt.Errorf("bad expansion %q: want ${NAME} or ${NAME:-default}, NAME made of letters, digits and _", s[:end+1])
}

// isNameByte reports whether c may appear in a variable name, at its
// start when first.
func isNameByte(c byte, first bool) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || !first && '0' <= c && c <= '9'
}
