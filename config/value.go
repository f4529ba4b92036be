package config

import (
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"tend/signals"
)

// This file holds the decoders of single values: each checks the TOML
// type, expands ${VAR} in strings, checks the range, and records what is
// wrong at the value's location.

// output decodes stdout or stderr.
func (d *decoder) output(l loc, v any, o *Output) {
	s, ok := d.str(l, v)
	if !ok {
		return
	}
	switch s {
	case "inherit":
		o.Mode = Inherit
	case "prefix":
		o.Mode = Prefix
	case "json":
		o.Mode = JSON // a file of that name is "./json"
	case "":
		d.errorf(l, `must be "inherit", "prefix", "json" or a file path, not ""`)
	default:
		o.Mode, o.Path = File, d.path(l, s)
	}
}

// user decodes `user`: "name[:group]" or "uid[:gid]", either part a name
// or a number.
func (d *decoder) user(l loc, v any) *User {
	s, ok := d.str(l, v)
	if !ok || s == "" {
		return nil
	}
	u := &User{Spec: s, UID: -1, GID: -1}
	name, group, hasGroup := strings.Cut(s, ":")
	if !validID(name) || hasGroup && !validID(group) {
		d.errorf(l, `%q is not a user: want "name", "uid", "name:group" or "uid:gid"`, s)
		return u
	}
	if n, err := strconv.ParseUint(name, 10, 32); err == nil && n < math.MaxUint32 {
		u.UID = int(n)
	} else if digits(name) {
		d.errorf(l, "uid %s out of range", name)
	} else {
		u.Name = name
	}
	if n, err := strconv.ParseUint(group, 10, 32); err == nil && n < math.MaxUint32 {
		u.GID = int(n)
	} else if digits(group) {
		d.errorf(l, "gid %s out of range", group)
	} else {
		u.Group = group
	}
	return u
}

// validID reports whether s is a user or group name (as useradd allows)
// or a number: ^([0-9]+|[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?)$.
func validID(s string) bool {
	if digits(s) {
		return true
	}
	s = strings.TrimSuffix(s, "$")
	if s == "" || len(s) > 32 || !nameStart(s[0]) || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	return nameChars(s[1:])
}

// nameStart reports whether c may begin a program name: a letter, a
// digit or _.
func nameStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// nameChars reports whether s holds only letters, digits, _, . and -.
func nameChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !nameStart(c) && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// environment decodes the environment table. Numbers and booleans are
// taken as their TOML spelling, as docker-compose does.
func (d *decoder) environment(l loc, v any) map[string]string {
	m, ok := d.table(l, v)
	env := map[string]string{}
	if !ok {
		return env
	}
	for k, v := range m {
		l := l.child(k)
		if k == "" || strings.ContainsAny(k, "=\x00") {
			d.errorf(l, "bad variable name %q", k)
		}
		switch x := v.(type) {
		case int64:
			env[k] = strconv.FormatInt(x, 10)
		case float64:
			env[k] = strconv.FormatFloat(x, 'g', -1, 64)
		case bool:
			env[k] = strconv.FormatBool(x)
		default:
			s, ok := d.str(l, v)
			if ok && strings.ContainsRune(s, 0) {
				d.errorf(l, "value holds a NUL byte")
			}
			env[k] = s
		}
	}
	return env
}

// exitCodes decodes exitcodes: one integer or an array of them, 0-255.
func (d *decoder) exitCodes(l loc, v any) []int {
	switch v := v.(type) {
	case int64:
		if n, ok := d.integer(l, v, 0, 255); ok {
			return []int{int(n)}
		}
		return nil
	case []any:
		codes := []int{}
		for i, e := range v {
			if n, ok := d.integer(l.elem(i), e, 0, 255); ok {
				codes = append(codes, int(n))
			}
		}
		return codes
	}
	d.errorf(l, "expected an array of integers, got %s", describe(v))
	return nil
}

// argv decodes a command: an array of strings (exec form) or a string run
// by /bin/sh -c.
func (d *decoder) argv(l loc, v any) (argv []string, shell, ok bool) {
	switch v := v.(type) {
	case string:
		s, ok := d.str(l, v)
		if !ok {
			return nil, true, false
		}
		if strings.TrimSpace(s) == "" {
			d.errorf(l, "must not be empty")
			return nil, true, false
		}
		if strings.ContainsRune(s, 0) {
			d.errorf(l, "holds a NUL byte")
		}
		return []string{"/bin/sh", "-c", s}, true, true
	case []any:
		if len(v) == 0 {
			d.errorf(l, "must not be empty")
			return nil, false, false
		}
		ok := true
		for i, e := range v {
			s, good := d.str(l.elem(i), e)
			switch {
			case !good:
			case i == 0 && s == "":
				d.errorf(l.elem(i), "program name must not be empty")
				good = false
			case strings.ContainsRune(s, 0):
				d.errorf(l.elem(i), "holds a NUL byte")
				good = false
			}
			ok = ok && good
			argv = append(argv, s)
		}
		return argv, false, ok
	}
	d.errorf(l, "expected a string (run by /bin/sh -c) or an array of strings, got %s", describe(v))
	return nil, false, false
}

// table checks that v is a table.
func (d *decoder) table(l loc, v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		d.errorf(l, "expected a table, got %s", describe(v))
	}
	return m, ok
}

// str checks that v is a string and expands ${VAR} in it.
func (d *decoder) str(l loc, v any) (string, bool) {
	s, ok := v.(string)
	if !ok {
		d.errorf(l, "expected a string, got %s", describe(v))
		return "", false
	}
	if !strings.Contains(s, "$") {
		return s, true
	}
	out, err := expandMax(s, d.env, len(s)+maxExpanded-d.expanded)
	if err != nil {
		d.errorf(l, "%v", err)
		return "", false
	}
	d.expanded += max(len(out)-len(s), 0)
	return out, true
}

// enum decodes a string that must be one of choices.
func (d *decoder) enum(l loc, v any, choices ...string) (string, bool) {
	s, ok := d.str(l, v)
	if !ok {
		return "", false
	}
	if !slices.Contains(choices, s) {
		d.errorf(l, "%q is not one of %s", s, quoteAll(choices))
		return "", false
	}
	return s, true
}

func (d *decoder) boolean(l loc, v any) (bool, bool) {
	b, ok := v.(bool)
	if !ok {
		d.errorf(l, "expected a boolean, got %s", describe(v))
	}
	return b, ok
}

// integer decodes an integer between lo and hi.
func (d *decoder) integer(l loc, v any, lo, hi int64) (int64, bool) {
	n, ok := v.(int64)
	switch {
	case !ok:
		d.errorf(l, "expected an integer, got %s", describe(v))
	case n < lo || n > hi:
		d.errorf(l, "must be between %d and %d, not %d", lo, hi, n)
		ok = false
	}
	return n, ok
}

// number decodes an integer or a float.
func (d *decoder) number(l loc, v any) (float64, bool) {
	switch v := v.(type) {
	case int64:
		return float64(v), true
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			d.errorf(l, "must be a finite number, not %v", v)
			return 0, false
		}
		return v, true
	}
	d.errorf(l, "expected a number, got %s", describe(v))
	return 0, false
}

// duration decodes seconds (1, 1.5, "1.5") or a Go duration ("250ms").
func (d *decoder) duration(l loc, v any) (time.Duration, bool) {
	var (
		dur time.Duration
		err error
	)
	switch v := v.(type) {
	case int64:
		dur, err = seconds(float64(v))
	case float64:
		dur, err = seconds(v)
	case string:
		s, ok := d.str(l, v)
		if !ok {
			return 0, false
		}
		dur, err = parseDuration(s)
	default:
		d.errorf(l, `expected a duration (seconds, or a string like "1.5s"), got %s`, describe(v))
		return 0, false
	}
	if err != nil {
		d.errorf(l, "%v", err)
		return 0, false
	}
	return dur, true
}

// durationOr is duration, keeping def when v is bad.
func (d *decoder) durationOr(l loc, v any, def time.Duration) time.Duration {
	if dur, ok := d.duration(l, v); ok {
		return dur
	}
	return def
}

// positive is durationOr for a duration that must be more than 0.
func (d *decoder) positive(l loc, v any, def time.Duration) time.Duration {
	dur, ok := d.duration(l, v)
	if ok && dur == 0 {
		d.errorf(l, "must be more than 0s")
		ok = false
	}
	if !ok {
		return def
	}
	return dur
}

// parseDuration parses seconds ("1", "1.5") or a Go duration ("1.5s").
func parseDuration(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return seconds(f)
	}
	dur, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf(`bad duration %q: want seconds or a duration like "1.5s" or "250ms"`, s)
	}
	if dur < 0 {
		return 0, fmt.Errorf("must not be negative, not %s", s)
	}
	return dur, nil
}

// maxSeconds keeps durations well inside time.Duration: 285 years.
const maxSeconds = 9_000_000_000

// seconds converts a number of seconds to a Duration.
func seconds(f float64) (time.Duration, error) {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return 0, fmt.Errorf("bad duration %v", f)
	case f < 0:
		return 0, fmt.Errorf("must not be negative, not %v", f)
	case f > maxSeconds:
		return 0, fmt.Errorf("duration %v seconds is too long (the most is %d)", f, int64(maxSeconds))
	}
	return time.Duration(math.Round(f * float64(time.Second))), nil
}

// size decodes a byte count: an integer, or a string like "10MB". KB, MB
// and GB are powers of 1024, as in supervisord; KiB, MiB and GiB too.
func (d *decoder) size(l loc, v any) (int64, bool) {
	switch v := v.(type) {
	case int64:
		if v < 0 {
			d.errorf(l, "must not be negative, not %d", v)
			return 0, false
		}
		return v, true
	case string:
		s, ok := d.str(l, v)
		if !ok {
			return 0, false
		}
		n, err := parseSize(s)
		if err != nil {
			d.errorf(l, "%v", err)
			return 0, false
		}
		return n, true
	}
	d.errorf(l, `expected a size (bytes, or a string like "10MB"), got %s`, describe(v))
	return 0, false
}

// parseSize parses "123", "10KB", "10MiB", "1G" (units in any case).
func parseSize(s string) (int64, error) {
	i := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	shift, known := map[string]uint{
		"": 0, "B": 0,
		"K": 10, "KB": 10, "KIB": 10,
		"M": 20, "MB": 20, "MIB": 20,
		"G": 30, "GB": 30, "GIB": 30,
	}[strings.ToUpper(strings.TrimSpace(s[i:]))]
	if err != nil || !known {
		return 0, fmt.Errorf(`bad size %q: want bytes, or a number with KB, MB or GB`, s)
	}
	if n > math.MaxInt64>>shift {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return n << shift, nil
}

// mode decodes permission bits: an octal string ("022", "0o022") or an
// integer taken as it is (so 0o022 or 18, not 22).
func (d *decoder) mode(l loc, v any) (os.FileMode, bool) {
	var n uint64
	switch v := v.(type) {
	case int64:
		if v < 0 || v > 0o777 {
			d.errorf(l, "must be between 0 and 0o777, not %#o", v)
			return 0, false
		}
		n = uint64(v)
	case string:
		s, ok := d.str(l, v)
		if !ok {
			return 0, false
		}
		var err error
		n, err = strconv.ParseUint(strings.TrimPrefix(s, "0o"), 8, 32)
		if err != nil || n > 0o777 {
			d.errorf(l, `bad mode %q: want octal digits, like "022"`, s)
			return 0, false
		}
	default:
		d.errorf(l, `expected an octal string like "022", got %s`, describe(v))
		return 0, false
	}
	return os.FileMode(n), true
}

// signal decodes a signal name or number.
func (d *decoder) signal(l loc, v any) (sig syscall.Signal, ok bool) {
	var err error
	switch v := v.(type) {
	case int64:
		sig, err = signals.Parse(strconv.FormatInt(v, 10))
	case string:
		s, ok := d.str(l, v)
		if !ok {
			return 0, false
		}
		sig, err = signals.Parse(s)
	default:
		d.errorf(l, `expected a signal name like "TERM" or a number, got %s`, describe(v))
		return 0, false
	}
	if err != nil {
		d.errorf(l, "%v", err)
		return 0, false
	}
	return sig, true
}

// hostPort checks a host:port address with a numeric port of at least
// minPort: 1 for an address to connect to, 0 for one to listen on.
func (d *decoder) hostPort(l loc, s string, minPort int) {
	_, port, err := net.SplitHostPort(s)
	if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < minPort || n > 65535 {
		d.errorf(l, "%q is not a host:port address with a port from %d to 65535", s, minPort)
	}
}

// path resolves a path relative to the directory of the file that set
// l, and reports a NUL byte in it: no system call takes one, so the file
// could never be opened.
func (d *decoder) path(l loc, p string) string {
	if strings.ContainsRune(p, 0) {
		d.errorf(l, "path holds a NUL byte")
	}
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(d.sourceOf(l.key).dir, p)
}

// describe names v's TOML type, with the value for a scalar.
func describe(v any) string {
	switch v := v.(type) {
	case string:
		if len(v) > 40 {
			v = v[:37] + "..."
		}
		return fmt.Sprintf("string %q", v)
	case int64:
		return fmt.Sprintf("integer %d", v)
	case float64:
		return fmt.Sprintf("float %v", v)
	case bool:
		return fmt.Sprintf("boolean %t", v)
	case time.Time:
		return "datetime"
	case []any:
		return "array"
	case map[string]any:
		return "table"
	case []map[string]any:
		return "array of tables"
	}
	return fmt.Sprintf("%T", v)
}

// quoteAll formats choices as "a", "b" or "c".
func quoteAll(choices []string) string {
	q := make([]string, len(choices))
	for i, c := range choices {
		q[i] = strconv.Quote(c)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// digits reports whether s is a non-empty run of ASCII digits.
func digits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}
