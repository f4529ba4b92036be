package config

import (
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
	out, _, err := expandUntil(s, env, false)
	return out, err
}

// expandUntil expands s up to its end or, when inner, up to the first
// unmatched '}'. It returns the expansion and how many bytes it consumed,
// the '}' included.
func expandUntil(s string, env func(string) (string, bool), inner bool) (string, int, error) {
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
			v, n, err := variable(s[i:], env)
			if err != nil {
				return "", 0, err
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

var errUnterminated = fmt.Errorf(`unterminated "${": want ${NAME} or ${NAME:-default}`)

// variable expands the ${...} that s starts with and returns its value
// and length.
func variable(s string, env func(string) (string, bool)) (string, int, error) {
	i := 2
	for i < len(s) && isNameByte(s[i], i == 2) {
		i++
	}
	name := s[2:i]
	switch {
	case i == len(s):
		return "", 0, errUnterminated
	case name != "" && s[i] == '}':
		v, _ := env(name)
		return v, i + 1, nil
	case name != "" && strings.HasPrefix(s[i:], ":-"):
		def, n, err := expandUntil(s[i+2:], env, true)
		if err != nil {
			return "", 0, err
		}
		if v, ok := env(name); ok && v != "" {
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
